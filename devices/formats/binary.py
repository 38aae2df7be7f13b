"""myostream's binary IMU frame (see ``docs/serial-protocol.md``).

One frame per sample, every multi-byte field little-endian::

    offset size  field
    0      2     sync            0xA5 0x5A
    2      1     kind            0x01: 6 x int16 payload, 0x02: 6 x float32 payload
    3      1     ranges          int16: bits 0-1 accelerometer full scale (0..3 -> ±2/4/8/16 g),
                                        bits 4-5 gyroscope full scale (0..3 -> ±250/500/1000/2000 °/s),
                                        other bits 0;  float32: 0
    4      2     seq             uint16 sample counter, +1 per sample, wraps at 65536
    6      4     t_us            uint32 device time in microseconds, wraps after 2^32 µs (71.6 min)
    10     12|24 payload         acc_x acc_y acc_z gyr_x gyr_y gyr_z
                                 int16: raw counts (value = raw * full_scale / 32768);
                                 float32: m/s² and rad/s
    22|34  2     crc             CRC-16/CCITT-FALSE of bytes 2 .. end-3 (kind through payload)

A frame is 24 bytes (int16) or 36 bytes (float32). The decoder finds every
sync pattern in a read, checks all CRCs of the read at once and keeps the
incomplete tail for the next read.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from devices.formats.base import DecoderCounters, FrameBatch, gather_rows, select_frames
from devices.formats.crc import crc16_ccitt_false, crc16_ccitt_false_rows
from realtime.core.checks import check_choice
from realtime.core.units import STANDARD_GRAVITY

SYNC = b"\xa5\x5a"
KIND_INT16 = 0x01
KIND_FLOAT32 = 0x02
FRAME_SIZES: dict[int, int] = {KIND_INT16: 24, KIND_FLOAT32: 36}
"""Frame length in bytes for each payload kind."""

ACC_RANGES_G: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0)
"""Accelerometer full scale (±g) for range codes 0..3 (MPU-6050 ``AFS_SEL``)."""
GYRO_RANGES_DPS: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0)
"""Gyroscope full scale (±°/s) for range codes 0..3 (MPU-6050 ``FS_SEL``)."""

SEQ_MODULUS = 1 << 16
TIME_MODULUS_S = (1 << 32) * 1e-6

_HEADER_DTYPE = np.dtype([("kind", "u1"), ("ranges", "u1"), ("seq", "<u2"), ("t_us", "<u4")])
_FRAME_DTYPES: dict[int, np.dtype] = {
    KIND_INT16: np.dtype(
        [("sync", "u1", 2), ("kind", "u1"), ("ranges", "u1"), ("seq", "<u2"), ("t_us", "<u4"),
         ("data", "<i2", 6), ("crc", "<u2")]
    ),
    KIND_FLOAT32: np.dtype(
        [("sync", "u1", 2), ("kind", "u1"), ("ranges", "u1"), ("seq", "<u2"), ("t_us", "<u4"),
         ("data", "<f4", 6), ("crc", "<u2")]
    ),
}

_ACC_LSB = np.array([r * STANDARD_GRAVITY / 32768.0 for r in ACC_RANGES_G])
_GYRO_LSB = np.array([r * math.pi / 180.0 / 32768.0 for r in GYRO_RANGES_DPS])

PAYLOADS: tuple[str, ...] = ("int16", "float32")

SMALL_BUFFER = 512
"""Buffers up to this many bytes are decoded by a plain loop (cheaper than numpy for a few frames)."""

_STRUCTS = {KIND_INT16: struct.Struct("<BBHI6h"), KIND_FLOAT32: struct.Struct("<BBHI6f")}
_ACC_LSB_LIST = [float(v) for v in _ACC_LSB]
_GYRO_LSB_LIST = [float(v) for v in _GYRO_LSB]


def range_code(acc_range_g: float, gyro_range_dps: float) -> int:
    """Return the ``ranges`` byte for the given full scales.

    Parameters
    ----------
    acc_range_g : float
        Accelerometer full scale in g, one of ``ACC_RANGES_G``.
    gyro_range_dps : float
        Gyroscope full scale in °/s, one of ``GYRO_RANGES_DPS``.
    """
    check_choice("acc_range_g", acc_range_g, ACC_RANGES_G)
    check_choice("gyro_range_dps", gyro_range_dps, GYRO_RANGES_DPS)
    return ACC_RANGES_G.index(acc_range_g) | (GYRO_RANGES_DPS.index(gyro_range_dps) << 4)


def _lsb(ranges: np.ndarray) -> np.ndarray:
    """Scale (SI per count) of each of the 6 channels for each ranges byte, shape (n, 6)."""
    acc = _ACC_LSB[ranges & 0x03]
    gyr = _GYRO_LSB[(ranges >> 4) & 0x03]
    return np.repeat(np.stack([acc, gyr], axis=1), 3, axis=1)


def quantize(samples: np.ndarray, payload: str = "int16", acc_range_g: float = 8.0,
             gyro_range_dps: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """Return what a frame carries for ``samples``: the raw payload and the decoded SI values.

    Parameters
    ----------
    samples : ndarray, shape (n, 6)
        Accelerometer (m/s²) and gyroscope (rad/s) values.
    payload : {"int16", "float32"}
        Payload kind.
    acc_range_g, gyro_range_dps : float
        Full scales of the int16 payload (ignored for float32).

    Returns
    -------
    raw : ndarray, shape (n, 6)
        int16 counts (clipped to the full scale) or float32 values.
    decoded : ndarray, shape (n, 6), float32
        Exactly what :class:`BinaryDecoder` returns for those frames.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 6:
        raise ValueError(f"The argument 'samples' should be (n_samples, 6), {samples.shape} is invalid.")
    if payload == "float32":
        raw = samples.astype("<f4")
        return raw, raw.astype(np.float32)
    if payload != "int16":
        raise ValueError(f"The argument 'payload' must be one of {PAYLOADS}. {payload!r} is invalid.")
    code = np.full(samples.shape[0], range_code(acc_range_g, gyro_range_dps), np.uint8)
    lsb = _lsb(code)
    raw = np.clip(np.rint(samples / lsb), -32768, 32767).astype("<i2")
    return raw, (raw.astype(np.float64) * lsb).astype(np.float32)


