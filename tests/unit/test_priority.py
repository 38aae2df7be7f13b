"""Real-time scheduling of the runner thread (realtime/core/priority.py)."""

from __future__ import annotations

import os
import threading

import pytest

from realtime.app.runner import PipelineSettings
from realtime.core.priority import PRIORITIES, RT_PRIORITY, check_priority, set_thread_priority

linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_FIFO"), reason="SCHED_FIFO is Linux-only")


def _in_thread(priority: str) -> tuple[str | BaseException, int, int]:
    """set_thread_priority in a fresh thread: its result, and that thread's policy and priority."""
    out: list = []

    def body() -> None:
        try:
            got: str | BaseException = set_thread_priority(priority)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            got = err
        out.append((got, os.sched_getscheduler(0), os.sched_getparam(0).sched_priority))

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    return out[0]


def test_priority_modes_are_checked() -> None:
    assert check_priority("auto") == "auto"
    with pytest.raises(
        ValueError, match=r"'priority' must be one of auto, realtime, normal; 'high' is invalid"
    ):
        check_priority("high")
    with pytest.raises(ValueError, match="'priority'"):
        PipelineSettings(priority="fast")
    assert set(PRIORITIES) == {"auto", "realtime", "normal"}


@linux_only
def test_auto_gives_the_calling_thread_what_the_system_allows_and_nothing_else() -> None:
    main_policy = os.sched_getscheduler(0)
    got, policy, prio = _in_thread("auto")
    if got == "realtime":
        assert (policy, prio) == (os.SCHED_FIFO, RT_PRIORITY)
    else:
        assert got == "normal"
        assert policy == main_policy  # a new thread inherits its creator's scheduling
    assert os.sched_getscheduler(0) == main_policy  # only that thread changed


@linux_only
def test_normal_never_changes_the_thread() -> None:
    got, policy, _ = _in_thread("normal")
    assert got == "normal"
    assert policy == os.sched_getscheduler(0)  # as inherited from the creating thread


@linux_only
def test_refused_realtime_falls_back_or_fails_with_the_fix(monkeypatch) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    assert set_thread_priority("auto") == "normal"
    with pytest.raises(RuntimeError, match=r"refused it \(Operation not permitted\).*ulimit -r 10"):
        set_thread_priority("realtime")
