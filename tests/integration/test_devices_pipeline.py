"""End to end: a serial IMU (fake-imu on a pty) driving the simulator; unplugging it never stops the EMG."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pylsl

from devices.fake_imu import FakeImu, FakeImuSettings
from devices.serial_imu import SerialImu, SerialSettings
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.body.synthetic import SyntheticArm, SyntheticSettings
from realtime.core.anatomy import MUSCLES
from realtime.core.block import Block
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS
from tests.helpers import wait_until
from tests.helpers.lsl import open_inlet


class GyroActivation:
    """A small activation stage for the test: every muscle follows the gyroscope magnitude (0..1)."""

    input_format = StreamFormat(channels=IMU_CHANNELS)
    output_format = StreamFormat(channels=MUSCLES, aux={"imu_seq": 0, "imu_time": 0})

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Stateless."""

    def process(self, block: Block) -> Block:
        level = np.clip(np.linalg.norm(block.data[:, 3:], axis=1) / 2.0, 0.0, 1.0)
        act = np.ascontiguousarray(np.repeat(level[:, None], len(MUSCLES), axis=1), np.float32)
        provenance = {"imu_seq": block.seq + np.arange(block.n_samples), "imu_time": block.timestamps}
        return Block(act, block.timestamps, block.fs, block.seq, MUSCLES, provenance)


def _inlet(name: str) -> pylsl.StreamInlet:
    return open_inlet(name, timeout=90.0, max_buflen=30)


def _pull_for(inlet: pylsl.StreamInlet, seconds: float) -> np.ndarray:
    """Every timestamp the inlet delivers during the next ``seconds`` (an observation window, not a wait)."""
    stamps, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        _, ts = inlet.pull_chunk(timeout=0.05)
        stamps.extend(ts)
    return np.asarray(stamps)


def _markers(inlet: pylsl.StreamInlet) -> list[str]:
    samples, _ = inlet.pull_chunk(timeout=0.0)
    return [s[0] for s in samples]


def test_pipeline_keeps_publishing_emg_while_the_serial_imu_is_unplugged(tmp_path: Path, lsl_prefix: str) -> None:
    link = str(tmp_path / "imu")
    arm = SyntheticArm(SyntheticSettings(fs=200.0))
    fake = FakeImu(FakeImuSettings(format="binary", rate=200.0, baud=921600, link=link, seed=1), arm)
    fake.start()
    source = SerialImu(SerialSettings(link, 921600, "binary", fs=200.0, reconnect_max_s=0.2))
    config = SimulatorConfig(prefix=lsl_prefix, layout="armband8", fs=1000.0, block_size=4, units_per_muscle=10)
    sim = Simulator(config, source, activation_stage=GyroActivation())
    sim.start()
    try:
        emg = _inlet(f"{lsl_prefix}-EMG")
        imu = _inlet(f"{lsl_prefix}-IMU")
        markers = _inlet(f"{lsl_prefix}-markers")
        before = _pull_for(emg, 1.0)
        imu_before = _pull_for(imu, 0.2)
        fake.stop()  # unplug
        wait_until(lambda: not source.status.connected, 5.0, 0.01, "the serial source to notice the unplug")
        _pull_for(imu, 0.1)  # IMU samples published before the unplug
        during = _pull_for(emg, 1.0)
        imu_during = _pull_for(imu, 0.3)
        events = _markers(markers)
        arm = SyntheticArm(SyntheticSettings(fs=200.0))
        fake = FakeImu(FakeImuSettings(format="binary", rate=200.0, baud=921600, link=link, seed=2), arm)
        fake.start()  # plug back in (a new pty behind the same name)
        wait_until(lambda: source.status.reconnects >= 1, 5.0, 0.02, "the serial source to reconnect")
        after = _pull_for(emg, 0.5)
        imu_after = _pull_for(imu, 0.5)
        events += _markers(markers)
    finally:
        fake.stop()
        sim.stop()
    assert imu_before.size > 20
    # the EMG stream never paused: about 1000 samples per second before, during and after the unplug
    for stamps in (before, during, after):
        assert stamps.size > 600
        assert np.max(np.diff(stamps)) < 0.0011
    assert imu_during.size == 0
    assert imu_after.size > 20
    assert any(e.startswith("device lost: serial") for e in events), events
    assert any(e.startswith("device back: serial") for e in events), events
    assert source.status.reconnects == 1
