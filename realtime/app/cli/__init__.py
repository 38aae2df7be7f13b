"""Subcommands of the CLI. Each module defines one click command (or group)."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of every subcommand; modules are imported when the CLI starts,
# so they must import heavy packages (torch, Qt) inside the command function.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("realtime.app.cli.run", "run"),
    ("realtime.app.cli.bench", "bench"),
    ("realtime.app.cli.train", "train"),
    ("realtime.app.cli.evaluate", "evaluate"),
    ("realtime.app.cli.validate", "validate"),
    ("realtime.app.cli.view", "view"),
    ("realtime.app.cli.devices", "fake_imu"),
    ("realtime.app.cli.devices", "list_ports"),
    ("realtime.app.cli.devices", "list_streams"),
)


def register_commands(group: click.Group) -> None:
    """Add every known subcommand to ``group``."""
    for module_name, attr in _COMMANDS:
        module = importlib.import_module(module_name)
        group.add_command(getattr(module, attr))
