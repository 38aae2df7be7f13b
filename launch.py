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
from realtime.app.cli import register_commands  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="myostream")
def cli() -> None:
    """myostream: a real-time surface-EMG simulator on LabStreamingLayer."""
    _quiet_liblsl()


def _quiet_liblsl() -> None:
    """Silence liblsl's INFO lines on stderr unless the user has an LSL configuration of their own."""
    import os

    candidates = [Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg", Path("/etc/lsl_api/lsl_api.cfg")]
    if os.environ.get("LSLAPICFG") or any(p.exists() for p in candidates):
        return
    import pylsl

    pylsl.set_config_content("[log]\nlevel = -2\n")


register_commands(cli)


def main() -> None:
    """Entry point of the ``myostream`` console script."""
    cli()


if __name__ == "__main__":
    main()
