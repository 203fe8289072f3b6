"""Every data reader, on small files written here in the real formats, and each way a
file can be wrong (truncated, corrupt, labels out of range, mixed sizes, empty)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from cnndsl.diagnostics import UserError
from cnndsl.train.data import images as images_mod
from cnndsl.train.data import load_source, prepare
from cnndsl.train.data.images import read_netpbm, write_netpbm


def rng_images(n: int, c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


# -- digits (embedded) ------------------------------------------------------------------

def test_digits_is_the_uci_set() -> None:
    d = load_source("digits")
    assert len(d.train) == 1797 and d.test is None
    assert d.train.sample_shape == (1, 8, 8) and d.train.pixels.dtype == torch.uint8
    assert int(d.train.pixels.max()) == 16 and d.train.scale == 16.0
    counts = torch.bincount(d.train.labels).tolist()
    # per-class counts of sklearn.datasets.load_digits
    assert counts == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert d.train.pixels[0, 0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]


# -- MNIST IDX --------------------------------------------------------------------------

def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_mnist(root: Path, n: int = 20, n_test: int = 10, gz: bool = True,
                sep: str = "-", labels: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    root.mkdir(parents=True, exist_ok=True)
    x = rng_images(n, 1, 28, 28)[:, 0]
    y = labels if labels is not None else (np.arange(n) % 10).astype(np.uint8)
    xt = rng_images(n_test, 1, 28, 28, seed=1)[:, 0]
    yt = (np.arange(n_test) % 10).astype(np.uint8)
    files = {f"train-images{sep}idx3-ubyte": x, f"train-labels{sep}idx1-ubyte": y,
             f"t10k-images{sep}idx3-ubyte": xt, f"t10k-labels{sep}idx1-ubyte": yt}
    for name, arr in files.items():
        data = idx_bytes(arr)
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return x, y, xt, yt


@pytest.mark.parametrize("gz,sep", [(True, "-"), (False, "-"), (False, ".")])
def test_mnist_reads_idx(tmp_path: Path, gz: bool, sep: str) -> None:
    x, y, xt, yt = write_mnist(tmp_path, gz=gz, sep=sep)
    d = load_source(f"mnist:{tmp_path}")
    assert d.train.pixels.shape == (20, 1, 28, 28)
    assert np.array_equal(d.train.pixels[:, 0].numpy(), x)
    assert d.train.labels.tolist() == y.tolist()
    assert d.test is not None and np.array_equal(d.test.pixels[:, 0].numpy(), xt)
    assert d.classes == [str(i) for i in range(10)]


def test_mnist_bare_directory_is_recognised(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    assert load_source(str(tmp_path)).spec == f"mnist:{tmp_path}"


def test_mnist_truncated_file(tmp_path: Path) -> None:
    write_mnist(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated.*20x28x28"):
        load_source(f"mnist:{tmp_path}")


def test_mnist_corrupt_gzip(tmp_path: Path) -> None:
    write_mnist(tmp_path, gz=True)
    p = tmp_path / "train-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-12])  # cut the gzip trailer and some data
    with pytest.raises(UserError, match="damaged or truncated"):
        load_source(f"mnist:{tmp_path}")


def test_mnist_bad_magic(tmp_path: Path) -> None:
    write_mnist(tmp_path, gz=False)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(UserError, match="not an IDX file"):
        load_source(f"mnist:{tmp_path}")


def test_mnist_count_mismatch_and_missing(tmp_path: Path) -> None:
    write_mnist(tmp_path, gz=False, labels=np.zeros(19, dtype=np.uint8))
    with pytest.raises(UserError, match="20 images but .* 19 labels"):
        load_source(f"mnist:{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.*missing"):
        load_source(f"mnist:{tmp_path}")
    with pytest.raises(UserError, match="no such directory"):
        load_source(f"mnist:{tmp_path / 'nope'}")


def test_mnist_label_out_of_range_for_network(tmp_path: Path) -> None:
    labels = (np.arange(20) % 10).astype(np.uint8)
    labels[7] = 12
    write_mnist(tmp_path, labels=labels)
    with pytest.raises(UserError, match=r"label 12 \(sample 7\) is out of range for 10"):
        prepare(f"mnist:{tmp_path}", (1, 28, 28), 10)


# -- CIFAR-10 python batches ------------------------------------------------------------

def write_cifar(root: Path, per_batch: int = 6, batches: int = 2,
                label_fn=lambda i: i % 10) -> np.ndarray:
    root.mkdir(parents=True, exist_ok=True)
    all_x = []
    for b in range(batches + 1):
        x = rng_images(per_batch, 3, 32, 32, seed=b)
        name = f"data_batch_{b + 1}" if b < batches else "test_batch"
        batch = {b"batch_label": name.encode(), b"labels": [label_fn(i) for i in range(per_batch)],
                 b"data": x.reshape(per_batch, -1), b"filenames": [b"x.png"] * per_batch}
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
        all_x.append(x)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
             b"horse", b"ship", b"truck"]
    meta = {b"label_names": names, b"num_cases_per_batch": per_batch, b"num_vis": 3072}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return np.concatenate(all_x[:batches])


def test_cifar10_reads_batches(tmp_path: Path) -> None:
    root = tmp_path / "cifar-10-batches-py"
    x = write_cifar(root)
    d = load_source(f"cifar10:{tmp_path}")  # the parent folder works too
    assert d.train.pixels.shape == (12, 3, 32, 32) and d.test is not None and len(d.test) == 6
    assert np.array_equal(d.train.pixels.numpy(), x)
    assert d.train.labels.tolist() == [i % 10 for i in range(6)] * 2
    assert d.classes[:3] == ["airplane", "automobile", "bird"]
    p = prepare(f"cifar10:{root}", (3, 32, 32), 10)
    assert p.augment.pad == 4 and p.augment.flip  # cifar's usual augmentation by default
    assert p.val is not None and p.val_name == "test set"


def test_cifar10_truncated_batch(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    p = tmp_path / "data_batch_2"
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(UserError, match="data_batch_2: cannot read.*damaged or truncated"):
        load_source(f"cifar10:{tmp_path}")


def test_cifar10_label_out_of_range(tmp_path: Path) -> None:
    write_cifar(tmp_path, label_fn=lambda i: 10 if i == 3 else i)
    with pytest.raises(UserError, match=r"label 10 \(sample 3\) is out of range for 10"):
        load_source(f"cifar10:{tmp_path}")


class Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # what a malicious pickle would do
        return (open, (self.path, "w"))


def test_cifar10_pickle_cannot_run_code(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_1").write_bytes(
        pickle.dumps({b"data": Exploit(str(marker)), b"labels": []}, protocol=2))
    with pytest.raises(UserError, match=r"refusing to load (io|builtins)\.open"):
        load_source(f"cifar10:{tmp_path}")
    assert not marker.exists()


def test_cifar10_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no data_batch_"):
        load_source(f"cifar10:{tmp_path}")


# -- image folders ----------------------------------------------------------------------

def save_png(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    Image.fromarray(arr).save(path)


def test_folder_reads_png_classes(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    imgs = rng_images(5, 3, 12, 10)
    for i, img in enumerate(imgs):
        cls = tmp_path / ("cat" if i < 2 else "dog")
        cls.mkdir(exist_ok=True)
        save_png(cls / f"{i}.png", img)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    d = load_source(f"folder:{tmp_path}")
    assert d.classes == ["cat", "dog"]
    assert d.train.pixels.shape == (5, 3, 12, 10)
    assert np.array_equal(d.train.pixels.numpy(), imgs)
    assert d.train.labels.tolist() == [0, 0, 1, 1, 1]
    assert any("skipped 1 file" in n for n in d.notes)


def test_folder_netpbm_without_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images_mod, "have_pillow", lambda: False)
    grey = rng_images(2, 1, 6, 7)
    rgb = rng_images(2, 3, 6, 7, seed=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_netpbm(tmp_path / "a" / "0.pgm", grey[0])
    write_netpbm(tmp_path / "a" / "1.pgm", grey[1])
    write_netpbm(tmp_path / "b" / "0.ppm", rgb[0])
    (tmp_path / "b" / "1.ppm").write_bytes(  # ASCII PPM with a comment and maxval 15
        b"P3\n# made by hand\n7 6\n15\n" + " ".join(
            str(v // 17) for v in rgb[1].transpose(1, 2, 0).ravel()).encode())
    d = load_source(f"folder:{tmp_path}")
    assert d.train.pixels.shape == (4, 3, 6, 7)  # grey replicated to match the colour images
    assert np.array_equal(d.train.pixels[0].numpy(), np.repeat(grey[0], 3, axis=0))
    assert np.array_equal(d.train.pixels[2].numpy(), rgb[0])
    assert np.array_equal(d.train.pixels[3].numpy(), rgb[1] // 17 * 17)  # maxval 15 -> 255
    assert any("grey images converted to RGB" in n for n in d.notes)
    (tmp_path / "b" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(UserError, match="pip install pillow"):
        load_source(f"folder:{tmp_path}")


def test_netpbm_truncated(tmp_path: Path) -> None:
    p = tmp_path / "x.pgm"
    write_netpbm(p, rng_images(1, 1, 5, 5)[0])
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(UserError, match="truncated"):
        read_netpbm(p)


def test_folder_mixed_sizes(tmp_path: Path) -> None:
    for cls, shape in (("a", (1, 8, 8)), ("b", (1, 8, 9))):
        (tmp_path / cls).mkdir()
        write_netpbm(tmp_path / cls / "0.pgm", rng_images(1, *shape)[0])
    with pytest.raises(UserError, match=r"images of 2 different sizes, and no network input"):
        load_source(f"folder:{tmp_path}")
    d = load_source(f"folder:{tmp_path}", (1, 8, 8))  # fitted to the input on load
    assert d.train.pixels.shape == (2, 1, 8, 8)
    assert any("images of 2 sizes (9x8 to 8x8)" in n or "images of 2 sizes (8x8 to 9x8)" in n
               for n in d.notes)


def test_folder_empty(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no class sub-folders") as e:
        load_source(f"folder:{tmp_path}")
    assert e.value.help == "the folder is empty"
    write_netpbm(tmp_path / "loose.pgm", rng_images(1, 1, 4, 4)[0])
    with pytest.raises(UserError, match="no class sub-folders") as e:
        load_source(f"folder:{tmp_path}")
    assert "one sub-folder per class" in e.value.help
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_netpbm(tmp_path / "a" / "0.pgm", rng_images(1, 1, 4, 4)[0])
    with pytest.raises(UserError, match="class folder 'b' holds no image files"):
        load_source(f"folder:{tmp_path}")


def test_folder_truncated_png(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    (tmp_path / "a").mkdir()
    save_png(tmp_path / "a" / "0.png", rng_images(1, 3, 16, 16)[0])
    p = tmp_path / "a" / "0.png"
    p.write_bytes(p.read_bytes()[:60])
    with pytest.raises(UserError, match="none of its 1 image files can be read") as e:
        load_source(f"folder:{tmp_path}")
    assert "a/0.png (cannot read the image" in e.value.help
    save_png(tmp_path / "a" / "1.png", rng_images(1, 3, 16, 16)[0])
    d = load_source(f"folder:{tmp_path}")
    assert len(d.train) == 1
    assert any("skipped 1 unreadable file(s): a/0.png (cannot read the image" in n
               for n in d.notes)


def test_folder_train_val_layout(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("val", 2)):
        for cls in ("x", "y"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                write_netpbm(tmp_path / split / cls / f"{i}.pgm", rng_images(1, 1, 4, 4, i)[0])
    (tmp_path / "val" / "x").rename(tmp_path / "val" / "x_gone")
    with pytest.raises(UserError, match="classes that train/ lacks: x_gone"):
        load_source(f"folder:{tmp_path}")
    (tmp_path / "val" / "x_gone").rename(tmp_path / "val" / "x")
    d = load_source(f"folder:{tmp_path}")
    assert len(d.train) == 6 and d.test is not None and len(d.test) == 4
    assert d.test.labels.tolist() == [0, 0, 1, 1]


# -- npz --------------------------------------------------------------------------------

def test_npz_layouts_and_test_split(tmp_path: Path) -> None:
    x = rng_images(6, 3, 5, 4)
    path = tmp_path / "d.npz"
    np.savez(path, x=x.transpose(0, 2, 3, 1), y=np.eye(3)[[0, 1, 2, 0, 1, 2]],
             x_test=x[:2, 0], y_test=np.array([2, 1]), classes=np.array(["r", "g", "b"]))
    with pytest.raises(UserError, match=r"x_test images are \(1, 5, 4\)"):
        load_source(f"npz:{path}")
    np.savez(path, x=x.transpose(0, 2, 3, 1), y=np.eye(3)[[0, 1, 2, 0, 1, 2]],
             x_test=x[:2], y_test=np.array([2, 1]), classes=np.array(["r", "g", "b"]))
    d = load_source(f"npz:{path}")
    assert np.array_equal(d.train.pixels.numpy(), x)  # NHWC -> NCHW
    assert d.train.labels.tolist() == [0, 1, 2, 0, 1, 2]  # one-hot -> indices
    assert d.classes == ["r", "g", "b"] and d.test is not None and len(d.test) == 2
    np.savez(path, x=np.random.rand(4, 6, 6).astype(np.float32), y=[0, 1, 1, 0])
    d = load_source(f"npz:{path}")
    assert d.train.sample_shape == (1, 6, 6) and d.train.scale == 1.0


def test_npz_errors(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((2, 4, 4)), labels=[0, 1])
    with pytest.raises(UserError, match="needs arrays 'x' and 'y'; it holds images, labels"):
        load_source(f"npz:{path}")
    np.savez(path, x=np.zeros((3, 4, 4), np.uint8), y=[0, 1])
    with pytest.raises(UserError, match="3 images but 2 labels"):
        load_source(f"npz:{path}")
    np.savez(path, x=np.zeros((2, 4, 4), np.uint8), y=[0, -1])
    with pytest.raises(UserError, match=r"label -1 \(sample 1\) is out of range"):
        load_source(f"npz:{path}")
    np.savez(path, x=np.zeros((2, 4, 4), np.uint8), y=[0.5, 1])
    with pytest.raises(UserError, match="whole numbers"):
        load_source(f"npz:{path}")
    np.savez(path, x=rng_images(50, 1, 16, 16), y=np.arange(50) % 2)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(UserError, match="cannot read"):
        load_source(f"npz:{path}")


# -- synthetic and specs ----------------------------------------------------------------

def test_synthetic_follows_the_network_and_is_reproducible() -> None:
    a = load_source("synthetic:N=40,seed=3", input_shape=(3, 9, 7), num_classes=4)
    b = load_source("synthetic:N=40,seed=3", input_shape=(3, 9, 7), num_classes=4)
    assert a.train.sample_shape == (3, 9, 7) and a.classes == ["0", "1", "2", "3"]
    assert torch.equal(a.train.pixels, b.train.pixels) and torch.equal(a.train.labels, b.train.labels)
    c = load_source("synthetic:N=8,shape=2x4x4,classes=3")
    assert c.train.pixels.shape == (8, 2, 4, 4) and int(c.train.labels.max()) <= 2
    with pytest.raises(UserError, match="bad option 'size=3'"):
        load_source("synthetic:size=3")


def test_unknown_spec_suggests() -> None:
    with pytest.raises(UserError, match="unknown data kind 'mnsit'") as e:
        load_source("mnsit:/data")
    assert "did you mean 'mnist:/data'" in e.value.help and e.value.exit_code == 2
    with pytest.raises(UserError, match="mnist needs a path"):
        load_source("mnist")
