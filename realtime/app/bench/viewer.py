"""``launch.py bench viewer``: how fast the viewer draws, and whether it slows the simulator.

Two measurements per channel count (8 = ``armband8``, 64 = ``grid64``), 4 s window, 2 kHz:

- **fps**: a producer process (``launch.py demo-outlet``, the streams of
  docs/streams.md) publishes EMG + activation + IMU + status; the full viewer
  window (1600 x 900, offscreen) runs its presenter tick as fast as it can once
  the 4 s window is full, redrawing the traces on every tick (pull, decimate,
  draw), and the frames actually painted by the EMG plot's viewport are counted
  (a Qt event filter), over ``seconds``. Side panels refresh at their normal 10 Hz.
- **late ticks**: the simulator (``launch.py run --layout L --name P``) is
  started ``repeats`` times; in each run, after a 4 s warm-up, one window of
  ``phase_seconds`` (counted between two samples of its 1 Hz
  ``<prefix>-status`` stream, so the count is exact) is measured per
  condition: alone (``none``), with a bare LSL inlet pulling the EMG at 30 Hz
  (``inlet``: what any consumer costs the producer) and with the viewer process
  (``launch.py view --prefix P``, its normal 30 Hz, niced, started 3 s before
  its window). The order of the conditions rotates from run to run. Reported:
  every window's count, each condition's median, ``late_ticks_delta`` =
  median(viewer) − median(alone) and ``late_ticks_delta_vs_bare_inlet``, a
  one-sided Mann–Whitney U p-value and a bootstrap 95 % interval of each
  difference, and ``viewer_raises_late_ticks``: true only when the viewer's
  counts are significantly larger than the simulator's alone (one-sided
  p < 0.05; rule in :mod:`realtime.app.bench.stats`), ``None`` with fewer than 3 runs.
  The viewer process' CPU use over its windows is stored too. With
  ``pinned=True`` a fourth condition pins the viewer to the last CPU
  (``os.sched_setaffinity``) and is compared with the unpinned viewer. All
  late-tick fields are ``None`` when ``launch.py run`` is not available.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pylsl

from gui.process import start_viewer_process
from gui.streams import discover
from realtime.app.bench.stats import compare
from realtime.core.launcher import cli_command, cli_environment
from realtime.core.logs import logger

LAYOUT_FOR_CHANNELS = {8: "armband8", 64: "grid64"}
FS = 2000.0
WINDOW_S = 4.0


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
    # deferred: Qt only for the fps measurement, once the offscreen platform is set
    from pyqtgraph.Qt import QtCore

    from gui.viewer import Viewer, ViewerOptions, make_app  # deferred: Qt, as above

    app = make_app()
    prefix = f"benchviewer_{uuid4().hex[:8]}"
    producer = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
        cli_command("demo-outlet", "--name", prefix, "--layout", LAYOUT_FOR_CHANNELS[channels], "--fs", FS,
                    "--duration", seconds + 30.0),
        env=cli_environment(),
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
    proc = subprocess.run(  # noqa: S603 - our own interpreter and CLI
        cli_command("run", "--help"), capture_output=True, text=True, timeout=120, env=cli_environment()
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
PINNED = "viewer_pinned"  # optional condition: the viewer pinned to the last CPU


def _consumer_order(conditions: tuple[str, ...], repeat: int) -> tuple[str, ...]:
    """The conditions rotated by ``repeat`` (each takes every position in turn)."""
    k = repeat % len(conditions)
    return conditions[k:] + conditions[:k]


def run_simulator_phases(
    channels: int,
    order: tuple[str, ...],
    phase_s: float,
    warmup: float = 4.0,
    settle: float = 1.0,
    viewer_settle: float = 2.0,
    viewer_startup: float = 10.0,
) -> dict[str, dict[str, float | None]]:
    """Run the simulator once and count its late ticks under each consumer in ``order``.

    After ``warmup`` seconds, each condition in turn: its consumer starts
    (``none``: nobody reads the EMG; ``inlet``: this process pulls it at 30 Hz
    into a preallocated buffer, what any LSL client costs the producer;
    ``viewer``: a ``launch.py view`` process at its normal 30 Hz;
    ``viewer_pinned``: the same, pinned to the last CPU with
    ``os.sched_setaffinity``), runs ``settle`` seconds (for a viewer:
    ``viewer_settle`` seconds after it printed that it is drawing, so its
    start-up is not what is measured; the run allows ``viewer_startup``
    seconds for that), then late ticks are
    counted from the next status sample to the first status sample at least
    ``phase_s`` seconds later (``<prefix>-status`` is published at 1 Hz), and
    the consumer stops.

    Returns
    -------
    dict
        Condition -> ``first`` and ``final`` late_ticks of its window,
        ``increase``, ``seconds`` (window length), ``viewer_cpu_percent`` (the
        viewer's CPU use over the window, viewers only).
    """
    for c in order:
        if c not in (*CONSUMERS, PINNED):
            raise ValueError(
                f"The argument 'order' must hold only {(*CONSUMERS, PINNED)}. {c!r} is invalid."
            )
    prefix = f"benchsim_{uuid4().hex[:8]}"
    duration = (
        warmup
        + sum(
            (viewer_startup + viewer_settle if c.startswith("viewer") else settle) + phase_s + 1.5
            for c in order
        )
        + 3.0
    )
    argv = cli_command("run", "--layout", LAYOUT_FOR_CHANNELS[channels])
    argv += ["--name", prefix, "--duration", f"{duration:.1f}"]
    help_text = simulator_available()[1]
    if "--fs" in help_text:
        argv += ["--fs", str(int(FS))]
    if "--quiet" in help_text:
        argv.append("--quiet")
    err_log = tempfile.TemporaryFile(mode="w+")  # the simulator's stderr, quoted when it fails
    sim = subprocess.Popen(argv, env=cli_environment(), stderr=err_log)  # noqa: S603 - our own interpreter and CLI

    def failed(what: str) -> RuntimeError:
        err_log.seek(0)
        lines = [ln for ln in err_log.read().splitlines() if ln.strip() and "INFO|" not in ln]
        tail = " | ".join(lines[-3:])
        return RuntimeError(f"{what}: {' '.join(argv)}" + (f" (stderr: {tail})" if tail else ""))

    viewer: subprocess.Popen | None = None
    emg_inlet = None
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
        status = pylsl.StreamInlet(found[0])
        status.open_stream(timeout=5.0)
        labels = status.info(timeout=5.0).get_channel_labels() or []
        index = labels.index("late_ticks") if "late_ticks" in labels else 2  # docs/streams.md order
        emg_info = pylsl.resolve_byprop("name", f"{prefix}-EMG", timeout=10.0)
        if not emg_info:
            raise failed(f"The simulator did not publish {prefix}-EMG")
        emg_buf = np.empty((4096, emg_info[0].channel_count()), dtype=np.float32)
        latest: list[float] = []  # late_ticks of status samples received since the last clear

        def pump(seconds: float) -> None:
            """Read status (and the EMG when an inlet is the consumer) for ``seconds``."""
            end = time.monotonic() + seconds
            while time.monotonic() < end and sim.poll() is None:
                chunk, _ = status.pull_chunk(timeout=1.0 / 30.0)
                latest.extend(float(v[index]) for v in chunk)
                if emg_inlet is not None:
                    emg_inlet.pull_chunk(timeout=0.0, max_samples=4096, dest_obj=emg_buf)

        def next_status(limit: float = 5.0) -> tuple[float, float]:
            latest.clear()
            end = time.monotonic() + limit
            while not latest and time.monotonic() < end and sim.poll() is None:
                pump(1.0 / 30.0)
            if not latest:
                raise failed("No status sample from the simulator within 5 s")
            return time.monotonic(), latest[0]

        pump(warmup)
        results: dict[str, dict[str, float | None]] = {}
        for consumer in order:
            if consumer.startswith("viewer"):
                # Counted from when it draws: its start-up is not what is measured.
                viewer = start_viewer_process(prefix, wait_drawing=30.0, timeout=30)
                if consumer == PINNED and hasattr(os, "sched_setaffinity"):
                    os.sched_setaffinity(viewer.pid, {max(os.sched_getaffinity(0))})
            elif consumer == "inlet":
                emg_inlet = pylsl.StreamInlet(emg_info[0], max_buflen=15)
                emg_inlet.open_stream(timeout=5.0)
            pump(viewer_settle if viewer is not None else settle)
            t0, first = next_status()
            cpu0 = _cpu_seconds(viewer.pid) if viewer is not None else None
            pump(max(phase_s - 1.0, 0.0))
            t1, final = next_status()
            while t1 - t0 < phase_s - 0.5 and sim.poll() is None:
                t1, final = next_status()
            cpu1 = _cpu_seconds(viewer.pid) if viewer is not None else None
            if sim.poll() is not None:
                raise failed(
                    f"The simulator exited (code {sim.returncode}) during the {consumer} phase"
                )
            row: dict[str, float | None] = {
                "first": first,
                "final": final,
                "increase": final - first,
                "seconds": t1 - t0,
            }
            if viewer is not None:
                if viewer.poll() not in (None, 0):
                    raise RuntimeError(
                        f"The viewer process exited with code {viewer.returncode} during the run."
                    )
                ok = cpu0 is not None and cpu1 is not None
                row["viewer_cpu_percent"] = 100.0 * (cpu1 - cpu0) / (t1 - t0) if ok else None
                _stop(viewer)
                viewer = None
            if emg_inlet is not None:
                emg_inlet.close_stream()
                emg_inlet = None
            results[consumer] = row
        return results
    finally:
        if viewer is not None:
            _stop(viewer)
        _stop(sim)
        err_log.close()


def measure_late_ticks(
    channels: int, phase_s: float, repeats: int, pinned: bool = False
) -> dict[str, Any]:
    """Late ticks of the simulator alone, with a bare inlet and with the viewer.

    ``repeats`` simulator runs; each counts one window per condition, the
    conditions in rotating order (ambient load on a shared machine drifts and
    a run's later phases may differ from its first: rotation spreads both over
    all conditions). The counts are compared by :func:`realtime.app.bench.stats.compare`.
    With ``pinned`` a fourth condition, the viewer pinned to the last CPU, is
    measured and compared with the unpinned viewer.
    """
    conditions = (*CONSUMERS, PINNED) if pinned else CONSUMERS
    raw: dict[str, list[dict[str, float | None]]] = {c: [] for c in conditions}
    loads = []
    for r in range(repeats):
        loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        rows = run_simulator_phases(channels, _consumer_order(conditions, r), phase_s)
        for c, row in rows.items():
            raw[c].append(row)
        logger.info(
            "bench viewer: %s ch, run %s/%s: %s",
            channels,
            r + 1,
            repeats,
            {c: rows[c]["increase"] for c in conditions},
        )
    counts = {c: [row["increase"] for row in rows] for c, rows in raw.items()}
    stats = compare(counts, "viewer", ("none", "inlet"))
    cpu = [
        row["viewer_cpu_percent"]
        for row in raw["viewer"]
        if row.get("viewer_cpu_percent") is not None
    ]
    result: dict[str, Any] = {
        "late_ticks_delta": stats["delta_vs_none"],
        "late_ticks_delta_vs_bare_inlet": stats["delta_vs_inlet"],
        "viewer_raises_late_ticks": stats["raises_vs_none"],
        "viewer_raises_late_ticks_vs_bare_inlet": stats["raises_vs_inlet"],
        "late_ticks_p_one_sided": stats["p_one_sided_vs_none"],
        "late_ticks_p_one_sided_vs_bare_inlet": stats["p_one_sided_vs_inlet"],
        "late_ticks_delta_ci95": stats["ci95_vs_none"],
        "late_ticks_delta_vs_bare_inlet_ci95": stats["ci95_vs_inlet"],
        "late_ticks_alpha": stats["alpha"],
        "late_ticks_median": stats["medians"],
        "late_ticks_counts": counts,
        "late_ticks_runs": raw,
        "late_ticks_window_s": float(
            np.median([row["seconds"] for rows in raw.values() for row in rows])
        ),
        "viewer_cpu_percent": float(np.median(cpu)) if cpu else None,
        "load_1min_at_each_run": loads,
        "phase_seconds": phase_s,
        "repeats": repeats,
    }
    if pinned:
        helps = compare(counts, "viewer", (PINNED,))  # unpinned larger than pinned = pinning helps
        vs_none = compare(counts, PINNED, ("none",))
        pin_cpu = [
            r["viewer_cpu_percent"] for r in raw[PINNED] if r.get("viewer_cpu_percent") is not None
        ]
        result["pinned_viewer"] = {
            "cpu_index": max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "median": stats["medians"].get(PINNED, helps["medians"][PINNED]),
            "delta_vs_unpinned": helps["medians"][PINNED] - helps["medians"]["viewer"],
            "p_one_sided_pinning_helps": helps[f"p_one_sided_vs_{PINNED}"],
            "pinning_helps": helps[f"raises_vs_{PINNED}"],
            "delta_vs_none": vs_none["delta_vs_none"],
            "raises_vs_none": vs_none["raises_vs_none"],
            "viewer_cpu_percent": float(np.median(pin_cpu)) if pin_cpu else None,
        }
    return result


def run_benchmark(
    json_path: str | os.PathLike,
    channels: tuple[int, ...] = (8, 64),
    seconds: float = 5.0,
    phase_seconds: float = 5.0,
    screenshot_dir: str | None = None,
    repeats: int = 5,
    pinned: bool = False,
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
    phase_seconds : float
        Counted window per late-tick condition (each simulator run counts one
        window per condition).
    screenshot_dir : str | None
        Also save a PNG per configuration there.
    repeats : int
        Simulator runs per channel count (conditions in rotating order).
    pinned : bool
        Also measure the viewer pinned to the last CPU (a fourth condition).
    """
    if repeats < 1:
        raise ValueError(f"The argument 'repeats' must be at least 1. {repeats!r} is invalid.")
    if not phase_seconds >= 2.0:
        raise ValueError(
            f"The argument 'phase_seconds' must be at least 2 s. {phase_seconds!r} is invalid."
        )
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
                run.update(measure_late_ticks(c, phase_seconds, repeats, pinned))
            except RuntimeError as err:  # keep the fps figures when the simulator fails
                logger.error("bench viewer: late-tick runs failed: %s", err)
                run["late_ticks_error"] = str(err)
        else:
            run["late_ticks_note"] = f"simulator not available (launch.py run --help failed: {why})"
        runs.append(run)
    result = {
        "benchmark": "viewer",
        "runs": runs,
        "producer_for_fps": "launch.py demo-outlet (streams of docs/streams.md)",
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
