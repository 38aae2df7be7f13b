"""Finding a test's own LSL streams: resolve by (unique) name within a deadline, open an inlet."""

from __future__ import annotations

import pylsl

from tests.helpers.wait import wait_until


def resolve_stream(name: str, timeout: float = 60.0) -> pylsl.StreamInfo:
    """The stream named ``name``, resolved with short queries repeated until ``timeout`` seconds pass.

    Short repeated queries are robust to a lost reply (one long query is not). Raises
    ``AssertionError`` naming the stream when none answers in time.
    """
    found = wait_until(
        lambda: pylsl.resolve_byprop("name", name, 1, 0.5), timeout, 0.0, f"an LSL stream named {name!r}"
    )
    return found[0]


def open_inlet(name: str, timeout: float = 60.0, max_buflen: int = 60) -> pylsl.StreamInlet:
    """An open inlet on the stream named ``name`` (resolved as :func:`resolve_stream` does)."""
    inlet = pylsl.StreamInlet(resolve_stream(name, timeout), max_buflen=max_buflen)
    inlet.open_stream(timeout)
    return inlet
