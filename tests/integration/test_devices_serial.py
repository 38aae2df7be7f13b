"""The serial reader against real pty pairs: exact parsing, split frames, garbage, unplug/replug, errors."""

from __future__ import annotations

import os
import time
import tty
from pathlib import Path

import numpy as np
import pytest
import serial

from devices.formats import binary, witmotion
from devices.formats.csv_text import CsvSettings, format_lines, parse_columns
from devices.serial_imu import SerialImu, SerialSettings
from devices.threaded_source import DeviceError
from realtime.core.block import Block
from realtime.core.units import IMU_CHANNELS
from tests.helpers import wait_until
from tests.helpers.scripted import EventTap, read_samples


class Pty:
    """A pty pair in raw mode: the test writes to the master, the reader opens ``path``."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty():
    p = Pty()
    yield p
    p.close()


def _imu(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)) * [4.0, 4.0, 4.0, 2.0, 2.0, 2.0] + [0.0, 0.0, 9.81, 0.0, 0.0, 0.0]


def _wait(predicate, timeout: float = 5.0) -> None:
    wait_until(predicate, timeout, 0.005)


def _collect(src, n: int, timeout: float = 5.0) -> list[Block]:
    return read_samples(src, n, timeout, poll=0.003)


def _check_blocks(blocks: list[Block]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for b in blocks:
        assert b.channels == IMU_CHANNELS
        assert b.data.dtype == np.float32
        assert b.data.flags.c_contiguous
    data = np.concatenate([b.data for b in blocks])
    ts = np.concatenate([b.timestamps for b in blocks])
    index = np.concatenate([b.seq + np.arange(b.n_samples) for b in blocks])
    assert np.all(np.diff(ts) >= 0), "timestamps must be monotonic"
    return data, ts, index


CASES = {
    # name: (format, csv columns, encoder, expected values)
    "binary-int16": ("binary", None),
    "binary-float32": ("binary", None),
    "witmotion": ("witmotion", None),
    "csv": ("csv", "ax,ay,az,gx,gy,gz"),
    "csv-seq-time": ("csv", "seq,t,ax,ay,az,gx,gy,gz"),
}


def _encode(case: str, x: np.ndarray, first: int = 0) -> tuple[list[bytes], np.ndarray]:
    """One wire frame per sample, and the values the decoder must produce."""
    n = x.shape[0]
    idx = np.arange(first, first + n)
    if case.startswith("binary"):
        payload = case.split("-")[1]
        data = binary.encode_frames(x, idx, idx * 10_000, payload)
        size = len(data) // n
        return [data[i * size:(i + 1) * size] for i in range(n)], binary.quantize(x, payload)[1]
    if case == "witmotion":
        data = witmotion.encode_frames(x)
        return [data[i * 22:(i + 1) * 22] for i in range(n)], witmotion.quantize(x)[1]
    columns = parse_columns(CASES[case][1])
    text = format_lines(x, columns, seq=idx, time_s=idx / 100.0)
    return text.splitlines(keepends=True), np.round(x, 5).astype(np.float32)


def _reader(case: str, path: str, **kw) -> SerialImu:
    fmt, cols = CASES[case]
    csv = CsvSettings(columns=parse_columns(cols)) if cols else CsvSettings()
    return SerialImu(SerialSettings(path, 115200, fmt, fs=100.0, csv=csv, **kw))


@pytest.mark.parametrize("case", list(CASES))
def test_clean_stream_parsed_exactly(pty: Pty, case: str) -> None:
    x = _imu(300, seed=1)
    frames, expected = _encode(case, x)
    rng = np.random.default_rng(2)
    with _reader(case, pty.path) as src:
        pos = 0
        while pos < len(frames):  # writes of 1..20 frames, as a device's USB packets come
            k = int(rng.integers(1, 21))
            pty.write(b"".join(frames[pos:pos + k]))
            pos += k
            time.sleep(0.002)
        blocks = _collect(src, 300)
        status = src.status
    data, ts, index = _check_blocks(blocks)
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(index, np.arange(300))
    assert status.samples == 300
    assert status.crc_errors == 0
    assert status.malformed == 0
    assert status.seq_gaps == 0
    assert status.connected
    assert status.reconnects == 0


@pytest.mark.parametrize("case", ["binary-int16", "witmotion", "csv"])
def test_frames_split_across_reads(pty: Pty, case: str) -> None:
    x = _imu(12, seed=3)
    frames, expected = _encode(case, x)
    with _reader(case, pty.path) as src:
        for i, frame in enumerate(frames):
            cut = 1 if i % 2 else len(frame) // 2  # a lone sync/header byte, or half a frame
            sent = src.bytes_received
            pty.write(frame[:cut])
            _wait(lambda s=sent, c=cut: src.bytes_received >= s + c)  # the reader has read the piece
            pty.write(frame[cut:])
            _wait(lambda s=sent, f=frame: src.bytes_received >= s + len(f))
        blocks = _collect(src, 12)
    data, _, _ = _check_blocks(blocks)
    np.testing.assert_array_equal(data, expected)


@pytest.mark.parametrize("case", ["binary-int16", "witmotion", "csv-seq-time"])
def test_garbage_and_bad_checksums_skipped_counted_and_neighbours_kept(pty: Pty, case: str) -> None:
    n = 400
    x = _imu(n, seed=4)
    frames, expected = _encode(case, x)
    rng = np.random.default_rng(7)
    corrupt = set(rng.choice(n, 25, replace=False).tolist())
    junk_before = set(rng.choice(n, 40, replace=False).tolist())
    stream = []
    header_hits = 0  # WitMotion: a corrupted header/type byte of the gyro frame hides the frame (no checksum error)
    for i, frame in enumerate(frames):
        if i in junk_before:
            if case.startswith("csv"):
                stream.append(b"#!! noise ?? \r\n")
            else:
                junk = rng.integers(0, 256, int(rng.integers(1, 20))).astype(np.uint8)
                junk[junk == frame[0]] ^= 1  # no sync byte inside the junk (so no phantom frame)
                stream.append(junk.tobytes())
        if i in corrupt:
            f = bytearray(frame)
            pos = int(rng.integers(3, len(f) - 3))
            f[pos] = ord("#") if case.startswith("csv") else f[pos] ^ 0x5A
            header_hits += case == "witmotion" and pos in (11, 12)
            frame = bytes(f)
        stream.append(frame)
    keep = [i for i in range(n) if i not in corrupt]
    with _reader(case, pty.path) as src:
        data = b"".join(stream)
        for i in range(0, len(data), 97):
            pty.write(data[i:i + 97])
        blocks = _collect(src, len(keep))
        time.sleep(0.05)
        assert src.read().n_samples == 0
        status = src.status
    got, _, index = _check_blocks(blocks)
    np.testing.assert_array_equal(got, expected[keep])
    if case != "witmotion":
        # counters from the device (binary seq, csv seq column): a lost frame is a jump in Block.seq
        np.testing.assert_array_equal(index, keep)
        assert status.samples_lost == len(corrupt)
    if case == "binary-int16":
        assert status.crc_errors == len(corrupt)
    elif case == "witmotion":
        # each lost sample leaves one unpaired frame, counted as malformed and as one lost sample
        assert status.crc_errors == len(corrupt) - header_hits
        assert status.malformed == len(corrupt)
        assert status.samples_lost == len(corrupt)
    else:
        assert status.malformed == len(corrupt)
        assert status.text_lines == len(junk_before)
    assert status.bytes_skipped > 0


def test_unplug_reports_and_reconnects_when_the_port_comes_back(tmp_path: Path) -> None:
    link = tmp_path / "imu"
    first = Pty()
    link.symlink_to(first.path)
    x = _imu(200, seed=5)
    data = binary.encode_frames(x, np.arange(200), np.arange(200) * 1000)  # a 1 kHz device ...
    frames, expected = [data[i * 24:(i + 1) * 24] for i in range(200)], binary.quantize(x)[1]

    def send(pty: Pty, part: list[bytes]) -> None:  # ... sending in real time, 10 frames per 10 ms
        for i in range(0, len(part), 10):
            pty.write(b"".join(part[i:i + 10]))
            time.sleep(0.01)

    src = EventTap(SerialImu(SerialSettings(str(link), 921600, "binary", fs=1000.0, reconnect_max_s=0.2)))
    second = None
    try:
        src.start()
        send(first, frames[:100])
        blocks = _collect(src, 100)
        first.close()  # unplug
        _wait(lambda: not src.status.connected)
        for _ in range(20):  # the pipeline keeps reading: empty blocks, no exception
            assert src.read().n_samples == 0
            time.sleep(0.01)
        events = src.pop_events()
        assert len(events) == 1
        assert events[0].startswith("device lost: serial")
        assert src.status.last_error
        second = Pty()  # plug back in: same name, new device node
        tmp = tmp_path / "imu.tmp"
        tmp.symlink_to(second.path)
        tmp.replace(link)
        _wait(lambda: src.status.connected and src.status.reconnects == 1)
        src.read()  # the next read carries the event
        assert src.pop_events()[0].startswith("device back: serial")
        send(second, frames[100:])
        blocks += _collect(src, 100)
    finally:
        if src.running:
            src.stop()
        first.close()
        if second is not None:
            second.close()
    data, ts, index = _check_blocks(blocks)
    np.testing.assert_array_equal(data, expected)
    assert index[100] > index[99]  # the index continues after the gap
    assert ts[100] > ts[99]


def test_device_restart_is_reported(pty: Pty) -> None:
    x = _imu(40, seed=6)
    frames, _ = _encode("binary-int16", x)
    restarted = binary.encode_frames(x[:10], np.arange(10), np.arange(10) * 10_000)  # counter and clock from 0
    with _reader("binary-int16", pty.path) as reader:
        src = EventTap(reader)
        pty.write(b"".join(frames[20:40]) + restarted)
        blocks = _collect(src, 30)
        events = src.pop_events()
    assert any(e.startswith("device restarted") for e in events)
    _, _, index = _check_blocks(blocks)
    np.testing.assert_array_equal(index, np.arange(30))


def _read_until_it_raises(src: SerialImu, timeout: float) -> None:
    """Read ``src`` until ``read()`` raises (the caller expects the error); fail after ``timeout`` seconds."""
    wait_until(lambda: src.read() is None, timeout, 0.01, "read() to raise the device error")


def test_wrong_format_raises_no_valid_frame(pty: Pty) -> None:
    src = _reader("binary-int16", pty.path, no_frame_timeout_s=0.4)
    src.start()
    try:
        pty.write(format_lines(_imu(50)))  # CSV text into a binary reader (same as a wrong baud rate)
        with pytest.raises(DeviceError, match=r"no valid binary frame in 0\.4 s .*Check that --baud 115200 and "
                                              r"--format binary"):
            _read_until_it_raises(src, 5.0)
    finally:
        src.stop()  # the error was raised once, from read(); stop() does not raise it again


def test_silent_device_error_says_no_data(pty: Pty) -> None:
    src = _reader("csv", pty.path, no_frame_timeout_s=0.3)
    src.start()
    _wait(lambda: src._error is not None)
    with pytest.raises(DeviceError, match="no data at all in 0.3 s"):
        src.stop()


def test_busy_port_error(pty: Pty) -> None:
    holder = serial.Serial(pty.path, 115200, exclusive=True)
    try:
        with pytest.raises(DeviceError, match="is busy"):
            _reader("csv", pty.path).start()
    finally:
        holder.close()


def test_lifecycle_errors(pty: Pty, myostream_log: pytest.LogCaptureFixture) -> None:
    src = _reader("csv", pty.path)
    with pytest.raises(RuntimeError, match=r"Use SerialImu.start\(\)"):
        src.read()
    with pytest.raises(RuntimeError, match="not started"):
        src.stop()
    src.start()
    src.start()  # a second start() warns through the package logger, nothing else
    assert "already started; start() ignored" in myostream_log.text
    assert src.read().n_samples == 0
    assert src.read().seq == 0
    src.stop()
    assert not src.running
