"""Replay of CSV and XDF recordings: real-time pacing on an injected clock, speed, loop, nothing dropped."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from devices.replay import ReplaySettings, ReplaySource
from realtime.core.block import Block
from realtime.core.units import IMU_CHANNELS
from tests.helpers.scripted import EventTap


def _write_csv(path: Path, n: int, fs: float, with_time: bool = True) -> np.ndarray:
    rng = np.random.default_rng(0)
    imu = np.round(rng.normal(size=(n, 6)), 6)
    header = ["index"] + (["time"] if with_time else []) + list(IMU_CHANNELS)
    with open(path, "w") as f:
        f.write("# recorded by a test\n" + ",".join(header) + "\n")
        for k in range(n):
            row = [str(k)] + ([f"{100.0 + k / fs:.6f}"] if with_time else []) + [f"{v:.6f}" for v in imu[k]]
            f.write(",".join(row) + "\n")
    return imu


def _play(src: ReplaySource, clock, seconds: float, rng: np.random.Generator) -> list[Block]:
    """Read while advancing the clock by irregular steps (like a runner's ticks)."""
    blocks, end = [], clock() + seconds
    while clock() < end:
        clock.advance(float(rng.uniform(0.0, 0.013)))
        b = src.read()
        assert b.channels == IMU_CHANNELS
        if b.n_samples:
            blocks.append(b)
    return blocks


def test_csv_replay_real_time_nothing_dropped_or_repeated(tmp_path: Path, fake_clock) -> None:
    path = tmp_path / "rec.csv"
    imu = _write_csv(path, 250, 100.0)
    src = ReplaySource(ReplaySettings(str(path)), clock=fake_clock)
    assert src.fs == pytest.approx(100.0)
    with src:
        t0 = fake_clock()
        tap = EventTap(src)
        blocks = _play(tap, fake_clock, 3.0, np.random.default_rng(1))
        assert src.finished
        assert tap.pop_events() == [f"replay finished: {path} (250 samples)"]  # once, on the next read
    index = np.concatenate([b.aux["index"] for b in blocks])
    np.testing.assert_array_equal(index, np.arange(250))  # the index column: every sample exactly once
    np.testing.assert_array_equal(np.concatenate([b.data for b in blocks]), imu.astype(np.float32))
    ts = np.concatenate([b.timestamps for b in blocks])
    np.testing.assert_allclose(ts, t0 + np.arange(250) / 100.0, atol=1e-6)
    assert [b.seq for b in blocks] == list(np.cumsum([0] + [b.n_samples for b in blocks[:-1]]))
    # real-time pacing: no sample is returned before it is due
    for b in blocks:
        assert b.timestamps[-1] <= t0 + 3.0


def test_loop_and_speed(tmp_path: Path, fake_clock) -> None:
    path = tmp_path / "rec.csv"
    _write_csv(path, 100, 100.0)
    src = ReplaySource(ReplaySettings(str(path), speed=2.0, loop=True), clock=fake_clock)
    assert src.fs == pytest.approx(200.0)
    with src:
        t0 = fake_clock()
        blocks = _play(src, fake_clock, 1.6, np.random.default_rng(2))  # 3.2 s of file time: 3 loops and a bit
    index = np.concatenate([b.aux["index"] for b in blocks])
    assert index.size in (319, 320, 321)
    np.testing.assert_array_equal(index, np.arange(index.size) % 100)
    ts = np.concatenate([b.timestamps for b in blocks])
    np.testing.assert_allclose(np.diff(ts), 1 / 200.0, atol=1e-9)  # loops join without a gap or overlap
    assert ts[0] == pytest.approx(t0)
    assert not src.finished


def test_csv_without_time_column_needs_a_rate(tmp_path: Path, fake_clock) -> None:
    path = tmp_path / "rec.csv"
    _write_csv(path, 50, 100.0, with_time=False)
    with pytest.raises(ValueError, match="no time column .*--imu-rate"):
        ReplaySource(ReplaySettings(str(path)), clock=fake_clock)
    src = ReplaySource(ReplaySettings(str(path), fs=50.0), clock=fake_clock)
    with src:
        fake_clock.advance(0.5)
        assert src.read().n_samples == 26  # samples 0..25 are due at t <= 0.5 s


def test_csv_scales_and_channel_choice(tmp_path: Path, fake_clock) -> None:
    path = tmp_path / "rec.tsv"
    path.write_text("t\tax\tay\taz\tgx\tgy\tgz\n0.0\t1\t0\t0\t90\t0\t0\n0.01\t0\t1\t0\t0\t90\t0\n")
    settings = ReplaySettings(str(path), acc_scale=9.80665, gyro_scale=math.pi / 180)
    with ReplaySource(settings, clock=fake_clock) as src:
        fake_clock.advance(1.0)
        b = src.read()
    np.testing.assert_allclose(b.data[0], [9.80665, 0, 0, math.pi / 2, 0, 0], rtol=1e-6)


def test_bad_files_fail_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'path' must be an existing file"):
        ReplaySettings(str(tmp_path / "missing.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("time,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0,1,2,3,4,5,6\n0.01,1,2,x,4,5,6\n")
    with pytest.raises(ValueError, match="not numeric"):
        ReplaySource(ReplaySettings(str(bad)))
    back = tmp_path / "back.csv"
    back.write_text("time,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n1,1,2,3,4,5,6\n0.5,1,2,3,4,5,6\n")
    with pytest.raises(ValueError, match="time going backward at sample 1"):
        ReplaySource(ReplaySettings(str(back)))
    odd = tmp_path / "odd.csv"
    odd.write_text("time,a,b,c\n0,1,2,3\n")
    with pytest.raises(ValueError, match="Cannot tell which channels"):
        ReplaySource(ReplaySettings(str(odd)))


def test_lifecycle(tmp_path: Path, fake_clock, myostream_log: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "rec.csv"
    _write_csv(path, 10, 100.0)
    src = ReplaySource(ReplaySettings(str(path)), clock=fake_clock)
    with pytest.raises(RuntimeError, match=r"Use ReplaySource.start\(\)"):
        src.read()
    src.start()
    src.start()  # a second start() warns through the package logger, nothing else
    assert "already started; start() ignored" in myostream_log.text
    src.stop()
    with pytest.raises(RuntimeError, match="not started"):
        src.stop()


# --------------------------------------------------------------------------- XDF
def _chunk(tag: int, content: bytes) -> bytes:
    return b"\x08" + struct.pack("<Q", len(content) + 2) + struct.pack("<H", tag) + content


def _write_xdf(path: Path, fs: float, data: np.ndarray, stamps: np.ndarray, labels, units) -> None:
    """A minimal XDF 1.0 file with one float32 stream (file header, stream header, samples, footer)."""
    chans = "".join(f"<channel><label>{lab}</label><unit>{u}</unit></channel>" for lab, u in zip(labels, units))
    header = (f"<?xml version=\"1.0\"?><info><name>phone</name><type>IMU</type>"
              f"<channel_count>{len(labels)}</channel_count><nominal_srate>{fs}</nominal_srate>"
              f"<channel_format>float32</channel_format><created_at>0</created_at>"
              f"<desc><channels>{chans}</channels></desc></info>").encode()
    sid = struct.pack("<I", 1)
    body = bytearray(sid + b"\x04" + struct.pack("<I", data.shape[0]))
    for t, row in zip(stamps, data):
        body += b"\x08" + struct.pack("<d", t) + row.astype("<f4").tobytes()
    footer = (f"<?xml version=\"1.0\"?><info><first_timestamp>{stamps[0]}</first_timestamp>"
              f"<last_timestamp>{stamps[-1]}</last_timestamp><sample_count>{data.shape[0]}</sample_count>"
              f"</info>").encode()
    file_header = b"<?xml version=\"1.0\"?><info><version>1.0</version></info>"
    path.write_bytes(b"XDF:" + _chunk(1, file_header) + _chunk(2, sid + header) + _chunk(3, bytes(body))
                     + _chunk(6, sid + footer))


def test_xdf_replay_by_label_with_units(tmp_path: Path, fake_clock) -> None:
    n, fs = 120, 50.0
    index = np.arange(n, dtype=np.float64)
    values = np.tile([1.0, 0.0, -1.0, 180.0, 0.0, 90.0], (n, 1))
    data = np.column_stack([values[:, 3:], index, values[:, :3]])  # gyro, index, acc: order does not matter
    path = tmp_path / "rec.xdf"
    _write_xdf(path, fs, data, 1000.0 + index / fs, ["GyrX", "GyrY", "GyrZ", "sample", "AccX", "AccY", "AccZ"],
               ["deg/s"] * 3 + [""] + ["g"] * 3)
    with ReplaySource(ReplaySettings(str(path)), clock=fake_clock) as src:
        assert src.fs == pytest.approx(fs)
        blocks = _play(src, fake_clock, 3.0, np.random.default_rng(3))
    got = np.concatenate([b.data for b in blocks])
    np.testing.assert_allclose(got[0], [9.80665, 0, -9.80665, math.pi, 0, math.pi / 2], rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b.aux["sample"] for b in blocks]), index)
