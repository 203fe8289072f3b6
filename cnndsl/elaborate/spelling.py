"""What a name means where the user's spelling is another convention's: Keras's
``Dense(10)``, the slides' trailing bare ``FC``, and a tensor named out of sight."""

from __future__ import annotations

from collections.abc import Iterable

from ..syntax import ast
from .env import ElabError, Env, err


def keras_dense(args: tuple[ast.Arg, ...], user_blocks: Iterable[str]) -> bool:
    """``dense(10)`` or ``dense(units=10)``: one width, as Keras writes a fully connected
    layer (unless the program defines its own ``dense``); the prelude's DenseNet block
    takes a count and a growth rate."""
    return "dense" not in user_blocks and (len(args) == 1 or any(a.name == "units"
                                                                 for a in args))


def unseen_tensor(fn: ast.Name, env: Env, inner_labels: dict[str, str]) -> ElabError:
    """A tensor name that is not visible here, with what would make it visible."""
    owner, _, inner = fn.id.rpartition(".")
    if owner:
        known = sorted(k.split(".", 1)[1] for k in visible(env) if k.startswith(owner + "."))
        return err("E0101", f"`{owner}` has no tensor named `{inner}`", fn.span,
                   help=f"its tensors: {', '.join(known)}" if known else
                   f"label a block call to see the tensors it names: `stage(...) as "
                   f"{owner}`, then `{owner}.NAME`")
    block = inner_labels[fn.id]
    return err("E0101", f"`{fn.id}` is named inside block `{block}` and is not visible "
               "here", fn.span, help=f"label the call (`{block}(...) as b`) and write "
               f"`b.{fn.id}`")


def visible(env: Env | None) -> list[str]:
    """Every name bound in ``env`` and the scopes around it."""
    names: list[str] = []
    while env is not None:
        names += list(env.vars)
        env = env.parent
    return names
