"""The assembled simulator: a source, the pipeline and its LSL outlets, ready to run.

``launch.py run`` and the benchmarks build a :class:`Simulator` from a
:class:`SimulatorConfig` and a source; tests do the same with a fake clock.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from devices.lsl_intent import LslIntent
from devices.lsl_outlet import LslOutlet, MarkerOutlet, find_collisions, linger
from devices.profiles import DEFAULT_PROFILE, Profile, load_profile
from realtime.app.device_outputs import DeviceOutputs
from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings, StatusReport
from realtime.body.gestures import GestureCommand, GestureSettings, GestureSynthesizer
from realtime.body.musculoskeletal.activation import activation_dynamics
from realtime.core.anatomy import GESTURES, MUSCLES
from realtime.core.checks import check_choice, check_name, check_number, check_type, ensure_int
from realtime.core.logs import logger
from realtime.core.priority import MemoryLock, Scheduling, apply_scheduling
from realtime.core.priority import lock_memory as lock_process_memory
from realtime.core.progress import SILENT, Progress
from realtime.core.schemas import (
    StreamSpec,
    activation_stream_spec,
    emg_stream_spec,
    gesture_stream_spec,
    imu_stream_spec,
    markers_stream_spec,
    provenance_stream_spec,
    spikes_stream_spec,
    status_stream_spec,
    stream_name,
)
from realtime.stages.artefacts import ArtefactSettings, ArtefactStage
from realtime.stages.engine import EmgEngine, EngineSettings, compile_kernels, get_layout
from realtime.stages.faults import Fault, FaultStage
from realtime.stages.gesture_mix import MIX_RULES, GestureMix
from realtime.stages.guard import GuardSettings
from realtime.stages.model.stage import ModelActivationStage
from realtime.stages.teacher import TeacherActivation

if TYPE_CHECKING:
    from realtime.core.contract import Source, Stage
    from realtime.stages.engine import Layout

ACTIVATIONS: tuple[str, ...] = ("model", "teacher")
"""What drives the engine: the activation network, or the synthetic arm's ground truth."""


def _compile_live_kernels() -> None:
    """Compile (or load from numba's cache) the kernels the first live tick would otherwise compile.

    The engine's block kernel, and the synthetic arm's activation dynamics: the
    warm-up runs on a still arm, which does not use them, so without this they
    compile on the first real tick, after "publishing", as a burst of late ticks.
    """
    compile_kernels()
    activation_dynamics(np.zeros((1, 1)), 1000.0)


