"""Shared test fixtures: LSL confined to this machine, unique stream names, a fake clock."""

from __future__ import annotations

import os
import uuid

import pylsl
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Keep LSL traffic on this machine and liblsl quiet; must run before any other LSL call.
pylsl.set_config_content(
    "[ports]\nIPv6 = disable\n[multicast]\nResolveScope = machine\n[log]\nlevel = -3\n"
)


@pytest.fixture
def lsl_prefix(request: pytest.FixtureRequest) -> str:
    """A stream-name prefix unique to this test (stream names and source_ids derive from it)."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    return f"T_{name}_{uuid.uuid4().hex[:8]}"


class FakeClock:
    """A clock that only moves when something sleeps or advances it.

    ``sleep(dt)`` advances time by ``dt`` immediately, so a runner paced by this
    clock runs as fast as the CPU allows while seeing exact, repeatable times.
    """

    def __init__(self, t: float = 1000.0) -> None:
        self.t = float(t)
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        """Advance by ``dt`` seconds (ignores non-positive values)."""
        if dt > 0:
            self.t += dt
            self.slept += dt

    def advance(self, dt: float) -> None:
        """Advance by ``dt`` seconds without counting it as sleep (time spent working)."""
        self.t += dt


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh :class:`FakeClock` starting at t = 1000 s."""
    return FakeClock()
