"""Nothing lost at stop (issue 12 item 3): after the last block and the stop marker the outlets stay open
while consumers are connected, so an inlet without ``recover`` and LabRecorder get every sample of a
``--duration`` run, every time; a failure after the streams appeared still ends with a stop marker."""

from __future__ import annotations

import threading

import numpy as np
import pylsl
import pytest
from pylsl.util import LostError

from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.body.synthetic import SyntheticArm, SyntheticSettings
from realtime.core.block import Block, empty_block
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS

FS = 1000.0
DURATION = 1.0


class Consumer(threading.Thread):
    """An inlet that pulls a stream every ``period`` s: without ``recover`` until the outlet disappears
    (``LostError``), with ``recover`` (as LabRecorder) until told to ``finish``."""

    def __init__(self, name: str, recover: bool = False, period: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.name_ = name
        self.recover, self.period = recover, period
        self.finish = threading.Event()
        self.samples: list[np.ndarray] = []
        self.stamps: list[float] = []
        self.lost = False
        self.connected = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            infos = pylsl.resolve_byprop("name", self.name_, 1, 20.0)
            assert infos, f"{self.name_} not found"
            inlet = pylsl.StreamInlet(infos[0], max_buflen=30, recover=self.recover)
            inlet.open_stream(10.0)
            self.connected.set()
            while True:
                if self.finish.wait(self.period):  # a recovering inlet never sees the outlet go: told to end
                    data, ts = inlet.pull_chunk(timeout=0.0)
                    self.stamps.extend(ts)
                    return
                try:
                    data, ts = inlet.pull_chunk(timeout=0.05)
                except LostError:
                    self.lost = True
                    return
                if ts:
                    self.samples.append(np.asarray(data))
                    self.stamps.extend(ts)
        except BaseException as err:  # reported by the test
            self.error = err


def _simulator(prefix: str, **kwargs: object) -> Simulator:
    config = SimulatorConfig(prefix=prefix, fs=FS, block_size=4, duration=DURATION, units_per_muscle=10,
                             activation="teacher", **kwargs)
    return Simulator(config, SyntheticArm(SyntheticSettings(fs=100.0)))


def _check_complete(stamps: list[float], label: str) -> None:
    n = int(round(DURATION * FS))
    assert len(stamps) == n, f"{label}: {len(stamps)} of {n} samples arrived"
    steps = np.diff(np.asarray(stamps))
    np.testing.assert_allclose(steps, 1.0 / FS, rtol=0, atol=1e-6, err_msg=f"{label}: timestamps not contiguous")


def test_an_inlet_without_recover_gets_every_sample_of_every_run(lsl_prefix: str) -> None:
    for run in range(3):
        prefix = f"{lsl_prefix}_{run}"
        sim = _simulator(prefix)
        emg, markers = Consumer(f"{prefix}-EMG"), Consumer(f"{prefix}-markers")
        emg.start()
        markers.start()
        sim.start(wait_for_consumer=20.0)
        assert markers.connected.wait(20.0)
        assert sim.wait(timeout=60.0)
        sim.stop()
        emg.join(20.0)
        markers.join(20.0)
        assert emg.error is None, emg.error
        assert markers.error is None, markers.error
        assert emg.lost  # the outlets did go away after the linger
        assert markers.lost
        _check_complete(emg.stamps, f"run {run}")
        texts = [row[0] for chunk in markers.samples for row in chunk]
        assert texts[-1] == "myostream: stop", texts


def test_a_slow_recovering_recorder_gets_every_sample_of_every_run(lsl_prefix: str) -> None:
    # LabRecorder's way of reading (recover on, a pull every few hundred ms), in process: the bundled
    # LabRecorderCLI resolves once for 1 s and, with the tests' machine-only LSL scope, misses streams.
    for run in range(3):
        prefix = f"{lsl_prefix}_{run}"
        sim = _simulator(prefix)
        emg = Consumer(f"{prefix}-EMG", recover=True, period=0.3)
        emg.start()
        sim.start(wait_for_consumer=20.0)
        assert sim.wait(timeout=60.0)
        sim.stop()
        emg.finish.set()
        emg.join(20.0)
        assert emg.error is None, emg.error
        _check_complete(emg.stamps, f"recorder run {run}")


class FailingSource:
    """A source that delivers a few still samples, then fails like a device with the wrong format."""

    name = "failing device"
    fs = 100.0
    output_format = StreamFormat(fs=100.0, channels=IMU_CHANNELS)

    def __init__(self) -> None:
        self._reads = 0
        self._t = 0.0

    def start(self) -> None:
        self._reads = 0
        self._t = pylsl.local_clock()

    def stop(self) -> None:
        """Nothing to release."""

    def read(self) -> Block:
        self._reads += 1
        if self._reads > 200:
            raise RuntimeError("no valid binary frame in 5 s (the test's wrong format)")
        return empty_block(IMU_CHANNELS, 100.0, 0)


def test_a_failure_after_the_streams_appeared_still_sends_a_stop_marker(lsl_prefix: str) -> None:
    config = SimulatorConfig(prefix=lsl_prefix, fs=FS, block_size=4, units_per_muscle=10)
    sim = Simulator(config, FailingSource())
    markers = Consumer(f"{lsl_prefix}-markers")
    markers.start()
    sim.start()
    assert markers.connected.wait(20.0)
    with pytest.raises(RuntimeError, match="wrong format"):
        sim.wait(timeout=30.0)
    sim.stop()
    markers.join(20.0)
    texts = [row[0] for chunk in markers.samples for row in chunk]
    assert texts[-1].startswith("myostream: stop (error: no valid binary frame"), texts
