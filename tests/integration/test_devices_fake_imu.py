"""The virtual serial IMU (fake-imu) read back by the serial reader, in every format, with injected faults."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from devices.fake_imu import FakeImu, FakeImuSettings
from devices.formats import binary, witmotion
from devices.formats.csv_text import CsvSettings, parse_columns
from devices.serial_imu import SerialImu, SerialSettings
from realtime.body.synthetic import SyntheticArm, SyntheticSettings, simulate
from realtime.core.block import Block, empty_block, regular_timestamps
from realtime.core.units import IMU_CHANNELS
from tests.helpers import wait_until
from tests.helpers.scripted import EventTap, read_samples


class GatedRecording:
    """An IMU source replaying a synthetic recording in real time, from the moment ``go()`` is called."""

    def __init__(self, imu: np.ndarray, fs: float) -> None:
        self.imu, self.fs, self.running = imu, fs, False
        self._go = threading.Event()
        self._t0 = 0.0
        self._k = 0

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def go(self) -> None:
        self._t0 = time.monotonic()
        self._go.set()

    def read(self) -> Block:
        if not self._go.is_set():
            return empty_block(IMU_CHANNELS, self.fs, self._k)
        due = min(int((time.monotonic() - self._t0) * self.fs) + 1, self.imu.shape[0])
        k0, self._k = self._k, max(due, self._k)
        data = np.ascontiguousarray(self.imu[k0:self._k], np.float32)
        return Block(data, regular_timestamps(self._t0, self.fs, k0, data.shape[0]), self.fs, k0, IMU_CHANNELS)


def _collect(src: SerialImu, n: int, timeout: float = 8.0) -> list[Block]:
    return read_samples(src, n, timeout, poll=0.003)


def _expected(fmt: str, x: np.ndarray, payload: str = "int16") -> np.ndarray:
    if fmt == "binary":
        return binary.quantize(x, payload)[1]
    if fmt == "witmotion":
        return witmotion.quantize(x)[1]
    return np.round(x.astype(np.float64), 5).astype(np.float32)


@pytest.mark.parametrize("fmt", ["binary", "witmotion", "csv"])
def test_fake_imu_with_faults_delivers_every_intact_sample(fmt: str) -> None:
    rate, n = 400.0, 600
    rec = simulate(SyntheticSettings(fs=rate, seed=3), n / rate)
    source = GatedRecording(rec.imu, rate)
    columns = parse_columns("seq,t,ax,ay,az,gx,gy,gz")
    fake = FakeImu(FakeImuSettings(format=fmt, rate=rate, baud=921600, garbage=0.08, seed=5, csv_columns=columns),
                   source=source, record=True)
    fake.start()
    reader = SerialImu(SerialSettings(fake.port, 921600, fmt, fs=rate, csv=CsvSettings(columns=columns)))
    try:
        reader.start()
        source.go()
        wait_until(lambda: fake.samples_sent >= n, 8.0, 0.01, f"the fake IMU to send {n} samples")
        keep_count = n - fake.frames_corrupted
        blocks = _collect(reader, keep_count)
        time.sleep(0.05)
        assert reader.read().n_samples == 0
        status = reader.status
    finally:
        fake.stop()
        reader.stop()
    assert fake.samples_sent == n
    assert fake.bytes_dropped == 0
    assert fake.frames_corrupted > 10
    assert fake.junk_bytes > 0
    keep = np.setdiff1d(np.arange(n), fake.corrupted)
    data = np.concatenate([b.data for b in blocks])
    np.testing.assert_array_equal(data, _expected(fmt, rec.imu)[keep])
    ts = np.concatenate([b.timestamps for b in blocks])
    assert np.all(np.diff(ts) >= 0)
    index = np.concatenate([b.seq + np.arange(b.n_samples) for b in blocks])
    if fmt != "witmotion":  # device counters: every lost sample is a jump in Block.seq
        np.testing.assert_array_equal(index, keep)
    assert status.samples == keep.size
    assert status.samples_lost == fake.frames_corrupted
    # timestamps follow the device clock: 1/rate apart within a run (the clock fit maps them)
    runs = np.flatnonzero(np.diff(index) == 1)
    assert np.median(np.diff(ts)[runs]) == pytest.approx(1 / rate, rel=0.05)


def test_fake_imu_streams_the_synthetic_arm_through_a_stable_link(tmp_path: Path) -> None:
    link = tmp_path / "imu"
    fake = FakeImu(FakeImuSettings(format="binary", rate=200.0, baud=921600, link=str(link)),
                   SyntheticArm(SyntheticSettings(fs=200.0)))
    with fake:
        assert fake.port == str(link)
        assert link.is_symlink()
        assert link.resolve().as_posix().startswith("/dev/pts/")
        with SerialImu(SerialSettings(str(link), 921600, "binary", fs=200.0)) as reader:
            blocks = _collect(reader, 200)
            status = reader.status
    data = np.concatenate([b.data for b in blocks])
    assert data.shape[0] >= 200
    assert status.crc_errors == 0
    assert status.seq_gaps == 0
    # an arm with a gravity-sensing accelerometer: |acc| near 9.8 m/s² on average
    assert 7.0 < float(np.linalg.norm(data[:, :3], axis=1).mean()) < 13.0


def test_stopping_the_fake_is_an_unplug() -> None:
    fake = FakeImu(FakeImuSettings(format="csv", rate=100.0), SyntheticArm(SyntheticSettings(fs=100.0)))
    fake.start()
    reader = EventTap(SerialImu(SerialSettings(fake.port, 115200, "csv", fs=100.0)))
    reader.start()
    try:
        assert _collect(reader, 10)
        fake.stop()
        # The next read carries the event.
        wait_until(lambda: reader.read() is not None and reader.events, 5.0, 0.01, "a device event")
        assert not reader.status.connected
        assert reader.pop_events()[0].startswith("device lost")
    finally:
        if fake.running:
            fake.stop()
        reader.stop()


def test_lifecycle(myostream_log: pytest.LogCaptureFixture) -> None:
    fake = FakeImu(FakeImuSettings(format="binary", rate=100.0, baud=921600),
                   SyntheticArm(SyntheticSettings(fs=100.0)))
    with pytest.raises(RuntimeError, match=r"Use FakeImu.start\(\)"):
        fake.stop()
    fake.start()
    fake.start()  # a second start() warns through the package logger, nothing else
    assert "already started; start() ignored" in myostream_log.text
    fake.stop()
    assert not fake.running
