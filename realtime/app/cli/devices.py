"""CLI commands of the device layer: ``fake-imu``, ``list-ports`` and ``list-streams``."""

from __future__ import annotations

import signal
import time

import click
import pylsl
from serial.tools import list_ports as serial_ports

from devices.fake_imu import FakeImu, FakeImuSettings
from devices.formats import FORMATS
from devices.formats.csv_text import parse_columns
from devices.threaded_source import DeviceError
from realtime.app.sources import build_source

_PAYLOADS = ("int16", "float32")


@click.command("fake-imu")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="Wire format to send (docs/serial-protocol.md).")
@click.option("--rate", type=float, default=100.0, show_default=True, help="Samples per second (50-1000).")
@click.option("--port", default=None,
              help="Write to this serial port instead of creating a virtual one (a pty).")
@click.option("--link", default=None,
              help="Also create a symlink at this path to the virtual port: a name that stays the same across "
                   "restarts (e.g. /tmp/myostream-imu).")
@click.option("--baud", type=int, default=None,
              help="Baud rate the rate is checked against (and of --port); default 921600 for binary, else 115200.")
@click.option("--garbage", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Probability per frame of injected junk bytes or a corrupted frame.")
@click.option("--payload", type=click.Choice(_PAYLOADS), default="int16", show_default=True,
              help="Binary payload: 6 x int16 (±8 g, ±1000 °/s) or 6 x float32.")
@click.option("--csv-columns", default="ax,ay,az,gx,gy,gz", show_default=True,
              help="Fields of each CSV line (ax ay az gx gy gz, seq, t in ms, _); the reader needs the same "
                   "--csv-columns.")
@click.option("--motion", default="random-reaches", show_default=True, help="Synthetic motion program.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Synthetic movement speed factor.")
@click.option("--amplitude", type=float, default=1.0, show_default=True, help="Synthetic joint excursion factor.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the motion and of the faults.")
@click.option("--duration", type=float, default=None, help="Seconds to stream; omit to stream until Ctrl-C.")
def fake_imu(fmt: str, rate: float, port: str | None, link: str | None, baud: int | None, garbage: float,
             payload: str, csv_columns: str, motion: str, speed: float, amplitude: float, seed: int,
             duration: float | None) -> None:
    """A virtual serial IMU streaming the synthetic arm (try the serial path without hardware).

    \b
    Terminal 1:  python launch.py fake-imu --format binary
    Terminal 2:  python launch.py run --source serial --port <printed port> --format binary
    """
    if baud is None:
        baud = 921600 if fmt == "binary" else 115200
    try:
        columns = parse_columns(csv_columns)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--csv-columns'") from err
    try:
        settings = FakeImuSettings(format=fmt, rate=rate, port=port, link=link, baud=baud, garbage=garbage,
                                   payload=payload, csv_columns=columns, seed=seed)
    except (TypeError, ValueError) as err:
        raise click.UsageError(str(err)) from err
    source = build_source({"source": "synthetic", "motion": motion, "imu_rate": rate, "speed": speed,
                           "amplitude": amplitude, "seed": seed})
    fake = FakeImu(settings, source=source)
    try:
        fake.start()
    except (DeviceError, ValueError, OSError) as err:
        raise click.ClickException(str(err)) from err
    reader = f"python launch.py run --source serial --port {fake.port} --format {fmt}"
    if fmt == "csv" and columns != parse_columns("ax,ay,az,gx,gy,gz"):
        reader += f" --csv-columns {','.join(columns)}"
    if rate != 100.0:
        reader += f" --imu-rate {rate:g}"
    if port is not None or baud != 115200:
        reader += f" --baud {baud}"
    click.echo(f"fake-imu: streaming {fmt} at {rate:g} Hz ({motion}) on {fake.port}")
    click.echo(f"fake-imu: connect with: {reader}")
    click.echo("fake-imu: Ctrl-C to stop.")
    stop = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    t0 = time.monotonic()
    next_report = t0 + 5.0
    try:
        while not stop and (duration is None or time.monotonic() - t0 < duration):
            time.sleep(0.05)
            if time.monotonic() >= next_report:
                next_report += 5.0
                click.echo(f"fake-imu: {fake.samples_sent} samples sent, {fake.frames_corrupted} corrupted, "
                           f"{fake.junk_bytes} junk bytes, {fake.bytes_dropped} bytes dropped (no reader)")
    finally:
        signal.signal(signal.SIGINT, previous)
        fake.stop()
    click.echo(f"fake-imu: stopped after {fake.samples_sent} samples.")


@click.command("list-ports")
def list_ports() -> None:
    """List the serial ports (USB-serial adapters, Arduino boards, Bluetooth serial)."""
    ports = sorted(serial_ports.comports(), key=lambda p: p.device)
    if not ports:
        click.echo("No serial ports found. Plug the IMU in, or run `python launch.py fake-imu` for a virtual one.")
        return
    for p in ports:
        extra = f"  [{p.hwid}]" if p.hwid and p.hwid != "n/a" else ""
        click.echo(f"{p.device}  {p.description}{extra}")


@click.command("list-streams")
@click.option("--timeout", type=click.FloatRange(0.1, 60.0), default=2.0, show_default=True,
              help="Seconds to listen for streams.")
def list_streams(timeout: float) -> None:
    """List the LSL streams visible on the network."""
    streams = pylsl.resolve_streams(timeout)
    if not streams:
        click.echo(f"No LSL streams found within {timeout:g} s.")
        return
    for s in sorted(streams, key=lambda s: (s.name(), s.hostname())):
        rate = f"{s.nominal_srate():g} Hz" if s.nominal_srate() > 0 else "irregular"
        click.echo(f"{s.name()}  type={s.type()}  channels={s.channel_count()}  {rate}  "
                   f"source_id={s.source_id() or '-'}  host={s.hostname()}")