def encode_frames(samples: np.ndarray, seq: np.ndarray, t_us: np.ndarray, payload: str = "int16",
                  acc_range_g: float = 8.0, gyro_range_dps: float = 1000.0) -> bytes:
    """Encode samples as consecutive binary frames.

    Parameters
    ----------
    samples : ndarray, shape (n, 6)
        Accelerometer (m/s²) and gyroscope (rad/s) values.
    seq : ndarray of int, shape (n,)
        Sample counters (taken modulo 65536).
    t_us : ndarray of int, shape (n,)
        Device times in microseconds (taken modulo 2^32).
    payload : {"int16", "float32"}
        Payload kind.
    acc_range_g, gyro_range_dps : float
        Full scales of the int16 payload; values beyond them are clipped.

    Returns
    -------
    frames : bytes
        ``n`` frames, back to back.
    """
    raw, _ = quantize(samples, payload, acc_range_g, gyro_range_dps)
    n = raw.shape[0]
    seq = np.asarray(seq, np.int64)
    t_us = np.asarray(t_us, np.int64)
    if seq.shape != (n,) or t_us.shape != (n,):
        raise ValueError(
            f"The arguments 'seq' and 't_us' must have shape ({n},), got {seq.shape} and {t_us.shape}."
        )
    kind = KIND_INT16 if payload == "int16" else KIND_FLOAT32
    frames = np.zeros(n, _FRAME_DTYPES[kind])
    frames["sync"] = np.frombuffer(SYNC, np.uint8)
    frames["kind"] = kind
    frames["ranges"] = range_code(acc_range_g, gyro_range_dps) if kind == KIND_INT16 else 0
    frames["seq"] = (seq % SEQ_MODULUS).astype(np.uint16)
    frames["t_us"] = (t_us % (1 << 32)).astype(np.uint32)
    frames["data"] = raw
    size = FRAME_SIZES[kind]
    as_bytes = frames.view(np.uint8).reshape(n, size)
    frames["crc"] = crc16_ccitt_false_rows(np.ascontiguousarray(as_bytes[:, 2:-2]))
    return frames.tobytes()


