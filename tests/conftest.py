"""Shared test fixtures: LSL confined to this machine, unique stream names, a fake clock."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pylsl
import pytest

from realtime.core.logs import logger

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Keep LSL traffic on this machine and liblsl quiet; must run before any other LSL call. A wide
# port range, because the tests hold many outlets at once (the default 32 ports run out and
# resolution then fails). Written to a file too, so that the processes the tests start
# (`launch.py run`, consumers) use the same configuration through LSLAPICFG.
_LSL_CONFIG = (
    "[ports]\nIPv6 = disable\nPortRange = 300\n[multicast]\nResolveScope = machine\n[log]\nlevel = -3\n"
)
_config_file = Path(tempfile.mkdtemp(prefix="myostream-lsl-")) / "lsl_api.cfg"
_config_file.write_text(_LSL_CONFIG)
atexit.register(shutil.rmtree, _config_file.parent, True)
os.environ["LSLAPICFG"] = str(_config_file)
# MUAP tables are cached per session, not in the user's ~/.cache.
os.environ["MYOSTREAM_CACHE"] = str(_config_file.parent / "cache")
pylsl.set_config_content(_LSL_CONFIG)


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
def myostream_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """``caplog`` for the package logger (``myostream`` does not propagate to the root logger)."""
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh :class:`FakeClock` starting at t = 1000 s."""
    return FakeClock()
