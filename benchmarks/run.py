"""Run every CPU benchmark and write docs/performance.md.

Each benchmark (``benchmarks/<name>.py``) runs in its own process with ``--json`` and
reports figures: ratios against a baseline measured in the same run, interleaved and
repeated, with min and median (benchmarks/figures.py). The page records them with the
machine, its load before and after, and the software versions. Run it with an
interpreter that has torchvision (``.venv-tv/bin/python benchmarks/run.py``) for the
figures measured against torchvision; without it they are listed as not measured.

    python benchmarks/run.py [--quick] [--only NAME ...] [--out docs/performance.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("startup", "scaling", "modules", "train_overhead")
NOTES = "<!-- notes: written by hand, kept by benchmarks/run.py -->"
INTRO = """# Performance

Every figure here comes from `benchmarks/`, as a ratio to a named baseline measured in the
same run (the two sides interleaved and repeated; the median and the minimum are shown),
or as a plain quantity where there is nothing to compare with. None of this is a timed
assertion in the test suite. Made by `python benchmarks/run.py{quick}`; the machine is
shared, so compare ratios, not absolute times.
"""


def machine() -> dict[str, str]:
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cores": str(os.cpu_count())}
    try:
        model = next(line.split(":", 1)[1].strip() for line in
                     Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        info["cpu"] = model
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    for module in ("torch", "torchvision", "lark"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = "not installed"
    return info


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def run_one(name: str, quick: bool) -> tuple[list[dict], float, str]:
    args = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--json"]
    if quick:
        args.append("--quick")
    t = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - t
    if out.returncode != 0:
        return [], took, (out.stderr.strip().splitlines() or ["failed"])[-1]
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "[]"
    return json.loads(last), took, ""


def cell(f: dict) -> tuple[str, ...]:
    unit = "" if f["unit"] == "x" else f" {f['unit']}"
    target = "" if f["target"] is None else f"<= {f['target']:g}{unit}"
    met = "" if f["target"] is None else ("met" if f["median"] <= f["target"] else "not met")
    against = f["baseline"] or "(a quantity)"
    return (f["name"], against, f"{f['median']:.3f}{unit}", f"{f['min']:.3f}{unit}", target,
            met, f["detail"].replace("|", "/"))


def page(results: dict, info: dict, before: str, after: str, quick: bool) -> str:
    lines = [INTRO.format(quick=" --quick" if quick else ""), "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- load average before / after: {before} / {after}",
              f"- date: {datetime.date.today().isoformat()}", ""]
    for name, (figures, took, error) in results.items():
        lines += [f"## {name} ({took:.0f} s)", ""]
        if error:
            lines += [f"Not measured: {error}", ""]
            continue
        if not figures:
            lines += ["No figures (a dependency is missing).", ""]
            continue
        lines += ["| figure | against | median | min | target | | detail |",
                  "|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(cell(f)) + " |" for f in figures]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=BENCHMARKS)
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    a = ap.parse_args()
    before = load()
    results = {}
    for name in a.only or BENCHMARKS:
        results[name] = run_one(name, a.quick)
        figures, took, error = results[name]
        print(f"{name}: {len(figures)} figures in {took:.0f} s {error}", file=sys.stderr)
    text = page(results, machine(), before, load(), a.quick)
    out = Path(a.out)
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    notes = old[old.index(NOTES):] if NOTES in old else NOTES + "\n"
    out.write_text(text + "\n" + notes, encoding="utf-8")
    print(f"wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
