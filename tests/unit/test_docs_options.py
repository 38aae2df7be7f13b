"""The docs name only command-line options that exist (README.md and docs/*.md against the CLI)."""

from __future__ import annotations

import re

import click

from realtime.app.cli.main import cli
from realtime.core.launcher import PACKAGE_ROOT

EXTERNAL = {"--help", "--index-url", "--fqbn"}
"""Options of other programs the docs quote (pip, arduino-cli) and click's own --help."""


def _all_options() -> set[str]:
    found: set[str] = set()

    def walk(command: click.Command, ctx: click.Context) -> None:
        for param in command.params:
            found.update(param.opts)
            found.update(param.secondary_opts)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                walk(sub, click.Context(sub, parent=ctx, info_name=name))

    walk(cli, click.Context(cli))
    return found


def test_every_option_the_docs_name_exists() -> None:
    options = _all_options() | EXTERNAL
    files = [PACKAGE_ROOT / "README.md", *sorted((PACKAGE_ROOT / "docs").glob("*.md"))]
    unknown = [
        f"{path.name}:{number}: {option}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "examples/" not in line  # a line running an example script: the script's own options
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line)
        if option not in options
    ]
    assert not unknown, "options the CLI does not have:\n" + "\n".join(unknown)


def test_the_check_finds_a_stale_option() -> None:
    assert "--fs" in _all_options()
    assert "--sample-rate" not in _all_options()
