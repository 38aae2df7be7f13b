"""Sample continuity of a device stream: running sample index, gaps, wraps and restarts.

A serial IMU numbers its samples with a small wrapping counter (uint16 in the
binary frame) and stamps them with a wrapping clock (uint32 µs). This module
turns them into a running sample index for the whole session (``Block.seq``),
an unwrapped device time, and counts sequence gaps. A counter or clock that
jumps backward means the device restarted (e.g. an Arduino reset when the port
was opened again): the index continues, the caller resets its clock fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices.formats.base import FrameBatch


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of samples with a continuous device clock.

    Attributes
    ----------
    samples : ndarray, shape (n, 6), float32
    index : ndarray, shape (n,), int64
        Running sample index (gaps show up as jumps).
    device_time : ndarray, shape (n,), float64 | None
        Unwrapped device time in seconds, or ``None`` when the format has none.
    restarted : bool
        Whether the device restarted just before this segment.
    """

    samples: np.ndarray
    index: np.ndarray
    device_time: np.ndarray | None
    restarted: bool


class ContinuityTracker:
    """Assign running indices to decoded samples and detect gaps and restarts.

    Attributes
    ----------
    next_index : int
        Index the next sample will get if none is lost.
    seq_gaps : int
        Number of jumps in the device counter.
    samples_lost : int
        Samples missing in those jumps (and estimated from dropped frames).
    duplicates : int
        Samples dropped because their counter repeated the previous one.
    restarts : int
        Device restarts detected (counter or clock going backward).
    """

    def __init__(self) -> None:
        self.next_index = 0
        self.seq_gaps = 0
        self.samples_lost = 0
        self.duplicates = 0
        self.restarts = 0
        self._last_counter: int | None = None
        self._last_time: float | None = None
        self._time_epoch = 0.0

    def skip(self, n_lost: int) -> None:
        """Forget the device's counter and clock (after a reconnection) and advance the index by ``n_lost``."""
        self.next_index += max(int(n_lost), 0)
        self._last_counter = None
        self._last_time = None
        self._time_epoch = 0.0

    def update(self, batch: FrameBatch) -> list[Segment]:
        """Return the samples of ``batch`` as segments with running indices.

        Parameters
        ----------
        batch : FrameBatch
            Output of a decoder.

        Returns
        -------
        segments : list of Segment
            Usually one; a device restart inside the batch splits it.
        """
        segments: list[Segment] = []
        start, n = 0, batch.n_samples
        restarted = False
        while start < n:
            stop = self._first_restart(batch, start)
            if stop > start:
                segments.append(self._segment(batch, start, stop, restarted))
                restarted = False
            if stop < n:
                self.restarts += 1
                self._last_counter = None
                self._last_time = None
                self._time_epoch = 0.0
                restarted = True
            start = stop
        return segments

    def _first_restart(self, batch: FrameBatch, start: int) -> int:
        """Index (>= start) of the first sample whose counter or clock goes backward, or ``n``."""
        n = batch.n_samples
        bad = np.zeros(n - start, bool)
        if batch.counter_from_device:
            c = batch.counter[start:]
            d = np.diff(c, prepend=c[0] if self._last_counter is None else self._last_counter)
            m = batch.counter_modulus
            bad |= (d % m) > m // 2 if m else d < 0
        if batch.device_time is not None:
            t = batch.device_time[start:]
            dt = np.diff(t, prepend=t[0] if self._last_time is None else self._last_time)
            tm = batch.time_modulus
            bad |= ((dt < 0) & (dt > -tm / 2)) if tm else dt < 0
        hits = np.flatnonzero(bad)
        return start + int(hits[0]) if hits.size else n

    def _segment(self, batch: FrameBatch, start: int, stop: int, restarted: bool) -> Segment:
        c = batch.counter[start:stop]
        d = np.diff(c, prepend=c[0] - 1 if self._last_counter is None else self._last_counter)
        if batch.counter_modulus:
            d %= batch.counter_modulus
        keep = d > 0
        n_dup = int((~keep).sum())
        self.duplicates += n_dup
        gaps = d > 1
        self.seq_gaps += int(gaps.sum())
        self.samples_lost += int((d[gaps] - 1).sum())
        index = self.next_index - 1 + np.cumsum(d)
        self._last_counter = int(c[-1])
        device_time = None
        if batch.device_time is not None:
            t = batch.device_time[start:stop]
            tm = batch.time_modulus
            if tm:
                wraps = np.diff(t, prepend=t[0] if self._last_time is None else self._last_time) < -tm / 2
                epochs = self._time_epoch + tm * np.cumsum(wraps)
                self._time_epoch = float(epochs[-1])
                device_time = t + epochs
            else:
                device_time = t.astype(np.float64, copy=True)
            self._last_time = float(t[-1])
        samples = batch.samples[start:stop]
        if n_dup:
            samples, index = samples[keep], index[keep]
            device_time = None if device_time is None else device_time[keep]
        if index.size:
            self.next_index = int(index[-1]) + 1
        return Segment(samples, index, device_time, restarted)
