"""Subcommands of the CLI. Each module defines one click command (or group)."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of every subcommand; modules are imported when the CLI starts,
# so they must import heavy packages (torch, Qt) inside the command function.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("realtime.commands.run", "run"),
    ("realtime.commands.bench", "bench"),
    ("realtime.commands.train", "train"),
    ("realtime.commands.evaluate", "evaluate"),
    ("realtime.commands.validate", "validate"),
    ("gui.commands", "view"),
    ("devices.commands", "fake_imu"),
    ("devices.commands", "list_ports"),
    ("devices.commands", "list_streams"),
)


def register_commands(group: click.Group) -> None:
    """Add every known subcommand to ``group``."""
    for module_name, attr in _COMMANDS:
        module = importlib.import_module(module_name)
        group.add_command(getattr(module, attr))
