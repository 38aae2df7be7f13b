"""The three processes of a latency session: IMU source, simulator, consumer.

Started as the hidden commands ``bench worker imu|sim|consumer ...``
(:mod:`realtime.app.cli.bench_workers`) by :mod:`realtime.app.bench.session`. Each worker talks to the session on its
standard streams: it prints ``ready ...`` (and the simulator ``source-open``)
when it reaches a milestone, and obeys the lines ``arm`` and ``stop`` on its
standard input (end of input means ``stop``). At the end it writes what it
recorded to ``--out``.

- **imu** publishes the synthetic arm as an IMU device: an LSL outlet
  (``--kind lsl``; each sample is stamped with ``pylsl.local_clock()`` right
  before it is pushed, one push per sample), or a ``fake-imu`` pseudo-terminal
  sending binary frames (``--kind serial``; a sample's time is the fake
  device's own sample clock). It produces nothing until ``arm``, so that the
  simulator's first received sample is the device's sample 0. It records each
  sample's creation time.
- **sim** is ``launch.py run`` in a function: the source from
  ``realtime.app.sources.build_source``, the :class:`~realtime.app.simulator.Simulator`
  with the network driving the engine, and its LSL outlets. It writes the
  runner's counters (``RunnerStats``) as JSON.
- **probe** (``run_probe``) only sleeps one tick period and wakes, scheduled as the
  runner, from ``arm`` to ``stop``: how late it wakes is the machine's floor.
- **consumer** subscribes to ``<prefix>-provenance``, ``<prefix>-status`` and
  ``<prefix>-EMG`` and records the arrival time of every EMG sample
  (``pull_sample`` wakes on the first sample of a push, the rest of the push is
  drained at once).

Every worker first takes the scheduling its ``--priority`` asks for
(:func:`realtime.core.priority.apply_scheduling`, in the main thread before any
LSL object exists, so liblsl's threads inherit it; the simulator does what
``launch.py run`` does: real-time runner, outlets created under it, memory
locked, garbage collector frozen after the warm-up) and records what it got.
The simulator also records the garbage collector's pauses (``gc.callbacks``).
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pylsl

from devices.fake_imu import FakeImu, FakeImuSettings
from devices.lsl_outlet import LslOutlet
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source
from realtime.body.synthetic import SyntheticSettings, simulate
from realtime.core.block import Block, empty_block, regular_timestamps
from realtime.core.lifecycle import Lifecycle
from realtime.core.priority import RT_PRIORITY, apply_scheduling, thread_policies
from realtime.core.schemas import imu_stream_spec, stream_name
from realtime.core.units import IMU_CHANNELS
from realtime.stages.model.stage import ModelActivationStage

ARM, STOP = "arm", "stop"

PEER_RT_PRIORITY = RT_PRIORITY - 1
"""``SCHED_FIFO`` priority of the IMU device and the consumer when they get real-time scheduling: above
every normal task, below the simulator's runner, so the instruments never delay a tick."""


class WorkerError(RuntimeError):
    """A worker cannot go on (a stream or device did not appear); the command prints it on one line."""


