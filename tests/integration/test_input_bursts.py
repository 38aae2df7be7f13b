"""Bursts and backlogs are data (issue 12 item 2): a device that writes 5 s of frames at once, every 5 s,
on a real pty, in each serial format: every sample reaches the activation stage in order with its own
time, none is rejected, and the status rate is the device's (100 Hz), not the arrival pattern's."""

from __future__ import annotations

import os
import threading
import time
import tty

import numpy as np
import pytest

from devices.fake_imu import FakeImu, FakeImuSettings
from devices.formats import binary, witmotion
from devices.formats.csv_text import format_lines
from devices.serial_imu import SerialImu, SerialSettings
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.body.synthetic import SyntheticArm, SyntheticSettings
from realtime.core.anatomy import MUSCLES
from realtime.core.block import Block
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS

RATE = 100.0
BURST_S = 5.0


class CountingActivation:
    """Every muscle follows the gyroscope magnitude; records the source index of every row it gets."""

    input_format = StreamFormat(channels=IMU_CHANNELS)
    output_format = StreamFormat(channels=MUSCLES, aux={"imu_seq": 0, "imu_time": 0})

    def __init__(self) -> None:
        self.seqs: list[np.ndarray] = []
        self.times: list[np.ndarray] = []

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        self.seqs, self.times = [], []  # the run starts: forget the warm-up

    def process(self, block: Block) -> Block:
        seq = block.aux.get("imu_seq", block.seq + np.arange(block.n_samples))
        self.seqs.append(np.asarray(seq, np.int64))
        self.times.append(block.timestamps.copy())
        level = np.clip(np.linalg.norm(block.data[:, 3:], axis=1) / 2.0, 0.0, 1.0)
        act = np.ascontiguousarray(np.repeat(level[:, None], len(MUSCLES), axis=1), np.float32)
        return Block(act, block.timestamps, block.fs, block.seq, MUSCLES, {"imu_seq": seq, "imu_time": block.timestamps})


def _frames(fmt: str, k0: int, n: int) -> bytes:
    idx = np.arange(k0, k0 + n)
    x = np.zeros((n, 6))
    x[:, 2] = 9.81
    x[:, 3] = 0.5 * np.sin(idx / 10.0)
    if fmt == "binary":
        return binary.encode_frames(x, idx, np.rint(idx * 1e6 / RATE).astype(np.int64))
    if fmt == "witmotion":
        return witmotion.encode_frames(x)
    return format_lines(x, ("ax", "ay", "az", "gx", "gy", "gz"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@pytest.mark.parametrize("fmt", ["binary", "csv", "witmotion"])
def test_a_device_writing_5_s_bursts_loses_no_sample(fmt: str, lsl_prefix: str) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    n_bursts, per_burst = 3, int(BURST_S * RATE)
    stop = threading.Event()

    def device() -> None:  # one write of 5 s of frames, every 5 s
        for burst in range(n_bursts):
            _write_all(master, _frames(fmt, burst * per_burst, per_burst))
            if stop.wait(BURST_S):
                return

    source = SerialImu(SerialSettings(port, 921600, fmt, fs=RATE, no_frame_timeout_s=20.0))
    activation = CountingActivation()
    config = SimulatorConfig(prefix=lsl_prefix, fs=1000.0, block_size=4, units_per_muscle=10)
    sim = Simulator(config, source, activation_stage=activation)
    writer = threading.Thread(target=device, daemon=True)
    sim.start()
    try:
        writer.start()
        total = n_bursts * per_burst
        deadline = time.monotonic() + 60.0
        while sim.pipeline.guard.accepted + sim.pipeline.guard.rejected < total and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # the tick that read the last burst has reached the grid
        rate = source.status.rate_hz
    finally:
        stop.set()
        sim.stop()
        writer.join(10.0)
        os.close(master)
        os.close(slave)
    guard = sim.pipeline.guard
    assert guard.rejected == 0, guard.counts
    seqs, times = np.concatenate(activation.seqs), np.concatenate(activation.times)
    np.testing.assert_array_equal(seqs, np.arange(total))  # every sample, once, in order
    assert np.all(np.diff(times) > 0)
    if fmt == "binary":  # device time: once the map has seen a least delayed sample, the device spacing
        for burst in range(1, n_bursts):
            inside = times[burst * per_burst:(burst + 1) * per_burst]
            np.testing.assert_allclose(np.diff(inside), 1.0 / RATE, atol=1e-4)
        # Between bursts the offset may still improve (a burst read with less delay): a few ms at most.
        steps = np.diff(times)[per_burst - 1::per_burst]
        assert np.all((steps > 0) & (steps < 1.0 / RATE + 0.05)), steps
    else:  # no device clock: spread on the rate (within the fit's tolerance while it learns)
        span = times[-1] - times[per_burst - 1]
        assert 0.8 * (total - per_burst) / RATE <= span <= 1.2 * (total - per_burst) / RATE, span
    assert sim.pipeline.stats.newest_imu_seq == total - 1  # the last sample reached the engine's grid
    assert 90.0 <= rate <= 110.0, rate  # the device's rate, not 500 samples in a few ms


def test_a_start_up_backlog_with_wait_for_consumer_loses_no_sample(tmp_path, lsl_prefix: str) -> None:
    # fake-imu keeps what it sent while nobody read the port and delivers it when the port opens.
    link = str(tmp_path / "imu")
    fake = FakeImu(FakeImuSettings(format="binary", rate=RATE, baud=921600, link=link, seed=1),
                   SyntheticArm(SyntheticSettings(fs=RATE)))
    fake.start()
    source = SerialImu(SerialSettings(link, 921600, "binary", fs=RATE))
    activation = CountingActivation()
    config = SimulatorConfig(prefix=lsl_prefix, fs=1000.0, block_size=4, units_per_muscle=10, duration=4.0)
    sim = Simulator(config, source, activation_stage=activation)
    try:
        sim.start(wait_for_consumer=2.0)  # nobody comes: 2 s of frames wait in the link
        assert sim.wait(timeout=60.0)
    finally:
        sim.stop()
        fake.stop()
    guard = sim.pipeline.guard
    assert guard.rejected == 0, guard.counts
    seqs = np.concatenate(activation.seqs)
    assert seqs.size == guard.accepted
    assert source.status.samples - guard.accepted <= 10  # only what arrived after the last tick is unread
    np.testing.assert_array_equal(seqs, np.arange(seqs[0], seqs[0] + seqs.size))
