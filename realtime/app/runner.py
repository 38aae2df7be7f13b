"""The runner: one thread that owns time and moves blocks one way through the stages.

::

    source.read() ─▶ activation.process() ─▶ GridResampler ─▶ engine.process() ─▶ later stages ─▶ outputs
      IMU block        activation block        (the clock      EMG block           artefacts,     LSL outlets
                                                boundary)                           faults

The chain is checked once, when the pipeline is built
(:func:`realtime.core.contract.check_chain`): every stage must take what its
neighbour gives (rate, channel count, labels by name). Side data travels in
the blocks (``Block.aux``, ``Block.events``); the runner reads device events,
discharges, markers and provenance from the blocks it passes on.

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
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from realtime.app.provenance import (
    EMG_INDEX,
    EMG_PUSH_TIME,
    EMG_SAMPLES,
    IMU_READ_TIME,
    IMU_SEQ,
    IMU_TIME,
    PROVENANCE_CHANNELS,
)
from realtime.core.block import Block, regular_timestamps
from realtime.core.checks import check_number, check_optional_number, ensure_int
from realtime.core.contract import StreamFormat, check_chain, part_name
from realtime.core.logs import logger
from realtime.core.priority import Scheduling, apply_scheduling, check_priority, scheduled_here
from realtime.core.progress import SILENT, Progress
from realtime.core.schemas import GESTURE_CHANNELS
from realtime.core.units import EMG_FS_HINT, EMG_FS_MAX, EMG_FS_MIN, IMU_CHANNELS, STANDARD_GRAVITY
from realtime.stages.grid import GridResampler
from realtime.stages.guard import GuardSettings, InputGuard

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
        Scheduling of the runner thread started by :meth:`Pipeline.start` and of the
        I/O threads created under :meth:`Pipeline.scheduled_io`
        (:mod:`realtime.core.priority`): ``"auto"`` asks for real-time scheduling
        and falls back to a lower ``nice`` value, then normal priority, if refused;
        ``"realtime"`` fails if refused.
    guard : GuardSettings
        Rules of the source boundary (:mod:`realtime.stages.guard`): plausible IMU
        ranges and timestamps.
    """

    fs: float = 2000.0
    block_size: int = 4
    duration: float | None = None
    status_interval: float = 1.0
    priority: str = "normal"
    guard: GuardSettings = GuardSettings()

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
        if not isinstance(self.guard, GuardSettings):
            raise TypeError(f"The argument 'guard' must be a GuardSettings, {type(self.guard).__name__} is invalid.")


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
        Called with (text, timestamp) for every event (the source's ``events["source_events"]``,
        start, stop, and the ``events["markers"]`` of later stages such as fault onsets).
    spikes : Callable[[ndarray, ndarray], None] | None
        Called for each block in which the engine reports discharges (``events["discharges"]``)
        with rows ``(n, 3)`` float64 ``(muscle, unit, sample)`` and their timestamps
        ``t0 + sample / fs`` (the EMG grid's).
    provenance : Callable[[ndarray, float], None] | None
        Called after each EMG block with its provenance row (float64, columns
        ``realtime.app.provenance.PROVENANCE_CHANNELS``; the array is reused) and the
        block's last-sample timestamp. The row comes from the grid block's
        ``events["provenance"]`` (the activation rows' own ``aux["imu_seq"]``).
    gesture : Sink | None
        Receives the gesture ground truth (aux ``"gesture"`` of the drive stages' output: class,
        effort), one row per EMG sample on the EMG grid's timestamps.
    """

    emg: Sink | None = None
    imu: Sink | None = None
    activation_truth: Sink | None = None
    activation_model: Sink | None = None
    markers: Callable[[str, float], None] | None = None
    spikes: Callable[[np.ndarray, np.ndarray], None] | None = None
    provenance: Callable[[np.ndarray, float], None] | None = None
    gesture: Sink | None = None


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
    max_lateness : float
        The latest a tick started after its due time, in seconds (0 when none was late).
    t0 : float
        Timestamp of EMG sample 0 (LSL clock).
    stage_ns : dict[str, int]
        Cumulative time spent in each stage (``STAGE_NAMES``), in nanoseconds.
    stage_max_ns : dict[str, int]
        The longest time one tick spent in each stage, in nanoseconds (where a tail comes from).
    busy_ns : int
        Cumulative time spent working (all stages).
    busy_max_ns : int
        The longest tick (all stages).
    newest_imu_time, newest_imu_seq : float | None, int | None
        Timestamp and source sample index (the IMU blocks' ``seq`` numbering) of the
        newest IMU sample that contributed to the latest EMG block, as the blocks'
        provenance says (``realtime.app.provenance``); ``None`` before any.
    """

    samples_sent: int = 0
    ticks: int = 0
    late_ticks: int = 0
    max_lateness: float = 0.0
    t0: float = 0.0
    stage_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGE_NAMES, 0))
    stage_max_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGE_NAMES, 0))
    busy_ns: int = 0
    busy_max_ns: int = 0
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


