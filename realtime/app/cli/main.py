"""The ``myostream`` command group: every command by name, imported only when it runs.

``python -m realtime.app.cli``, ``python launch.py`` and the installed
``myostream`` script all run :func:`main`. The commands live in the modules of
this package (one role each) and are registered in :data:`COMMANDS`; see
:mod:`realtime.app.cli.lazy` for why ``--help`` imports none of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import pylsl

from realtime import __version__
from realtime.app.cli.lazy import LazyCommand, LazyGroup

COMMANDS: dict[str, LazyCommand] = {
    "run": LazyCommand("realtime.app.cli.run:run", "Run the simulator: IMU motion in, multichannel sEMG out on LSL."),
    "view": LazyCommand(
        "realtime.app.cli.view:view", "Live viewer: EMG traces, RMS map, activations, IMU and stream health from LSL."
    ),
    "fake-imu": LazyCommand(
        "realtime.app.cli.devices:fake_imu",
        "A virtual serial IMU streaming the synthetic arm (try the serial path without hardware).",
    ),
    "list-ports": LazyCommand(
        "realtime.app.cli.devices:list_ports",
        "List the serial ports (USB-serial adapters, Arduino boards, Bluetooth serial).",
    ),
    "list-streams": LazyCommand(
        "realtime.app.cli.devices:list_streams", "List the LSL streams visible on the network."
    ),
    "demo-outlet": LazyCommand(
        "realtime.app.cli.demo:demo_outlet",
        "A stand-alone test producer of the viewer's streams (EMG, activation, IMU, status).",
    ),
    "record": LazyCommand(
        "realtime.app.cli.record:record",
        "Record every myostream stream, and any other LSL stream named with --stream, to OUT (.xdf).",
    ),
    "train": LazyCommand(
        "realtime.app.cli.train:train", "Train the activation network and write a checkpoint."
    ),
    "evaluate": LazyCommand(
        "realtime.app.cli.evaluate:evaluate",
        "Per-output Pearson r, RMSE and lag of the network and of two baselines on held-out data.",
    ),
    "validate": LazyCommand(
        "realtime.app.cli.validate:validate",
        "Check discharge statistics, MUAPs, spectrum, amplitude and propagation against the literature.",
    ),
    "bench": LazyCommand(
        "realtime.app.cli.bench:bench", "Benchmarks (each writes a JSON file with --json PATH)."
    ),
}
"""Every command: name -> where it lives and its line in ``--help``."""


class OneLineError(click.ClickException):
    """A command-line error shown as one line, ``Error: <message>``, without click's usage lines.

    The message of a :class:`click.UsageError` already names the option
    (``Invalid value for '--fs': ...``); the usage synopsis and the "Try
    --help" hint click prints above it only push that line out of sight.
    """

    def __init__(self, error: click.ClickException) -> None:
        super().__init__(error.format_message())
        self.exit_code = error.exit_code

    def show(self, file: object = None) -> None:
        """Print the one line to stderr."""
        click.echo(f"Error: {self.format_message()}", err=True)


class CliGroup(LazyGroup):
    """The top-level group: lazy commands (:class:`LazyGroup`) and one-line errors (:class:`OneLineError`)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: object) -> click.Context:
        """As click's, with its errors (e.g. an unknown command) as one line."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.Exit:
            raise
        except click.ClickException as err:
            raise OneLineError(err) from None

    def invoke(self, ctx: click.Context) -> object:
        """As click's, with the errors of a command's options and arguments as one line."""
        try:
            return super().invoke(ctx)
        except click.ClickException as err:
            if isinstance(err, OneLineError):
                raise
            raise OneLineError(err) from None


@click.group(cls=CliGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="myostream")
def cli() -> None:
    """myostream: a real-time surface-EMG simulator on LabStreamingLayer."""
    _quiet_liblsl()


def _quiet_liblsl() -> None:
    """Silence liblsl's INFO lines on stderr unless the user has an LSL configuration of their own."""
    candidates = [Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg", Path("/etc/lsl_api/lsl_api.cfg")]
    if os.environ.get("LSLAPICFG") or any(p.exists() for p in candidates):
        return
    pylsl.set_config_content("[log]\nlevel = -2\n")


def main() -> None:
    """Entry point of the ``myostream`` console script, ``python -m realtime.app.cli`` and ``launch.py``."""
    cli()
