"""The --stress condition's busy processes (realtime/app/bench/stress.py), with fake processes."""

from __future__ import annotations

import pytest

from realtime.app.bench.stress import Stress, default_stress


class FakeProc:
    """A process that runs until killed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.killed = 0

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        self.killed += 1
        self.returncode = -9

    def wait(self, timeout: float | None = None) -> int:
        assert self.returncode is not None, "waited on a process that was never killed"
        return self.returncode


class Spawner:
    def __init__(self, fail_at: int | None = None) -> None:
        self.procs: list[FakeProc] = []
        self.fail_at = fail_at

    def __call__(self) -> FakeProc:
        if self.fail_at is not None and len(self.procs) == self.fail_at:
            raise OSError("cannot fork")
        proc = FakeProc(1000 + len(self.procs))
        self.procs.append(proc)
        return proc


def test_stress_starts_n_processes_and_reaps_every_one() -> None:
    spawn = Spawner()
    stress = Stress(3, spawn)
    assert stress.pids == []
    assert stress.running == 0
    with stress:
        assert list(stress.pids) == [1000, 1001, 1002]
        assert stress.running == 3
        stress.start()  # already running: no more processes
        assert len(spawn.procs) == 3
    assert [p.killed for p in spawn.procs] == [1, 1, 1]
    assert stress.exit_codes == [-9, -9, -9]
    assert stress.pids == []
    assert stress.running == 0
    assert stress.stop() == []  # a second stop has nothing left to reap


def test_stress_zero_is_quiet_and_bad_counts_are_refused() -> None:
    spawn = Spawner()
    with Stress(0, spawn) as stress:
        assert stress.pids == []
    assert spawn.procs == []
    with pytest.raises(ValueError, match="'stress'"):
        Stress(-1, spawn)
    with pytest.raises(TypeError, match="'stress'"):
        Stress(1.5, spawn)
    assert default_stress() >= 1


def test_a_failed_start_reaps_the_processes_already_started() -> None:
    spawn = Spawner(fail_at=2)
    stress = Stress(4, spawn)
    with pytest.raises(OSError, match="cannot fork"):
        stress.start()
    assert [p.killed for p in spawn.procs] == [1, 1]
    assert stress.pids == []


def test_a_process_that_ended_by_itself_is_reaped_without_a_kill() -> None:
    spawn = Spawner()
    stress = Stress(2, spawn).start()
    spawn.procs[0].returncode = 0
    assert stress.running == 1
    assert stress.stop() == [0, -9]
    assert [p.killed for p in spawn.procs] == [0, 1]
