"""pytest plugin for the notebooks under book/, which nbval executes (`make test`).

For every notebook nbval runs, this plugin

* measures its cost: the wall time of its cells (kernel start-up excluded) and the kernel's peak
  resident memory (``VmHWM`` from ``/proc``, Linux only), printed as a table at the end of the run
  and written to ``_build/compute/notebooks.json``;
* keeps that cost for ``make badges``, which records it in ``book/compute.json`` (committed), from
  which every chapter page shows a compute badge — on the CPU, and separately on a GPU when the run
  had one (``make test`` itself changes no tracked file);
* when every cell passed, stores the executed notebook in Jupyter Book's execution cache
  (``_build/.jupyter_cache``), keyed by its code exactly as Jupyter Book keys it, so the site build
  that follows shows these outputs instead of running every notebook a second time. If the keys
  ever stopped matching, the build would simply execute the notebook itself: slower, never wrong.

Set ``GENAI_RECORD=0`` to run notebooks without recording anything (e.g. while drafting a chapter
beside other work, or in ``make robust``); the measurements of such a run are still printed.

Run as a script (``make badges``), it copies the last recorded run's measurements into the badges.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "_build" / ".jupyter_cache"
REPORT = ROOT / "_build" / "compute" / "notebooks.json"
BADGES = ROOT / "book" / "compute.json"

_runs: dict[str, dict] = {}
RECORD = os.environ.get("GENAI_RECORD", "1") != "0"


def _is_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _peak_rss_mb(nbfile) -> float | None:
    """Peak resident memory of the notebook's kernel process, in MB (None where unknown)."""
    try:
        pid = nbfile.kernel.km.provisioner.pid
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _run(nodeid: str) -> dict:
    """The record of the notebook a cell's node id ("book/intro.ipynb::Cell 3") belongs to."""
    path = nodeid.split("::", 1)[0]
    return _runs.setdefault(path, {"seconds": 0.0, "cells": 0, "failed": False, "peak_rss_mb": None})


def pytest_runtest_logreport(report):
    if "::Cell " not in report.nodeid:
        return
    run = _run(report.nodeid)
    if report.when == "call":
        run["seconds"] += report.duration
        run["cells"] += 1
    if report.failed:
        run["failed"] = True


# After a cell has run, nbval reads its remaining output messages and fails the cell if two of them
# are more than this far apart ("Timeout of N seconds exceeded waiting for output"). nbval reads the
# kernel's IOPub socket only after the cell's reply, so everything a cell publishes waits in ZeroMQ's
# queues meanwhile; once they are full the kernel's PUB socket drops the rest, the cell's "idle"
# status included, and nbval waits for messages that never come. That is what failed once on the
# pre-training chapter: its progress bars redrew 10 times a second for a minute and a half (seen
# on a loaded machine, where a cell runs longer and sends more). The library's bars now redraw once
# a second (genai_lib.training.progress_bar, whose test counts the messages from a real kernel), so a
# cell's messages no longer fill the queues; this wait only covers a slow machine's delivery.
OUTPUT_TIMEOUT_S = 30

# A kernel that burns no CPU for this long while nbval still waits for the cell's reply has lost a
# message or deadlocked: fail the cell now, saying so, instead of at --nbval-cell-timeout (900 s).
# The CPU time counted includes the kernel's child processes (a cell may wait on a subprocess).
STALL_S = float(os.environ.get("GENAI_STALL_S", "120"))


class KernelStalled(RuntimeError):
    """The kernel sat idle while its cell had not replied."""


