"""The unit tier stays in-process: opening an LSL stream, a pty or a subprocess here fails the test.

A test that needs one of them belongs in ``tests/integration/``.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from typing import Any

import pylsl
import pytest

# (owner, attribute, what it opens). Classes are patched at ``__init__``, so every way of reaching them
# (``pylsl.StreamOutlet``, ``from pylsl import StreamOutlet``) is covered.
_FORBIDDEN: tuple[tuple[Any, str, str], ...] = (
    (pylsl.StreamOutlet, "__init__", "an LSL outlet"),
    (pylsl.StreamInlet, "__init__", "an LSL inlet"),
    (pylsl.ContinuousResolver, "__init__", "an LSL resolver"),
    (pylsl, "resolve_streams", "an LSL network query"),
    (pylsl, "resolve_byprop", "an LSL network query"),
    (pylsl, "resolve_bypred", "an LSL network query"),
    (subprocess.Popen, "__init__", "a subprocess"),
    (os, "openpty", "a pty"),
)

# The standard library runs `uname -p` once for platform.processor() (benchmark metadata) and caches it.
platform.processor()


def _refuse(what: str) -> Callable[..., None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"A unit test opened {what}; unit tests stay in-process. Move it to tests/integration/.")

    return refuse


@pytest.fixture(autouse=True)
def _in_process_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way out of the process raise for the duration of a unit test."""
    for owner, name, what in _FORBIDDEN:
        monkeypatch.setattr(owner, name, _refuse(what))
