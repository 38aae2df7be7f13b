"""WitMotion serial protocol (WT901, JY901, HWT901B, BWT61 ... the widely sold IMU family).

Every frame is 11 bytes::

    0x55, type, d0 d1, d2 d3, d4 d5, d6 d7, sum

``type`` 0x51 is the accelerometer (ax, ay, az, temperature: int16 LE,
a = raw / 32768 * 16 g), 0x52 the gyroscope (wx, wy, wz, voltage/temperature:
w = raw / 32768 * 2000 °/s); other types in 0x50..0x5F (time, angle,
magnetometer, quaternion ...) are valid but unused. ``sum`` is the low byte of
the sum of the first 10 bytes. The device sends 0x51 then 0x52 (then others)
once per output period; one IMU sample is an accelerometer frame followed by a
gyroscope frame. The format has no sample counter and no device time, so a sample is
only formed from an accelerometer frame *immediately* followed by a gyroscope
frame in the byte stream: when the gyroscope frame of one sample and the
accelerometer frame of the next are both lost, the remaining halves are not
mistaken for a sample.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from devices.formats.base import DecoderCounters, FrameBatch, gather_rows, select_frames
from realtime.core.units import STANDARD_GRAVITY

FRAME_SIZE = 11
HEADER = 0x55
TYPE_ACC = 0x51
TYPE_GYRO = 0x52
TYPE_ANGLE = 0x53
ACC_FULL_SCALE_G = 16.0
GYRO_FULL_SCALE_DPS = 2000.0
ACC_LSB = ACC_FULL_SCALE_G * STANDARD_GRAVITY / 32768.0
GYRO_LSB = GYRO_FULL_SCALE_DPS * math.pi / 180.0 / 32768.0

SMALL_BUFFER = 256
"""Buffers up to this many bytes are decoded by a plain loop (cheaper than numpy for a few frames)."""

_XYZ = struct.Struct("<3h")


def quantize(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the int16 counts a WitMotion device sends for ``samples`` and their decoded values.

    Parameters
    ----------
    samples : ndarray, shape (n, 6)
        Accelerometer (m/s²) and gyroscope (rad/s) values; clipped to ±16 g and ±2000 °/s.

    Returns
    -------
    raw : ndarray, shape (n, 6), int16
    decoded : ndarray, shape (n, 6), float32
        Exactly what :class:`WitMotionDecoder` returns.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 6:
        raise ValueError(f"The argument 'samples' should be (n_samples, 6), {samples.shape} is invalid.")
    lsb = np.array([ACC_LSB] * 3 + [GYRO_LSB] * 3)
    raw = np.clip(np.rint(samples / lsb), -32768, 32767).astype("<i2")
    return raw, (raw.astype(np.float64) * lsb).astype(np.float32)


def encode_frames(samples: np.ndarray, temperature_c: float = 25.0, extra_angle: np.ndarray | None = None) -> bytes:
    """Encode samples as WitMotion frames: 0x51 then 0x52 (then 0x53 if angles are given) per sample.

    Parameters
    ----------
    samples : ndarray, shape (n, 6)
        Accelerometer (m/s²) and gyroscope (rad/s) values.
    temperature_c : float
        Temperature written in the 4th field of both frames (°C, raw = T * 100).
    extra_angle : ndarray, shape (n, 3) | None
        Roll, pitch, yaw in radians to send as 0x53 frames (raw = deg / 180 * 32768).

    Returns
    -------
    frames : bytes
    """
    raw, _ = quantize(samples)
    n = raw.shape[0]
    n_types = 2 if extra_angle is None else 3
    frames = np.zeros((n, n_types, FRAME_SIZE), np.uint8)
    frames[:, :, 0] = HEADER
    temp = np.int16(round(temperature_c * 100))
    fields = np.empty((n, n_types, 4), "<i2")
    fields[:, 0, :3] = raw[:, :3]
    fields[:, 1, :3] = raw[:, 3:]
    fields[:, :2, 3] = temp
    frames[:, 0, 1] = TYPE_ACC
    frames[:, 1, 1] = TYPE_GYRO
    if extra_angle is not None:
        angle = np.asarray(extra_angle, np.float64)
        if angle.shape != (n, 3):
            raise ValueError(f"The argument 'extra_angle' should be ({n}, 3), {angle.shape} is invalid.")
        deg = np.degrees(angle)
        fields[:, 2, :3] = np.clip(np.rint(deg / 180.0 * 32768.0), -32768, 32767)
        fields[:, 2, 3] = 0
        frames[:, 2, 1] = TYPE_ANGLE
    frames[:, :, 2:10] = fields.view(np.uint8).reshape(n, n_types, 8)
    frames[:, :, 10] = frames[:, :, :10].sum(axis=2, dtype=np.uint32) & 0xFF
    return frames.tobytes()


class WitMotionDecoder:
    """Incremental decoder of WitMotion 11-byte frames.

    Attributes
    ----------
    counters : DecoderCounters
        What was decoded and skipped so far. An accelerometer frame not followed
        by a gyroscope frame (or a gyroscope frame without one before it) counts
        as malformed, and as one lost sample in the estimated counter.
    """

    name = "witmotion"

    def __init__(self) -> None:
        self.counters = DecoderCounters()
        self._buffer = bytearray()
        self._pending_acc: np.ndarray | None = None
        self._pending_end = -1
        self._offset = 0  # stream position of the first buffered byte
        self._count = 0

    def reset(self) -> None:
        """Drop buffered bytes and a pending accelerometer frame; counters are kept."""
        self._offset += len(self._buffer)
        self._buffer.clear()
        self._pending_acc = None

    def feed(self, data: bytes) -> FrameBatch:
        """Decode ``data`` appended to the bytes kept from earlier calls.

        Returns
        -------
        batch : FrameBatch
            One sample per accelerometer+gyroscope pair, in stream order.
        """
        self._buffer += data
        if len(self._buffer) <= SMALL_BUFFER:
            types_l, values_l, starts_l = self._frames_small()
            types, values = np.asarray(types_l, np.uint8), np.asarray(values_l, np.int16).reshape(-1, 3)
            starts = starts_l
        else:
            types, values, starts_a = self._frames_vectorised()
            starts = starts_a.tolist()
        c = self.counters
        c.frames_ok += types.shape[0]
        out_rows: list[int] = []  # index of the gyro frame of each sample
        out_acc: list[np.ndarray] = []
        counts: list[int] = []
        pending = self._pending_acc
        pending_end = self._pending_end
        count = self._count
        for i, t in enumerate(types.tolist()):
            if pending is not None and starts[i] != pending_end:
                c.malformed += 1  # accelerometer frame not directly followed by its gyroscope frame
                count += 1
                pending = None
            if t == TYPE_ACC:
                pending = values[i]
                pending_end = starts[i] + FRAME_SIZE
            elif t == TYPE_GYRO:
                if pending is None:
                    c.malformed += 1  # gyroscope frame without an accelerometer frame just before it
                    count += 1
                    continue
                out_rows.append(i)
                out_acc.append(pending)
                counts.append(count)
                count += 1
                pending = None
            else:
                c.other_frames += 1
        self._pending_acc = None if pending is None else pending.copy()
        self._pending_end = pending_end
        self._count = count
        k = len(out_rows)
        samples = np.empty((k, 6), np.float32)
        if k:
            acc = np.stack(out_acc).astype(np.float64) * ACC_LSB
            gyr = values[np.asarray(out_rows)].astype(np.float64) * GYRO_LSB
            samples[:, :3] = acc
            samples[:, 3:] = gyr
        c.samples += k
        return FrameBatch(samples, np.asarray(counts, np.int64), 0, False, None, 0.0)

    def _frames_vectorised(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Find every valid frame of the buffer with numpy: their types, first three int16 fields and stream positions."""
        buf = np.frombuffer(bytes(self._buffer), np.uint8)
        n = buf.shape[0]
        starts = np.flatnonzero((buf[:-1] == HEADER) & ((buf[1:] & 0xF0) == 0x50)).astype(np.int64)
        lengths = np.full(starts.shape[0], FRAME_SIZE, np.int64)
        complete = starts + FRAME_SIZE <= n
        valid = np.zeros(starts.shape[0], bool)
        idx = np.flatnonzero(complete)
        if idx.size:
            rows = gather_rows(buf, starts[idx], FRAME_SIZE)
            valid[idx] = (rows[:, :10].sum(axis=1, dtype=np.uint32) & 0xFF) == rows[:, 10]
        sel = select_frames(starts, lengths, complete, valid, n, keep_tail=1)
        c = self.counters
        c.crc_errors += sel.rejected.shape[0]
        c.bytes_skipped += sel.consumed - FRAME_SIZE * sel.accepted.shape[0]
        del self._buffer[: sel.consumed]
        base = self._offset
        self._offset += sel.consumed
        rows = gather_rows(buf, starts[sel.accepted], FRAME_SIZE)
        return rows[:, 1], rows[:, 2:10].copy().view("<i2")[:, :3], starts[sel.accepted] + base

    def _frames_small(self) -> tuple[list[int], list[int], list[int]]:
        """Find every valid frame of a short buffer with a plain loop (same rules as the vectorised path)."""
        buf = bytes(self._buffer)
        n = len(buf)
        c = self.counters
        types: list[int] = []
        values: list[int] = []
        positions: list[int] = []
        base = self._offset
        pos = 0
        consumed = -1
        while True:
            i = buf.find(b"\x55", pos)
            if i < 0 or i + 1 >= n:
                break
            if buf[i + 1] & 0xF0 != 0x50:
                pos = i + 1
                continue
            if i + FRAME_SIZE > n:
                consumed = i
                break
            if sum(buf[i:i + 10]) & 0xFF != buf[i + 10]:
                c.crc_errors += 1
                pos = i + 1
                continue
            types.append(buf[i + 1])
            values.extend(_XYZ.unpack_from(buf, i + 2))
            positions.append(base + i)
            pos = i + FRAME_SIZE
        if consumed < 0:
            consumed = max(pos, n - 1)
        c.bytes_skipped += consumed - FRAME_SIZE * len(types)
        del self._buffer[:consumed]
        self._offset += consumed
        return types, values, positions
