"""Data specs: ``KIND:ARG`` strings that name a data set, and the reader for each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cnndsl.diagnostics import UserError
from cnndsl.suggest import closest

from .types import DataSource

SPEC_HELP = ("data specs: digits (embedded, the default), mnist:DIR, cifar10:DIR, "
             "folder:DIR, npz:FILE, synthetic:N=512,shape=1x28x28,classes=10")


def _digits(arg: str) -> DataSource:
    from .digits import load_digits

    if arg:
        raise UserError(f"digits takes no argument (got 'digits:{arg}')", exit_code=2)
    return load_digits()


def _mnist(arg: str) -> DataSource:
    from .mnist import load_mnist

    return load_mnist(arg)


def _cifar10(arg: str) -> DataSource:
    from .cifar import load_cifar10

    return load_cifar10(arg)


def _folder(arg: str, input_shape: tuple[int, ...] | None = None) -> DataSource:
    from .folder import load_folder

    return load_folder(arg, input_shape)


def _npz(arg: str) -> DataSource:
    from .npz import load_npz

    return load_npz(arg)


READERS: dict[str, Callable[[str], DataSource]] = {
    "digits": _digits, "mnist": _mnist, "cifar10": _cifar10,
    "folder": _folder, "npz": _npz,
}
KINDS = (*READERS, "synthetic")


def guess_kind(path: Path) -> str | None:
    """The reader for a bare path, from what it holds."""
    if path.is_file():
        return "npz" if path.suffix == ".npz" else None
    if not path.is_dir():
        return None
    names = {p.name for p in path.iterdir()}
    if any(n.startswith("train-images") for n in names):
        return "mnist"
    if "cifar-10-batches-py" in names or any(n.startswith("data_batch_") for n in names):
        return "cifar10"
    if any((path / n).is_dir() for n in names):
        return "folder"
    return None


def split_spec(spec: str) -> tuple[str, str]:
    """``'mnist:~/data'`` -> ``('mnist', '~/data')``; a bare path is recognised."""
    kind, sep, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind in KINDS:
        return kind, arg.strip() if sep else ""
    path = Path(spec).expanduser()
    guessed = guess_kind(path)
    if guessed is not None:
        return guessed, spec
    close = closest(kind, KINDS)
    hint = f"did you mean '{close}:{arg}'? " if close and sep else ""
    what = f"unknown data kind '{kind}'" if sep else f"'{spec}' is no data spec"
    raise UserError(f"--data {spec}: {what}", help=hint + SPEC_HELP, exit_code=2)


def load_source(spec: str, input_shape: tuple[int, ...] | None = None,
                num_classes: int | None = None) -> DataSource:
    """Read the data set a spec names (nothing is ever downloaded).

    >>> load_source("synthetic:N=8,shape=1x4x4,classes=2").train.pixels.shape
    torch.Size([8, 1, 4, 4])
    """
    kind, arg = split_spec(spec)
    if kind == "synthetic":
        from .synthetic import load_synthetic

        return load_synthetic(arg, input_shape, num_classes)
    if not arg and kind != "digits":
        raise UserError(f"--data {spec}: {kind} needs a path ({kind}:PATH)",
                        help=SPEC_HELP, exit_code=2)
    if kind == "folder":  # mixed sizes are fitted to the network's input
        return _folder(arg, input_shape)
    return READERS[kind](arg)