class BinaryDecoder:
    """Incremental decoder of the binary frame.

    Attributes
    ----------
    counters : DecoderCounters
        What was decoded and skipped so far.
    """

    name = "binary"

    def __init__(self) -> None:
        self.counters = DecoderCounters()
        self._buffer = bytearray()

    def reset(self) -> None:
        """Drop buffered bytes (after a reconnection); counters are kept."""
        self._buffer.clear()

    def feed(self, data: bytes) -> FrameBatch:
        """Decode ``data`` appended to the bytes kept from earlier calls.

        Parameters
        ----------
        data : bytes
            Bytes as read from the port (any split, may contain garbage).

        Returns
        -------
        batch : FrameBatch
            Samples of every complete valid frame, in stream order.
        """
        self._buffer += data
        if len(self._buffer) <= SMALL_BUFFER:
            return self._feed_small()
        buf = np.frombuffer(bytes(self._buffer), np.uint8)
        n = buf.shape[0]
        starts = np.flatnonzero((buf[:-1] == SYNC[0]) & (buf[1:] == SYNC[1])).astype(np.int64)
        header_ok = starts + 4 <= n
        kinds = np.zeros(starts.shape[0], np.uint8)
        kinds[header_ok] = buf[starts[header_ok] + 2]
        lengths = np.where(kinds == KIND_INT16, 24, np.where(kinds == KIND_FLOAT32, 36, 1)).astype(np.int64)
        known = (kinds == KIND_INT16) | (kinds == KIND_FLOAT32)
        complete = header_ok & (~known | (starts + lengths <= n))
        valid = np.zeros(starts.shape[0], bool)
        crc_bad = np.zeros(starts.shape[0], bool)
        for kind, size in FRAME_SIZES.items():
            idx = np.flatnonzero(complete & (kinds == kind))
            if idx.size == 0:
                continue
            rows = gather_rows(buf, starts[idx], size)
            crc_ok = crc16_ccitt_false_rows(rows[:, 2:-2]) == (
                rows[:, -2].astype(np.uint16) | (rows[:, -1].astype(np.uint16) << 8)
            )
            ranges = rows[:, 3]
            ranges_ok = (ranges & 0xCC) == 0 if kind == KIND_INT16 else ranges == 0
            valid[idx] = crc_ok & ranges_ok
            crc_bad[idx] = ~crc_ok
        sel = select_frames(starts, lengths, complete, valid, n, keep_tail=len(SYNC) - 1)
        c = self.counters
        n_crc = int(crc_bad[sel.rejected].sum())
        c.crc_errors += n_crc
        c.malformed += sel.rejected.shape[0] - n_crc
        acc_starts = starts[sel.accepted]
        acc_kinds = kinds[sel.accepted]
        c.bytes_skipped += sel.consumed - int(lengths[sel.accepted].sum())
        del self._buffer[: sel.consumed]
        k = acc_starts.shape[0]
        samples = np.empty((k, 6), np.float32)
        seq = np.empty(k, np.int64)
        t_us = np.empty(k, np.int64)
        for kind, size in FRAME_SIZES.items():
            where = np.flatnonzero(acc_kinds == kind)
            if where.size == 0:
                continue
            frames = gather_rows(buf, acc_starts[where], size).view(_FRAME_DTYPES[kind]).reshape(-1)
            if kind == KIND_INT16:
                samples[where] = (frames["data"].astype(np.float64) * _lsb(frames["ranges"])).astype(np.float32)
            else:
                samples[where] = frames["data"]
            seq[where] = frames["seq"]
            t_us[where] = frames["t_us"]
        c.frames_ok += k
        c.samples += k
        return FrameBatch(samples, seq, SEQ_MODULUS, True, t_us * 1e-6, TIME_MODULUS_S)

    def _feed_small(self) -> FrameBatch:
        """Decode a short buffer frame by frame (same rules as the vectorised path)."""
        buf = bytes(self._buffer)
        n = len(buf)
        c = self.counters
        pos = 0
        accepted_bytes = 0
        rows: list[list[float]] = []
        seqs: list[int] = []
        times: list[int] = []
        consumed = -1
        while True:
            i = buf.find(SYNC, pos)
            if i < 0:
                break
            if i + 4 > n:
                consumed = i
                break
            kind = buf[i + 2]
            size = FRAME_SIZES.get(kind)
            if size is None:
                c.malformed += 1
                pos = i + 1
                continue
            if i + size > n:
                consumed = i
                break
            if crc16_ccitt_false(buf[i + 2:i + size - 2]) != buf[i + size - 2] | (buf[i + size - 1] << 8):
                c.crc_errors += 1
                pos = i + 1
                continue
            _, ranges, seq, t_us, *values = _STRUCTS[kind].unpack_from(buf, i + 2)
            if (kind == KIND_INT16 and ranges & 0xCC) or (kind == KIND_FLOAT32 and ranges):
                c.malformed += 1
                pos = i + 1
                continue
            if kind == KIND_INT16:
                a, g = _ACC_LSB_LIST[ranges & 0x03], _GYRO_LSB_LIST[(ranges >> 4) & 0x03]
                values = [values[0] * a, values[1] * a, values[2] * a, values[3] * g, values[4] * g, values[5] * g]
            rows.append(values)
            seqs.append(seq)
            times.append(t_us)
            accepted_bytes += size
            pos = i + size
        if consumed < 0:
            consumed = max(pos, n - (len(SYNC) - 1))
        c.bytes_skipped += consumed - accepted_bytes
        del self._buffer[:consumed]
        k = len(rows)
        c.frames_ok += k
        c.samples += k
        samples = np.array(rows, np.float64).reshape(k, 6).astype(np.float32)
        return FrameBatch(samples, np.array(seqs, np.int64), SEQ_MODULUS, True,
                          np.array(times, np.int64) * 1e-6, TIME_MODULUS_S)