class StillSource:
    """A source that gives a still arm (gravity on z, zeros elsewhere) in the format of another source.

    Used by :meth:`Pipeline.warm_up`: every tick of the warm-up reads it
    instead of the real source, so the warm-up runs the live tick's code.

    Parameters
    ----------
    fmt : StreamFormat
        The real source's output format (its rate and aux are copied).
    t0 : float
        Time of the first sample (the runner's clock: the input guard judges timestamps against it).
    """

    name = "still arm (warm-up)"

    def __init__(self, fmt: StreamFormat, t0: float) -> None:
        self._fmt = fmt
        self.fs = float(fmt.fs or 100.0)
        self._t0 = float(t0)
        self._k = 0

    @property
    def output_format(self) -> StreamFormat:
        """The real source's format."""
        return self._fmt

    def read(self, n: int = 4) -> Block:
        """The next ``n`` still samples, ``1 / fs`` apart from ``t0``."""
        t = regular_timestamps(self._t0, self.fs, self._k, n)
        still = np.zeros((n, len(IMU_CHANNELS)), np.float32)
        still[:, 2] = STANDARD_GRAVITY
        widths = {k: self._fmt.aux_width(k) for k in self._fmt.aux}
        aux = {k: np.zeros((n, w) if w else n, np.float32) for k, w in widths.items()}
        blk = Block(still, t, self.fs, self._k, IMU_CHANNELS, aux)
        self._k += n
        return blk


