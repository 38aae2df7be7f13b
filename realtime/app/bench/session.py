"""One benchmark session: an IMU process, a simulator process and a consumer process, run together.

::

    imu worker ──LSL or pty──▶ sim worker (Simulator) ──LSL──▶ consumer worker
    (creation times)           (runner counters)               (EMG arrival times, provenance, status)

:func:`run_session` starts the three workers
(:mod:`realtime.app.bench.workers`), waits until the simulator's source is
open, arms the IMU (so the simulator's first IMU sample is the device's sample
0), lets it run, stops everything in order (simulator, IMU, consumer) and loads
what the workers recorded. It samples the simulator's resident memory
(``/proc/<pid>/status``) while it runs. With ``SessionConfig.stress = N`` it
starts N busy processes (:mod:`realtime.app.bench.stress`) right before arming
the IMU and reaps them after the simulator stops. Every worker takes the
scheduling of ``SessionConfig.priority`` (what ``launch.py run`` does with
``--priority``) and reports what it got. A fourth worker, the timer probe,
measures the machine's own stalls meanwhile (``SessionLogs.floor_lateness``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from realtime.app.bench.stress import Stress
from realtime.core.checks import check_bool, check_choice, check_number, ensure_int
from realtime.core.launcher import cli_command, cli_environment
from realtime.core.logs import logger
from realtime.core.priority import check_priority, realtime_threads_elsewhere
from realtime.core.units import EMG_FS_HINT, EMG_FS_MAX, EMG_FS_MIN

SOURCES: tuple[str, ...] = ("lsl", "serial")


class SessionError(RuntimeError):
    """A worker failed or did not reach a milestone in time (the message has its last output)."""


@dataclass(frozen=True)
class SessionConfig:
    """What one session runs.

    Parameters
    ----------
    fs : float
        EMG rate in Hz.
    block : int
        EMG samples per block.
    layout : str
        Electrode layout (``armband8``, ``grid64`` ...).
    source : str
        ``"lsl"`` (an LSL IMU outlet) or ``"serial"`` (``fake-imu`` binary frames on a pty).
    imu_rate : float
        IMU samples per second.
    duration : float
        Seconds the IMU produces (including ``warmup``).
    warmup : float
        Seconds at the start left out of the figures (numba and caches warm up).
    units_per_muscle : int
        Motor units per muscle of the engine.
    seed : int
        Seed of the synthetic arm.
    provisional : bool
        Whether the network stage emits provisional rows between model-grid points
        (``ModelActivationStage(provisional=...)``; ``False`` is the grid-only stage).
    stress : int
        Busy competing processes running during the session (0: the machine as it is).
    priority : {"auto", "realtime", "normal"}
        Scheduling of the three workers (:mod:`realtime.core.priority`; ``launch.py run``'s
        default is ``"auto"``).
    """

    fs: float = 2000.0
    block: int = 2
    layout: str = "armband8"
    source: str = "lsl"
    imu_rate: float = 1000.0
    duration: float = 20.0
    warmup: float = 2.0
    units_per_muscle: int = 100
    seed: int = 0
    provisional: bool = True
    stress: int = 0
    priority: str = "auto"

    def __post_init__(self) -> None:
        check_bool("provisional", self.provisional)
        ensure_int("stress", self.stress, lo=0, hint="0 runs without busy processes.")
        check_priority(self.priority)
        check_choice("source", self.source, SOURCES)
        ensure_int("block", self.block, lo=1)
        check_number("fs", self.fs, EMG_FS_MIN, EMG_FS_MAX, "Hz", hint=EMG_FS_HINT)
        check_number("imu_rate", self.imu_rate, 50.0, 1000.0, "Hz")
        check_number("warmup", self.warmup, 0.0, unit="s")
        check_number("duration", self.duration, 0.0, unit="s", lo_open=True)
        if not self.duration > self.warmup + 1.0:
            raise ValueError(
                f"The argument 'duration' must exceed 'warmup' by more than 1 s (warmup {self.warmup!r} s). "
                f"{self.duration!r} is invalid."
            )

    @property
    def condition(self) -> str:
        """``"quiet"`` or ``"stress N"``."""
        return f"stress {self.stress}" if self.stress else "quiet"

    @property
    def label(self) -> str:
        """Short name, e.g. ``lsl armband8 2000 Hz block 2`` (`` grid-only`` appended without provisional rows,
        `` stress N`` with busy processes)."""
        return (f"{self.source} {self.layout} {self.fs:g} Hz block {self.block}"
                + ("" if self.provisional else " grid-only") + (f" stress {self.stress}" if self.stress else ""))


@dataclass
class SessionLogs:
    """What the workers recorded in one session.

    Attributes
    ----------
    config : SessionConfig
    imu_created : ndarray, shape (n_imu,)
        Creation time of IMU sample ``k`` of the device (LSL clock).
    prov_rows, prov_ts : ndarray, shapes (n_blocks, 6), (n_blocks,)
        Provenance rows and their timestamps (``realtime.app.provenance``).
    emg_ts, emg_arrival : ndarray, shape (n_emg,)
        Timestamp and arrival time at the consumer of every EMG sample received.
    status_rows, status_ts : ndarray, shapes (n_status, 5), (n_status,)
        The ``<prefix>-status`` stream.
    sim_stats : dict
        The runner's counters at the end (``RunnerStats`` as JSON).
    rss : ndarray, shape (n, 2)
        (seconds since arming, simulator resident memory in MB), NaN where unavailable.
    wall_s : float
        Seconds from arming the IMU to stopping the simulator.
    scheduling : dict
        What each worker got from ``config.priority``: ``{"imu": {...}, "sim": {"runner", "io", "main", "memory"},
        "consumer": {...}}`` (:meth:`realtime.core.priority.Scheduling.as_dict`).
    stress_pids : list of int
        The busy processes that ran during the session (empty when quiet).
    floor_lateness : ndarray
        How late each wake-up of the timer probe was (s), from arming on: a thread that only
        sleeps one tick period, scheduled as the runner (:func:`realtime.app.bench.workers.run_probe`).
    floor_period : float
        The probe's period (s).
    """

    config: SessionConfig
    imu_created: np.ndarray
    prov_rows: np.ndarray
    prov_ts: np.ndarray
    emg_ts: np.ndarray
    emg_arrival: np.ndarray
    status_rows: np.ndarray
    status_ts: np.ndarray
    sim_stats: dict
    rss: np.ndarray
    wall_s: float
    scheduling: dict = field(default_factory=dict)
    stress_pids: list = field(default_factory=list)
    floor_lateness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    floor_period: float = float("nan")
    extra: dict = field(default_factory=dict)


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (``/proc``; NaN where unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


class _Worker:
    """A worker process whose output lines are collected by a thread."""

    def __init__(self, name: str, args: list[str], workdir: Path) -> None:
        self.name = name
        self.stderr_path = workdir / f"{name}.stderr.txt"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            cli_command("bench", "worker", *args), env=cli_environment(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, name=f"bench-{name}-out", daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, word: str, timeout: float) -> str:
        """Wait for a line starting with ``word``; return the rest of it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"the {self.name} worker did not say {word!r} within {timeout:g} s.{self.tail()}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(5.0)
                raise SessionError(
                    f"the {self.name} worker ended (exit code {self.proc.returncode}) before saying {word!r}."
                    f"{self.tail()}"
                )
            if line.split(" ", 1)[0] == word:
                return line[len(word):].strip()

    def send(self, word: str) -> None:
        """Write a control line (ignored if the worker has already ended)."""
        try:
            self.proc.stdin.write(word + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def check_alive(self) -> None:
        """Raise :class:`SessionError` if the worker has ended."""
        if self.proc.poll() is not None:
            raise SessionError(f"the {self.name} worker ended early (exit code {self.proc.returncode}).{self.tail()}")

    def finish(self, timeout: float) -> None:
        """Send ``stop``, wait for the worker to exit; raise if it failed."""
        self.send("stop")
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired as err:
            raise SessionError(f"the {self.name} worker did not stop within {timeout:g} s.{self.tail()}") from err
        if self.proc.returncode != 0:
            raise SessionError(f"the {self.name} worker failed (exit code {self.proc.returncode}).{self.tail()}")

    def tail(self, n: int = 12) -> str:
        """The last lines of the worker's standard error, for messages."""
        self._stderr.flush()
        try:
            lines = [ln for ln in self.stderr_path.read_text().splitlines() if " INFO| " not in ln]
        except OSError:
            return ""
        return ("\n  " + "\n  ".join(lines[-n:])) if lines else ""

    def close(self) -> None:
        """Kill the worker if it is still running and close its files."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10.0)
        self._pump_thread.join(5.0)
        self._stderr.close()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass


def run_session(
    config: SessionConfig,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
    rss_interval: float = 1.0,
    startup_timeout: float = 180.0,
    stress_factory: Callable[[int], Stress] = Stress,
) -> SessionLogs:
    """Run the three workers for one configuration and return what they recorded.

    Parameters
    ----------
    config : SessionConfig
        What to run.
    workdir : Path
        Where the workers write their records and standard error (created).
    progress : Callable[[float], None] | None
        Called about twice a second with the seconds run so far (0 .. ``config.duration``).
    rss_interval : float
        Seconds between two samples of the simulator's resident memory.
    startup_timeout : float
        Seconds allowed for the workers to start (imports, numba caches, stream resolution).
    stress_factory : Callable[[int], Stress]
        Makes the ``config.stress`` busy processes (started before arming, reaped in the end).

    Raises
    ------
    SessionError
        A worker failed or stalled; the message includes its last output.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"msbench_{uuid.uuid4().hex[:10]}"
    paths = {k: workdir / f"{k}.{ext}" for k, ext in (("imu", "npz"), ("sim", "json"), ("consumer", "npz"),
                                                       ("probe", "npz"))}
    for path in paths.values():
        path.unlink(missing_ok=True)
    workers: list[_Worker] = []
    rss: list[tuple[float, float]] = []
    stress = stress_factory(config.stress)
    prio = ["--priority", config.priority]
    try:
        imu = _Worker("imu", ["imu", *prio, "--kind", config.source, "--prefix", prefix, "--rate", f"{config.imu_rate:g}",
                              "--seed", str(config.seed), "--max-duration", f"{config.duration + 600:g}",
                              "--out", str(paths["imu"])], workdir)
        workers.append(imu)
        device = imu.expect("ready", startup_timeout)
        consumer = _Worker("consumer", ["consumer", *prio, "--prefix", prefix, "--out", str(paths["consumer"]),
                                        "--resolve-timeout", f"{startup_timeout:g}"], workdir)
        workers.append(consumer)
        sim = _Worker("sim", ["sim", *prio, "--prefix", prefix, "--layout", config.layout, "--fs", f"{config.fs:g}",
                              "--block", str(config.block), "--source", config.source, "--device", device,
                              "--imu-rate", f"{config.imu_rate:g}", "--units", str(config.units_per_muscle),
                              "--out", str(paths["sim"])] + ([] if config.provisional else ["--grid-only"]), workdir)
        workers.append(sim)
        probe = _Worker("probe", ["probe", *prio, "--period", f"{1.0 / config.fs * config.block:g}",
                                  "--max-duration", f"{config.duration + 600:g}", "--out", str(paths["probe"])],
                        workdir)
        workers.append(probe)
        probe.expect("ready", startup_timeout)
        consumer.expect("ready", startup_timeout)
        sim.expect("source-open", startup_timeout)
        stress.start()
        stress_pids = list(stress.pids)
        imu.send("arm")
        probe.send("arm")
        t_arm = time.monotonic()
        logger.info("run_session: %s armed (prefix %s)", config.label, prefix)
        next_rss = t_arm
        others: list[dict] | None = None
        load_mid = float("nan")
        while True:
            now = time.monotonic()
            elapsed = now - t_arm
            if elapsed >= config.duration:
                break
            for worker in workers:
                worker.check_alive()
            if now >= next_rss:
                rss.append((elapsed, rss_mb(sim.proc.pid)))
                next_rss += rss_interval
            if others is None and elapsed >= config.duration / 2:  # who else runs real-time, mid-session
                ours = {w.proc.pid for w in workers}
                others = [t for t in realtime_threads_elsewhere() if t["pid"] not in ours]
                load_mid = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            if progress is not None:
                progress(elapsed)
            time.sleep(min(0.5, rss_interval, max(config.duration - elapsed, 0.01)))
        rss.append((time.monotonic() - t_arm, rss_mb(sim.proc.pid)))
        sim.finish(60.0)
        wall = time.monotonic() - t_arm
        probe.finish(60.0)
        stress.stop()
        imu.finish(60.0)
        consumer.finish(60.0)
        if progress is not None:
            progress(config.duration)
    finally:
        stress.stop()
        for worker in workers:
            worker.close()
    imu_rec = np.load(paths["imu"])
    cons = np.load(paths["consumer"])
    sim_stats = json.loads(paths["sim"].read_text())
    probe_rec = np.load(paths["probe"])
    scheduling = {"imu": json.loads(str(imu_rec["scheduling"])), "sim": sim_stats.get("scheduling", {}),
                  "consumer": json.loads(str(cons["scheduling"]))}
    return SessionLogs(
        config=config,
        imu_created=imu_rec["created"],
        prov_rows=cons["prov_rows"],
        prov_ts=cons["prov_ts"],
        emg_ts=cons["emg_ts"],
        emg_arrival=cons["emg_arrival"],
        status_rows=cons["status_rows"],
        status_ts=cons["status_ts"],
        sim_stats=sim_stats,
        rss=np.array(rss, float).reshape(-1, 2),
        wall_s=wall,
        scheduling=scheduling,
        stress_pids=stress_pids,
        floor_lateness=probe_rec["lateness"],
        floor_period=float(probe_rec["period"]),
        extra={"prefix": prefix, "config": asdict(config), "other_realtime_threads": len(others or []),
               "other_realtime_processes": sorted({f"{t['pid']} {t['name']}" for t in others or []}),
               "load_avg_1min": load_mid},
    )
