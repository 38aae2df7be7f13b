"""``launch.py run``: the simulator, publishing on LSL until Ctrl-C or ``--duration``."""

from __future__ import annotations

import math
import signal
import subprocess
import sys

import click

from devices.profiles import DEFAULT_PROFILE, ProfileError, builtin_profiles, load_profile
from gui.process import start_viewer_process
from realtime.app.physics import envelope_stage
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source, source_options
from realtime.app.status import STATUS_LEGEND, status_line
from realtime.body.gestures import load_gestures, schedule_end
from realtime.core.progress import Progress
from realtime.core.units import EMG_FS_MAX, EMG_FS_MIN, STANDARD_GRAVITY
from realtime.stages.artefacts import ArtefactSettings
from realtime.stages.engine import EngineSettings, get_layout
from realtime.stages.faults import FaultStage, load_faults
from realtime.stages.guard import GuardSettings
from realtime.stages.model.checkpoint import CheckpointError, load_checkpoint
from realtime.stages.model.outputs import check_activation_outputs, checkpoint_label
from realtime.stages.model.stage import ModelActivationStage


def option_error(err: Exception) -> click.UsageError:
    """A settings error as a usage error naming the command-line option, not the Python argument.

    ``The argument 'prefix' must ...`` (from a settings class) becomes
    ``The option '--name' must ...`` for the option of the current command that sets it.
    """
    text = str(err)
    for param in click.get_current_context().command.params:
        if param.opts and param.name:
            text = text.replace(f"The argument '{param.name}'", f"The option '{param.opts[0]}'")
    return click.UsageError(text)


def build_model_stage(model_path: str | None, engine: EngineSettings, quiet: bool = False) -> object:
    """The activation stage for ``--model`` (``None``: the shipped model), its outputs matched by name.

    A checkpoint of muscle activations drives the engine's muscles by name; one
    of channel envelopes goes through the physics inversion calibrated from this
    engine (:func:`realtime.app.physics.envelope_stage`). Raises
    ``click.ClickException`` with one line naming the checkpoint when it cannot
    drive the engine. Prints a one-line notice when dynamic MUAPs are asked
    for and the checkpoint has no posture head.
    """
    try:
        ckpt = load_checkpoint(model_path)
        if ckpt.output_kind == "activation":
            check_activation_outputs(ckpt, tuple(engine.muscles), model_path)
            stage = ModelActivationStage(ckpt)
        else:
            stage = envelope_stage(ModelActivationStage(ckpt), engine)
            if not quiet:
                click.echo(f"myostream: {checkpoint_label(ckpt, model_path)} predicts {ckpt.layout or engine.layout} "
                           "channel envelopes; they drive the engine's muscles through the envelope inversion "
                           "(docs/model.md).", err=True)
    except (CheckpointError, ValueError) as err:
        raise click.ClickException(f"{err}" if model_path is None or str(model_path) in str(err)
                                   else f"--model '{model_path}': {err}") from None
    if engine.muaps == "dynamic" and not stage.has_posture and not quiet:
        click.echo(f"myostream: notice: {checkpoint_label(ckpt, model_path)} has no posture head; dynamic MUAPs "
                   "stay at the neutral posture (as static MUAPs).", err=True)
    return stage


