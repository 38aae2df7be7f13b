"""Serial IMU decoders: exact values, any split of the byte stream, garbage and checksum errors counted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from devices.formats import (
    BinaryDecoder,
    CsvDecoder,
    CsvSettings,
    WitMotionDecoder,
    binary,
    max_rate_hz,
    witmotion,
)
from devices.formats.base import select_frames
from devices.formats.crc import crc16_ccitt_false, crc16_ccitt_false_rows
from devices.formats.csv_text import (
    ACC_SCALES,
    GYRO_SCALES,
    format_lines,
    parse_columns,
    parse_scale,
)


def _imu(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)) * [4.0, 4.0, 4.0, 2.0, 2.0, 2.0] + [0.0, 0.0, 9.81, 0.0, 0.0, 0.0]


def _feed_in_pieces(decoder, data: bytes, sizes: list[int]):
    out, pos, i = [], 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        out.append(decoder.feed(data[pos:pos + size]))
        pos, i = pos + size, i + 1
    return out


def _cat(batches) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b.samples for b in batches]), np.concatenate([b.counter for b in batches])


# --------------------------------------------------------------------------- CRC
def test_crc16_ccitt_false_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF
    rows = np.frombuffer(b"123456789" + b"abcdefghi", np.uint8).reshape(2, 9)
    assert crc16_ccitt_false_rows(rows).tolist() == [0x29B1, crc16_ccitt_false(b"abcdefghi")]


# --------------------------------------------------------------------------- binary
@pytest.mark.parametrize("payload", ["int16", "float32"])
@pytest.mark.parametrize("sizes", [[1], [7], [23, 25, 1], [100000]])
def test_binary_exact_under_any_split(payload: str, sizes: list[int]) -> None:
    x = _imu(500)
    seq = np.arange(65500, 66000)  # wraps at 65536
    t_us = np.arange(500) * 1000 + 7
    data = binary.encode_frames(x, seq, t_us, payload)
    assert len(data) == 500 * (24 if payload == "int16" else 36)
    dec = BinaryDecoder()
    batches = _feed_in_pieces(dec, data, sizes)
    samples, counter = _cat(batches)
    np.testing.assert_array_equal(samples, binary.quantize(x, payload)[1])
    np.testing.assert_array_equal(counter, seq % 65536)
    times = np.concatenate([b.device_time for b in batches])
    np.testing.assert_allclose(times, t_us * 1e-6)
    assert dec.counters.frames_ok == 500
    assert dec.counters.crc_errors == 0
    assert dec.counters.bytes_skipped == 0


def test_binary_int16_scaling_and_clipping() -> None:
    x = np.array([[9.80665, -2 * 9.80665, 0.0, math.radians(250.0), 0.0, -math.radians(3000.0)]])
    raw, decoded = binary.quantize(x, "int16", acc_range_g=2.0, gyro_range_dps=250.0)
    assert raw[0, 0] == 16384
    assert raw[0, 1] == -32768
    assert raw[0, 3] == 32767
    assert raw[0, 5] == -32768
    dec = BinaryDecoder()
    out = dec.feed(binary.encode_frames(x, [0], [0], "int16", 2.0, 250.0))
    np.testing.assert_array_equal(out.samples, decoded)
    assert out.samples[0, 0] == pytest.approx(9.80665, rel=1e-6)


def test_binary_garbage_and_corrupted_crc_skipped_and_counted() -> None:
    x = _imu(300, seed=1)
    frames = binary.encode_frames(x, np.arange(300), np.arange(300) * 500)
    size = 24
    rng = np.random.default_rng(5)
    stream = bytearray()
    expected = []
    for i in range(300):
        frame = bytearray(frames[i * size:(i + 1) * size])
        if i % 10 == 3:  # corrupt a payload byte: CRC error, frame lost
            frame[12] ^= 0x40
        else:
            expected.append(i)
        if i % 7 == 0:  # garbage, including fake sync patterns with valid kinds
            stream += rng.integers(0, 256, 9).astype(np.uint8).tobytes() + b"\xa5\x5a\x01\x20\x00"
        stream += frame
    dec = BinaryDecoder()
    batches = _feed_in_pieces(dec, bytes(stream), [13, 64, 5])
    samples, counter = _cat(batches)
    np.testing.assert_array_equal(counter, expected)
    np.testing.assert_array_equal(samples, binary.quantize(x)[1][expected])
    assert dec.counters.frames_ok == len(expected)
    # 30 corrupted frames, plus the fake sync patterns whose 24 bytes (running into the next frame) fail too.
    assert dec.counters.crc_errors >= 30
    assert dec.counters.bytes_skipped >= 30 * size + 43 * 14


def test_binary_unknown_kind_is_malformed() -> None:
    good = binary.encode_frames(_imu(2), [0, 1], [0, 10])
    bad = bytearray(good[:24])
    bad[2] = 0x07
    dec = BinaryDecoder()
    out = dec.feed(bytes(bad) + good[24:])
    assert out.n_samples == 1
    assert out.counter.tolist() == [1]
    assert dec.counters.malformed == 1


def test_binary_bad_range_bits_with_valid_crc_is_malformed() -> None:
    frame = bytearray(binary.encode_frames(_imu(1), [0], [0]))
    frame[3] |= 0x80
    body = bytes(frame[2:-2])
    crc = crc16_ccitt_false(body)
    frame[-2:] = bytes([crc & 0xFF, crc >> 8])
    dec = BinaryDecoder()
    assert dec.feed(bytes(frame)).n_samples == 0
    assert dec.counters.malformed == 1
    assert dec.counters.crc_errors == 0


def test_binary_reset_drops_partial_frame() -> None:
    data = binary.encode_frames(_imu(2), [0, 1], [0, 10])
    dec = BinaryDecoder()
    assert dec.feed(data[:30]).n_samples == 1
    dec.reset()
    out = dec.feed(data[30:] + data)
    assert out.n_samples == 2


# --------------------------------------------------------------------------- witmotion
@pytest.mark.parametrize("sizes", [[1], [11], [5, 17]])
def test_witmotion_exact_with_other_frames(sizes: list[int]) -> None:
    x = _imu(300, seed=2)
    angles = np.random.default_rng(0).uniform(-3, 3, (300, 3))
    data = witmotion.encode_frames(x, extra_angle=angles)
    dec = WitMotionDecoder()
    samples, counter = _cat(_feed_in_pieces(dec, data, sizes))
    np.testing.assert_array_equal(samples, witmotion.quantize(x)[1])
    np.testing.assert_array_equal(counter, np.arange(300))
    assert dec.counters.frames_ok == 900
    assert dec.counters.other_frames == 300
    assert dec.counters.crc_errors == 0
    assert dec.counters.malformed == 0


def test_witmotion_scale_matches_datasheet() -> None:
    # 0x51: a = raw / 32768 * 16 g; 0x52: w = raw / 32768 * 2000 deg/s
    frame_a = bytes([0x55, 0x51]) + np.array([2048, 0, -2048, 2500], "<i2").tobytes()
    frame_a += bytes([sum(frame_a) & 0xFF])
    frame_g = bytes([0x55, 0x52]) + np.array([16384, 0, 0, 0], "<i2").tobytes()
    frame_g += bytes([sum(frame_g) & 0xFF])
    out = WitMotionDecoder().feed(frame_a + frame_g)
    np.testing.assert_allclose(out.samples[0], [9.80665, 0, -9.80665, math.radians(1000.0), 0, 0], rtol=1e-6)


def test_witmotion_checksum_errors_and_unpaired_frames() -> None:
    x = _imu(40, seed=3)
    data = bytearray(witmotion.encode_frames(x))
    data[5 * 22 + 4] ^= 0x10  # sample 5: accelerometer frame corrupted -> its gyro frame is unpaired
    data[9 * 22 + 11 + 6] ^= 0x01  # sample 9: gyroscope frame corrupted -> its accel frame is unpaired
    data[20 * 22:20 * 22] = b"\x00\x13\x55\x99\x01"  # garbage (a header byte with a non-frame type)
    dec = WitMotionDecoder()
    samples, counter = _cat(_feed_in_pieces(dec, bytes(data), [3, 30]))
    keep = [i for i in range(40) if i not in (5, 9)]
    np.testing.assert_array_equal(samples, witmotion.quantize(x)[1][keep])
    assert dec.counters.crc_errors == 2
    assert dec.counters.malformed == 2
    # the estimated counter jumps over the two lost samples
    np.testing.assert_array_equal(counter, keep)


# --------------------------------------------------------------------------- csv
def test_csv_exact_with_banner_crlf_and_splits() -> None:
    x = _imu(200, seed=4)
    text = b"MPU6050 connection successful\r\n\r\n" + format_lines(x)
    dec = CsvDecoder()
    samples, counter = _cat(_feed_in_pieces(dec, text, [1, 9, 50]))
    np.testing.assert_array_equal(samples, np.round(x, 5).astype(np.float32))
    np.testing.assert_array_equal(counter, np.arange(200))
    assert dec.counters.text_lines == 1
    assert dec.counters.malformed == 0


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        (b"1.5,2,3,4,5,6\n", "auto"),
        (b"1.5\t2\t3\t4\t5\t6\n", "auto"),
        (b"1.5 2 3 4 5 6\r\n", "auto"),
        (b"1.5;2;3;4;5;6\r", "auto"),
        (b"ax:1.5 ay:2 az:3 gx:4 gy:5 gz:6\n", "auto"),
        (b"acc_x=1.5,acc_y=2,acc_z=3,gyr_x=4,gyr_y=5,gyr_z=6\n", "auto"),
        (b"acc: 1.5, 2, 3  gyro: 4, 5, 6\n", "auto"),
        (b"1.5,2,3,4,5,6,\n", "comma"),
        (b" 1.5 , 2 , 3 , 4 , 5 , 6 \n", "comma"),
        (b"1.5\t2\t3\t4\t5\t6\n", "tab"),
        (b"1.5  2 3 4 5 6\n", "space"),
    ],
)
def test_csv_line_variants(line: bytes, delimiter: str) -> None:
    out = CsvDecoder(CsvSettings(delimiter=delimiter)).feed(line)
    np.testing.assert_array_equal(out.samples, [[1.5, 2, 3, 4, 5, 6]])


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"Initializing I2C devices...\n", "text"),
        (b"1,2,3\n", "malformed"),
        (b"1,2,3,4,5,nan\n", "malformed"),
        (b"1,2,3,4,5,6x\n", "malformed"),
        (b"1,2,#3,4,5,6\n", "malformed"),
        (b"1_0,2,3,4,5,6\n", "malformed"),
        (b"\xff\xfe\x00\x01\n", "text"),
    ],
)
def test_csv_rejected_lines_are_counted(line: bytes, kind: str) -> None:
    dec = CsvDecoder()
    out = dec.feed(line + b"1,2,3,4,5,6\n")
    assert out.n_samples == 1
    assert (dec.counters.text_lines, dec.counters.malformed) == ((1, 0) if kind == "text" else (0, 1))
    assert out.counter.tolist() == ([0] if kind == "text" else [1])  # a malformed line is a lost sample


def test_csv_column_mapping_scales_time_and_seq() -> None:
    settings = CsvSettings(columns=parse_columns("seq,t,_,gx,gy,gz,ax,ay,az"),
                           acc_scale=ACC_SCALES["g"], gyro_scale=GYRO_SCALES["deg/s"], time_scale=1e-3)
    out = CsvDecoder(settings).feed(b"17,2500.5,99,90,0,-180,1,0,-0.5\n18,2510.5,99,0,0,0,0,0,1\n")
    np.testing.assert_allclose(out.samples[0], [9.80665, 0, -4.903325, math.pi / 2, 0, -math.pi], rtol=1e-6)
    assert out.counter.tolist() == [17, 18]
    assert out.counter_from_device
    np.testing.assert_allclose(out.device_time, [2.5005, 2.5105])


def test_csv_overlong_line_is_dropped() -> None:
    dec = CsvDecoder(CsvSettings(max_line=64))
    out = dec.feed(b"\x01" * 200)
    assert out.n_samples == 0
    assert dec.counters.bytes_skipped == 200
    assert dec.counters.malformed == 1
    assert dec.feed(b"\n1,2,3,4,5,6\n").n_samples == 1


def test_csv_settings_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="unknown role 'qx'"):
        parse_columns("qx,ay,az,gx,gy,gz")
    with pytest.raises(ValueError, match="exactly once"):
        parse_columns("ax,ax,az,gx,gy,gz")
    with pytest.raises(ValueError, match="'delimiter'"):
        CsvSettings(delimiter="|")
    with pytest.raises(ValueError, match="'acc_scale'"):
        CsvSettings(acc_scale=-1.0)
    assert parse_scale("mpu6050-2g", ACC_SCALES, "acc") == pytest.approx(9.80665 / 16384)
    assert parse_scale("0.5", ACC_SCALES, "acc") == 0.5
    with pytest.raises(ValueError, match="'--csv-acc-scale' must be a positive number or one of"):
        parse_scale("fast", ACC_SCALES, "--csv-acc-scale")


# --------------------------------------------------------------------------- shared selection
def test_select_frames_fast_path_equals_walk() -> None:
    """Random streams: decoding in one piece equals decoding byte by byte (fast path vs loop)."""
    rng = np.random.default_rng(11)
    for trial in range(20):
        x = _imu(60, seed=trial)
        frames = binary.encode_frames(x, np.arange(60), np.arange(60))
        stream = bytearray()
        for i in range(60):
            if rng.random() < 0.2:
                stream += rng.integers(0, 256, int(rng.integers(1, 30))).astype(np.uint8).tobytes()
            stream += frames[i * 24:(i + 1) * 24]
        whole = BinaryDecoder().feed(bytes(stream))
        dec = BinaryDecoder()
        pieces = _feed_in_pieces(dec, bytes(stream), [1])
        np.testing.assert_array_equal(whole.counter, np.concatenate([p.counter for p in pieces]))
        np.testing.assert_array_equal(whole.counter, np.arange(60))


def test_select_frames_overlap_and_pending() -> None:
    starts = np.array([0, 5, 10, 40])
    lengths = np.array([10, 10, 10, 10])
    complete = np.array([True, True, True, False])
    valid = np.array([True, True, False, False])
    sel = select_frames(starts, lengths, complete, valid, 45, keep_tail=1)
    # 5 lies inside the accepted frame at 0; 10 is invalid (rejected); 40 is incomplete: keep from 40
    assert sel.accepted.tolist() == [0]
    assert sel.rejected.tolist() == [2]
    assert sel.consumed == 40


def test_max_rate_per_format() -> None:
    assert max_rate_hz("binary", 921600) == pytest.approx(3840.0)
    assert max_rate_hz("binary", 115200) == pytest.approx(480.0)
    assert max_rate_hz("witmotion", 115200) == pytest.approx(523.6, rel=1e-3)
    assert max_rate_hz("csv", 115200) == pytest.approx(209.5, rel=1e-3)
