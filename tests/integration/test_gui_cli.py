"""The ``view`` command: messages, exit codes, screenshot mode, and the viewer-process helper."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pylsl
import pytest
from click.testing import CliRunner

from gui.process import READY_LINE, start_viewer_process, viewer_command
from realtime.app.cli.view import view
from realtime.app.demo_outlet import emg_info
from realtime.core.launcher import cli_command, cli_environment
from tests.helpers import unique_name, wait_until

if TYPE_CHECKING:
    from pathlib import Path


def test_view_without_stream_exits_nonzero_with_one_line_message() -> None:
    other = unique_name("visible")
    out = pylsl.StreamOutlet(pylsl.StreamInfo(other, "Markers", 1, 0.0, "string", other))
    missing = unique_name("missing")
    # --nice 0: in-process, the default would move pytest itself to the idle class for good.
    result = CliRunner().invoke(view, ["--stream", missing, "--timeout", "0.5", "--nice", "0"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: no stream named '{missing}' found within 0.5 s (found: ")
    assert f"{other} [Markers, 1 ch @ irregular]" in lines[0]
    del out


def test_view_screenshot_mode_writes_png_and_exits(tmp_path: Path) -> None:
    # In its own process, as users run it: the command owns its QApplication and event loop.
    import subprocess
    import threading

    name = unique_name("cli_shot")
    fs = 500.0
    outlet = pylsl.StreamOutlet(emg_info(name, "armband8", fs, source_id=name))
    stop = threading.Event()
    sent = {"n": 0}

    def push() -> None:  # a live producer while the viewer runs
        t0, k = pylsl.local_clock(), 25
        while not stop.is_set():
            data = np.random.default_rng(sent["n"]).standard_normal((k, 8)).astype(np.float32) * 50
            outlet.push_chunk(data, timestamp=t0 + (sent["n"] + k - 1) / fs)
            sent["n"] += k
            stop.wait(k / fs)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    path = tmp_path / "cli.png"
    try:
        proc = subprocess.run(
            cli_command("view", "--stream", name, "--screenshot", path, "--screenshot-after", 1, "--nice", 0),
            capture_output=True,
            text=True,
            timeout=120,
            env=cli_environment(),
        )
    finally:
        stop.set()
        pusher.join(timeout=5)
    assert proc.returncode == 0, proc.stderr
    assert f"screenshot saved: {path}" in proc.stdout
    # The readiness line scripts wait for (bench viewer) comes first, naming the drawn stream.
    assert proc.stdout.splitlines()[0] == f"{READY_LINE} {name}"
    assert path.stat().st_size > 10_000
    assert sent["n"] > 0


def test_viewer_command_and_process_helper_arguments() -> None:
    argv = viewer_command("P1", timeout=10, screenshot_after=2.5, stream=None)
    assert argv[:3] == [sys.executable, "-m", "realtime.app.cli"]
    assert argv[3:] == ["view", "--prefix", "P1", "--timeout", "10", "--screenshot-after", "2.5"]
    with pytest.raises(TypeError, match=r"Unknown viewer option\(s\) \['colour'\]"):
        viewer_command("P1", colour="red")
    with pytest.raises(ValueError, match="'prefix' must be a non-empty name without spaces"):
        start_viewer_process("")
    with pytest.raises(TypeError, match="'prefix' must be a string"):
        start_viewer_process(None)


def test_launch_view_without_stream_exits_nonzero() -> None:
    import subprocess

    missing = unique_name("missing_cli")
    proc = subprocess.run(
        cli_command("view", "--stream", missing, "--timeout", "0.5"), env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert f"no stream named '{missing}' found within 0.5 s (found: " in errors[0]


def test_start_viewer_process_shows_the_simulator_streams(tmp_path: Path) -> None:
    import threading

    prefix = unique_name("proc")
    fs = 1000.0
    outlet = pylsl.StreamOutlet(emg_info(f"{prefix}-EMG", "grid64", fs, source_id=f"{prefix}-e"))
    stop = threading.Event()

    def push() -> None:
        rng = np.random.default_rng(3)
        t0, n = pylsl.local_clock(), 0
        while not stop.is_set():
            outlet.push_chunk(
                rng.standard_normal((10, 64)).astype(np.float32) * 40, timestamp=t0 + (n + 9) / fs
            )
            n += 10
            stop.wait(max(0.0, t0 + n / fs - pylsl.local_clock()))

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    path = tmp_path / "proc.png"
    base = os.getpriority(os.PRIO_PROCESS, 0)
    proc = start_viewer_process(prefix, timeout=10, screenshot=str(path), screenshot_after=1.5)
    try:
        niceness = base

        def reniced_or_ended() -> bool:
            nonlocal niceness
            with contextlib.suppress(ProcessLookupError):
                niceness = os.getpriority(os.PRIO_PROCESS, proc.pid)
            return niceness != base or proc.poll() is not None

        wait_until(reniced_or_ended, 30.0, 0.01, "the viewer process to lower its priority")
        assert niceness == min(base + 10, 19)  # the consumer yields the CPU to the producer
        assert proc.wait(timeout=60) == 0
    finally:
        stop.set()
        thread.join(timeout=5)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert path.stat().st_size > 20_000


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes only")
def test_lower_priority_moves_the_viewer_to_the_idle_class() -> None:
    import subprocess

    code = (
        "import os; from gui.process import lower_priority; lower_priority(5); "
        "print(os.sched_getscheduler(0) == os.SCHED_IDLE, os.nice(0))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0] == "True"
    assert int(out[1]) >= 5


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes only")
def test_every_thread_of_the_viewer_process_runs_in_the_idle_class(monkeypatch) -> None:
    from pathlib import Path as _Path

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    name = unique_name("idle")
    outlet = pylsl.StreamOutlet(emg_info(name, "armband8", 500.0, source_id=name))
    proc = start_viewer_process(name, stream=name, timeout=10)
    try:
        wait_until(lambda: outlet.have_consumers() or proc.poll() is not None, 30.0, 0.05,
                   "the viewer process to connect")
        assert outlet.have_consumers(), "the viewer process never connected"
        policies = {}
        for task in _Path(f"/proc/{proc.pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread may end meanwhile
                stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
                policies[task.name] = int(stat[38])  # field 41 of proc(5): scheduling policy
        assert len(policies) > 3
        # liblsl's first threads too: the viewer lowers its priority before resolving streams
        assert set(policies.values()) == {os.SCHED_IDLE}, policies
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_start_viewer_process_can_wait_until_the_viewer_draws(monkeypatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    name = unique_name("ready")
    outlet = pylsl.StreamOutlet(emg_info(name, "armband8", 500.0, source_id=name))
    proc = start_viewer_process(name, wait_drawing=60.0, stream=name, timeout=10)
    try:
        assert proc.poll() is None  # running, past its start-up
        assert outlet.wait_for_consumers(10.0)  # and connected to the stream it draws
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with pytest.raises(RuntimeError, match=r"did not start drawing .*-EMG within 60.0 s \(exit code 1\)"):
        start_viewer_process(unique_name("absent"), wait_drawing=60.0, timeout=0.5)

