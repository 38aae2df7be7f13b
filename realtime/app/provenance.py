"""Provenance of each EMG block: which IMU sample it is the newest consequence of.

Every EMG block the runner publishes comes with one row on the
``<prefix>-provenance`` stream (see ``docs/streams.md``) that names the
**newest IMU sample that contributed to the block**, so that any consumer can
compute end-to-end latency itself.

"Contributed" is defined along the two causal steps between the source and the
engine:

1. **Activation stage** (IMU blocks in, activation rows out). An activation row
   stamped ``g`` is attributed to the first IMU sample of the same read whose
   timestamp is ``>= g`` (the newest one of the read when none is). For the
   network stage (:class:`realtime.stages.model.stage.ModelActivationStage`) a row is
   either a **committed** model-grid row, attributed to the input sample whose
   arrival completed grid point ``g`` (the grid value is interpolated between
   the filtered input before ``g`` and this sample, with a non-zero weight on
   the sample), or a **provisional** row, stamped with the newest IMU sample of
   the read that does not complete a grid point and attributed to that very
   sample (the network's output for the filtered input at that time, in which
   the sample has a non-zero weight). With provisional rows (the default) the
   newest sample of every read therefore has a row in the same tick. For the
   teacher stage the row and the IMU sample share the timestamp, so the row is
   attributed to its own sample. Every older IMU sample contributed too,
   through the anti-alias filter and the network's state.
2. **Engine-grid resampler** (:class:`realtime.stages.resample.CausalResampler`). EMG
   sample ``t`` is interpolated between the newest activation row at or before
   ``t`` and the row after it (the latter with a non-zero weight only when the
   former lies strictly before ``t``), or holds the newest row. The block's
   provenance is that of the newest row used by its last sample (later samples
   never use older rows). Rows that the resampler would drop (not newer than
   the newest it holds) are dropped here too. So an IMU sample's row reaches
   the first EMG block computed after it, unless that block's last sample falls
   exactly on an older row (then the next block).

An IMU sample ``i`` is therefore *included* in an EMG block exactly when the
block's provenance sequence number is ``>= i``. Before the first activation row
reaches the engine grid there is no provenance (``imu_seq = -1``, times NaN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from realtime.core.schemas import PROVENANCE_CHANNELS

if TYPE_CHECKING:
    from realtime.core.block import Block

IMU_TIME, IMU_SEQ, EMG_INDEX, EMG_SAMPLES, IMU_READ_TIME, EMG_PUSH_TIME = range(len(PROVENANCE_CHANNELS))
"""Column indices of a provenance row."""


class ProvenanceTracker:
    """Follow IMU samples through the activation stage and the engine-grid resampler.

    The runner calls :meth:`activation` once per tick with the IMU block it read
    and the activation block the stage returned, then :meth:`emg` with the EMG
    block's position; :meth:`emg` returns the provenance row of that block.

    Parameters
    ----------
    capacity : int
        Activation rows held before the internal arrays grow (they are trimmed
        every tick to the rows a future EMG sample can still use, so this is
        only exceeded when the engine grid falls far behind the activations).

    Attributes
    ----------
    row : ndarray, shape (6,), float64
        The last provenance row (columns ``PROVENANCE_CHANNELS``); reused by
        every :meth:`emg` call.
    """

    def __init__(self, capacity: int = 1024) -> None:
        if not (isinstance(capacity, int) and capacity >= 1):
            raise ValueError(f"The argument 'capacity' must be a positive integer. {capacity!r} is invalid.")
        self._capacity = capacity
        self.row = np.full(len(PROVENANCE_CHANNELS), np.nan)
        self.reset()

    def reset(self) -> None:
        """Forget every row (a new run); allocate the row buffers."""
        cap = self._capacity
        self._act_t = np.empty(cap)
        self._imu_t = np.empty(cap)
        self._imu_seq = np.empty(cap, np.int64)
        self._read_t = np.empty(cap)
        self._lo = 0
        self._hi = 0
        self._last_block: tuple[Block, float] | None = None
        self.row[:] = np.nan
        self.row[IMU_SEQ] = -1.0

    @property
    def n_pending(self) -> int:
        """Activation rows held (the newest used row and the ones after it)."""
        return self._hi - self._lo

    def activation(self, imu: Block, act: Block, read_time: float) -> None:
        """Record which IMU sample produced each row of ``act``.

        Parameters
        ----------
        imu : Block
            The IMU block read this tick (``seq`` = source index of its first sample).
        act : Block
            What the activation stage returned for ``imu``.
        read_time : float
            When ``imu`` was read (LSL clock).
        """
        n, m = imu.n_samples, act.n_samples
        if m == 0:  # remember the block, look inside only if a later row needs it
            if n:
                self._last_block = (imu, float(read_time))
            return
        if m == 1 and n and self._one_row_at_newest_sample(imu, act, float(read_time)):
            return
        t_act = act.timestamps
        pos = self._finite_positions(imu) if n else None
        if pos is not None and pos.size:
            t_imu, seq0 = imu.timestamps, imu.seq
            j = pos[np.minimum(np.searchsorted(t_imu[pos], t_act, side="left"), pos.size - 1)]
            imu_t, imu_seq = t_imu[j], seq0 + j
            read_t = np.full(m, float(read_time))
            self._last_block = (imu, float(read_time))
        else:  # rows without new input: the newest sample seen so far
            newest = self._newest_sample()
            if newest is None:
                return
            t_last, s_last, r_last = newest
            imu_t, imu_seq, read_t = np.full(m, t_last), np.full(m, s_last, np.int64), np.full(m, r_last)
        if self._hi > self._lo:  # the resampler drops rows that are not newer than what it holds
            keep = t_act > self._act_t[self._hi - 1]
            if not keep.all():
                t_act, imu_t, imu_seq, read_t = t_act[keep], imu_t[keep], imu_seq[keep], read_t[keep]
        self._append(t_act, imu_t, imu_seq, read_t)

    def emg(self, first_index: int, n_samples: int, t_last: float, push_time: float) -> np.ndarray:
        """Return the provenance row of the EMG block ``first_index .. first_index + n_samples - 1``.

        Parameters
        ----------
        first_index : int
            Index of the block's first EMG sample.
        n_samples : int
            Samples in the block.
        t_last : float
            Timestamp of the block's last sample (LSL clock).
        push_time : float
            When the block was handed to the outlets (LSL clock).

        Returns
        -------
        row : ndarray, shape (6,), float64
            ``imu_time, imu_seq, emg_index, emg_samples, imu_read_time,
            emg_push_time``; ``imu_seq`` is ``-1`` and the IMU times NaN while no
            IMU sample has reached the engine. The array is :attr:`row`, reused.
        """
        row = self.row
        row[EMG_INDEX] = first_index
        row[EMG_SAMPLES] = n_samples
        row[EMG_PUSH_TIME] = push_time
        lo, hi = self._lo, self._hi
        k = lo + int(np.searchsorted(self._act_t[lo:hi], t_last, side="right")) - 1 if hi > lo else lo - 1
        if k < lo:  # no row at or before t_last: the resampler still outputs its initial value
            row[IMU_TIME] = row[IMU_READ_TIME] = np.nan
            row[IMU_SEQ] = -1.0
            return row
        c = k + 1 if (k + 1 < hi and self._act_t[k] < t_last) else k
        row[IMU_TIME] = self._imu_t[c]
        row[IMU_SEQ] = self._imu_seq[c]
        row[IMU_READ_TIME] = self._read_t[c]
        self._lo = k  # row k stays: it is the left neighbour of every later sample
        return row

    def _one_row_at_newest_sample(self, imu: Block, act: Block, read_time: float) -> bool:
        """The common tick, without array work: one row stamped exactly with the read's newest sample.

        A provisional row (or a teacher row of a one-sample read). Returns ``False``, doing nothing,
        when the general rule must decide (another time, repeated or non-finite samples).
        """
        g = float(act.timestamps[0])
        t_imu = imu.timestamps
        last = imu.n_samples - 1
        if not (t_imu[last] == g and (last == 0 or t_imu[last - 1] < g) and np.isfinite(imu.data[last]).all()):
            return False
        self._last_block = (imu, read_time)
        hi = self._hi
        if hi > self._lo and not g > self._act_t[hi - 1]:
            return True  # not newer than the newest row held: the resampler drops it
        if hi == self._act_t.size:
            self._append(np.array([g]), np.array([g]), np.array([imu.seq + last], np.int64), np.array([read_time]))
            return True
        self._act_t[hi] = g
        self._imu_t[hi] = g
        self._imu_seq[hi] = imu.seq + last
        self._read_t[hi] = read_time
        self._hi = hi + 1
        return True

    @staticmethod
    def _finite_positions(imu: Block) -> np.ndarray:
        """Positions of the samples the activation stage can use (finite values and time)."""
        finite = np.isfinite(imu.data).all(axis=1) & np.isfinite(imu.timestamps)
        return np.arange(imu.n_samples) if finite.all() else np.flatnonzero(finite)

    def _newest_sample(self) -> tuple[float, int, float] | None:
        """(time, seq, read time) of the newest usable IMU sample read so far, or ``None``."""
        if self._last_block is None:
            return None
        block, read_time = self._last_block
        pos = self._finite_positions(block)
        if pos.size == 0:
            return None
        last = int(pos[-1])
        return float(block.timestamps[last]), block.seq + last, read_time

    def _append(self, t_act: np.ndarray, imu_t: np.ndarray, imu_seq: np.ndarray, read_t: np.ndarray) -> None:
        m = t_act.size
        if m == 0:
            return
        lo, hi = self._lo, self._hi
        if hi + m > self._act_t.size:
            held = hi - lo
            size = self._act_t.size
            while held + m > size:
                size *= 2
            for name in ("_act_t", "_imu_t", "_imu_seq", "_read_t"):
                old = getattr(self, name)
                new = old if size == old.size else np.empty(size, old.dtype)
                new[:held] = old[lo:hi]
                setattr(self, name, new)
            self._lo, self._hi = lo, hi = 0, held
        self._act_t[hi:hi + m] = t_act
        self._imu_t[hi:hi + m] = imu_t
        self._imu_seq[hi:hi + m] = imu_seq
        self._read_t[hi:hi + m] = read_t
        self._hi = hi + m


__all__ = [
    "EMG_INDEX",
    "EMG_PUSH_TIME",
    "EMG_SAMPLES",
    "IMU_READ_TIME",
    "IMU_SEQ",
    "IMU_TIME",
    "PROVENANCE_CHANNELS",
    "ProvenanceTracker",
]
