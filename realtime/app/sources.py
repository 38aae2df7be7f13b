"""Build the IMU source that ``launch.py run`` (and the benchmarks) read from, from command-line options.

``@source_options`` adds the options to a click command; ``build_source(kwargs)``
validates them and returns a ``realtime.core.contract.Source``:

==============  ==============================================  ============================================
``--source``    required options                                source
==============  ==============================================  ============================================
``synthetic``   (``--motion``, ``--imu-rate``, ``--seed`` ...)  ``realtime.body.synthetic.SyntheticArm``
``serial``      ``--port`` (``--baud``, ``--format`` ...)        ``devices.serial_imu.SerialImu``
``lsl``         ``--stream-name`` and/or ``--stream-type``      ``devices.lsl_imu.LslImu``
``replay``      ``--file`` (``--replay-speed``, ``--loop``)     ``devices.replay.ReplaySource``
==============  ==============================================  ============================================

Bad values raise ``click.BadParameter`` naming the option and what is allowed;
missing or contradictory options raise ``click.UsageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pylsl

from devices.channel_map import parse_channel_spec
from devices.formats import FORMATS, max_rate_hz
from devices.formats.csv_text import (
    ACC_SCALES,
    DELIMITERS,
    GYRO_SCALES,
    TIME_SCALES,
    CsvSettings,
    parse_columns,
    parse_scale,
)
from devices.lsl_imu import LslImu, LslSettings, resolve_stream
from devices.replay import ReplaySettings, ReplaySource
from devices.serial_imu import STANDARD_BAUDS, SerialImu, SerialSettings
from devices.threaded_source import DeviceError
from realtime.body.synthetic import MOTIONS, SyntheticArm, SyntheticSettings
from realtime.core.logs import logger

if TYPE_CHECKING:
    from realtime.core.contract import Source

SOURCES: tuple[str, ...] = ("synthetic", "serial", "lsl", "replay")
"""Values of ``--source``."""

SOURCE_DEFAULTS: dict[str, Any] = {
    "source": "synthetic",
    "motion": "random-reaches",
    "imu_rate": 100.0,
    "seed": 0,
    "speed": 1.0,
    "amplitude": 1.0,
    "port": None,
    "baud": 115200,
    "serial_format": "csv",
    "csv_columns": "ax,ay,az,gx,gy,gz",
    "csv_delimiter": "auto",
    "csv_acc_scale": "1",
    "csv_gyro_scale": "1",
    "csv_time_scale": "ms",
    "no_frame_timeout": 5.0,
    "stream_name": None,
    "stream_type": None,
    "imu_channels": "auto",
    "resolve_timeout": 5.0,
    "file": None,
    "replay_speed": 1.0,
    "loop": False,
}
"""Every key ``build_source`` reads, with the default the options give it."""

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: list[Callable[[F], F]] = [
    click.option("--source", type=click.Choice(SOURCES), default=SOURCE_DEFAULTS["source"], show_default=True,
                 help="Where the IMU motion comes from."),
    click.option("--motion", default=SOURCE_DEFAULTS["motion"], show_default=True,
                 help="Synthetic motion program (rest, elbow-curls, elbow-curls-loaded, wrist-flexion, pronation, "
                      "grasp-lift, random-reaches)."),
    click.option("--imu-rate", type=float, default=SOURCE_DEFAULTS["imu_rate"], show_default=True,
                 help="IMU rate in Hz: the synthetic arm's rate; the rate a serial device is expected to send; "
                      "the rate of a replayed CSV file without a time column."),
    click.option("--seed", type=int, default=SOURCE_DEFAULTS["seed"], show_default=True,
                 help="Seed of the synthetic motion (and of the simulator)."),
    click.option("--speed", type=float, default=SOURCE_DEFAULTS["speed"], show_default=True,
                 help="Synthetic movement speed factor (2 = twice as fast), in (0, 10]."),
    click.option("--amplitude", type=float, default=SOURCE_DEFAULTS["amplitude"], show_default=True,
                 help="Synthetic joint excursion factor, in [0, 1.5]."),
    click.option("--port", default=None, help="Serial port of the IMU (/dev/ttyUSB0, COM3, a fake-imu pty)."),
    click.option("--baud", type=int, default=SOURCE_DEFAULTS["baud"], show_default=True,
                 help="Serial baud rate (the reference firmware: 921600 for binary, 115200 for csv)."),
    click.option("--format", "serial_format", type=click.Choice(FORMATS), default=SOURCE_DEFAULTS["serial_format"],
                 show_default=True, help="What the serial device sends (docs/serial-protocol.md)."),
    click.option("--csv-columns", default=SOURCE_DEFAULTS["csv_columns"], show_default=True,
                 help="Role of each CSV field by position: ax ay az gx gy gz, t (device time), seq (sample "
                      "counter), _ (ignored); e.g. 't,ax,ay,az,gx,gy,gz'."),
    click.option("--csv-delimiter", default=SOURCE_DEFAULTS["csv_delimiter"], show_default=True,
                 help="CSV field separator: auto, comma, tab, space or semicolon."),
    click.option("--csv-acc-scale", default=SOURCE_DEFAULTS["csv_acc_scale"], show_default=True,
                 help="Multiplier from CSV (and replayed CSV) accelerometer values to m/s²: a number, or g, mg, "
                      "mpu6050-2g ... mpu6050-16g (raw counts)."),
    click.option("--csv-gyro-scale", default=SOURCE_DEFAULTS["csv_gyro_scale"], show_default=True,
                 help="Multiplier from CSV gyroscope values to rad/s: a number, or deg/s, mpu6050-250dps ... "
                      "mpu6050-2000dps (raw counts)."),
    click.option("--csv-time-scale", default=SOURCE_DEFAULTS["csv_time_scale"], show_default=True,
                 help="Unit of the CSV time column: s, ms, us or seconds per unit."),
    click.option("--no-frame-timeout", type=float, default=SOURCE_DEFAULTS["no_frame_timeout"], show_default=True,
                 help="Seconds after opening the serial port within which a valid frame must arrive."),
    click.option("--stream-name", default=None, help="LSL stream to read (--source lsl), or XDF stream to replay."),
    click.option("--stream-type", default=None, help="LSL stream type to read (e.g. IMU), or XDF stream type."),
    click.option("--imu-channels", default=SOURCE_DEFAULTS["imu_channels"], show_default=True,
                 help="The 6 channels (labels or 0-based indices, acc_x..gyr_z order) of an LSL stream or "
                      "replayed file; auto matches labels."),
    click.option("--resolve-timeout", type=float, default=SOURCE_DEFAULTS["resolve_timeout"], show_default=True,
                 help="Seconds to look for the LSL stream."),
    click.option("--file", type=click.Path(dir_okay=False), default=None,
                 help="Recording to replay (--source replay): CSV with a header row, or XDF."),
    click.option("--replay-speed", type=float, default=SOURCE_DEFAULTS["replay_speed"], show_default=True,
                 help="Replay speed factor (2 = twice real time)."),
    click.option("--loop/--no-loop", default=SOURCE_DEFAULTS["loop"], show_default=True,
                 help="Replay the file again and again."),
]


def source_options(command: F) -> F:
    """Decorator adding the IMU-source options (``--source`` ... ``--loop``) to a click command.

    The command receives them as keyword arguments (keys of ``SOURCE_DEFAULTS``)
    and passes them to :func:`build_source`.
    """
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def _bad(option: str, message: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint=f"'{option}'")


def build_source(options: Mapping[str, Any], clock: Callable[[], float] | None = None) -> Source:
    """Validate the source options and build the source (not started).

    Parameters
    ----------
    options : Mapping[str, Any]
        The command's keyword arguments; other keys are ignored, missing keys
        take the values of ``SOURCE_DEFAULTS``.
    clock : Callable[[], float] | None
        The LSL clock (``pylsl.local_clock`` if None), or a test clock.

    Returns
    -------
    source : Source
        ``SyntheticArm``, ``SerialImu``, ``LslImu`` or ``ReplaySource``.

    Raises
    ------
    click.BadParameter
        An option has a bad value (the message names it and what is allowed).
    click.UsageError
        A required option is missing, or an option belongs to another source.
    """
    if clock is None:
        clock = pylsl.local_clock
    opts = {**SOURCE_DEFAULTS, **{k: v for k, v in options.items() if k in SOURCE_DEFAULTS}}
    kind = opts["source"]
    if kind not in SOURCES:
        raise _bad("--source", f"must be one of {', '.join(SOURCES)}; {kind!r} is invalid.")
    owners = {"port": ("serial", "--port"), "stream_name": ("lsl", "--stream-name"),
              "stream_type": ("lsl", "--stream-type"), "file": ("replay", "--file")}
    for key, (owner, flag) in owners.items():
        allowed = (owner, "replay") if owner == "lsl" else (owner,)
        if opts[key] is not None and kind not in allowed:
            raise click.UsageError(f"{flag} is only used with --source {owner}, but --source is {kind}. "
                                   f"Add --source {owner} (or drop {flag}).")
    imu_rate = opts["imu_rate"]
    if not (isinstance(imu_rate, (int, float)) and imu_rate > 0):
        raise _bad("--imu-rate", f"must be a positive rate in Hz; {imu_rate!r} is invalid.")
    builder = {"synthetic": _synthetic, "serial": _serial, "lsl": _lsl, "replay": _replay}[kind]
    source = builder(opts, clock)
    logger.info("build_source: %s source, nominal rate %s Hz", kind, getattr(source, "fs", "?"))
    return source


def _synthetic(opts: dict[str, Any], clock: Callable[[], float]) -> Source:
    if opts["motion"] not in MOTIONS:
        raise _bad("--motion", f"must be one of {', '.join(MOTIONS)}; {opts['motion']!r} is invalid.")
    checks = (("imu_rate", "--imu-rate", 50.0, 1000.0, "Hz"), ("speed", "--speed", 0.0, 10.0, ""),
              ("amplitude", "--amplitude", 0.0, 1.5, ""))
    for key, flag, lo, hi, unit in checks:
        value = opts[key]
        ok = lo < value <= hi if key == "speed" else lo <= value <= hi
        if not ok:
            bracket = "(" if key == "speed" else "["
            raise _bad(flag, f"must be within {bracket}{lo:g}, {hi:g}]{' ' + unit if unit else ''} for the synthetic "
                             f"arm; {value!r} is invalid.")
    if not (isinstance(opts["seed"], int) and opts["seed"] >= 0):
        raise _bad("--seed", f"must be a non-negative integer; {opts['seed']!r} is invalid.")
    try:
        settings = SyntheticSettings(motion=opts["motion"], fs=float(opts["imu_rate"]), speed=float(opts["speed"]),
                                     amplitude=float(opts["amplitude"]), seed=int(opts["seed"]))
    except ValueError as err:
        raise click.UsageError(f"synthetic source: {err}") from err
    return SyntheticArm(settings, clock=clock)


def csv_settings_from_options(opts: Mapping[str, Any]) -> Any:
    """Build a ``CsvSettings`` from the ``--csv-*`` options (``click.BadParameter`` on a bad value)."""
    opts = {**SOURCE_DEFAULTS, **opts}
    try:
        columns = parse_columns(opts["csv_columns"])
    except ValueError as err:
        raise _bad("--csv-columns", str(err)) from err
    delimiter = opts["csv_delimiter"]
    if delimiter not in DELIMITERS:
        raise _bad("--csv-delimiter", f"must be one of auto, comma, tab, space, semicolon; {delimiter!r} is invalid.")
    scales = {}
    for key, flag, table in (("csv_acc_scale", "--csv-acc-scale", ACC_SCALES),
                             ("csv_gyro_scale", "--csv-gyro-scale", GYRO_SCALES),
                             ("csv_time_scale", "--csv-time-scale", TIME_SCALES)):
        try:
            scales[key] = parse_scale(opts[key], table, flag)
        except ValueError as err:
            raise _bad(flag, f"must be a positive number or one of {', '.join(table)}; {opts[key]!r} is invalid.") \
                from err
    return CsvSettings(columns=columns, delimiter=delimiter, acc_scale=scales["csv_acc_scale"],
                       gyro_scale=scales["csv_gyro_scale"], time_scale=scales["csv_time_scale"])


def _serial(opts: dict[str, Any], clock: Callable[[], float]) -> Source:
    if not opts["port"]:
        raise click.UsageError(
            "--source serial needs --port (e.g. --port /dev/ttyUSB0; `python launch.py list-ports` lists the "
            "ports, `python launch.py fake-imu` makes a virtual one)."
        )
    baud = opts["baud"]
    if not (isinstance(baud, int) and baud > 0):
        raise _bad("--baud", f"must be a positive integer (usually one of {', '.join(map(str, STANDARD_BAUDS))}); "
                             f"{baud!r} is invalid.")
    if not 1.0 <= opts["imu_rate"] <= 10_000.0:
        raise _bad("--imu-rate", f"must be within [1, 10000] Hz for a serial device; {opts['imu_rate']!r} is invalid.")
    timeout = opts["no_frame_timeout"]
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise _bad("--no-frame-timeout", f"must be a positive number of seconds; {timeout!r} is invalid.")
    fmt = opts["serial_format"]
    if fmt not in FORMATS:
        raise _bad("--format", f"must be one of {', '.join(FORMATS)}; {fmt!r} is invalid.")
    csv = csv_settings_from_options(opts)
    capacity = max_rate_hz(fmt, baud)
    if opts["imu_rate"] > capacity:
        click.echo(
            f"myostream: warning: {fmt} at --imu-rate {opts['imu_rate']:g} needs more than --baud {baud} carries "
            f"(about {capacity:.0f} samples/s); a real UART will deliver fewer samples.", err=True,
        )
    settings = SerialSettings(port=opts["port"], baud=baud, format=fmt, fs=float(opts["imu_rate"]), csv=csv,
                              no_frame_timeout_s=float(timeout))
    return SerialImu(settings, clock=clock)


def _channels(opts: Mapping[str, Any]) -> tuple[str, ...] | None:
    try:
        return parse_channel_spec(opts["imu_channels"])
    except ValueError as err:
        raise _bad("--imu-channels", str(err)) from err


def _lsl(opts: dict[str, Any], clock: Callable[[], float]) -> Source:
    if not opts["stream_name"] and not opts["stream_type"]:
        raise click.UsageError(
            "--source lsl needs --stream-name NAME and/or --stream-type TYPE "
            "(`python launch.py list-streams` shows the streams on the network)."
        )
    timeout = opts["resolve_timeout"]
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise _bad("--resolve-timeout", f"must be a positive number of seconds; {timeout!r} is invalid.")
    try:
        settings = LslSettings(name=opts["stream_name"], type=opts["stream_type"], channels=_channels(opts),
                               resolve_timeout_s=float(timeout))
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    try:
        info = resolve_stream(settings)
    except DeviceError as err:
        raise click.UsageError(str(err)) from err
    return LslImu(settings, clock=clock, info=info)


def _replay(opts: dict[str, Any], clock: Callable[[], float]) -> Source:
    if not opts["file"]:
        raise click.UsageError("--source replay needs --file PATH (a CSV with a header row, or an XDF recording).")
    path = Path(str(opts["file"]))
    if not path.is_file():
        why = "is a folder" if path.is_dir() else "does not exist"
        raise _bad("--file", f"{str(path)!r} {why}; give a CSV with a header row, or an XDF recording.")
    speed = opts["replay_speed"]
    if not (isinstance(speed, (int, float)) and 0 < speed <= 100):
        raise _bad("--replay-speed", f"must be a factor in (0, 100]; {speed!r} is invalid.")
    try:
        acc = parse_scale(opts["csv_acc_scale"], ACC_SCALES, "--csv-acc-scale")
        gyro = parse_scale(opts["csv_gyro_scale"], GYRO_SCALES, "--csv-gyro-scale")
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    try:
        settings = ReplaySettings(path=str(opts["file"]), speed=float(speed), loop=bool(opts["loop"]),
                                  fs=float(opts["imu_rate"]), stream_name=opts["stream_name"],
                                  stream_type=opts["stream_type"], channels=_channels(opts), acc_scale=acc,
                                  gyro_scale=gyro)
        return ReplaySource(settings, clock=clock)
    except ValueError as err:  # the file's content (columns, rates, streams): name the option and the file
        raise _bad("--file", f"{path}: {err}") from err


def source_status_line(source: object) -> str | None:
    """The source's one-line health summary, or ``None`` for sources without one (the synthetic arm)."""
    line = getattr(source, "status_line", None)
    return line() if line is not None else None
