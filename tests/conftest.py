"""Shared test set-up: the two tiers, LSL confined to this machine, unique stream names, a fake clock.

The tiers are folders: ``tests/unit/`` (fake clock, in-process, no LSL network, no ptys, no Qt, no
subprocesses) and ``tests/integration/`` (real LSL, ptys, Qt, processes). Every test gets the marker of
its folder, so ``python -m pytest -m "not integration"`` runs the fast tier and ``python -m pytest``
runs both.
"""

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
from tests.helpers import FakeClock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration")
"""The tier folders under ``tests/``; each is also the marker of the tests it holds."""

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


def tier_of(path: Path) -> str | None:
    """The tier (``"unit"`` or ``"integration"``) of a test file, from its folder; ``None`` outside both."""
    try:
        parts = Path(path).resolve().relative_to(TESTS).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark each test with its tier; refuse a test outside both tiers or a Qt test in the unit tier."""
    tier = tier_of(item.path)
    if tier is None:
        raise pytest.UsageError(
            f"{item.nodeid}: every test lives in tests/unit/ (fake clock, in-process) or tests/integration/ "
            "(real LSL, ptys, Qt, processes); move its file into one of them."
        )
    qt = {"qtbot", "qapp"} & set(getattr(item, "fixturenames", ()))
    if tier == "unit" and qt:
        raise pytest.UsageError(f"{item.nodeid}: uses {sorted(qt)}, so it is a Qt test; move it to tests/integration/.")
    item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def lsl_prefix(request: pytest.FixtureRequest) -> str:
    """A stream-name prefix unique to this test (stream names and source_ids derive from it)."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    return f"T_{name}_{uuid.uuid4().hex[:8]}"


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
