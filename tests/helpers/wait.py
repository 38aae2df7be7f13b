"""One way to wait in a test: poll a condition until it holds or a deadline passes.

Tests never sleep a fixed time to let something happen; they wait for the
thing itself with :func:`wait_until`, which fails with a message naming what
was awaited and the last value seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "the condition",
) -> T:
    """Call ``predicate`` until it returns a truthy value; return that value.

    Parameters
    ----------
    predicate : callable
        Called with no argument, first at once, then every ``interval`` seconds. It may do
        work (pull an inlet, read a source) as long as each call returns the current state.
    timeout : float
        Seconds (monotonic clock) before giving up.
    interval : float
        Seconds to sleep between calls; 0 when ``predicate`` blocks by itself (e.g. a pull
        with a timeout).
    message : str
        What is awaited, for the error (e.g. ``"3000 EMG samples"``).

    Returns
    -------
    object
        The first truthy value ``predicate`` returned.

    Raises
    ------
    AssertionError
        When ``timeout`` passes first: names ``message``, the timeout and the last value.
    """
    if timeout < 0 or interval < 0:
        raise ValueError(f"wait_until needs timeout >= 0 and interval >= 0, got {timeout!r} and {interval!r}.")
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {message}; the last value was {value!r}")
        if interval:
            time.sleep(interval)
