"""How any part of myostream starts the myostream command line in a new process.

The CLI lives in :mod:`realtime.app.cli` and runs as ``python -m realtime.app.cli``
(``python launch.py`` and the ``myostream`` script are the same). Code that
needs a command in its own process (the viewer beside ``run --view``, the
benchmarks' producers and workers) builds the command line here, and nowhere
else::

    subprocess.Popen(cli_command("view", "--prefix", prefix), env=cli_environment())
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

CLI_MODULE = "realtime.app.cli"
"""The module that ``python -m`` runs: the click group of every command."""

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder that holds the ``realtime``, ``devices`` and ``gui`` packages (the checkout, or site-packages)."""


def cli_command(*args: object) -> list[str]:
    """The argv of ``python -m realtime.app.cli ARGS...`` with this interpreter (arguments made strings)."""
    return [sys.executable, "-m", CLI_MODULE, *(str(a) for a in args)]


def cli_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for :func:`cli_command`: ``base`` (default ``os.environ``) with :data:`PACKAGE_ROOT`
    first on ``PYTHONPATH``, so the child finds the packages from a checkout that is not installed too."""
    env = dict(os.environ if base is None else base)
    paths = [str(PACKAGE_ROOT), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
