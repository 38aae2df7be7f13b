"""The lifecycle base of resource parts (realtime/core/lifecycle.py) and the parts that use it."""

from __future__ import annotations

import threading

import pytest

from devices.fake_imu import FakeImu
from devices.lsl_imu import LslImu
from devices.lsl_outlet import LslOutlet, MarkerOutlet
from devices.replay import ReplaySource
from devices.serial_imu import SerialImu
from realtime.body.synthetic import SyntheticArm
from realtime.core.lifecycle import Lifecycle


class Plain(Lifecycle):
    """A part without a worker that records its hooks."""

    def __init__(self, fail_open: bool = False) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail_open = fail_open

    def _open(self) -> None:
        self.calls.append("open")
        if self.fail_open:
            raise OSError("no such device: use another port")

    def _close(self) -> None:
        self.calls.append("close")

    def read(self) -> int:
        self._check_started("read()")
        return 1


class Worker(Lifecycle):
    """A part whose worker runs ``body`` (then waits for the stop request unless it returns)."""

    stop_timeout = 2.0

    def __init__(self, body=None) -> None:  # noqa: ANN001
        super().__init__()
        self.body = body
        self.entered = threading.Event()
        self.closed = 0

    def _run(self) -> None:
        self.entered.set()
        if self.body is not None:
            self.body(self)
            return
        self._stop_event.wait()

    def _close(self) -> None:
        self.closed += 1


def test_start_stop_running_and_context_manager() -> None:
    part = Plain()
    assert not part.running
    part.start()
    assert part.running
    assert part.read() == 1
    part.stop()
    assert not part.running
    assert part.calls == ["open", "close"]
    with Plain() as other:
        assert other.running
    assert not other.running
    assert other.calls == ["open", "close"]


def test_second_start_warns_through_the_package_logger_and_changes_nothing(
    myostream_log: pytest.LogCaptureFixture,
) -> None:
    part = Plain()
    part.start()
    part.start()
    assert part.calls == ["open"]
    assert [r.levelname for r in myostream_log.records] == ["WARNING"]
    assert myostream_log.records[0].getMessage() == "Plain: already started; start() ignored."
    part.stop()


def test_stop_or_read_before_start_raises_with_the_fix() -> None:
    part = Plain()
    with pytest.raises(RuntimeError, match=r"^Plain is not started\. Use Plain\.start\(\) first\.$"):
        part.stop()
    with pytest.raises(RuntimeError, match=r"Use Plain\.start\(\) \(or `with Plain\(\.\.\.\) as part:`\) before read\(\)"):
        part.read()


def test_a_failed_open_leaves_the_part_stopped() -> None:
    part = Plain(fail_open=True)
    with pytest.raises(OSError, match="use another port"):
        part.start()
    assert not part.running
    with pytest.raises(RuntimeError, match="not started"):
        part.stop()


def test_a_worker_error_is_re_raised_by_stop_exactly_once() -> None:
    boom = ValueError("decoder exploded")

    def fail(part: Worker) -> None:
        raise boom

    part = Worker(fail)
    part.start()
    assert part.entered.wait(5.0)
    with pytest.raises(ValueError, match="decoder exploded") as info:
        part.stop()
    assert info.value is boom
    assert part.closed == 1  # the resource is released even though the worker failed
    assert not part.running
    part.body = None
    part.start()  # a new run starts clean: the old error is gone
    part.stop()
    assert part.closed == 2


def test_a_stored_error_can_be_raised_while_running() -> None:
    def fail(part: Worker) -> None:
        raise KeyError("lost")

    part = Worker(fail)
    part.start()
    part._worker.join(5.0)
    with pytest.raises(KeyError):
        part._raise_stored_error()
    part.stop()  # already raised once: not again


def test_wait_collects_a_worker_that_ends_by_itself() -> None:
    release = threading.Event()
    part = Worker(lambda p: release.wait(5.0))
    part.start()
    assert part.entered.wait(5.0)
    assert part.wait(timeout=0.01) is False
    assert part.running
    assert part.worker_alive
    release.set()
    assert part.wait(timeout=5.0) is True
    assert not part.running
    assert part.closed == 1


def test_a_worker_that_does_not_stop_is_reported_not_hidden() -> None:
    release = threading.Event()
    part = Worker(lambda p: release.wait(10.0))  # ignores the stop request
    part.stop_timeout = 0.05
    part.start()
    assert part.entered.wait(5.0)
    with pytest.raises(RuntimeError, match=r"Worker: the worker thread did not stop within 0.05 s"):
        part.stop()
    assert part.closed == 1
    release.set()


@pytest.mark.parametrize(
    "cls", [LslOutlet, MarkerOutlet, ReplaySource, SyntheticArm, FakeImu, SerialImu, LslImu]
)
def test_every_resource_part_uses_the_base(cls: type) -> None:
    assert issubclass(cls, Lifecycle)
    for name in ("start", "stop", "running", "__enter__", "__exit__"):
        assert getattr(cls, name) is getattr(Lifecycle, name), f"{cls.__name__}.{name} is written again"
