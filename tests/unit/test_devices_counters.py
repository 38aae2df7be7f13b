"""Counters and advice that are right (issue 12 item 2), on the serial source's decode path with a fake
clock (no port is opened): a 10 MB line without newline is one malformed line with no phantom time gap,
the rate estimate ignores lost frames and bursts, and a silent port never advises ``--imu-rate 0``."""

from __future__ import annotations

import numpy as np

from devices.formats import binary
from devices.formats.csv_text import CsvDecoder, format_lines
from devices.serial_imu import SerialImu, SerialSettings
from tests.helpers import FakeClock

RATE = 100.0


def _still(n: int) -> np.ndarray:
    x = np.zeros((n, 6))
    x[:, 2] = 9.81
    return x


def _source(fmt: str, clock: FakeClock) -> SerialImu:
    src = SerialImu(SerialSettings("/dev/not-opened", 921600, fmt, fs=RATE), clock=clock)
    src._connected = True  # as after start(); the port itself is never used here
    src._opened_at = clock()
    return src


def _drain(src: SerialImu) -> tuple[np.ndarray, np.ndarray]:
    seqs, times = [], []
    src._started = True
    while True:
        blk = src.read()
        if not blk.n_samples:
            break
        seqs.append(blk.seq + np.arange(blk.n_samples))
        times.append(blk.timestamps)
    return np.concatenate(seqs), np.concatenate(times)


def test_a_10_mb_line_without_newline_is_one_malformed_line() -> None:
    decoder = CsvDecoder()
    good = format_lines(_still(3))
    decoder.feed(good)
    garbage = b"7" * (10 << 20)
    for i in range(0, len(garbage), 4096):  # as a port delivers it
        assert decoder.feed(garbage[i:i + 4096]).n_samples == 0
    batch = decoder.feed(b"\r\n" + good)
    assert decoder.counters.malformed == 1
    assert decoder.counters.bytes_skipped >= len(garbage)
    assert batch.n_samples == 3
    np.testing.assert_array_equal(batch.counter, [4, 5, 6])  # one sample lost (the long line), not 2,560


def test_a_long_line_makes_no_phantom_device_time_gap() -> None:
    clock = FakeClock()
    src = _source("csv", clock)
    now = clock()
    src._process(format_lines(_still(100)), now)
    garbage = b"1," * (5 << 20)
    for i in range(0, len(garbage), 4096):
        src._process(garbage[i:i + 4096], now)
    clock.advance(1.0)
    src._process(b"\r\n" + format_lines(_still(100)), clock())
    seqs, times = _drain(src)
    assert src.decoder.counters.malformed == 1
    assert src.tracker.samples_lost == 1  # the long line: one sample lost
    assert seqs[-1] == 200  # 200 good lines and 1 malformed: index 0..200, the gap is one sample
    assert times[-1] - times[0] < 3.0  # 2 s of samples, not a 25 s jump


def test_the_rate_estimate_ignores_lost_frames_and_bursts() -> None:
    clock = FakeClock()
    src = _source("binary", clock)
    rng = np.random.default_rng(0)
    k = 0
    for _ in range(60):  # 6 s at 100 Hz, 10 frames per read, 11 % of the frames lost
        idx = np.arange(k, k + 10)
        kept = idx[rng.random(10) > 0.11]
        frames = binary.encode_frames(_still(kept.size), kept, np.rint(kept * 1e6 / RATE).astype(np.int64))
        clock.advance(0.1)
        src._process(frames, clock())
        k += 10
    assert src.tracker.samples_lost > 40
    assert abs(src._rate() - RATE) < 2.0
    events: list[str] = []
    src._event = events.append  # type: ignore[method-assign]
    src._check_rate()
    assert events == []  # a 100 Hz device is not told to pass --imu-rate 89
    # A device that delivers 5 s of frames at once, every 5 s: still 100 Hz.
    burst = _source("binary", clock)
    for b in range(3):
        idx = np.arange(b * 500, (b + 1) * 500)
        clock.advance(5.0)
        frames = binary.encode_frames(_still(500), idx, np.rint(idx * 1e6 / RATE).astype(np.int64))
        for i in range(0, len(frames), 4096):  # read in chunks a few ms apart
            clock.advance(0.003)
            burst._process(frames[i:i + 4096], clock())
    assert abs(burst._rate() - RATE) < 2.0


def test_a_silent_port_never_advises_imu_rate_0() -> None:
    clock = FakeClock()
    src = _source("binary", clock)
    events: list[str] = []
    src._event = events.append  # type: ignore[method-assign]
    idx = np.arange(3)
    src._process(binary.encode_frames(_still(3), idx, np.rint(idx * 1e6 / RATE).astype(np.int64)), clock())
    clock.advance(6.0)  # then nothing
    src._check_rate()
    clock.advance(0.1)
    src._process(binary.encode_frames(_still(1), np.array([3]), np.array([30000])), clock())
    src._check_rate()
    assert not any("--imu-rate 0" in e for e in events), events
    assert src.status.rate_hz < 1.0 or not any("rate mismatch" in e for e in events)