@dataclass(frozen=True)
class SimulatorConfig:
    """Settings of a simulator run.

    Parameters
    ----------
    prefix : str
        Prefix of every stream name (``<prefix>-EMG`` ...).
    layout : str
        Electrode layout name (see ``realtime.stages.engine.LAYOUTS``).
    fs : float
        EMG rate in Hz.
    block_size : int
        EMG samples per tick.
    duration : float | None
        Seconds to run; ``None`` until stopped.
    seed : int
        Seed of the motor-unit pools and MUAPs.
    activation : str
        ``"model"`` or ``"teacher"`` (see ``ACTIVATIONS``).
    units_per_muscle : int | None
        Motor units in each muscle's pool; ``None``: each muscle's published
        count (:data:`realtime.stages.engine.muscles.MOTOR_UNITS`).
    muaps : str
        ``"static"`` (MUAPs of a neutral posture) or ``"dynamic"`` (posture-blended tables).
    artefacts : ArtefactSettings
        Noise and artefacts added after the engine (default: 1 µV RMS white noise only).
    faults : tuple of Fault
        Scripted faults (ids 1, 2, ... in this order), e.g. from
        :func:`realtime.stages.faults.load_faults`.
    priority : {"normal", "auto", "realtime"}
        Scheduling of the runner thread (:class:`PipelineSettings`,
        :mod:`realtime.core.priority`); ``launch.py run`` uses ``"auto"``.
    guard : GuardSettings
        Rules of the source boundary (plausible IMU ranges and timestamps,
        :mod:`realtime.stages.guard`).
    linger_s : float
        Seconds the outlets stay open after the stop marker while consumers are
        connected, so that they pull the last samples (:func:`devices.lsl_outlet.linger`).
    profile : str | Profile
        Device profile: a built-in name, a TOML file or a loaded
        :class:`devices.profiles.Profile` (``devices/profiles``, ``docs/profiles.md``).
        A device profile needs ``fs`` = its ``engine_fs``.
    device_clock : bool
        Give a device profile's streams its clock drift, delivery jitter and bursts
        (true sample times on ``<prefix>-provenance``).
    gestures : tuple of GestureCommand | None
        The gesture layer (docs/gestures.md): ``None`` leaves it out; a tuple (empty: live intent
        only) scripts gestures (``realtime.body.gestures.load_gestures``), listens to
        ``<prefix>-intent`` and publishes ``<prefix>-gesture``.
    gesture_mix : {"sum", "max"}
        How gesture and IMU-driven activations combine (``realtime.stages.gesture_mix``).
    """

    prefix: str = "myostream"
    layout: str = "armband8"
    fs: float = 2000.0
    block_size: int = 4
    duration: float | None = None
    seed: int = 0
    activation: str = "model"
    units_per_muscle: int | None = None
    muaps: str = "static"
    artefacts: ArtefactSettings = ArtefactSettings()
    faults: tuple[Fault, ...] = ()
    priority: str = "normal"
    guard: GuardSettings = GuardSettings()
    linger_s: float = 1.0
    profile: str | Profile = DEFAULT_PROFILE
    device_clock: bool = False
    gestures: tuple[GestureCommand, ...] | None = None
    gesture_mix: str = "sum"

    def __post_init__(self) -> None:
        check_type("guard", self.guard, GuardSettings, "a GuardSettings")
        check_number("linger_s", self.linger_s, 0.0, 60.0, "s")
        check_type("artefacts", self.artefacts, ArtefactSettings, "an ArtefactSettings")
        faults_rule = "a tuple of realtime.stages.faults.Fault (see load_faults)"
        check_type("faults", self.faults, tuple, faults_rule)
        for fault in self.faults:
            check_type("faults", fault, Fault, faults_rule)
        check_name("prefix", self.prefix)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("gesture_mix", self.gesture_mix, MIX_RULES)
        if self.gestures is not None:
            gestures_rule = "None or a tuple of realtime.body.gestures.GestureCommand (see load_gestures)"
            check_type("gestures", self.gestures, tuple, gestures_rule)
            for command in self.gestures:
                check_type("gestures", command, GestureCommand, gestures_rule)
        if self.units_per_muscle is not None:
            ensure_int("units_per_muscle", self.units_per_muscle, 1, 1000)
        # Rate, block size and duration are checked by PipelineSettings.
        PipelineSettings(
            fs=self.fs, block_size=self.block_size, duration=self.duration, priority=self.priority
        )
        device = load_profile(self.profile).emg
        if device is not None and self.fs != device.engine_fs:
            raise ValueError(
                f"Profile {load_profile(self.profile).name!r} runs the engine at {device.engine_fs:g} Hz "
                f"(its engine_fs); fs={self.fs:g} is invalid."
            )


def layout_emg_spec(prefix: str, layout: Layout, fs: float) -> StreamSpec:
    """The ``<prefix>-EMG`` stream of ``layout`` (:func:`realtime.core.schemas.emg_stream_spec`)."""
    return emg_stream_spec(
        prefix, fs, layout.channels, np.asarray(layout.channel_locations, float) * 1000.0,
        layout=layout.name, montage=layout.kind, reference=layout.reference, differential=layout.differential,
        description=layout.model, grid=layout.grid,
    )


