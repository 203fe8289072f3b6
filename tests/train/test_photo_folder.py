"""A folder of images as people have them: a few hundred PNG and JPEG files of many sizes
and every mode (grey, RGB, RGBA, palette), three classes, one damaged file. It trains,
evaluates and predicts; the damaged file is skipped and counted; each image is fitted
to the network's input on load (scaled to cover it, centre-cropped)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cnndsl.cli import main
from cnndsl.train.data import load_source
from cnndsl.train.data.decode import decode_all, fit

PIL = pytest.importorskip("PIL.Image")

NET = """network photos(classes=3):
    input 3x24x24
    conv(8, 3) - relu - maxpool(2)
    conv(16, 3) - relu - gap
    fc(classes)
"""
COLOURS = {"red": (200, 40, 40), "green": (40, 190, 60), "blue": (50, 60, 210)}
MODES = ("RGB", "L", "RGBA", "P")


def make_folder(root: Path, per_class: int = 70) -> None:
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            w, h = (int(v) for v in rng.integers(18, 64, 2))
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (h, w, 3)), 0, 255)
            im = PIL.fromarray(pixels.astype(np.uint8), "RGB")
            mode = MODES[i % len(MODES)]
            im = im.convert(mode) if mode != "P" else im.quantize(16)
            if mode == "L":  # grey: the class shows in the brightness
                im = PIL.fromarray((np.asarray(im) * 0 + 40 * (1 + list(COLOURS).index(name)))
                                   .astype(np.uint8), "L")
            if i % 3 == 0 and mode in ("RGB", "L"):
                im.save(root / name / f"{i}.jpg", quality=90)
            else:
                im.save(root / name / f"{i}.png")
    (root / "green" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_fit_scales_to_cover_and_crops_the_centre():
    img = np.arange(2 * 10 * 40, dtype=np.uint8).reshape(2, 10, 40) % 251
    out = fit(img, 8, 8)  # 10x40 -> scaled to 8x32, the middle 8 columns kept
    assert out.shape == (2, 8, 8)
    wide = np.zeros((1, 10, 40), dtype=np.uint8)
    wide[:, :, 16:24] = 255  # a bright band in the middle survives the crop
    assert fit(wide, 8, 8).mean() > 150
    assert fit(img, 10, 40) is img  # already the size


def test_per_class_scores_come_from_the_confusion_matrix():
    from cnndsl.train.evaluate import Scores

    s = Scores(0.0, 0.6, None, 10, [[3, 1, 0], [2, 3, 0], [0, 1, 0]])
    (a, b, c) = s.per_class()
    assert (a["precision"], a["recall"], a["support"]) == (0.6, 0.75, 4)
    assert a["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert (b["precision"], b["recall"]) == (0.6, 0.6)
    assert (c["precision"], c["recall"], c["f1"], c["support"]) == (0.0, 0.0, 0.0, 1)


def test_mixed_folder_loads_fitted_and_skips_the_damaged_file(tmp_path):
    make_folder(tmp_path / "photos", per_class=30)
    d = load_source(f"folder:{tmp_path / 'photos'}", (3, 24, 24))
    assert d.train.pixels.shape == (90, 3, 24, 24) and d.train.pixels.dtype == torch.uint8
    assert d.classes == ["blue", "green", "red"]
    assert torch.bincount(d.train.labels).tolist() == [30, 30, 30]
    notes = " | ".join(d.notes)
    assert "skipped 1 unreadable file(s): green/broken.jpg" in notes
    assert "scaled to cover 24x24 and centre-cropped on load" in notes
    files = sorted((tmp_path / "photos" / "red").iterdir(), key=lambda p: int(p.stem))
    serial = decode_all(files, (24, 24), workers=1)  # the workers decode what one would
    parallel = decode_all(files * 3, (24, 24), workers=2)[:len(files)]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(serial, parallel))


def test_mixed_folder_trains_evaluates_and_predicts(tmp_path, capsys):
    make_folder(tmp_path / "photos")
    src = tmp_path / "photos.cnn"
    src.write_text(NET)
    run = tmp_path / "run"
    assert main(["train", str(src), "--data", f"folder:{tmp_path / 'photos'}", "--epochs",
                 "6", "--batch-size", "16", "--out", str(run), "--progress", "lines",
                 "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 unreadable file(s): green/broken.jpg" in out
    assert "augmentation: flip,rrc:0.25" in out  # auto: random-resized crops for photos
    assert main(["eval", str(run), "--json", "--confusion", str(tmp_path / "c.png")]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["count"] == 42 and ev["accuracy"] > 0.6  # 20% of 210 images; chance 1/3
    assert ev["top5"] is None  # 3 classes: top-5 would always be 1
    assert [r["support"] for r in ev["per_class"]] == [14, 14, 14]  # stratified hold-out
    assert main(["eval", str(run), "--confusion", str(tmp_path / "c.png")]) == 0
    text = capsys.readouterr().out
    assert "top-5" not in text and "precision  recall" in text and "macro" in text
    red = tmp_path / "photos" / "red"
    assert main(["predict", str(run), str(red / "2.png"), str(red / "1.png"), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [p["class"] for p in lines] == ["red", "red"]  # an RGBA and a grey-converted


def test_the_resized_copy_is_made_once_and_follows_the_files(tmp_path, monkeypatch):
    from cnndsl.train.data import decode

    monkeypatch.setenv("CNNDSL_IMAGE_CACHE", "on")
    monkeypatch.setenv("CNNDSL_CACHE_DIR", str(tmp_path / "cache"))
    make_folder(tmp_path / "photos", per_class=8)
    first = load_source(f"folder:{tmp_path / 'photos'}", (3, 24, 24))
    assert len(list((tmp_path / "cache" / "images").glob("*.npz"))) == 1
    calls = []
    monkeypatch.setattr(decode, "_decode", lambda job: calls.append(job) or (None, "x"))
    again = load_source(f"folder:{tmp_path / 'photos'}", (3, 24, 24))
    assert calls == [] and torch.equal(again.train.pixels, first.train.pixels)
    assert torch.equal(again.train.labels, first.train.labels)
    assert any("from the resized copy" in n for n in again.notes)
    assert any("skipped 1 unreadable file(s): green/broken.jpg" in n for n in again.notes)
    monkeypatch.undo()
    monkeypatch.setenv("CNNDSL_IMAGE_CACHE", "on")
    monkeypatch.setenv("CNNDSL_CACHE_DIR", str(tmp_path / "cache"))
    copy = next((tmp_path / "cache" / "images").glob("*.npz"))
    for damaged in (b"PK\x03\x04garbage", b""):  # a damaged copy: decoded afresh, no error
        copy.write_bytes(damaged)
        fresh = load_source(f"folder:{tmp_path / 'photos'}", (3, 24, 24))
        assert torch.equal(fresh.train.pixels, first.train.pixels)
        assert not any("from the resized copy" in n for n in fresh.notes)

    monkeypatch.setenv("CNNDSL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "photos" / "red" / "1.png").unlink()  # a change: decoded afresh, new copy
    third = load_source(f"folder:{tmp_path / 'photos'}", (3, 24, 24))
    assert len(third.train) == len(first.train) - 1
    assert not any("from the resized copy" in n for n in third.notes)


def test_confusion_picture_of_many_classes_shows_fractions(tmp_path):
    from cnndsl.train.plots import save_confusion

    k = 60
    m = np.ones((k, k), dtype=int)
    m[np.arange(k), np.arange(k)] = 50
    png = tmp_path / "c.png"
    save_confusion(m.tolist(), [f"c{i}" for i in range(k)], png)
    im = PIL.open(png)
    assert im.size == (2000, 2000)  # capped at 20 inches, whatever the class count
    pixels = np.asarray(im.convert("L"))
    assert pixels.min() < 100  # the diagonal's 50/109 of each row shows dark on the bar