class Pipeline:
    """Source → activation stage → clock boundary → engine and later stages → outputs, paced by one thread.

    Parameters
    ----------
    source : Source
        The IMU source (already constructed, not started).
    activation : Stage
        Maps IMU blocks to activation blocks (its own rate and timestamps), with
        each row's provenance (aux ``"imu_seq"``, ``"imu_time"``).
    stages : sequence of Stage
        The stages on the EMG grid, in order: the engine first (activation
        blocks of ``settings.block_size`` samples in, EMG out), then artefacts,
        faults... A stage may drop rows (lost samples); the remaining rows keep
        their timestamps.
    outputs : PipelineOutputs | None
        Sinks for the blocks produced.
    settings : PipelineSettings | None
        Rate, block size, duration, priority.
    clock : Callable[[], float] | None
        Returns the current time in seconds (LSL clock by default).
    sleep : Callable[[float], None]
        Sleeps for the given number of seconds.
    status_callbacks : Sequence[Callable[[StatusReport], None]]
        Called from the runner thread once per ``settings.status_interval``.
    drive : Sequence[Stage]
        Stages on the EMG grid before the engine that change what drives it (the gesture layer,
        ``realtime.stages.gesture_mix``); their time counts as ``"resample"``.

    Raises
    ------
    ChainError
        Two neighbours do not fit (checked here, once): e.g. the activation
        stage does not give a muscle the engine needs, or a stage expects
        another rate. The message names both stages.
    """

    def __init__(
        self,
        source: Source,
        activation: Stage,
        stages: Sequence[Stage],
        outputs: PipelineOutputs | None = None,
        settings: PipelineSettings | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        status_callbacks: Sequence[Callable[[StatusReport], None]] = (),
        drive: Sequence[Stage] = (),
    ) -> None:
        if clock is None:
            clock = pylsl.local_clock
        self.source = source
        self.activation = activation
        self.stages = tuple(stages)
        self.drive = tuple(drive)
        if not self.stages:
            raise ValueError("The argument 'stages' must hold at least the engine (the first stage on the EMG grid).")
        self.outputs = outputs or PipelineOutputs()
        self.settings = settings or PipelineSettings()
        self._clock = clock
        self._sleep = sleep
        self._status_callbacks = list(status_callbacks)
        self.guard = InputGuard(self.settings.guard, clock)
        needs_imu = any("imu" in stage.input_format.aux for stage in self.stages)
        self.grid = GridResampler(self.settings.fs, imu=needs_imu)
        formats = check_chain(source.output_format, [self.guard, activation, self.grid, *self.drive, *self.stages],
                              part_name(source))
        self.formats: tuple[StreamFormat, ...] = tuple(formats)
        """The resolved format entering each part (guard, activation, grid, drive..., stages...), then the chain's
        output."""
        source_fmt = formats[0]  # formats[i] enters part i (guard, activation, grid, stages...); the last leaves
        truth = source_fmt.aux_labels("activation")
        if truth is None and "activation" in source_fmt.aux:
            truth = tuple(f"activation{k + 1}" for k in range(source_fmt.aux_width("activation")))
        self.truth_channels: tuple[str, ...] = truth or ()
        """Labels of the source's ground-truth activations (aux ``"activation"``), as published."""
        self.stats = RunnerStats()
        self._provenance = np.full(len(PROVENANCE_CHANNELS), np.nan)
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._source_open = threading.Event()
        self.scheduling: Scheduling | None = None
        """What the runner thread got from ``settings.priority``, once started."""
        self._error: BaseException | None = None

    @property
    def engine(self) -> Stage:
        """The first stage on the EMG grid."""
        return self.stages[0]

    @property
    def output_format(self) -> StreamFormat:
        """What the last stage gives (the EMG blocks the outputs receive)."""
        return self.formats[-1]

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
        self._source_open.clear()
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

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until the runner thread has opened the source (its clock starts right after).

        Re-raises the runner's exception if it failed before that (e.g. a
        serial port that does not exist), so a caller can say "publishing"
        only once the run has really begun.

        Returns
        -------
        started : bool
            ``True`` once the source is open, ``False`` on timeout.
        """
        if self._thread is None:
            raise RuntimeError("The pipeline is not started. Use Pipeline.start() first.")
        opened = self._source_open.wait(timeout)
        if self._error is not None:
            self._thread.join()
            self._thread = None
            self._raise_stored_error()
        return opened

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

    @property
    def thread_priority(self) -> str | None:
        """``"realtime"`` or ``"normal"`` (a ``nice`` fallback counts as normal); ``None`` before the start."""
        if self.scheduling is None:
            return None
        return "realtime" if self.scheduling.realtime else "normal"

    def scheduled_io(self) -> AbstractContextManager[Scheduling]:
        """A block in which the threads started (liblsl's, when outlets are created) get the runner's scheduling.

        Data leaves through those threads after a push: at normal priority on a busy
        machine they add the tail that a real-time runner removed
        (:func:`realtime.core.priority.scheduled_here`). The calling thread keeps its own.
        """
        return scheduled_here(self.settings.priority, who="LSL I/O threads")

    def request_stop(self) -> None:
        """Ask the runner to stop after the current tick (safe from any thread or signal handler)."""
        self._stop_event.set()

    def _thread_main(self) -> None:
        try:
            self.scheduling = apply_scheduling(self.settings.priority, who="runner thread")
            self._loop()
        except BaseException as err:  # re-raised from stop()/wait()
            logger.debug("%s: runner failed (re-raised from stop/wait): %r", type(self).__name__, err)
            self._error = err
        finally:
            self._source_open.set()  # wake wait_started() also when the run failed or ended

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
        self._source_open.set()
        try:
            t0 = clock()
            self._reset_stages(t0)
            stats = self.stats = RunnerStats(t0=t0)
            self._emit_marker("myostream: start", t0, self.outputs)
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
                    stats.max_lateness = max(stats.max_lateness, now - due)
                self._tick(n, self.source.read, self.outputs)
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
            self._emit_marker("myostream: stop", t0 + stats.samples_sent / fs, self.outputs)
        finally:
            self.source.stop()

    def _reset_stages(self, t0: float) -> None:
        """Put every stage back at the start of a stream whose first EMG sample is at ``t0``."""
        block_size = self.settings.block_size
        formats = self.formats
        self.guard.reset(formats[0])
        self.activation.reset(formats[1])
        self.grid.reset(formats[2], max_block=block_size, t0=t0)
        for stage, fmt in zip((*self.drive, *self.stages), formats[3:]):
            stage.reset(fmt, max_block=block_size)
        self._provenance[:] = np.nan
        self._provenance[IMU_SEQ] = -1.0

    def warm_up(self, ticks: int = 3, progress: Progress = SILENT,
                prepare: Callable[[], None] | None = None,
                background: Callable[[], None] | None = None) -> None:
        """Build every table and compile every kernel now, before the stream goes live.

        Runs a few ticks of the live code (:meth:`_tick`) on a still arm
        (:class:`StillSource`) with every output muted, so that the first real
        tick costs what every later tick costs; then the stages are reset again
        when the run starts, so the output is the same with or without a
        warm-up. Call it before the outlets appear: a consumer then never sees
        a stream that stalls for seconds at start.

        Parameters
        ----------
        ticks : int
            Ticks of the live code to run.
        progress : Progress
            Where the phases are reported (silent by default).
        prepare : Callable[[], None] | None
            Slow set-up of later stages (e.g. the engine's MUAP tables), run in
            this thread while the activation stage compiles in another one; the
            two need different cores on a first run (numba compiles, numpy
            builds tables), so the cold start is shorter than their sum.
        background : Callable[[], None] | None
            More work for the helper thread once the activation stage is warm,
            e.g. compiling the engine's kernel, which needs no tables
            (:func:`realtime.stages.engine.compile_kernels`): it then compiles
            while ``prepare`` builds the tables instead of after.
        """
        t0 = self._clock()
        still = StillSource(self.source.output_format, t0)
        failure: list[BaseException] = []

        def warm_activation() -> None:  # the activation stage alone: its kernels compile (or load)
            try:
                self.guard.reset(self.formats[0])
                self.activation.reset(self.formats[1])
                self.activation.process(self.guard.process(still.read()))
                if background is not None:
                    background()
            except BaseException as err:  # re-raised below, in the caller's thread
                failure.append(err)

        helper = threading.Thread(target=warm_activation, name="myostream-warm-up", daemon=True)
        helper.start()
        try:
            if prepare is not None:
                prepare()
        except BaseException:
            helper.join()  # never leave the helper running behind an error
            raise
        with progress.phase("compiling the kernels (first run only; later runs load them from the numba cache)"):
            helper.join()
            if failure:
                raise failure[0]
            still = StillSource(self.source.output_format, t0)
            self._reset_stages(t0)
            saved = self.stats
            self.stats = RunnerStats()
            try:
                for _ in range(ticks):
                    self._tick(self.settings.block_size, still.read, PipelineOutputs())
            finally:
                self.stats = saved

    def _tick(self, n: int, read: Callable[[], Block], out: PipelineOutputs) -> None:
        """One tick: read the source, pass the blocks forward, hand the results to ``out``."""
        stats = self.stats
        ns = stats.stage_ns
        t_a = time.perf_counter_ns()
        imu = self.guard.process(read())
        t_read = self._clock()
        for text in imu.events.get("source_events", ()):
            self._emit_marker(text, t_read, out)
        t_b = time.perf_counter_ns()
        act = self.activation.process(imu)
        t_c = time.perf_counter_ns()
        self.grid.push(act, imu, t_read)
        blk = self.grid.pull(n)
        t_grid_last = float(blk.timestamps[-1])
        provenance = blk.events["provenance"]
        for stage in self.drive:
            blk = stage.process(blk)
            for text, timestamp in blk.events.get("markers", ()):
                self._emit_marker(text, timestamp, out)
        gesture = blk.aux.get("gesture") if self.drive else None
        grid_blk = blk
        t_d = time.perf_counter_ns()
        blk = self.engine.process(blk)
        discharges = blk.events.get("discharges")
        if discharges is not None and out.spikes is not None:
            self._write_spikes(discharges, out)
        t_e = time.perf_counter_ns()
        for stage in self.stages[1:]:
            blk = stage.process(blk)
            for text, timestamp in blk.events.get("markers", ()):
                self._emit_marker(text, timestamp, out)
        t_p = time.perf_counter_ns()
        t_push = self._clock()
        if out.emg is not None:
            out.emg.write(blk)
        prov = self._provenance
        prov[IMU_TIME], prov[IMU_SEQ], prov[IMU_READ_TIME] = provenance
        prov[EMG_INDEX], prov[EMG_SAMPLES], prov[EMG_PUSH_TIME] = stats.samples_sent, n, t_push
        if out.provenance is not None:
            out.provenance(prov, t_grid_last)
        if gesture is not None and out.gesture is not None:
            out.gesture.write(Block(gesture, grid_blk.timestamps, grid_blk.fs, grid_blk.seq, GESTURE_CHANNELS))
        if imu.n_samples:
            if out.imu is not None:
                out.imu.write(imu)
            truth = imu.aux.get("activation")
            if out.activation_truth is not None and truth is not None:
                # Rows of the (valid) IMU block; the outlet checks the channel count.
                out.activation_truth.write(Block.trusted(np.ascontiguousarray(truth, np.float32), imu.timestamps,
                                                         imu.fs, imu.seq, self.truth_channels))
        if out.activation_model is not None and act.n_samples:
            provisional = act.aux.get("provisional")
            if provisional is not None and provisional.any():  # published: the model-grid rows only
                keep = ~provisional
                act = Block(act.data[keep], act.timestamps[keep], act.fs, act.seq, act.channels)
            if act.n_samples:
                out.activation_model.write(act)
        t_f = time.perf_counter_ns()
        mx = stats.stage_max_ns  # unrolled: no tuple per tick (GC-tracked allocations start collections)
        d = t_b - t_a
        ns["source"] += d
        mx["source"] = max(mx["source"], d)
        d = t_c - t_b
        ns["activation"] += d
        mx["activation"] = max(mx["activation"], d)
        d = t_d - t_c
        ns["resample"] += d
        mx["resample"] = max(mx["resample"], d)
        d = t_e - t_d
        ns["engine"] += d
        mx["engine"] = max(mx["engine"], d)
        d = t_p - t_e
        ns["post"] += d
        mx["post"] = max(mx["post"], d)
        d = t_f - t_p
        ns["output"] += d
        mx["output"] = max(mx["output"], d)
        busy = t_f - t_a
        stats.busy_ns += busy
        if busy > stats.busy_max_ns:
            stats.busy_max_ns = busy
        stats.samples_sent += n
        stats.ticks += 1
        if prov[IMU_SEQ] >= 0:
            stats.newest_imu_time = float(prov[IMU_TIME])
            stats.newest_imu_seq = int(prov[IMU_SEQ])

    def _write_spikes(self, d: object, out: PipelineOutputs) -> None:
        rows = np.empty((len(d), 3))
        rows[:, 0], rows[:, 1], rows[:, 2] = d.muscle, d.unit, d.sample
        # The same expression as the EMG grid (regular_timestamps): bit-identical times.
        out.spikes(rows, self.stats.t0 + (d.sample.astype(np.float64) / self.settings.fs))

    @staticmethod
    def _emit_marker(text: str, timestamp: float, out: PipelineOutputs) -> None:
        logger.info("Pipeline: %s", text)
        if out.markers is not None:
            out.markers(text, timestamp)
