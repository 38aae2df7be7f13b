"""``launch.py view``: the live viewer, in its own process.

The viewer's process helpers (starting it, its readiness line, its CPU
priority) are in :mod:`gui.process`.
"""

from __future__ import annotations

import signal

import click
from pyqtgraph.Qt import QtCore

from gui.process import READY_LINE, lower_priority
from gui.qt_platform import platform_problem
from gui.shutdown import SignalQuit
from gui.streams import NoStreamError, discover
from gui.viewer import Viewer, ViewerOptions, make_app


@click.command("view")
@click.option(
    "--stream",
    default=None,
    help="Name of the stream to draw as EMG (default: <prefix>-EMG, else any EMG stream).",
)
@click.option(
    "--prefix", default=None, help="Stream-name prefix of the simulator (default: myostream)."
)
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for the stream.",
)
@click.option(
    "--window",
    default=4.0,
    show_default=True,
    type=click.FloatRange(1.0, 10.0),
    help="Time window of the traces (s).",
)
@click.option(
    "--fps",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1.0, 120.0),
    help="Refresh rate (Hz).",
)
@click.option(
    "--screenshot",
    "screenshot",
    default=None,
    type=click.Path(dir_okay=False),
    help="Save a PNG of the window to PATH, then quit.",
)
@click.option(
    "--screenshot-after",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Seconds to run before --screenshot.",
)
@click.option(
    "--nice",
    default=10,
    show_default=True,
    type=click.IntRange(0, 19),
    help="Lower the viewer's CPU priority by this much so the producer keeps its timing (0: unchanged).",
)
def view(
    stream: str | None,
    prefix: str | None,
    timeout: float,
    window: float,
    fps: float,
    screenshot: str | None,
    screenshot_after: float,
    nice: int,
) -> None:
    """Live viewer: EMG traces, RMS map, activations, IMU and stream health from LSL."""
    if screenshot is not None and not screenshot.lower().endswith(".png"):
        raise click.BadParameter(
            f"must end in .png, {screenshot!r} is invalid.", param_hint="--screenshot"
        )
    problem = platform_problem()  # before Qt: without a usable platform Qt aborts (SIGABRT)
    if problem is not None:
        raise click.ClickException(problem)
    with SignalQuit() as stopper:
        try:
            _view(stopper, stream, prefix, timeout, window, fps, screenshot, screenshot_after, nice)
        except KeyboardInterrupt:  # Ctrl-C before the window existed
            if not stopper.received:
                stopper.received.append(signal.SIGINT)
    if stopper.interrupted:
        click.echo("viewer: stopped (Ctrl-C)")


def _view(
    stopper: SignalQuit,
    stream: str | None,
    prefix: str | None,
    timeout: float,
    window: float,
    fps: float,
    screenshot: str | None,
    screenshot_after: float,
    nice: int,
) -> None:
    # first: threads inherit the scheduling class and nice value of the thread that creates
    # them, so liblsl's threads (started by the first resolve) must not be created before
    lower_priority(nice)
    try:
        found = discover(prefix=prefix, stream=stream, timeout=timeout)
    except NoStreamError as err:
        raise click.ClickException(str(err)) from None
    app = make_app()
    stopper.attach(app)  # from here on Ctrl-C/SIGTERM quit the event loop
    try:
        win = Viewer(found, ViewerOptions(window_s=window, fps=fps))
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    win.show()
    # One line once the event loop runs with every inlet open: scripts (bench viewer) wait for it.
    QtCore.QTimer.singleShot(0, lambda: click.echo(f"{READY_LINE} {found.emg.name()}", nl=True))
    if screenshot is not None:

        def _shoot() -> None:
            path = win.screenshot(screenshot)
            click.echo(f"screenshot saved: {path}")
            app.quit()

        QtCore.QTimer.singleShot(int(screenshot_after * 1000), _shoot)
    app.exec()
    win.close()  # stops the timer and closes every inlet
