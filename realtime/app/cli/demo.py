"""``launch.py demo-outlet``: a stand-alone test producer for the viewer (no simulator needed)."""

from __future__ import annotations

import math

import click

from realtime.app.demo_outlet import LAYOUTS, run


@click.command("demo-outlet")
@click.option("--name", "prefix", default="myostream", show_default=True, help="Stream-name prefix.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="grid64", show_default=True,
              help="Electrodes: armband8, grid64, or none (a bare EMG stream without metadata).")
@click.option("--channels", type=click.IntRange(min=1), default=8, show_default=True,
              help="Channel count for --layout none.")
@click.option("--fs", type=click.FloatRange(min=1.0, min_open=False), default=2000.0, show_default=True,
              help="EMG rate in Hz.")
@click.option("--duration", type=click.FloatRange(min=0.0), default=math.inf,
              help="Seconds to publish  [default: until Ctrl-C].")
@click.option("--no-companions", is_flag=True, help="Publish the EMG stream only.")
def demo_outlet(prefix: str, layout: str, channels: int, fs: float, duration: float, no_companions: bool) -> None:
    """A stand-alone test producer of the viewer's streams (EMG, activation, IMU, status).

    The EMG is noise whose amplitude follows a slow activation and peaks around
    a moving spot on the electrodes: a test signal for the viewer, not a model.
    """
    try:
        run(prefix, layout, fs, duration, n_channels=channels, companions=not no_companions)
    except KeyboardInterrupt:
        pass
