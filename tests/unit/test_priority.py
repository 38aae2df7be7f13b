"""Scheduling of the threads that keep time (realtime/core/priority.py): fallbacks with a fake system, and the
real calls on a fresh thread."""

from __future__ import annotations

import os
import threading

import pytest

from realtime.app.runner import PipelineSettings
from realtime.core.priority import (
    NICE_LEVEL,
    PRIORITIES,
    RT_PRIORITY,
    apply_scheduling,
    check_priority,
    lock_memory,
    scheduled_here,
    set_thread_priority,
    thread_policies,
)

linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_FIFO"), reason="SCHED_FIFO is Linux-only")


def _refused(what: str) -> PermissionError:
    return PermissionError(1, f"Operation not permitted ({what})")


class FakeSystem:
    """Records every call; refuses the ones listed in ``refuse`` with EPERM."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.refuse = set(refuse)
        self.calls: list[tuple] = []
        self.state = (0, 0, 0)  # (policy, rt priority, nice) of the calling thread

    def _call(self, name: str, *args: object) -> None:
        self.calls.append((name, *args))
        if name in self.refuse:
            raise _refused(name)

    def thread_id(self) -> int:
        return 4242

    def set_fifo(self, tid: int, priority: int, reset_on_fork: bool = False) -> None:
        self._call("fifo", tid, priority, reset_on_fork)
        self.state = (1, priority, self.state[2])

    def set_nice(self, tid: int, value: int) -> None:
        self._call("nice", tid, value)
        self.state = (self.state[0], self.state[1], value)

    def set_io_best_effort(self, tid: int, level: int) -> None:
        self._call("io", tid, level)

    def get_thread(self, tid: int) -> tuple[int, int, int]:
        return self.state

    def restore_thread(self, tid: int, saved: tuple[int, int, int]) -> None:
        self._call("restore", tid, saved)
        self.state = saved

    def lock_all(self) -> None:
        self._call("mlockall")

    @property
    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


def test_priority_modes_are_checked() -> None:
    assert check_priority("auto") == "auto"
    with pytest.raises(
        ValueError, match=r"'priority' must be one of auto, realtime, normal; 'high' is invalid"
    ):
        check_priority("high")
    with pytest.raises(ValueError, match="'priority'"):
        PipelineSettings(priority="fast")
    with pytest.raises(ValueError, match="'priority'"):
        apply_scheduling("fast", FakeSystem())
    assert set(PRIORITIES) == {"auto", "realtime", "normal"}


@pytest.mark.parametrize("mode", ["auto", "realtime"])
def test_real_time_when_allowed_and_nothing_else_is_touched(mode: str) -> None:
    sys_ = FakeSystem()
    got = apply_scheduling(mode, sys_)
    assert (got.policy, got.level, got.realtime, got.refused) == ("SCHED_FIFO", RT_PRIORITY, True, "")
    assert sys_.calls == [("fifo", 4242, RT_PRIORITY, False)]
    assert got.label == f"SCHED_FIFO {RT_PRIORITY}"
    assert got.as_dict()["label"] == got.label


def test_auto_falls_back_to_nice_and_io_priority_and_says_why() -> None:
    sys_ = FakeSystem(refuse=("fifo",))
    got = apply_scheduling("auto", sys_, level=7)
    assert sys_.names == ["fifo", "io", "nice"]
    assert sys_.calls[0][2] == 7
    assert (got.policy, got.level, got.io, got.realtime) == ("nice", NICE_LEVEL, "best-effort 0", False)
    assert "real-time refused: Operation not permitted (fifo)" in got.refused
    assert got.label.startswith(f"nice {NICE_LEVEL}, I/O best-effort 0 (real-time refused")


def test_auto_ends_at_normal_with_every_reason_when_everything_is_refused() -> None:
    sys_ = FakeSystem(refuse=("fifo", "nice", "io"))
    got = apply_scheduling("auto", sys_)
    assert (got.policy, got.level, got.io) == ("normal", 0, "unchanged")
    assert "real-time refused" in got.refused
    assert f"nice {NICE_LEVEL} refused" in got.refused


def test_realtime_refused_fails_with_the_fix_and_changes_nothing_else() -> None:
    sys_ = FakeSystem(refuse=("fifo",))
    with pytest.raises(RuntimeError, match=r"refused it \(Operation not permitted.*ulimit -r 10"):
        apply_scheduling("realtime", sys_, who="runner thread")
    assert sys_.names == ["fifo"]


def test_normal_never_calls_the_system() -> None:
    sys_ = FakeSystem()
    got = apply_scheduling("normal", sys_)
    assert (got.policy, got.requested, sys_.calls) == ("normal", "normal", [])
    with scheduled_here("normal", sys_) as inner:
        assert inner.policy == "normal"
    assert lock_memory("normal", sys_).refused == "not asked"
    assert sys_.calls == []


def test_scheduled_here_gives_the_block_the_policy_and_then_restores_the_thread() -> None:
    sys_ = FakeSystem()
    sys_.state = (0, 0, 3)
    with scheduled_here("auto", sys_) as got:
        assert got.realtime
        assert sys_.state == (1, RT_PRIORITY, 3)
    assert sys_.calls[-1] == ("restore", 4242, (0, 0, 3))
    assert sys_.state == (0, 0, 3)
    sys_ = FakeSystem(refuse=("fifo", "nice", "io"))
    with scheduled_here("auto", sys_) as got:  # nothing obtained: nothing to restore
        assert got.policy == "normal"
    assert "restore" not in sys_.names


def test_reset_on_fork_is_passed_to_the_system() -> None:
    sys_ = FakeSystem()
    apply_scheduling("auto", sys_, reset_on_fork=True)
    assert sys_.calls == [("fifo", 4242, RT_PRIORITY, True)]


def test_memory_lock_when_allowed_else_the_reason() -> None:
    sys_ = FakeSystem()
    assert lock_memory("auto", sys_).locked
    assert sys_.names == ["mlockall"]
    got = lock_memory("realtime", FakeSystem(refuse=("mlockall",)))
    assert not got.locked
    assert "mlockall refused" in got.refused
    assert "CAP_IPC_LOCK" in got.refused
    assert got.label.startswith("not locked (")


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
def test_thread_policies_lists_this_thread() -> None:
    rows = thread_policies()
    me = threading.get_native_id()
    mine = [r for r in rows if r["tid"] == me]
    assert len(mine) == 1
    assert mine[0]["policy"] in ("normal", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_IDLE")
    assert mine[0]["cpu_s"] >= 0.0
