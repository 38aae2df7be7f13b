"""The --stress busy processes are real: they run, burn CPU, are reaped, and never outlive their parent."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from realtime.app.bench.stress import SPIN, Stress


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:  # a zombie nobody reaped still exists
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_stress_starts_busy_processes_and_reaps_them() -> None:
    stress = Stress(2).start()
    try:
        pids = list(stress.pids)
        assert len(pids) == 2
        assert stress.running == 2
        start = {pid: _cpu_ticks(pid) for pid in pids}
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not all(_cpu_ticks(p) > start[p] for p in pids):
            time.sleep(0.05)
        assert all(_cpu_ticks(p) > start[p] for p in pids)  # they compute
    finally:
        codes = stress.stop()
    assert codes == [-9, -9]
    assert stress.running == 0
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass  # reaped already, as it should be
        else:
            raise AssertionError(f"busy process {pid} was not reaped")


def test_a_busy_process_ends_when_its_parent_is_gone() -> None:
    parent = subprocess.run(
        [sys.executable, "-c", "import os, subprocess, sys\n"
                               f"p = subprocess.Popen([sys.executable, '-c', {SPIN!r}, str(os.getpid())],"
                               " stdout=subprocess.DEVNULL)\nprint(p.pid, flush=True)\n"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    pid = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and not _gone(pid):
        time.sleep(0.05)
    assert _gone(pid)
