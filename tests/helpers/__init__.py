"""Helpers shared by both test tiers (import them as ``from tests.helpers import ...``)."""

from __future__ import annotations

from tests.helpers.clock import FakeClock
from tests.helpers.names import unique_name
from tests.helpers.paths import REPO_ROOT, load_example
from tests.helpers.wait import wait_until

__all__ = ["REPO_ROOT", "FakeClock", "load_example", "unique_name", "wait_until"]