def _check_layout(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        get_layout(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    return value


def _check_duration(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value >= 0:
        raise click.BadParameter(f"must be >= 0 seconds (omit it to run until Ctrl-C); {value} is invalid.")
    return value


def _check_fs(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not EMG_FS_MIN <= value <= EMG_FS_MAX:
        raise click.BadParameter(
            f"must be a rate in Hz within [{EMG_FS_MIN:g}, {EMG_FS_MAX:g}] (usually 1000 or 2000); {value} is invalid."
        )
    return value


def _load_faults(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple:
    if value is None:
        return ()
    ctx.meta["faults_path"] = value  # for the errors found later, against the layout
    try:
        return load_faults(value)
    except (OSError, ValueError) as err:
        raise click.BadParameter(str(err)) from err


def _load_gestures(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple | None:
    if value is None:
        return None
    try:
        return load_gestures(value)
    except (OSError, ValueError) as err:
        raise click.BadParameter(str(err)) from err


def _load_profile(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        load_profile(value)
    except ProfileError as err:
        raise click.BadParameter(str(err)) from None
    return value


def _check_faults_fit(faults: tuple, path: str, layout: str, fs: float, seed: int) -> None:
    """Raise ``BadParameter`` naming ``--faults``, the file and the fault if a fault does not fit the layout."""
    try:
        FaultStage(faults, fs, get_layout(layout).channels, seed=seed)
    except ValueError as err:
        raise click.BadParameter(f"{path}: {err}", param_hint="'--faults'") from None


def _check_block(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value < 1:
        raise click.BadParameter(f"must be a positive number of samples; {value} is invalid.")
    return value


@click.command(epilog="\b\n" + STATUS_LEGEND)
@source_options
@click.option("--layout", default="armband8", show_default=True, callback=_check_layout,
              help="Electrode layout: a built-in name (armband8, armband16, muscle_pairs, grid64, grid64_sd, "
                   "grid64_dd, grid13x5, grid13x5_sd) or a .toml/.json layout file (docs/layouts.md).")
@click.option("--muaps", type=click.Choice(["static", "dynamic"]), default="static", show_default=True,
              help="MUAPs fixed at a neutral posture, or changing with the joint angles (posture-blended tables).")
@click.option("--fs", type=float, default=2000.0, show_default=True, callback=_check_fs,
              help=f"EMG sampling rate in Hz, {EMG_FS_MIN:g}-{EMG_FS_MAX:g} (usually 1000 or 2000).")
@click.option("--block", "block_size", type=int, default=4, show_default=True, callback=_check_block,
              help="EMG samples per tick (4 at 2 kHz = 2 ms).")
@click.option("--duration", type=float, default=None, callback=_check_duration,
              help="Seconds to run; omit to run until Ctrl-C.")
@click.option("--name", "prefix", default="myostream", show_default=True,
              help="Prefix of the LSL stream names (<prefix>-EMG, <prefix>-IMU, ...).")
@click.option("--activation", type=click.Choice(["model", "teacher"]), default="model", show_default=True,
              help="What drives the engine: the activation network (any source) or the synthetic arm's "
                   "physics ground truth (synthetic source only).")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint of the activation network [default: the shipped model]. Its outputs are matched "
                   "to the engine's muscles by name (docs/model.md).")
@click.option("--units", "units_per_muscle", type=click.IntRange(1, 1000), default=None,
              help="Motor units per muscle [default: each muscle's published count, e.g. biceps 774].")
@click.option("--wait-for-consumer", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds to wait for a consumer of the EMG stream (e.g. a recorder) before starting the clock.")
@click.option("--noise-uv", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="White amplifier/electrode noise, µV RMS per channel (0 = off).")
@click.option("--pink-uv", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="1/f noise, µV RMS per channel (0 = off).")
@click.option("--powerline", "powerline_hz", type=click.Choice(["0", "50", "60"]), default="0", show_default=True,
              help="Power-line interference at 50 or 60 Hz with harmonics (0 = off).")
@click.option("--powerline-uv", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="Peak amplitude of the power-line fundamental, µV.")
@click.option("--wander", "wander_uv", type=click.FloatRange(min=0), is_flag=False, flag_value=20.0, default=0.0,
              show_default=True, help="Baseline wander, µV RMS (alone: 20).")
@click.option("--motion-artefacts", "motion_uv", type=click.FloatRange(min=0), is_flag=False, flag_value=20.0,
              default=0.0, show_default=True,
              help="IMU-driven motion artefacts, µV per m/s² of 1-20 Hz acceleration (alone: 20).")
@click.option("--ecg", "ecg_uv", type=click.FloatRange(min=0), is_flag=False, flag_value=20.0, default=0.0,
              show_default=True, help="ECG crosstalk, R-wave µV (alone: 20).")
@click.option("--ecg-bpm", type=click.FloatRange(30, 200), default=70.0, show_default=True,
              help="Heart rate of the ECG crosstalk.")
@click.option("--faults", "faults", type=click.Path(dir_okay=False), default=None, callback=_load_faults,
              help="Fault script, JSON or TOML (docs/faults.md): dropout, liftoff, clipping, sample_loss, gain, "
                   "crosstalk at set times; announced on <prefix>-markers.")
@click.option("--gestures", "gestures", default=None, callback=_load_gestures, metavar="SPEC",
              help="Hand/wrist gestures on top of the arm (docs/gestures.md): a schedule file (onset duration "
                   "gesture effort per line), 'protocol[:reps=5,hold=5,rest=3,effort=50%,...]', or 'live' (intent "
                   "only). Listens to <prefix>-intent (the viewer's keys, any program) and publishes the truth on "
                   "<prefix>-gesture.")
@click.option("--gesture-mix", type=click.Choice(["sum", "max"]), default="sum", show_default=True,
              help="How gesture and IMU-driven activations combine per muscle: saturating sum or max.")
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True, callback=_load_profile,
              help=f"Device profile: publish EMG (and IMU) as that device's LSL app does ({', '.join(builtin_profiles())}) "
                   "or a profile .toml file (docs/profiles.md). A device profile sets the rate and default layout.")
@click.option("--device-clock", is_flag=True,
              help="With a device profile: its clock drift, delivery jitter and packet bursts in the timestamps "
                   "(true sample times on <prefix>-provenance).")
@click.option("--view", is_flag=True, help="Also open the live viewer (a separate process; closed when run stops).")
@click.option("--quiet", is_flag=True, help="Do not print the once-per-second status line.")
@click.option("--priority", type=click.Choice(["auto", "realtime", "normal"]), default="auto", show_default=True,
              help="Runner thread scheduling: real-time (SCHED_FIFO) when allowed (auto), required (realtime), "
                   "or never (normal). Real-time avoids late ticks when other programs (the viewer) run.")
@click.option("--imu-acc-range", "acc_range_g", type=click.FloatRange(0, 1000, min_open=True), default=16.0,
              show_default=True,
              help="Plausible accelerometer range, ± g per axis: samples beyond it are rejected and counted "
                   "(set it to the IMU's full scale).")
@click.option("--imu-gyro-range", "gyro_range_dps", type=click.FloatRange(0, 50000, min_open=True), default=2000.0,
              show_default=True,
              help="Plausible gyroscope range, ± °/s per axis: samples beyond it are rejected and counted "
                   "(set it to the IMU's full scale).")
@click.option("--linger", "linger_s", type=click.FloatRange(0, 60), default=1.0, show_default=True,
              help="Seconds the streams stay open after the stop marker while consumers are connected, so "
                   "they pull the last samples.")
@click.option("--allow-duplicate-name", is_flag=True,
              help="Publish even if streams with the same names (--name) are already on the network.")
def run(layout: str, muaps: str, fs: float, block_size: int, duration: float | None, prefix: str, activation: str,
        model_path: str | None, units_per_muscle: int | None, wait_for_consumer: float, noise_uv: float,
        pink_uv: float, powerline_hz: str,
        powerline_uv: float, wander_uv: float, motion_uv: float, ecg_uv: float, ecg_bpm: float, faults: tuple,
        gestures: tuple | None, gesture_mix: str, view: bool, quiet: bool, priority: str, profile: str,
        device_clock: bool, acc_range_g: float, gyro_range_dps: float, linger_s: float,
        allow_duplicate_name: bool, **source_kwargs: object) -> None:
    """Run the simulator: IMU motion in, multichannel sEMG out on LSL."""
    seed = int(source_kwargs.get("seed") or 0)
    device = load_profile(profile).emg
    if device is not None:  # the profile's engine rate and layout unless given
        ctx = click.get_current_context()
        if ctx.get_parameter_source("fs") == click.core.ParameterSource.DEFAULT:
            fs = device.engine_fs
        if ctx.get_parameter_source("layout") == click.core.ParameterSource.DEFAULT:
            layout = device.layout
        if view:
            raise click.UsageError(
                f"--view shows myostream's own <prefix>-EMG; --profile {profile} publishes {device.name!r} instead. "
                "Drop --view or --profile."
            )
    elif device_clock:
        raise click.UsageError(f"--device-clock needs a device profile (--profile); {profile!r} has an ideal clock.")
    try:
        artefacts = ArtefactSettings(noise_uv=noise_uv, pink_uv=pink_uv, powerline_hz=int(powerline_hz),
                                     powerline_uv=powerline_uv, wander_uv=wander_uv, motion_uv=motion_uv,
                                     ecg_uv=ecg_uv, ecg_bpm=ecg_bpm, seed=seed)
        config = SimulatorConfig(prefix=prefix, layout=layout, fs=fs, block_size=block_size, duration=duration,
                                 seed=seed, activation=activation, units_per_muscle=units_per_muscle, muaps=muaps,
                                 artefacts=artefacts, faults=faults, priority=priority, profile=profile,
                                 device_clock=device_clock, linger_s=linger_s,
                                 guard=GuardSettings(acc_limit=acc_range_g * STANDARD_GRAVITY,
                                                     gyro_limit=math.radians(gyro_range_dps)),
                                 gestures=gestures, gesture_mix=gesture_mix)
    except (TypeError, ValueError) as err:
        raise option_error(err) from None
    if faults:
        _check_faults_fit(faults, click.get_current_context().meta["faults_path"], layout, fs, seed)
    source = build_source(dict(source_kwargs))

    if activation == "teacher" and source_kwargs.get("source", "synthetic") != "synthetic":
        raise click.UsageError(
            "--activation teacher needs the synthetic source's ground truth; "
            f"with --source {source_kwargs.get('source')} use --activation model (the default)."
        )

    def print_status(report: object) -> None:
        if not quiet:
            click.echo(status_line(report, source, guard=sim.pipeline.guard.status_text()))

    progress = Progress(sys.stderr.write, sys.stderr.flush)
    stage = None
    if activation == "model":
        stage = build_model_stage(model_path, EngineSettings(layout=layout, fs=fs, seed=seed,
                                                             units_per_muscle=units_per_muscle, muaps=muaps), quiet)
    elif model_path is not None:
        raise click.UsageError("--model needs --activation model (the default); --activation teacher uses no network.")
    try:
        with progress.phase(f"setting up the {activation} activation stage and the motor-unit pools"):
            sim = Simulator(config, source, activation_stage=stage, on_status=print_status)
    except (TypeError, ValueError) as err:  # e.g. a fault naming a channel the layout does not have
        raise click.UsageError(str(err)) from err
    if not allow_duplicate_name:
        taken = sim.collisions(timeout=1.0)
        if taken:
            more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
            click.echo(f"myostream: error: streams named {prefix}-* are already on the network ({taken[0]}{more}); "
                       f"choose another --name, or --allow-duplicate-name to share it on purpose.", err=True)
            sys.exit(2)
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        sim.pipeline.request_stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    viewer = None
    try:
        sim.start(wait_for_consumer, freeze_gc=True, progress=progress, dedicated_process=True)
        spec = sim.emg_outlet.spec
        click.echo(
            f"myostream: publishing {spec.name} ({len(spec.channels)} ch, {sim.layout.name}, {spec.fs:g} Hz"
            f"{'' if device is None else f', profile {profile}'}) "
            f"from the {source_kwargs.get('source', 'synthetic')} source; Ctrl-C to stop."
        )
        if gestures is not None:
            scripted = f"{len(gestures)} scripted until {schedule_end(gestures):g} s" if gestures else "none scripted"
            click.echo(f"myostream: gestures ({scripted}); intent on {prefix}-intent, truth on {prefix}-gesture.")
        if view:
            viewer = start_viewer_process(prefix, timeout=30)
        while not sim.wait(timeout=0.2):
            pass
    except Exception as err:  # the runner's exception: one line and a non-zero exit
        click.echo(f"myostream: error: {err}", err=True)
        sys.exit(1)
    finally:
        signal.signal(signal.SIGINT, previous)
        if viewer is not None and viewer.poll() is None:  # close the viewer before its streams vanish
            viewer.terminate()  # a Ctrl-C in the terminal reached it too: it is closing already
            try:
                viewer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                viewer.kill()
                viewer.wait()
        sim.stop()
    stats = sim.pipeline.stats
    click.echo(
        f"myostream: stopped{' (Ctrl-C)' if interrupted else ''} after {stats.samples_sent} samples, "
        f"{stats.late_ticks} late ticks."
    )
