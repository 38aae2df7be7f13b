"""myostream command-line interface.

Run ``python launch.py --help`` (or the installed ``myostream --help``) for the
list of subcommands. Each subcommand lives next to the code it drives and is
only imported here, so Qt and torch load only when a command needs them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

# Allow `python launch.py ...` from a checkout without installation.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime import __version__  # noqa: E402
from realtime.commands import register_commands  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="myostream")
def cli() -> None:
    """myostream: a real-time surface-EMG simulator on LabStreamingLayer."""


register_commands(cli)


def main() -> None:
    """Entry point of the ``myostream`` console script."""
    cli()


if __name__ == "__main__":
    main()
