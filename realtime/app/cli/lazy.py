"""A click group whose commands are imported only when they run (click's documented ``LazyGroup``).

Each command is registered by name with the module that defines it and a
one-line help. ``--help`` lists the names and the one-line helps without
importing any command module, so it stays fast although the command modules
import what they need (numpy, numba, torch, Qt ...) at module level. Running
a command (or its ``--help``) imports its module.
"""

from __future__ import annotations

import importlib
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and what ``--help`` says about it before it is imported.

    Parameters
    ----------
    target : str
        ``"package.module:attribute"`` of the click command (or group).
    short_help : str
        The line shown in the group's command list.
    hidden : bool
        Leave it out of the command list (internal commands, e.g. benchmark workers).
    """

    target: str
    short_help: str
    hidden: bool = False


class LazyGroup(click.Group):
    """A :class:`click.Group` with commands imported on first use (see the module docstring).

    Parameters
    ----------
    lazy_commands : Mapping[str, LazyCommand]
        Command name -> where it lives.
    **kwargs
        As for :class:`click.Group`.
    """

    def __init__(self, *args: object, lazy_commands: Mapping[str, LazyCommand] | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted (the lazy ones without importing them)."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module if it is a lazy one."""
        entry = self.lazy_commands.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = entry.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.target} is not a click command: the CLI registry is wrong.")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the registry (no command module is imported)."""
        listed: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            entry = self.lazy_commands.get(name)
            if entry is not None:
                if not entry.hidden:
                    listed.append((name, entry.short_help))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                listed.append((name, command.get_short_help_str(1000)))
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)  # as click does
            with formatter.section("Commands"):
                formatter.write_dl([(name, _shorten(text, limit)) for name, text in listed])


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with "..." when cut (as click does)."""
    if len(text) <= limit:
        return text
    return textwrap.shorten(text, max(limit, 3), placeholder="...", break_on_hyphens=False)