def _cpu_seconds(pid: int) -> float | None:
    try:
        import psutil

        proc = psutil.Process(pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return total
    except Exception:  # no psutil, or the process is gone: no watchdog
        return None


def _watch_for_stalls() -> None:
    """Make nbval's wait for a cell's reply fail after STALL_S seconds of an idle kernel."""
    from queue import Empty

    from nbval.kernel import RunningKernel

    wait_for_reply = RunningKernel.await_reply
    if getattr(wait_for_reply, "_genai_watchdog", False):
        return

    def await_reply(self, msg_id, timeout=None):
        try:
            pid = self.km.provisioner.pid
        except AttributeError:
            pid = None
        deadline = None if timeout is None else time.monotonic() + timeout
        cpu, since = (_cpu_seconds(pid) if pid else None), time.monotonic()
        while True:
            left = 5.0 if deadline is None else min(5.0, deadline - time.monotonic())
            if left <= 0:
                raise Empty
            try:
                return wait_for_reply(self, msg_id, timeout=left)
            except Empty:
                now_cpu, now = (_cpu_seconds(pid) if pid else None), time.monotonic()
                if now_cpu is None or cpu is None or now_cpu - cpu > 0.5:
                    cpu, since = now_cpu, now
                elif now - since > STALL_S:
                    self.interrupt()
                    raise KernelStalled(
                        f"the kernel has used no CPU for {now - since:.0f} s while this cell has not "
                        "finished: a message between kernel and client was lost, or the cell waits on "
                        "something that will not come (GENAI_STALL_S sets this limit)"
                    ) from None

    await_reply._genai_watchdog = True
    RunningKernel.await_reply = await_reply


def pytest_collection_modifyitems(items):
    if any(_is_cell(item) for item in items):
        _watch_for_stalls()
    for item in items:
        if _is_cell(item):
            item.output_timeout = OUTPUT_TIMEOUT_S


def _store_in_cache(nbfile, items) -> None:
    """Put the notebook with the outputs nbval collected into Jupyter Book's cache (when installed)."""
    try:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn
    except ImportError:  # nbval without the book's build tools (`pip install genai_lib[test]` alone)
        return

    nb = nbformat.read(str(nbfile.path), as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    if len(code_cells) != len(items):
        return
    for count, (cell, item) in enumerate(zip(code_cells, items), start=1):
        cell.outputs = [nbformat.from_dict(dict(out)) for out in (item.test_outputs or [])]
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
        cell.execution_count = count
    # Jupyter Book reads the .md twin of this .ipynb; the cache matches on code and kernelspec only.
    uri = str(Path(nbfile.path).with_suffix(".md"))
    cache = get_cache(str(CACHE_DIR))
    cache.cache_notebook_bundle(
        CacheBundleIn(nb, uri, data={"execution_seconds": _run(items[0].nodeid)["seconds"]}),
        check_validity=False,
        overwrite=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell, before nbval stops its kernel: measure it and cache it."""
    if not _is_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    nbfile = item.parent
    run = _run(item.nodeid)
    run["peak_rss_mb"] = _peak_rss_mb(nbfile)
    cells = [i for i in item.session.items if i.parent is nbfile]
    if RECORD and not run["failed"] and all(getattr(c, "test_outputs", None) is not None for c in cells):
        _store_in_cache(nbfile, cells)


def _gpu_name() -> str:
    """The CUDA GPU the notebooks' kernels will pick (get_device prefers it), or "" on a CPU run."""
    if os.environ.get("GENAI_DEVICE", "").startswith("cpu"):
        return ""
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    except Exception:  # no torch, or a broken CUDA set-up: the kernels run on the CPU
        return ""


def update_badges(report: Path = REPORT) -> int:
    """Record each passing notebook's cost from the last run's report under "cpu" or "gpu" in
    book/compute.json; return how many were recorded."""
    if not report.exists():
        raise SystemExit(f"make badges: no measurements in {report.relative_to(ROOT)}: run `make test` first")
    recorded = json.loads(report.read_text())
    machine, runs = recorded["machine"], recorded["notebooks"]
    badges = json.loads(BADGES.read_text()) if BADGES.exists() else {}
    kind = "gpu" if machine["gpu"] else "cpu"
    where = machine["gpu"] or f"{machine['cpu']}, {machine['cores']} cores"
    count = 0
    for path, run in runs.items():
        if run["failed"] or run["peak_rss_mb"] is None:
            continue
        page = str(Path(path).with_suffix(".md"))
        badges.setdefault(page, {})[kind] = {
            "seconds": round(run["seconds"], 1),
            "peak_mb": round(run["peak_rss_mb"]),
            "machine": where,
            "date": machine["date"],
        }
        count += 1
    BADGES.write_text(json.dumps(dict(sorted(badges.items())), indent=1, ensure_ascii=False) + "\n")
    return count


def pytest_terminal_summary(terminalreporter):
    if not _runs:
        return
    machine = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "gpu": _gpu_name(),
        "date": time.strftime("%Y-%m-%d"),
        "seed": os.environ.get("GENAI_SEED", "") or "0",
    }
    if RECORD:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"machine": machine, "notebooks": _runs}, indent=2))
    tr = terminalreporter
    tr.section("notebook cost (cells' wall time, kernel peak memory)")
    tr.write_line(f"machine: {machine['cpu']}, {machine['cores']} cores")
    tr.write_line(f"{'notebook':<48} {'wall s':>8} {'peak MB':>9}  status")
    for path, run in sorted(_runs.items()):
        rss = f"{run['peak_rss_mb']:.0f}" if run["peak_rss_mb"] is not None else "?"
        status = "FAILED" if run["failed"] else "ok"
        tr.write_line(f"{path:<48} {run['seconds']:>8.1f} {rss:>9}  {status}")
    if RECORD:
        tr.write_line(
            f"(written to {REPORT.relative_to(ROOT)}; `make badges` records it in {BADGES.relative_to(ROOT)})"
        )


if __name__ == "__main__":
    n = update_badges()
    print(f"{n} notebooks' cost recorded in {BADGES.relative_to(ROOT)} from {REPORT.relative_to(ROOT)}")