class GrowBuffer:
    """A preallocated array that doubles when full (records of unknown length).

    Parameters
    ----------
    n_cols : int
        Columns per row (0 for a 1-D buffer).
    dtype : numpy dtype
        Element type.
    capacity : int
        Initial rows.
    """

    def __init__(self, n_cols: int = 0, dtype: type = np.float64, capacity: int = 4096) -> None:
        shape = (capacity,) if n_cols == 0 else (capacity, n_cols)
        self._data = np.empty(shape, dtype)
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape ``(m,)`` or ``(m, n_cols)``)."""
        m = len(rows)
        self._reserve(self.n + m)
        self._data[self.n:self.n + m] = rows
        self.n += m

    def append(self, value: float) -> None:
        """Append one value (1-D buffers)."""
        self._reserve(self.n + 1)
        self._data[self.n] = value
        self.n += 1

    def _reserve(self, rows: int) -> None:
        size = self._data.shape[0]
        if rows <= size:
            return
        while rows > size:
            size *= 2
        new = np.empty((size, *self._data.shape[1:]), self._data.dtype)
        new[: self.n] = self._data[: self.n]
        self._data = new

    @property
    def array(self) -> np.ndarray:
        """The rows written so far (a view)."""
        return self._data[: self.n]


class Control:
    """Reads ``arm`` / ``stop`` lines from standard input in a daemon thread."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.stopped = threading.Event()
        threading.Thread(target=self._read, name="bench-control", daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            word = line.strip()
            if word == ARM:
                self.armed.set()
            elif word == STOP:
                break
        self.stopped.set()
        self.armed.set()  # release a worker still waiting to be armed


def say(text: str) -> None:
    """Tell the session something (one line on standard output)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class PlaybackSource(Lifecycle):
    """A precomputed IMU recording played on a clock, from :meth:`arm` on (a ``realtime.core.contract.Source``;
    :class:`~realtime.core.lifecycle.Lifecycle` gives it start/stop/running).

    Sample ``k`` (``data[k % len(data)]``: the recording loops) is due at
    ``t_arm + k / fs``; ``read()`` returns every due sample not yet returned,
    stamped with its due time. Before :meth:`arm` it returns empty blocks.

    Parameters
    ----------
    data : ndarray, shape (n, 6), float32
        The recording (e.g. ``realtime.body.synthetic.simulate(...).imu``).
    fs : float
        Rate in Hz.
    clock : Callable[[], float]
        The LSL clock.
    """

    def __init__(self, data: np.ndarray, fs: float, clock: object) -> None:
        if data.ndim != 2 or data.shape[1] != len(IMU_CHANNELS) or data.shape[0] == 0:
            raise ValueError(f"The argument 'data' should have shape (n > 0, 6), {data.shape} is invalid.")
        super().__init__()
        self.data = np.ascontiguousarray(data, np.float32)
        self._fs = float(fs)
        self._clock = clock
        self.t_arm: float | None = None
        self.n_read = 0

    @property
    def fs(self) -> float:
        """Rate in Hz."""
        return self._fs

    def arm(self) -> None:
        """Make sample 0 due now."""
        self.t_arm = float(self._clock())

    def due_time(self, k: int) -> float:
        """When sample ``k`` is due (``inf`` before :meth:`arm`)."""
        return np.inf if self.t_arm is None else self.t_arm + k / self._fs

    def read(self) -> Block:
        """Every due sample not yet returned (an empty block before :meth:`arm`)."""
        k0 = self.n_read
        if self.t_arm is None:
            return empty_block(IMU_CHANNELS, self._fs, k0)
        n_due = int(np.floor((self._clock() - self.t_arm) * self._fs)) + 1
        n = max(n_due - k0, 0)
        if n == 0:
            return empty_block(IMU_CHANNELS, self._fs, k0)
        rows = np.arange(k0, k0 + n) % self.data.shape[0]
        self.n_read = k0 + n
        return Block(self.data[rows], regular_timestamps(self.t_arm, self._fs, k0, n), self._fs, k0, IMU_CHANNELS)


def run_imu(kind: str, prefix: str, rate: float, seed: int, max_duration: float, out: Path,
            priority: str = "auto") -> None:
    """An IMU device (the synthetic arm, precomputed) on LSL or on a pseudo-terminal."""
    control = Control()
    data = simulate(SyntheticSettings(fs=rate, seed=seed), min(max_duration, 120.0)).imu
    sched = apply_scheduling(priority, who="bench IMU device", level=PEER_RT_PRIORITY)
    source = PlaybackSource(data, rate, pylsl.local_clock)
    if kind == "lsl":
        created = _lsl_device(prefix, source, control, max_duration)
    else:
        created = _serial_device(source, control, max_duration)
    np.savez(out, created=created, rate=rate, kind=kind, scheduling=json.dumps(sched.as_dict()))
    say(f"done {created.size}")


def _lsl_device(prefix: str, source: PlaybackSource, control: Control, max_duration: float) -> np.ndarray:
    """Push each due sample at once, stamped with the clock right before its push; return those stamps."""
    spec = imu_stream_spec(prefix, source.fs, suffix="bench-imu")
    created = GrowBuffer(capacity=int(source.fs * 64))
    with LslOutlet(spec) as outlet:
        say(f"ready {spec.name}")
        control.armed.wait()
        source.start()
        source.arm()
        t_end = source.due_time(0) + max_duration
        while not control.stopped.is_set() and pylsl.local_clock() < t_end:
            block = source.read()
            for i in range(block.n_samples):
                t = pylsl.local_clock()
                outlet.push_sample(block.data[i], t)
                created.append(t)
            delay = source.due_time(source.n_read) - pylsl.local_clock()
            if delay > 0:
                time.sleep(delay)
        control.stopped.wait(30.0)
    return created.array.copy()


def _serial_device(source: PlaybackSource, control: Control, max_duration: float) -> np.ndarray:
    """``fake-imu`` binary frames on a pty; a sample's creation time is its due time on the device clock."""
    settings = FakeImuSettings(format="binary", rate=source.fs, baud=921600,
                               write_interval_s=min(0.5 / source.fs, 0.1))
    fake = FakeImu(settings, source=source)
    fake.start()
    try:
        say(f"ready {fake.port}")
        control.armed.wait()
        if not control.stopped.is_set():
            source.arm()
        control.stopped.wait(max_duration)
    finally:
        fake.stop()
    n = source.n_read
    return regular_timestamps(source.t_arm, source.fs, 0, n) if source.t_arm is not None else np.zeros(0)


class GcPauses:
    """Counts the garbage collector's passes and times the longest (``gc.callbacks``), per generation."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.max_ns = [0, 0, 0]
        self.total_ns = 0
        self._t = 0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter_ns()
            return
        dt = time.perf_counter_ns() - self._t
        g = int(info.get("generation", 0))
        self.count[g] += 1
        self.total_ns += dt
        self.max_ns[g] = max(self.max_ns[g], dt)

    def as_dict(self) -> dict:
        """Passes per generation, the longest pause per generation (ms) and the total (ms)."""
        return {"passes": list(self.count), "max_ms": [x * 1e-6 for x in self.max_ns], "total_ms": self.total_ns * 1e-6}


def run_sim(prefix: str, layout: str, fs: float, block_size: int, source_kind: str, device: str, imu_rate: float,
            units_per_muscle: int, grid_only: bool, out: Path, priority: str = "auto") -> None:
    """The simulator as ``launch.py run`` runs it, publishing on LSL until ``stop``; writes the runner's counters."""
    control = Control()
    if source_kind == "lsl":
        options = {"source": "lsl", "stream_name": device, "resolve_timeout": 30.0}
    else:
        options = {"source": "serial", "port": device, "serial_format": "binary", "baud": 921600,
                   "imu_rate": imu_rate, "no_frame_timeout": 60.0}
    source = build_source(options)
    config = SimulatorConfig(prefix=prefix, layout=layout, fs=fs, block_size=block_size, activation="model",
                             units_per_muscle=units_per_muscle, priority=priority)
    simulator = Simulator(config, source, ModelActivationStage(None, provisional=not grid_only))
    say("built")
    simulator.start(wait_for_consumer=120.0, dedicated_process=True)
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    try:
        deadline = time.monotonic() + 60.0
        while not source.running:
            if time.monotonic() > deadline or not simulator.pipeline.running:
                raise WorkerError("the simulator's IMU source did not open within 60 s")
            time.sleep(0.002)
        say("source-open")
        while not control.stopped.wait(0.1):
            if not simulator.pipeline.running:
                break  # the runner ended by itself: stop() re-raises its error below
        simulator.pipeline.request_stop()
        simulator.wait(timeout=30.0)
    finally:
        simulator.stop()
    gc.callbacks.remove(gc_pauses)
    stats = simulator.pipeline.stats
    runner = simulator.pipeline.scheduling
    record = {
        "samples_sent": stats.samples_sent,
        "ticks": stats.ticks,
        "late_ticks": stats.late_ticks,
        "max_lateness_ms": stats.max_lateness * 1e3,
        "t0": stats.t0,
        "stage_ns": dict(stats.stage_ns),
        "stage_max_ns": dict(stats.stage_max_ns),
        "busy_ns": stats.busy_ns,
        "busy_max_ns": stats.busy_max_ns,
        "gc": gc_pauses.as_dict(),
        "scheduling": {
            "runner": runner.as_dict() if runner is not None else None,
            "io": simulator.io_scheduling.as_dict() if simulator.io_scheduling is not None else None,
            "memory": simulator.memory_lock.as_dict(),
            "main": simulator.caller_scheduling.as_dict() if simulator.caller_scheduling is not None else None,
        },
        "threads": thread_policies(),
        "newest_imu_seq": stats.newest_imu_seq,
    }
    out.write_text(json.dumps(record, indent=2))
    say("done")


def run_probe(out: Path, period: float = 1e-3, priority: str = "auto", max_duration: float = 3600.0) -> None:
    """The machine's floor: a thread that only sleeps ``period`` and wakes, scheduled as the runner.

    From ``arm`` to ``stop`` it records how late each wake-up is (the next one is due one
    period after the previous due time; after a stall the missed wake-ups are skipped, so a
    stall counts once). What it sees, a runner that does real work sees too: stalls of the
    machine itself (the hypervisor, kernel work, other real-time programs).
    """
    control = Control()
    sched = apply_scheduling(priority, who="bench timer probe")
    lateness = np.zeros(int(max_duration / period) + 1)
    say("ready")
    control.armed.wait()
    n = 0
    due = time.perf_counter() + period
    while not control.stopped.is_set() and n < lateness.size:
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
            now = time.perf_counter()
        lateness[n] = now - due
        n += 1
        due += period
        if due < now:  # a stall: skip the wake-ups it swallowed
            due = now + period
    np.savez(out, lateness=lateness[:n], period=period, scheduling=json.dumps(sched.as_dict()))
    say(f"done {n}")


def run_consumer(prefix: str, out: Path, resolve_timeout: float, priority: str = "auto") -> None:
    """Record the arrival time of every EMG sample, and the provenance and status rows."""
    control = Control()
    sched = apply_scheduling(priority, who="bench consumer", level=PEER_RT_PRIORITY)
    inlets = {}
    for role in ("provenance", "status", "emg"):  # EMG last: the runner starts when it has a consumer
        name = stream_name(prefix, role)
        found, deadline = [], time.monotonic() + resolve_timeout
        while not found and time.monotonic() < deadline:  # short resolves, repeated: robust to a lost reply
            found = pylsl.resolve_byprop("name", name, 1, 0.5)
        if not found:
            raise WorkerError(f"stream {name!r} not found within {resolve_timeout:g} s")
        inlet = pylsl.StreamInlet(found[0], max_buflen=360)
        inlet.open_stream(timeout=30.0)
        inlets[role] = inlet
    emg_in, prov_in, status_in = inlets["emg"], inlets["provenance"], inlets["status"]
    emg_info = emg_in.info(timeout=30.0)
    n_ch, fs = emg_info.channel_count(), emg_info.nominal_srate()
    say("ready")

    emg_ts, emg_arrival = GrowBuffer(capacity=1 << 16), GrowBuffer(capacity=1 << 16)
    prov_rows, prov_ts = GrowBuffer(6, capacity=1 << 14), GrowBuffer(capacity=1 << 14)
    status_rows, status_ts = GrowBuffer(5, capacity=1 << 10), GrowBuffer(capacity=1 << 10)
    buf = np.empty((4096, n_ch), np.float32)
    pbuf = np.empty((4096, 6), np.float64)
    sbuf = np.empty((64, 5), np.float64)  # status is double64
    sample = [0.0] * n_ch
    next_side = 0.0

    def drain_side() -> None:
        for inlet, dest, rows, stamps in ((prov_in, pbuf, prov_rows, prov_ts), (status_in, sbuf, status_rows,
                                                                                status_ts)):
            while True:
                _, ts = inlet.pull_chunk(timeout=0.0, max_samples=dest.shape[0], dest_obj=dest)
                if not ts:
                    break
                rows.extend(dest[: len(ts)])
                stamps.extend(np.asarray(ts))

    quiet_since = None
    while True:
        _, t = emg_in.pull_sample(timeout=0.05, sample=sample)
        if t is not None:
            arrival = pylsl.local_clock()
            emg_ts.append(t)
            emg_arrival.append(arrival)
            _, ts = emg_in.pull_chunk(timeout=0.0, max_samples=buf.shape[0], dest_obj=buf)
            if ts:
                arrival = pylsl.local_clock()
                emg_ts.extend(np.asarray(ts))
                emg_arrival.extend(np.full(len(ts), arrival))
            quiet_since = None
        now = time.monotonic()
        if now >= next_side:
            drain_side()
            next_side = now + 0.05
        if control.stopped.is_set():  # drain until the stream has been quiet for 1 s
            if t is None:
                quiet_since = quiet_since or now
                if now - quiet_since > 1.0:
                    break
    drain_side()
    np.savez(out, emg_ts=emg_ts.array, emg_arrival=emg_arrival.array, prov_rows=prov_rows.array,
             prov_ts=prov_ts.array, status_rows=status_rows.array, status_ts=status_ts.array,
             fs=fs, scheduling=json.dumps(sched.as_dict()))
    say(f"done {emg_ts.n}")

