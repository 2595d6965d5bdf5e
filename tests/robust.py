"""`make robust`: every notebook under nbval with other seeds and another CPU's kernels.

A chapter's hidden checks state claims about its *method*, so they must hold for any seed and on
any machine, not only for the run the page's figures came from. This runs each notebook (recording
nothing: no badges, no cache) under

* ``seed1``       GENAI_SEED=1
* ``seed2-avx2``  GENAI_SEED=2 with MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=avx2, which stand in
                  for another CPU's kernels (other code paths, so other rounding)

and prints a notebook x run table of pass/fail with each run's wall time. Logs go to
``_build/robust/<run>/<notebook>.log``. The exit status is 1 when any run failed.

    python tests/robust.py [-j JOBS] [--runs seed1,seed2-avx2] [book/part/chapter.ipynb ...]

Notebooks run ``JOBS`` at a time (default: one per two cores). It is not part of `make test`
(it costs two full passes over the book); every chapter must pass it before it is called done.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = {
    "seed1": {"GENAI_SEED": "1"},
    "seed2-avx2": {"GENAI_SEED": "2", "MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2"},
}


def notebooks(args: list[str]) -> list[Path]:
    if args:
        paths = [Path(a).with_suffix(".ipynb") for a in args]
        missing = [str(p) for p in paths if not (ROOT / p).exists()]
        if missing:
            raise SystemExit(f"notebooks: no such notebook: {', '.join(missing)}")
        return paths
    found = sorted(p.relative_to(ROOT) for p in (ROOT / "book").rglob("*.ipynb"))
    return [p for p in found if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts]


def run_one(run: str, nb: Path) -> tuple[str, Path, bool, float, str]:
    log = ROOT / "_build" / "robust" / run / nb.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **RUNS[run], "GENAI_RECORD": "0"}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-cell-timeout=900",
        str(nb),
    ]
    start = time.perf_counter()
    with open(log, "w") as out:
        rc = subprocess.call(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    failed = [
        line.split("::", 1)[1].split(" - ", 1)[0].lower()
        for line in log.read_text().splitlines()
        if line.startswith("FAILED ") and "::" in line
    ]
    detail = ", ".join(failed) if failed else ("" if rc == 0 else f"exit {rc}")
    return run, nb, rc == 0, seconds, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every one under book/)")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="notebooks run at once (default: one per two cores)",
    )
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, from {', '.join(RUNS)}")
    args = parser.parse_args()
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in runs if r not in RUNS]
    if unknown or not runs:
        parser.error(f"--runs: unknown run(s) {unknown}; choose from {', '.join(RUNS)}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    nbs = notebooks(args.notebooks)
    jobs = [(run, nb) for run in runs for nb in nbs]
    print(
        f"make robust: {len(nbs)} notebooks x {len(runs)} runs, {args.jobs} at a time; logs in _build/robust/",
        flush=True,
    )
    results = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for run, nb, ok, seconds, detail in pool.map(lambda job: run_one(*job), jobs):
            results[run, nb] = (ok, seconds, detail)
            print(f"  {'pass' if ok else 'FAIL'}  {run:<11} {nb}  {seconds:.0f} s  {detail}", flush=True)

    cpu = (
        next(
            (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
            "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else "unknown CPU"
    )
    print(
        f"\nmachine: {cpu}, {os.cpu_count()} cores, {args.jobs} notebook(s) at a time (wall s includes kernel start-up)"
    )
    width = max(len(str(nb)) for nb in nbs)
    print(f"{'notebook':<{width}}  " + "  ".join(f"{r:>16}" for r in runs))
    for nb in nbs:
        cells = []
        for run in runs:
            ok, seconds, _ = results[run, nb]
            cells.append(f"{('pass' if ok else 'FAIL') + f' {seconds:.0f} s':>16}")
        print(f"{str(nb):<{width}}  " + "  ".join(cells))
    failures = [(run, nb, detail) for (run, nb), (ok, _, detail) in results.items() if not ok]
    for run, nb, detail in failures:
        print(f"FAILED {run} {nb}: {detail} (log: _build/robust/{run}/{nb.with_suffix('.log')})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