class Simulator:
    """A source, the activation stage, the engine and the LSL outlets, wired into a pipeline.

    Parameters
    ----------
    config : SimulatorConfig
        What to simulate and publish.
    source : Source
        The IMU source (not started).
    activation_stage : Stage | None
        The stage that maps IMU to activations. ``None`` builds the default for
        ``config.activation``.
    clock, sleep : callables | None
        Injected time (LSL clock and ``time.sleep`` by default).
    on_status : Callable[[StatusReport], None] | None
        Called once per second with the runner's status (e.g. to print it).
    """

    def __init__(
        self,
        config: SimulatorConfig,
        source: Source,
        activation_stage: Stage | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        on_status: Callable[[StatusReport], None] | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.layout = get_layout(config.layout)
        self.engine = EmgEngine(
            EngineSettings(
                layout=config.layout,
                fs=config.fs,
                seed=config.seed,
                units_per_muscle=config.units_per_muscle,
                muaps=config.muaps,
            )
        )
        if activation_stage is None:
            activation_stage = self._default_activation_stage()
        self.activation_stage = activation_stage

        prefix, source_fs = config.prefix, float(getattr(source, "fs", 0.0) or 0.0)
        self.profile = load_profile(config.profile)
        self.device: DeviceOutputs | None = None
        if self.profile.native:
            self.emg_outlet = LslOutlet(layout_emg_spec(prefix, self.layout, config.fs))
        else:
            self.device = DeviceOutputs(
                self.profile, prefix, self.engine.channels, np.asarray(self.layout.channel_locations, float) * 1000.0,
                self.layout.name, config.fs, config.device_clock, seed=config.seed,
                max_block=max(64, config.block_size),
            )
            self.emg_outlet = self.device.emg_outlet
        self.imu_outlet = LslOutlet(imu_stream_spec(prefix, source_fs))
        self.truth_outlet = LslOutlet(activation_stream_spec(prefix, MUSCLES, source_fs))
        model_fs = float(getattr(activation_stage, "fs", 0.0))
        self.model_outlet = (
            LslOutlet(activation_stream_spec(prefix, activation_stage.output_format.channels, model_fs, model=True))
            if config.activation == "model"
            else None
        )
        self.status_outlet = LslOutlet(status_stream_spec(prefix))
        self.marker_outlet = MarkerOutlet(markers_stream_spec(prefix))
        self.spike_outlet = LslOutlet(spikes_stream_spec(prefix, self.engine.settings.muscles, config.fs))
        device_clock = self.device is not None and config.device_clock
        self.provenance_outlet = LslOutlet(provenance_stream_spec(prefix, config.fs, config.block_size, device_clock))
        provenance = self.provenance_outlet.push_sample
        if device_clock:
            provenance = self.device.provenance(self.provenance_outlet.push_sample)
        self.artefact_stage = ArtefactStage(config.artefacts, config.fs, self.engine.channels)
        self.fault_stage = FaultStage(config.faults, config.fs, self.engine.channels, seed=config.seed)
        self._on_status = on_status
        self.io_scheduling: Scheduling | None = None
        """What the outlets' I/O threads got (set by :meth:`start`)."""
        self.memory_lock = MemoryLock(False, "not asked")
        """Whether :meth:`start` locked the process in RAM."""
        self.caller_scheduling: Scheduling | None = None
        """What the thread that called :meth:`start` got (``dedicated_process``)."""
        self.intent: LslIntent | None = None
        self.gestures: GestureSynthesizer | None = None
        self.gesture_outlet: LslOutlet | None = None
        drive: tuple[Stage, ...] = ()
        if config.gestures is not None:
            self.intent = LslIntent(stream_name(prefix, "intent"))
            self.gestures = GestureSynthesizer(config.fs, config.gestures, self.intent, self.engine.settings.muscles,
                                               GestureSettings(seed=config.seed))
            self.gesture_outlet = LslOutlet(gesture_stream_spec(prefix, GESTURES, config.fs))
            drive = (GestureMix(self.gestures, config.gesture_mix),)
        outputs = PipelineOutputs(
            emg=self.emg_outlet if self.device is None else self.device.emg_sink,
            imu=self.imu_outlet if self.device is None else self.device.imu_sink(self.imu_outlet),
            activation_truth=self.truth_outlet,
            activation_model=self.model_outlet,
            markers=self.marker_outlet,
            spikes=self.spike_outlet.push_rows,
            provenance=provenance,
            gesture=self.gesture_outlet,
        )
        kwargs = {} if sleep is None else {"sleep": sleep}
        self.pipeline = Pipeline(
            source,
            activation_stage,
            (self.engine, self.artefact_stage, self.fault_stage),
            outputs,
            PipelineSettings(
                fs=config.fs,
                block_size=config.block_size,
                duration=config.duration,
                priority=config.priority,
                guard=config.guard,
            ),
            clock=clock,
            status_callbacks=[self._publish_status],
            drive=drive,
            **kwargs,
        )

    def _default_activation_stage(self) -> Stage:
        if self.config.activation == "teacher":
            return TeacherActivation(MUSCLES)

        return ModelActivationStage(None)

    @property
    def outlets(self) -> list[LslOutlet | MarkerOutlet]:
        """Every outlet the simulator publishes."""
        outs = [self.emg_outlet, self.imu_outlet, self.truth_outlet, self.status_outlet, self.marker_outlet,
                self.spike_outlet, self.provenance_outlet]
        if self.device is not None and self.device.imu_outlet is not None:
            outs.append(self.device.imu_outlet)
        return outs + [o for o in (self.model_outlet, self.gesture_outlet) if o is not None]

    def _publish_status(self, report: StatusReport) -> None:
        latency_ms = float("nan")
        stats = self.pipeline.stats
        if stats.newest_imu_time is not None:
            # Age of the newest IMU sample when the newest EMG sample was computed.
            t_emg = stats.t0 + (stats.samples_sent - 1) / self.config.fs
            latency_ms = (t_emg - stats.newest_imu_time) * 1000.0
        values = [report.samples_sent, report.effective_rate, report.late_ticks, report.loop_load, latency_ms]
        self.status_outlet.push_sample(values, stats.t0 + report.elapsed)
        if self._on_status is not None:
            self._on_status(report)

    def inject_fault(
        self,
        kind: str,
        channels: str | tuple[str, ...] | list[str] | None = "all",
        duration: float | None = None,
        onset: float | None = None,
        **params: object,
    ) -> int:
        """Inject a fault while running (thread-safe); it starts at the next EMG block.

        Parameters
        ----------
        kind : str
            ``dropout``, ``liftoff``, ``clipping``, ``sample_loss``, ``gain`` or ``crosstalk``.
        channels : str | sequence of str | None
            EMG channel labels, or ``"all"``.
        duration : float | None
            Seconds; ``None`` until :meth:`end_fault` or the end of the run.
        onset : float | None
            Seconds after the run start; ``None`` = now.
        **params
            Parameters of the kind (see ``docs/faults.md``), e.g. ``factor=2.0``.

        Returns
        -------
        int
            The fault id, as announced on ``<prefix>-markers``.
        """
        return self.fault_stage.inject(kind, channels, duration, onset, **params)

    def end_fault(self, fault_id: int) -> None:
        """End a running fault at the next EMG block (or cancel one that has not started)."""
        self.fault_stage.end(fault_id)

    def start(
        self,
        wait_for_consumer: float = 0.0,
        freeze_gc: bool = False,
        progress: Progress = SILENT,
        dedicated_process: bool = False,
    ) -> None:
        """Warm the pipeline up, create the outlets, start the runner thread and wait until it runs.

        Tables are built and kernels compiled before the outlets appear, so a
        consumer that sees the streams gets data from the first tick on. When
        this returns the source is open and the clock has started; if the
        runner fails before that (e.g. a serial port that does not exist), its
        exception is raised here and the outlets are gone again.

        Parameters
        ----------
        wait_for_consumer : float
            Seconds to wait, after the outlets appear, for a consumer of the EMG
            stream before the clock starts (so a recorder gets sample 0). The
            run starts anyway when the time is up.
        freeze_gc : bool
            After the warm-up, collect and then freeze everything the process
            holds (``gc.freeze()``: torch, numba, tables) so the collector's
            passes in the runner thread walk only new objects and stay short.
            Process-wide: meant for a process that exists to run the simulator
            (``launch.py run`` sets it).
        progress : Progress
            Where the start-up phases (MUAP tables, kernels) are reported, one
            line each with its time (silent by default).
        dedicated_process : bool
            The process exists to run the simulator (``launch.py run``, the latency
            benchmark): ``freeze_gc``, lock the process in RAM (``mlockall``; result in
            :attr:`memory_lock`) and, once the runner runs, give the calling thread the
            runner's scheduling too (:attr:`caller_scheduling`; what it starts, such as a
            viewer, gets normal scheduling). That thread only waits, but a Python
            thread at normal priority that holds the GIL when a busy program preempts
            it stalls the real-time runner until it runs again (priority inversion).
            All of it follows ``config.priority`` (nothing with ``"normal"``).

        The outlets are created with the runner's scheduling (:meth:`Pipeline.scheduled_io`):
        liblsl's threads that send the data inherit it (what they got: :attr:`io_scheduling`).
        """
        engine, layout = self.engine, self.layout

        def tables() -> None:
            units = engine.pool.n_units
            with progress.phase(f"MUAP tables for {layout.name}, {units} motor units (the kernels compile alongside)") as phase:
                _ = engine.tables
                phase.outcome = "loaded from the cache" if engine.tables_source == "cache" else "built and cached"

        self.pipeline.warm_up(progress=progress, prepare=tables, background=_compile_live_kernels)
        if freeze_gc or dedicated_process:
            gc.collect()
            gc.freeze()
        if dedicated_process:
            self.memory_lock = lock_process_memory(self.config.priority)
        try:
            with self.pipeline.scheduled_io() as self.io_scheduling:
                for outlet in self.outlets:
                    outlet.start()
            if self.intent is not None:
                self.intent.start()
            if wait_for_consumer > 0:
                progress.say(f"waiting up to {wait_for_consumer:g} s for a consumer of {self.emg_outlet.spec.name}")
                if not self.emg_outlet.wait_for_consumers(wait_for_consumer):
                    logger.warning("%s: no consumer of %r after %s s; starting anyway.", type(self).__name__,
                                   self.emg_outlet.spec.name, wait_for_consumer)
            self.pipeline.start()
            self.pipeline.wait_started()
        except BaseException:
            self.stop()
            raise
        if dedicated_process:
            self.caller_scheduling = apply_scheduling(self.config.priority, who="simulator's main thread",
                                                      reset_on_fork=True)

    def collisions(self, timeout: float = 1.0) -> list[str]:
        """Streams already on the network with the name or ``source_id`` of one of ours (call before ``start``).

        See :func:`devices.lsl_outlet.find_collisions`; ``launch.py run`` refuses to
        start when this is not empty, unless ``--allow-duplicate-name``.
        """
        return find_collisions([outlet.spec for outlet in self.outlets], timeout)

    def stop(self) -> None:
        """Stop the runner, let connected consumers pull the last samples, destroy the outlets.

        After the last block and the stop marker the outlets stay open while a
        consumer is connected, at most ``config.linger_s`` seconds
        (:func:`devices.lsl_outlet.linger`); a runner exception is re-raised after that.
        """
        try:
            if self.pipeline.started:
                self.pipeline.stop()
        except BaseException as err:
            self._send_failure_marker(err)
            raise
        finally:
            if self.intent is not None and self.intent.running:
                self.intent.stop()
            self.pipeline.guard.flush_log()
            try:
                waited = linger(self.outlets, self.config.linger_s)
                if waited:
                    logger.debug("%s: outlets kept open %.2f s for their consumers", type(self).__name__, waited)
            finally:
                for outlet in self.outlets:
                    if outlet.running:
                        outlet.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a run with a duration to end (see :meth:`Pipeline.wait`); re-raise a runner exception
        after sending ``"myostream: stop (error: ...)"`` on the markers."""
        try:
            return self.pipeline.wait(timeout)
        except BaseException as err:
            self._send_failure_marker(err)
            raise

    def _send_failure_marker(self, err: BaseException) -> None:
        """End the markers of a failed run with ``"myostream: stop (error: <first line>)"`` (never raises).

        A failure after the streams appeared (a device with the wrong format, a
        stage raising) still closes the recording; the marker is stamped one
        period after the last EMG sample sent.
        """
        if not self.marker_outlet.running:
            return
        stats = self.pipeline.stats
        when = stats.t0 + stats.samples_sent / self.config.fs if stats.t0 else float(pylsl.local_clock())
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        logger.info("%s: myostream: stop (error: %s)", type(self).__name__, reason)
        try:
            self.marker_outlet(f"myostream: stop (error: {reason})", when)
        except Exception as marker_err:  # the original error matters more
            logger.debug("%s: failure marker not sent: %r", type(self).__name__, marker_err)

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

