"""The shared wait helper: returns the first truthy value, fails with the message and the last value."""

from __future__ import annotations

import pytest

from tests.helpers import wait_until


def test_wait_until_returns_the_first_truthy_value() -> None:
    values = iter([0, [], None, "ready", "later"])
    assert wait_until(lambda: next(values), timeout=5.0, interval=0.0) == "ready"


def test_wait_until_names_what_it_waited_for_and_the_last_value() -> None:
    calls = []

    def never() -> int:
        calls.append(1)
        return 0

    with pytest.raises(AssertionError, match=r"waited 0 s for 3 EMG samples; the last value was 0"):
        wait_until(never, timeout=0.0, interval=0.0, message="3 EMG samples")
    assert len(calls) == 1  # the predicate is asked at least once, even with no time left


def test_wait_until_refuses_negative_times() -> None:
    with pytest.raises(ValueError, match="timeout >= 0"):
        wait_until(lambda: True, timeout=-1.0)
