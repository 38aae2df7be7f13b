"""The runner: one thread that owns time and moves blocks one way through the stages.

::

    source.read() ─▶ activation.process() ─▶ resampler ─▶ engine.process() ─▶ post stages ─▶ outputs
      IMU block        activation block       engine grid     EMG block         artefacts,     LSL outlets
                                                                                faults

Each tick the runner waits until the last sample of the next EMG block is due
(``t0 + (n + block_size - 1) / fs`` on the injected clock), then reads what the
source has, passes it forward and hands the resulting blocks to the outputs.
Output sample ``n`` has timestamp ``t0 + n / fs`` exactly. When the runner falls
behind it keeps computing blocks back to back until it has caught up: no sample
is ever dropped (only a ``sample_loss`` fault removes samples, on purpose; the
others keep their timestamps), and each tick that started more than one block
period late is counted in ``stats.late_ticks``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from realtime.app.provenance import IMU_SEQ, IMU_TIME, ProvenanceTracker
from realtime.core.anatomy import JOINTS
from realtime.core.block import Block
from realtime.core.checks import check_number, check_optional_number, ensure_int
from realtime.core.logs import logger
from realtime.core.priority import check_priority, set_thread_priority
from realtime.core.units import EMG_FS_HINT, EMG_FS_MAX, EMG_FS_MIN, IMU_CHANNELS
from realtime.stages.resample import CausalResampler

if TYPE_CHECKING:
    from realtime.core.contract import Sink, Source, Stage

STAGE_NAMES: tuple[str, ...] = ("source", "activation", "resample", "engine", "post", "output")
"""Names of the per-stage timing counters in :class:`RunnerStats`."""


@dataclass(frozen=True)
class PipelineSettings:
    """Settings of the runner.

    Parameters
    ----------
    fs : float
        EMG sampling rate in Hz (1000 or 2000 are the usual values; 500-10000 accepted:
        :data:`~realtime.core.units.EMG_FS_MIN`, :data:`~realtime.core.units.EMG_FS_MAX`).
    block_size : int
        EMG samples per tick. The default, 4 samples at 2 kHz, is 2 ms.
    duration : float | None
        Seconds of EMG to produce before stopping by itself; ``None`` runs until ``stop()``.
    status_interval : float
        Seconds between two status callbacks.
    priority : {"normal", "auto", "realtime"}
        Scheduling of the runner thread started by :meth:`Pipeline.start`
        (:mod:`realtime.core.priority`): ``"auto"`` asks for real-time scheduling
        and keeps normal priority if refused; ``"realtime"`` fails if refused.
    """

    fs: float = 2000.0
    block_size: int = 4
    duration: float | None = None
    status_interval: float = 1.0
    priority: str = "normal"

    def __post_init__(self) -> None:
        check_number("fs", self.fs, EMG_FS_MIN, EMG_FS_MAX, "Hz", hint=EMG_FS_HINT)
        ensure_int("block_size", self.block_size, lo=1)
        if self.block_size / self.fs > 0.1:
            raise ValueError(
                f"The argument 'block_size' must span at most 100 ms of samples at {self.fs} Hz "
                f"(at most {int(0.1 * self.fs)}). {self.block_size} is invalid."
            )
        check_optional_number("duration", self.duration, 0.0, unit="s", hint="None runs until stop().")
        check_number("status_interval", self.status_interval, 0.0, unit="s", lo_open=True)
        check_priority(self.priority)


@dataclass
class PipelineOutputs:
    """Where the runner sends each kind of block (any may be ``None``).

    Attributes
    ----------
    emg : Sink | None
        Receives every EMG block.
    imu : Sink | None
        Receives the IMU blocks read from the source (non-empty ones).
    activation_truth : Sink | None
        Receives ground-truth activations carried by the source (aux ``"activation"``).
    activation_model : Sink | None
        Receives the activation stage's own output (when a model drives the engine),
        without the rows its aux ``"provisional"`` marks (estimates between model-grid
        rows: they drive the engine but are not published).
    markers : Callable[[str, float], None] | None
        Called with (text, timestamp) for every event (source lost/back, start, stop,
        and the markers of post stages such as fault onsets).
    spikes : Callable[[ndarray, ndarray], None] | None
        Called for each block in which the engine reports discharges (``engine.discharges``)
        with rows ``(n, 3)`` float64 ``(muscle, unit, sample)`` and their timestamps
        ``t0 + sample / fs`` (the EMG grid's).
    provenance : Callable[[ndarray, float], None] | None
        Called after each EMG block with its provenance row (float64, columns
        ``realtime.app.provenance.PROVENANCE_CHANNELS``; the array is reused) and the
        block's last-sample timestamp.
    """

    emg: Sink | None = None
    imu: Sink | None = None
    activation_truth: Sink | None = None
    activation_model: Sink | None = None
    markers: Callable[[str, float], None] | None = None
    spikes: Callable[[np.ndarray, np.ndarray], None] | None = None
    provenance: Callable[[np.ndarray, float], None] | None = None


@dataclass
class RunnerStats:
    """Counters the runner keeps (read them from any thread; they only grow).

    Attributes
    ----------
    samples_sent : int
        EMG samples produced so far.
    ticks : int
        Blocks produced so far.
    late_ticks : int
        Blocks that started more than one block period after their due time.
    t0 : float
        Timestamp of EMG sample 0 (LSL clock).
    stage_ns : dict[str, int]
        Cumulative time spent in each stage (``STAGE_NAMES``), in nanoseconds.
    busy_ns : int
        Cumulative time spent working (all stages).
    newest_imu_time, newest_imu_seq : float | None, int | None
        Timestamp and source sample index (the IMU blocks' ``seq`` numbering) of the
        newest IMU sample that contributed to the latest EMG block, through the
        activation stage and the resampler (``realtime.app.provenance``); ``None`` before any.
    """

    samples_sent: int = 0
    ticks: int = 0
    late_ticks: int = 0
    t0: float = 0.0
    stage_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGE_NAMES, 0))
    busy_ns: int = 0
    newest_imu_time: float | None = None
    newest_imu_seq: int | None = None


@dataclass(frozen=True)
class StatusReport:
    """What the runner reports once per ``status_interval``.

    Attributes
    ----------
    elapsed : float
        Seconds since the start.
    samples_sent : int
        EMG samples produced so far.
    effective_rate : float
        EMG samples per second of clock time over the last interval.
    late_ticks : int
        Late ticks so far.
    loop_load : float
        Fraction of the last interval spent working (0-1; > 1 means behind).
    """

    elapsed: float
    samples_sent: int
    effective_rate: float
    late_ticks: int
    loop_load: float


class TeacherActivation:
    """Activation stage that passes on the ground truth carried by the synthetic source.

    The synthetic arm attaches the physics teacher's activations to each IMU
    block (aux ``"activation"``); this stage returns them as a block of their
    own, with the IMU timestamps.

    Parameters
    ----------
    muscles : tuple of str
        Muscle names (channel labels of the output).
    """

    def __init__(self, muscles: tuple[str, ...]) -> None:
        self.muscles = tuple(muscles)

    def reset(self) -> None:
        """Nothing to reset: the stage is stateless."""

    def process(self, block: Block) -> Block:
        """Return the source's ground-truth activations for ``block``."""
        act = block.aux.get("activation")
        if act is None:
            raise ValueError(
                "The activation source 'teacher' needs ground-truth activations, which only the "
                "synthetic source provides. Use --activation model with this source."
            )
        if act.shape[1] != len(self.muscles):
            raise ValueError(
                f"The source carries {act.shape[1]} activations, the engine expects {len(self.muscles)} muscles."
            )
        data = np.ascontiguousarray(act, np.float32)
        angles = block.aux.get("angles")
        aux = {} if angles is None else {"angles": np.ascontiguousarray(angles, np.float32)}
        return Block(data, block.timestamps, block.fs, block.seq, self.muscles, aux)


class Pipeline:
    """Source → activation → resampler → engine → outputs, paced by one runner thread.

    Parameters
    ----------
    source : Source
        The IMU source (already constructed, not started).
    activation : Stage
        Maps IMU blocks to activation blocks (its own rate and timestamps).
    engine : Stage
        Maps activation blocks on the engine grid to EMG blocks. It must have a
        ``reset(max_block)`` method; it receives blocks of ``settings.block_size``
        samples whose aux ``"angles"`` holds the joint angles (``JOINTS``) on the same grid.
    muscles : tuple of str
        Channel labels of the activation blocks.
    outputs : PipelineOutputs
        Sinks for the blocks produced.
    settings : PipelineSettings
        Rate, block size, duration.
    clock : Callable[[], float]
        Returns the current time in seconds (LSL clock by default).
    sleep : Callable[[float], None]
        Sleeps for the given number of seconds.
    status_callbacks : Sequence[Callable[[StatusReport], None]]
        Called from the runner thread once per ``settings.status_interval``.
    post_stages : Sequence[Stage]
        Applied in order to each EMG block after the engine (artefacts, faults).
        Each may have ``reset(max_block)``; ``pop_markers() -> [(text, timestamp)]``
        (sent to ``outputs.markers``); and ``needs_imu``: then the block carries
        aux ``"imu"``, the source's IMU resampled causally onto the EMG grid
        (NaN rows before the first IMU sample, the last value held when it stops).
        A stage may drop rows (lost samples); the remaining rows keep their timestamps.
    """

    def __init__(
        self,
        source: Source,
        activation: Stage,
        engine: Stage,
        muscles: tuple[str, ...],
        outputs: PipelineOutputs | None = None,
        settings: PipelineSettings | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        status_callbacks: Sequence[Callable[[StatusReport], None]] = (),
        post_stages: Sequence[Stage] = (),
    ) -> None:
        if clock is None:
            clock = pylsl.local_clock
        self.source = source
        self.activation = activation
        self.engine = engine
        self.muscles = tuple(muscles)
        self.outputs = outputs or PipelineOutputs()
        self.settings = settings or PipelineSettings()
        self._clock = clock
        self._sleep = sleep
        self._status_callbacks = list(status_callbacks)
        self.resampler = CausalResampler(self.muscles, self.settings.fs)
        # Joint angles (from the synthetic arm or the network's posture head) follow the
        # activations onto the engine grid; they hold their last value when the input stops.
        self.posture_resampler = CausalResampler(JOINTS, self.settings.fs, stale_after=np.inf)
        self.post_stages = tuple(post_stages)
        self._post_needs_imu = any(getattr(stage, "needs_imu", False) for stage in self.post_stages)
        self.imu_resampler = CausalResampler(
            IMU_CHANNELS, self.settings.fs, initial=np.full(len(IMU_CHANNELS), np.nan), stale_after=np.inf
        )
        self.provenance = ProvenanceTracker()
        self.stats = RunnerStats()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self.thread_priority: str | None = None
        """What the runner thread got from ``settings.priority`` (``"realtime"``/``"normal"``), once started."""
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        """Whether the runner thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def started(self) -> bool:
        """Whether ``start()`` was called and the run has not been collected by ``stop()``/``wait()``."""
        return self._thread is not None

    def start(self) -> None:
        """Start the runner in a background thread."""
        if self.running:
            logger.warning("%s: already running; start() ignored.", type(self).__name__)
            return
        self._stop_event.clear()
        self._error = None
        self._thread = threading.Thread(target=self._thread_main, name="myostream-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the runner, wait for it, and re-raise any exception it raised."""
        if self._thread is None:
            raise RuntimeError("The pipeline is not started. Use Pipeline.start() first.")
        self._stop_event.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"The runner thread did not stop within {timeout} s.")
        self._thread = None
        self._raise_stored_error()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a run with a ``duration`` to finish; re-raise its exception.

        Returns
        -------
        finished : bool
            ``True`` if the runner has ended, ``False`` on timeout.
        """
        if self._thread is None:
            raise RuntimeError("The pipeline is not started. Use Pipeline.start() first.")
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._thread = None
        self._raise_stored_error()
        return True

    def run(self) -> RunnerStats:
        """Run in the calling thread until ``duration`` is reached or ``stop`` is requested."""
        self._stop_event.clear()
        self._loop()
        return self.stats

    def request_stop(self) -> None:
        """Ask the runner to stop after the current tick (safe from any thread or signal handler)."""
        self._stop_event.set()

    def _thread_main(self) -> None:
        try:
            self.thread_priority = set_thread_priority(self.settings.priority)
            self._loop()
        except BaseException as err:  # re-raised from stop()/wait()
            logger.debug("%s: runner failed (re-raised from stop/wait): %r", type(self).__name__, err)
            self._error = err

    def _raise_stored_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        s = self.settings
        fs, bsize = s.fs, s.block_size
        n_total = None if s.duration is None else int(round(s.duration * fs))
        block_period = bsize / fs
        clock, sleep = self._clock, self._sleep

        self.source.start()
        try:
            t0 = clock()
            self._reset_stages(t0)
            stats = self.stats = RunnerStats(t0=t0)
            self._emit_marker("myostream: start", t0)
            next_status = t0 + s.status_interval
            last_status_t, last_status_n, last_status_busy = t0, 0, 0
            while not self._stop_event.is_set():
                n_done = stats.samples_sent
                if n_total is not None and n_done >= n_total:
                    break
                n = bsize if n_total is None else min(bsize, n_total - n_done)
                due = t0 + (n_done + n - 1) / fs
                now = clock()
                if now < due:
                    sleep(due - now)
                    now = clock()
                elif now - due > block_period:
                    stats.late_ticks += 1
                self._tick(n)
                if now >= next_status:
                    elapsed = now - last_status_t
                    report = StatusReport(
                        elapsed=now - t0,
                        samples_sent=stats.samples_sent,
                        effective_rate=(stats.samples_sent - last_status_n) / elapsed if elapsed > 0 else 0.0,
                        late_ticks=stats.late_ticks,
                        loop_load=(stats.busy_ns - last_status_busy) * 1e-9 / elapsed if elapsed > 0 else 0.0,
                    )
                    last_status_t, last_status_n, last_status_busy = now, stats.samples_sent, stats.busy_ns
                    next_status = now + s.status_interval
                    for callback in self._status_callbacks:
                        callback(report)
            self._emit_marker("myostream: stop", t0 + stats.samples_sent / fs)
        finally:
            self.source.stop()

    def _reset_stages(self, t0: float) -> None:
        """Put every stage back at the start of a stream whose first EMG sample is at ``t0``."""
        block_size = self.settings.block_size
        if hasattr(self.activation, "reset"):
            self.activation.reset()
        self.engine.reset(block_size)
        for stage in self.post_stages:
            if hasattr(stage, "reset"):
                stage.reset(block_size)
        self.imu_resampler.reset(t0)
        self.resampler.reset(t0)
        self.posture_resampler.reset(t0)
        self.provenance.reset()

    def warm_up(self) -> None:
        """Build every table and compile every kernel now, before the stream goes live.

        Pushes a few samples of a still arm through every stage (nothing is
        published), so that the first real tick costs what every later tick
        costs. The run resets every stage again when it starts, so the output is
        the same with or without a warm-up. Call it before the outlets appear:
        a consumer then never sees a stream that stalls for seconds at start.
        """
        n, fs = self.settings.block_size, self.settings.fs
        imu_fs = float(getattr(self.source, "fs", 0.0) or 100.0)
        self._reset_stages(0.0)
        t_imu = np.arange(n) / imu_fs
        still = np.zeros((n, 6), np.float32)
        still[:, 2] = 9.81
        aux = {"activation": np.zeros((n, len(self.muscles)), np.float32), "angles": np.zeros((n, 3), np.float32)}
        act = self.activation.process(Block(still, t_imu, imu_fs, 0, IMU_CHANNELS, aux))
        self.resampler.push(act)
        grid = self.resampler.pull(n)
        angles = np.zeros((n, len(JOINTS)), np.float32)
        emg = self.engine.process(Block(grid.data, grid.timestamps, fs, 0, grid.channels, {"angles": angles}))
        if self.post_stages:
            emg = Block(emg.data, emg.timestamps, emg.fs, emg.seq, emg.channels, {"imu": np.zeros((n, 6), np.float32)})
            for stage in self.post_stages:
                emg = stage.process(emg)
                pop_markers = getattr(stage, "pop_markers", None)
                if pop_markers is not None:
                    pop_markers()  # events of the dry run are not events

    def _tick(self, n: int) -> None:
        stats, out = self.stats, self.outputs
        ns = stats.stage_ns
        t_a = time.perf_counter_ns()
        imu = self.source.read()
        t_read = self._clock()
        pop_events = getattr(self.source, "pop_events", None)
        if pop_events is not None:
            for text in pop_events():
                self._emit_marker(text, self._clock())
        t_b = time.perf_counter_ns()
        act = self.activation.process(imu)
        t_c = time.perf_counter_ns()
        self.provenance.activation(imu, act, t_read)
        self.resampler.push(act)
        grid = self.resampler.pull(n)
        angles = act.aux.get("angles")
        if angles is not None and act.n_samples:
            self.posture_resampler.push(Block(angles, act.timestamps, act.fs, act.seq, JOINTS))
        posture = self.posture_resampler.pull(n)
        grid = Block(grid.data, grid.timestamps, grid.fs, grid.seq, grid.channels, {"angles": posture.data})
        t_d = time.perf_counter_ns()
        emg = self.engine.process(grid)
        t_e = time.perf_counter_ns()
        if out.spikes is not None:
            self._write_spikes()
        if self.post_stages:
            emg = self._post_process(emg, imu, n)
        t_p = time.perf_counter_ns()
        t_push = self._clock()
        if out.emg is not None:
            out.emg.write(emg)
        t_grid = grid.timestamps
        prov = self.provenance.emg(stats.samples_sent, n, float(t_grid[-1]), t_push)
        if out.provenance is not None:
            out.provenance(prov, float(t_grid[-1]))
        if imu.n_samples:
            if out.imu is not None:
                out.imu.write(imu)
            truth = imu.aux.get("activation")
            if out.activation_truth is not None and truth is not None:
                out.activation_truth.write(
                    Block(np.ascontiguousarray(truth, np.float32), imu.timestamps, imu.fs, imu.seq, self.muscles)
                )
        if out.activation_model is not None and act.n_samples:
            provisional = act.aux.get("provisional")
            if provisional is not None and provisional.any():  # published: the model-grid rows only
                keep = ~provisional
                act = Block(act.data[keep], act.timestamps[keep], act.fs, act.seq, act.channels)
            if act.n_samples:
                out.activation_model.write(act)
        t_f = time.perf_counter_ns()
        ns["source"] += t_b - t_a
        ns["activation"] += t_c - t_b
        ns["resample"] += t_d - t_c
        ns["engine"] += t_e - t_d
        ns["post"] += t_p - t_e
        ns["output"] += t_f - t_p
        stats.busy_ns += t_f - t_a
        stats.samples_sent += n
        stats.ticks += 1
        if prov[IMU_SEQ] >= 0:
            stats.newest_imu_time = float(prov[IMU_TIME])
            stats.newest_imu_seq = int(prov[IMU_SEQ])

    def _write_spikes(self) -> None:
        d = getattr(self.engine, "discharges", None)
        if d is None or len(d) == 0:
            return
        rows = np.empty((len(d), 3))
        rows[:, 0], rows[:, 1], rows[:, 2] = d.muscle, d.unit, d.sample
        # The same expression as the EMG grid (regular_timestamps): bit-identical times.
        self.outputs.spikes(rows, self.stats.t0 + (d.sample.astype(np.float64) / self.settings.fs))

    def _post_process(self, emg: Block, imu: Block, n: int) -> Block:
        if self._post_needs_imu:
            if imu.n_samples:
                self.imu_resampler.push(imu)
            grid_imu = self.imu_resampler.pull(n)
            emg = Block(emg.data, emg.timestamps, emg.fs, emg.seq, emg.channels, {"imu": grid_imu.data})
        for stage in self.post_stages:
            emg = stage.process(emg)
            pop_markers = getattr(stage, "pop_markers", None)
            if pop_markers is not None:
                for text, timestamp in pop_markers():
                    self._emit_marker(text, timestamp)
        return emg

    def _emit_marker(self, text: str, timestamp: float) -> None:
        logger.info("%s: %s", type(self).__name__, text)
        if self.outputs.markers is not None:
            self.outputs.markers(text, timestamp)
