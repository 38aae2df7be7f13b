"""Preallocated ring buffer that LSL chunks are pulled into without per-tick allocation.

The storage holds every sample twice (slot ``i`` and slot ``i + capacity``), so the
newest ``n`` samples are always one contiguous, time-ordered view: drawing code
reads them without ``np.concatenate``/``np.roll`` and without copying. An inlet
writes straight into the storage through ``pull_chunk(timeout=0.0, dest_obj=...)``;
the mirror copy afterwards costs one ``memcpy`` of the new samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from realtime.core.checks import ensure_int

if TYPE_CHECKING:
    from numpy.typing import DTypeLike, NDArray


class RingBuffer:
    """A fixed-size, time-ordered buffer of multichannel samples and their timestamps.

    Parameters
    ----------
    n_channels : int
        Number of channels (columns), at least 1.
    capacity : int
        Number of samples kept (rows), at least 1. Older samples are overwritten.
    dtype : dtype
        Sample type; it must match the LSL stream's channel format when pulling
        from an inlet (``float32`` for myostream's streams).
    max_chunk : int
        Largest number of samples asked of the inlet in one ``pull_chunk`` call.
    """

    def __init__(
        self,
        n_channels: int,
        capacity: int,
        dtype: DTypeLike = np.float32,
        max_chunk: int = 4096,
    ) -> None:
        for name, value in (
            ("n_channels", n_channels),
            ("capacity", capacity),
            ("max_chunk", max_chunk),
        ):
            ensure_int(name, value, lo=1)
        self._n_channels = int(n_channels)
        self._capacity = int(capacity)
        self._max_chunk = int(max_chunk)
        self._data = np.zeros((2 * self._capacity, self._n_channels), dtype=dtype)
        self._ts = np.zeros(2 * self._capacity, dtype=np.float64)
        self._write = 0  # next slot in [0, capacity)
        self._filled = 0  # valid samples, <= capacity
        self._total = 0  # samples written since creation or clear()

    # ------------------------------------------------------------------ properties
    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return self._n_channels

    @property
    def capacity(self) -> int:
        """Number of samples the buffer keeps."""
        return self._capacity

    @property
    def dtype(self) -> np.dtype:
        """Sample dtype."""
        return self._data.dtype

    @property
    def n_filled(self) -> int:
        """Number of valid samples (at most ``capacity``)."""
        return self._filled

    @property
    def total_written(self) -> int:
        """Samples written since creation or the last :meth:`clear`."""
        return self._total

    # ------------------------------------------------------------------ writing
    def clear(self) -> None:
        """Forget every sample (the memory is kept)."""
        self._write = 0
        self._filled = 0
        self._total = 0

    def _advance(self, start: int, n: int) -> None:
        """Mirror slots ``[start, start + n)`` and move the write position."""
        cap = self._capacity
        self._data[start + cap : start + cap + n] = self._data[start : start + n]
        self._ts[start + cap : start + cap + n] = self._ts[start : start + n]
        self._write = (start + n) % cap
        self._filled = min(cap, self._filled + n)
        self._total += n

    def write(self, samples: NDArray[Any], timestamps: NDArray[np.float64]) -> None:
        """Append ``samples`` (n_samples, n_channels) with their ``timestamps`` (n_samples,).

        Parameters
        ----------
        samples : ndarray, shape (n_samples, n_channels)
            New samples, oldest first.
        timestamps : ndarray, shape (n_samples,)
            Their timestamps in seconds.
        """
        samples = np.asarray(samples)
        timestamps = np.asarray(timestamps)
        if samples.ndim != 2 or samples.shape[1] != self._n_channels:
            raise ValueError(
                f"The argument 'samples' should be (n_samples, {self._n_channels}), "
                f"{samples.shape} is invalid."
            )
        if timestamps.shape != (samples.shape[0],):
            raise ValueError(
                f"The argument 'timestamps' should be ({samples.shape[0]},) to match 'samples', "
                f"{timestamps.shape} is invalid."
            )
        n = samples.shape[0]
        if n > self._capacity:  # only the newest `capacity` samples can be kept
            self._total += n - self._capacity
            samples = samples[-self._capacity :]
            timestamps = timestamps[-self._capacity :]
            n = self._capacity
        done = 0
        while done < n:
            start = self._write
            k = min(n - done, self._capacity - start)
            self._data[start : start + k] = samples[done : done + k]
            self._ts[start : start + k] = timestamps[done : done + k]
            self._advance(start, k)
            done += k

    def pull(self, inlet: Any, max_total: int | None = None) -> int:
        """Pull every immediately available sample from ``inlet`` into the buffer.

        Each call is ``inlet.pull_chunk(timeout=0.0, max_samples=k, dest_obj=view)``
        with ``view`` a contiguous slice of the storage, so liblsl writes into the
        preallocated memory. Pulls repeat while the inlet fills the request, up to
        ``max_total`` samples (default: twice the capacity), so a backlog is drained
        without blocking forever.

        Parameters
        ----------
        inlet : pylsl.StreamInlet
            An inlet whose channel count and format match this buffer.
        max_total : int | None
            Upper bound of samples pulled by this call.

        Returns
        -------
        int
            Number of samples pulled. The newest of them are ``latest(n)``.

        Raises
        ------
        pylsl.util.LostError
            If the inlet reports that its stream was lost (not recoverable).
        """
        limit = 2 * self._capacity if max_total is None else int(max_total)
        pulled = 0
        while pulled < limit:
            start = self._write
            k = min(self._max_chunk, self._capacity - start, limit - pulled)
            _, ts = inlet.pull_chunk(
                timeout=0.0, max_samples=k, dest_obj=self._data[start : start + k]
            )
            n = len(ts)
            if n == 0:
                break
            self._ts[start : start + n] = ts
            self._advance(start, n)
            pulled += n
            if n < k:
                break
        return pulled

    # ------------------------------------------------------------------ reading
    def latest(self, n: int) -> tuple[NDArray[Any], NDArray[np.float64]]:
        """Return views of the newest ``min(n, n_filled)`` samples and timestamps, oldest first.

        The views stay valid until the next write; do not modify them.
        """
        n = max(0, min(int(n), self._filled))
        end = self._write + self._capacity
        return self._data[end - n : end], self._ts[end - n : end]

    def last_timestamp(self) -> float | None:
        """Timestamp of the newest sample, or ``None`` when empty."""
        if self._filled == 0:
            return None
        return float(self._ts[self._write + self._capacity - 1])
