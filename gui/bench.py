"""``launch.py bench viewer``: how fast the viewer draws, and whether it slows the simulator.

Two measurements per channel count (8 = ``armband8``, 64 = ``grid64``), 4 s window, 2 kHz:

- **fps**: a producer process (:mod:`gui.demo_outlet`, the streams of
  docs/streams.md) publishes EMG + activation + IMU + status; the full viewer
  window (1600 x 900, offscreen) runs its presenter tick as fast as it can once
  the 4 s window is full, redrawing the traces on every tick (pull, decimate,
  draw), and the frames actually painted by the EMG plot's viewport are counted
  (a Qt event filter), over ``seconds``. Side panels refresh at their normal 10 Hz.
- **late_ticks_delta**: the simulator (``launch.py run --layout L --name P
  --duration D``) is run twice, alone and with the viewer process
  (``launch.py view --prefix P``, its normal 30 Hz) started when the first
  status sample arrives; in each run the increase of ``late_ticks`` (from its
  ``<prefix>-status`` stream) from the first sample after a 4 s warm-up to the
  last one is taken, and the delta is ``with - without``. The viewer process'
  CPU use over that window is stored as well, and a third run with a bare LSL
  inlet pulling the EMG at 30 Hz (what any consumer costs the producer) gives
  ``late_ticks_delta_vs_bare_inlet``. ``None`` when ``launch.py run`` is not
  available. The three conditions are interleaved ``--repeats`` times and the
  medians compared; every run's figures are stored too (late ticks on a shared
  machine are noisy).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np

from realtime.logs import logger

LAYOUT_FOR_CHANNELS = {8: "armband8", 64: "grid64"}
FS = 2000.0
WINDOW_S = 4.0
_ROOT = Path(__file__).resolve().parent.parent
_LAUNCH = _ROOT / "launch.py"


def _wait_for(predicate, timeout: float, step: Any) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step()
        if predicate():
            return True
    return predicate()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)


def measure_fps(channels: int, seconds: float, screenshot_dir: str | None = None) -> dict[str, Any]:
    """Frames per second of the full viewer at ``channels`` channels, 2 kHz, 4 s window (offscreen)."""
    if channels not in LAYOUT_FOR_CHANNELS:
        raise ValueError(
            f"The argument 'channels' must be one of {sorted(LAYOUT_FOR_CHANNELS)}. {channels!r} is invalid."
        )
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from pyqtgraph.Qt import QtCore

    from gui.streams import discover
    from gui.viewer import Viewer, ViewerOptions, make_app

    app = make_app()
    prefix = f"benchviewer_{uuid4().hex[:8]}"
    producer = subprocess.Popen(  # noqa: S603 - our own module
        [
            sys.executable,
            "-m",
            "gui.demo_outlet",
            "--name",
            prefix,
            "--layout",
            LAYOUT_FOR_CHANNELS[channels],
            "--fs",
            str(FS),
            "--duration",
            str(seconds + 30.0),
        ],
        cwd=_ROOT,
    )
    win = None
    try:
        found = discover(prefix=prefix, timeout=15.0, grace=1.0)
        win = Viewer(found, ViewerOptions(window_s=WINDOW_S, size=(1600, 900)), start=False)
        win.show()

        class PaintCounter(QtCore.QObject):
            count = 0

            def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt API
                if event.type() == QtCore.QEvent.Type.Paint:
                    self.count += 1
                return False

        counter = PaintCounter()
        win.traces.widget.viewport().installEventFilter(counter)

        def step() -> None:
            win.tick()
            app.processEvents()

        full = int(WINDOW_S * FS)
        if not _wait_for(lambda: win.emg.ring.n_filled >= full, 20.0, step):
            raise RuntimeError(f"The producer did not fill the {WINDOW_S:g} s window within 20 s.")
        for _ in range(10):  # warm-up: caches, first paints
            step()
        paints0, ticks0 = counter.count, win.ticks
        tick_time = 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a = time.perf_counter()
            win._dirty = (
                True  # redraw every tick, even when no new chunk arrived since the last one
            )
            win.tick()
            tick_time += time.perf_counter() - a
            app.processEvents()
        elapsed = time.perf_counter() - t0
        frames = counter.count - paints0
        ticks = win.ticks - ticks0
        if screenshot_dir is not None:
            win.screenshot(Path(screenshot_dir) / f"viewer-{channels}ch.png")
        result = {
            "channels": channels,
            "window_s": WINDOW_S,
            "fs": FS,
            "fps": frames / elapsed,
            "ticks_per_s": ticks / elapsed,
            "tick_ms_mean": 1e3 * tick_time / max(ticks, 1),
            "points_per_channel": win.traces.points_per_channel,
            "rate_hz_measured": win.emg.rate_hz,
            "gaps": win.emg.n_gaps,
        }
        logger.info("bench viewer: %s", result)
        return result
    finally:
        if win is not None:
            win.close()
            app.processEvents()
        _stop(producer)


def simulator_available() -> tuple[bool, str]:
    """Whether ``launch.py run --help`` works here (and the error when it does not)."""
    proc = subprocess.run(  # noqa: S603
        [sys.executable, str(_LAUNCH), "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=_ROOT,
    )
    if proc.returncode == 0:
        return True, proc.stdout
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    return False, tail[-1] if tail else f"exit code {proc.returncode}"


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CONSUMERS = ("none", "inlet", "viewer")


def run_simulator_late_ticks(
    channels: int, duration: float, consumer: str, warmup: float = 4.0
) -> dict[str, float | None]:
    """Run the simulator for ``duration`` s with a consumer of its EMG stream and read its late ticks.

    ``consumer`` is ``none`` (nobody reads the EMG), ``inlet`` (this process pulls
    it at 30 Hz into a preallocated buffer: what any LSL client costs the
    producer) or ``viewer`` (a ``launch.py view`` process). The consumer starts
    with the first status sample; late ticks are counted from the first status
    sample ``warmup`` seconds later to the last one, in every condition alike.

    Returns
    -------
    dict
        ``first`` and ``final`` late_ticks of the counted window, ``increase``
        (final - first), ``seconds`` (length of the window) and, with the viewer,
        ``viewer_cpu_percent`` (the viewer process' CPU use over the window).
    """
    import pylsl

    from gui.commands import start_viewer_process

    if consumer not in CONSUMERS:
        raise ValueError(
            f"The argument 'consumer' must be one of {CONSUMERS}. {consumer!r} is invalid."
        )
    prefix = f"benchsim_{uuid4().hex[:8]}"
    argv = [sys.executable, str(_LAUNCH), "run", "--layout", LAYOUT_FOR_CHANNELS[channels]]
    argv += ["--name", prefix, "--duration", str(duration)]
    help_text = simulator_available()[1]
    if "--fs" in help_text:
        argv += ["--fs", str(int(FS))]
    if "--quiet" in help_text:
        argv.append("--quiet")
    err_log = tempfile.TemporaryFile(mode="w+")  # the simulator's stderr, quoted when it fails
    sim = subprocess.Popen(argv, cwd=_ROOT, stderr=err_log)  # noqa: S603 - our own interpreter and script

    def failed(what: str) -> RuntimeError:
        err_log.seek(0)
        lines = [ln for ln in err_log.read().splitlines() if ln.strip() and "INFO|" not in ln]
        tail = " | ".join(lines[-3:])
        return RuntimeError(f"{what}: {' '.join(argv)}" + (f" (stderr: {tail})" if tail else ""))

    viewer = None
    try:
        found: list = []
        deadline = time.monotonic() + 60.0
        while not found and sim.poll() is None and time.monotonic() < deadline:
            found = pylsl.resolve_byprop("name", f"{prefix}-status", timeout=1.0)
        if not found:
            why = (
                f"exited with code {sim.returncode}"
                if sim.poll() is not None
                else "timed out (60 s)"
            )
            raise failed(f"The simulator published no {prefix}-status ({why})")
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=5.0)
        labels = inlet.info(timeout=5.0).get_channel_labels() or []
        index = labels.index("late_ticks") if "late_ticks" in labels else 2  # docs/streams.md order
        samples: list[tuple[float, float]] = []  # (local time received, late_ticks)

        emg_inlet = None
        emg_buf = np.empty(0, dtype=np.float32)

        def read(timeout: float) -> None:
            chunk, _ = inlet.pull_chunk(timeout=timeout)
            samples.extend((time.monotonic(), float(s[index])) for s in chunk)
            if emg_inlet is not None:
                emg_inlet.pull_chunk(timeout=0.0, max_samples=4096, dest_obj=emg_buf)

        while not samples and sim.poll() is None:
            read(0.5)
        if consumer == "viewer":
            viewer = start_viewer_process(prefix, timeout=30)
        elif consumer == "inlet":
            emg_info = pylsl.resolve_byprop("name", f"{prefix}-EMG", timeout=10.0)
            if not emg_info:
                raise failed(f"The simulator did not publish {prefix}-EMG")
            emg_buf = np.empty((4096, emg_info[0].channel_count()), dtype=np.float32)
            emg_inlet = pylsl.StreamInlet(emg_info[0], max_buflen=15)
            emg_inlet.open_stream(timeout=5.0)
        poll_s = 1.0 / 30.0 if emg_inlet is not None else 0.5
        window_start = time.monotonic() + warmup
        cpu0 = None
        while sim.poll() is None:
            read(poll_s)
            if viewer is not None and cpu0 is None and time.monotonic() >= window_start:
                cpu0, t_cpu0 = _cpu_seconds(viewer.pid), time.monotonic()
        cpu1 = _cpu_seconds(viewer.pid) if viewer is not None and viewer.poll() is None else None
        t_cpu1 = time.monotonic()
        read(0.5)
        if sim.returncode != 0:
            raise failed(f"The simulator exited with code {sim.returncode}")
        if viewer is not None and viewer.poll() not in (None, 0):
            raise RuntimeError(
                f"The viewer process exited with code {viewer.returncode} during the run."
            )
        counted = [(t, v) for t, v in samples if t >= window_start]
        if len(counted) < 2:
            raise RuntimeError(
                f"Fewer than 2 status samples after the {warmup:g} s warm-up; use a longer --sim-seconds."
            )
        result: dict[str, float | None] = {
            "first": counted[0][1],
            "final": counted[-1][1],
            "increase": counted[-1][1] - counted[0][1],
            "seconds": counted[-1][0] - counted[0][0],
        }
        if viewer is not None:
            ok = cpu0 is not None and cpu1 is not None and t_cpu1 > t_cpu0
            result["viewer_cpu_percent"] = 100.0 * (cpu1 - cpu0) / (t_cpu1 - t_cpu0) if ok else None
        return result
    finally:
        if viewer is not None:
            _stop(viewer)
        _stop(sim)
        err_log.close()


def measure_late_ticks(channels: int, sim_seconds: float, repeats: int) -> dict[str, Any]:
    """Late ticks of the simulator alone, with a bare inlet and with the viewer.

    The three conditions are interleaved ``repeats`` times (ambient load on a
    shared machine drifts; interleaving spreads it over all conditions) and the
    median increase of each condition gives the deltas.
    """
    raw: dict[str, list[dict[str, float | None]]] = {c: [] for c in CONSUMERS}
    for _ in range(repeats):
        for consumer in CONSUMERS:
            raw[consumer].append(run_simulator_late_ticks(channels, sim_seconds, consumer))
    median = {c: float(np.median([r["increase"] for r in runs])) for c, runs in raw.items()}
    cpu = [
        r["viewer_cpu_percent"] for r in raw["viewer"] if r.get("viewer_cpu_percent") is not None
    ]
    return {
        "late_ticks_delta": int(round(median["viewer"] - median["none"])),
        "late_ticks_delta_vs_bare_inlet": int(round(median["viewer"] - median["inlet"])),
        "late_ticks_median": median,
        "late_ticks_runs": raw,
        "late_ticks_window_s": float(
            np.median([r["seconds"] for runs in raw.values() for r in runs])
        ),
        "viewer_cpu_percent": float(np.median(cpu)) if cpu else None,
        "sim_seconds": sim_seconds,
        "repeats": repeats,
    }


def run_benchmark(
    json_path: str | os.PathLike,
    channels: tuple[int, ...] = (8, 64),
    seconds: float = 5.0,
    sim_seconds: float = 12.0,
    screenshot_dir: str | None = None,
    repeats: int = 2,
) -> dict[str, Any]:
    """Measure every configuration and write ``{"runs": [...]}`` to ``json_path``.

    Parameters
    ----------
    json_path : path
        Output JSON file.
    channels : tuple of int
        Channel counts (8 and/or 64).
    seconds : float
        Rendering time per fps measurement.
    sim_seconds : float
        Simulator duration per late-tick run (3 x ``repeats`` runs per channel count).
    screenshot_dir : str | None
        Also save a PNG per configuration there.
    repeats : int
        Rounds of the three late-tick conditions (interleaved, medians reported).
    """
    if repeats < 1:
        raise ValueError(f"The argument 'repeats' must be at least 1. {repeats!r} is invalid.")
    for c in channels:
        if c not in LAYOUT_FOR_CHANNELS:
            raise ValueError(
                f"The argument 'channels' must contain only {sorted(LAYOUT_FOR_CHANNELS)}. {c!r} is invalid."
            )
    available, why = simulator_available()
    runs = []
    for c in channels:
        run = measure_fps(c, seconds, screenshot_dir)
        run["late_ticks_delta"] = None
        if available:
            try:
                run.update(measure_late_ticks(c, sim_seconds, repeats))
            except RuntimeError as err:  # keep the fps figures when the simulator fails
                logger.error("bench viewer: late-tick runs failed: %s", err)
                run["late_ticks_error"] = str(err)
        else:
            run["late_ticks_note"] = f"simulator not available (launch.py run --help failed: {why})"
        runs.append(run)
    result = {
        "benchmark": "viewer",
        "runs": runs,
        "producer_for_fps": "gui.demo_outlet (streams of docs/streams.md)",
        "window_px": [1600, 900],
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result
