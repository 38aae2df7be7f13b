"""Min/max decimation of many channels into one stacked curve.

Decimation rule (what the EMG panel draws for ``n`` visible samples and a plot
``width`` pixels wide):

- ``n <= 2 * width``: every sample is drawn, at its own timestamp, as one
  polyline per channel (a ``connect`` array breaks the line between channels).
- otherwise the newest ``n_blocks * b`` samples are cut into ``n_blocks = n // b``
  blocks of ``b = ceil(n / width)`` samples (the ``n - n_blocks * b < b`` oldest
  samples are dropped) and each block becomes ONE vertical segment, at the
  timestamp of the block's first sample, from ``lo`` to ``hi``: the minimum and
  maximum of the block's samples and of the sample just before the block (when
  the window holds it). Including that sample joins each segment to its
  neighbour, so the segments form the same unbroken trace, pixel column by
  pixel column, as a polyline through (min, max) pairs would, with half the line
  segments to rasterise (the viewer's largest cost: ≈ 80 ns per segment in
  Qt's raster engine, 64 channels x ~900 columns per frame). The points are
  returned as ``(x, lo), (x, hi)`` pairs drawn with ``connect="pairs"``.
- a segment shorter than ``min_span`` (plot units; the traces pass 1/32 pixel)
  is drawn with ``hi = lo``: Qt draws one pixel for a zero-length line but
  nothing for a line shorter than about 1/64 pixel, so a flat stretch of signal
  would otherwise vanish.

Channel ``k`` of the selection is drawn at ``y = sample * gain + offsets[k]`` and
all channels are concatenated into one array, so one ``PlotCurveItem`` draws
everything. All work arrays are preallocated for a width; nothing grows per tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from realtime.core.checks import ensure_int

if TYPE_CHECKING:
    from numpy.typing import NDArray


_LOOP_BLOCK = 16  # blocks up to this many samples are reduced with elementwise steps


def block_size(n_samples: int, width: int) -> int:
    """Samples per min/max block for ``n_samples`` on ``width`` pixels (1 = no decimation)."""
    if n_samples <= 2 * width:
        return 1
    return -(-n_samples // width)


class StackedDecimator:
    """Turn ``(n_samples, n_channels)`` windows into one stacked curve's ``x, y, connect``.

    Parameters
    ----------
    n_channels : int
        Channels of the source data.
    width : int
        Plot width in pixels (at least 1): at most ``2 * width`` points per channel.
    dtype : dtype
        dtype of the source data.
    """

    def __init__(self, n_channels: int, width: int, dtype: Any = np.float32) -> None:
        self._n_channels = ensure_int("n_channels", n_channels, lo=1)
        self._dtype = np.dtype(dtype)
        self._width = 0
        self._data: NDArray[Any] = np.empty((0, self._n_channels), dtype=self._dtype)
        self._ts: NDArray[np.float64] = np.empty(0)
        self.resize(width)

    @property
    def width(self) -> int:
        """Pixel width the buffers are sized for."""
        return self._width

    def resize(self, width: int) -> None:
        """Reallocate the work arrays for a new pixel ``width`` (call on resize, not per tick)."""
        width = int(width)
        if width < 1:
            raise ValueError(
                f"The argument 'width' must be at least 1 pixel. {width!r} is invalid."
            )
        if width == self._width:
            return
        self._width = width
        c = self._n_channels
        m = 2 * width
        self._mins = np.empty((width, c), dtype=self._dtype)
        self._maxs = np.empty((width, c), dtype=self._dtype)
        self._pick = np.empty((m, c), dtype=self._dtype)
        self._xbase = np.empty(m, dtype=np.float64)
        self._x = np.empty(c * m, dtype=np.float64)
        self._y = np.empty(c * m, dtype=np.float32)
        self._connect = np.ones(c * m, dtype=np.int32)
        self._short = np.empty(c * width, dtype=np.float32)
        self._n = 0
        self._block = 1

    def reduce(self, data: NDArray[Any], timestamps: NDArray[np.float64]) -> NDArray[Any]:
        """Min/max-reduce the window (all channels) and return each channel's peak-to-peak.

        Parameters
        ----------
        data : ndarray, shape (n_samples, n_channels)
            The visible window, oldest first (a view is fine: it is not kept
            beyond the next :meth:`stack`).
        timestamps : ndarray, shape (n_samples,)
            Timestamps of ``data``.

        Returns
        -------
        ndarray, shape (n_channels,)
            Peak-to-peak of every channel over the window (zeros when empty).
        """
        self._data = data
        self._ts = timestamps
        n = data.shape[0]
        self._n = n
        if n == 0:
            self._block = 1
            return np.zeros(self._n_channels, dtype=self._dtype)
        b = block_size(n, self._width)
        self._block = b
        if b == 1:
            return np.ptp(data, axis=0)
        nb = n // b
        start = n - nb * b
        blocks = data[start:].reshape(nb, b, self._n_channels)
        lo, hi = self._mins[:nb], self._maxs[:nb]
        if (
            b <= _LOOP_BLOCK
        ):  # b whole-array steps beat numpy's reduction over a short middle axis (2x)
            np.minimum(blocks[:, 0], blocks[:, 1], out=lo)
            np.maximum(blocks[:, 0], blocks[:, 1], out=hi)
            for i in range(2, b):
                np.minimum(lo, blocks[:, i], out=lo)
                np.maximum(hi, blocks[:, i], out=hi)
        else:
            np.min(blocks, axis=1, out=lo)
            np.max(blocks, axis=1, out=hi)
        ptp = np.max(hi, axis=0) - np.min(lo, axis=0)
        # join every block to the sample before it (the previous block's last one)
        if nb > 1:
            before = blocks[:-1, -1, :]
            np.minimum(lo[1:], before, out=lo[1:])
            np.maximum(hi[1:], before, out=hi[1:])
        if start > 0:
            np.minimum(lo[0], data[start - 1], out=lo[0])
            np.maximum(hi[0], data[start - 1], out=hi[0])
        return ptp

    def stack(
        self,
        channels: NDArray[np.intp],
        gain: float,
        offsets: NDArray[np.float32],
        t_ref: float = 0.0,
        min_span: float = 0.0,
    ) -> tuple[NDArray[np.float64], NDArray[np.float32], NDArray[np.int32] | str, int]:
        """Build the stacked curve of the selected ``channels`` from the last :meth:`reduce`.

        Parameters
        ----------
        channels : ndarray of int, shape (n_selected,)
            Columns to draw, top to bottom.
        gain : float
            Multiplier from data units to plot units.
        offsets : ndarray, shape (n_selected,)
            Vertical offset of each selected channel in plot units.
        t_ref : float
            Subtracted from timestamps (the newest timestamp gives ``x <= 0``).
        min_span : float
            Decimated segments shorter than this (plot units) get ``hi = lo``.

        Returns
        -------
        x, y : ndarray
            Views of the preallocated arrays, ``n_selected * points`` long.
        connect : ndarray or str
            Without decimation an int32 array that is 0 at each channel's last
            point (one polyline per channel); with decimation ``"pairs"`` (one
            vertical segment per block).
        points : int
            Points per channel.
        """
        n = self._n
        s = int(channels.shape[0])
        if n == 0 or s == 0:
            return self._x[:0], self._y[:0], self._connect[:0], 0
        all_channels = s == self._n_channels and bool(np.all(channels == np.arange(s)))
        b = self._block
        if b == 1:
            m = n
            np.subtract(self._ts, t_ref, out=self._xbase[:m])
            y2 = self._y[: s * m].reshape(s, m)
            src = self._data
            if not all_channels:
                src = self._pick[:n, :s]
                np.take(self._data, channels, axis=1, out=src)
            np.multiply(src.T, gain, out=y2)
            y2 += offsets[:, None]
        else:
            nb = n // b
            start = n - nb * b
            m = 2 * nb
            xb = self._xbase[:m]
            np.subtract(self._ts[start::b], t_ref, out=xb[0::2])
            xb[1::2] = xb[0::2]
            y3 = self._y[: s * m].reshape(s, nb, 2)
            for k, src in enumerate((self._mins[:nb], self._maxs[:nb])):
                if not all_channels:
                    pick = self._pick[:nb, :s]
                    np.take(src, channels, axis=1, out=pick)
                    src = pick
                np.multiply(src.T, gain, out=y3[:, :, k])
            if min_span > 0:
                lo, hi = y3[:, :, 0], y3[:, :, 1]
                short = self._short[: s * nb].reshape(s, nb)
                np.subtract(hi, lo, out=short)
                np.copyto(hi, lo, where=short < min_span)
            y3 += offsets[:, None, None]
        x2 = self._x[: s * m].reshape(s, m)
        x2[:] = self._xbase[:m]
        if b > 1:
            return self._x[: s * m], self._y[: s * m], "pairs", m
        connect = self._connect[: s * m]
        connect.fill(1)
        connect[m - 1 :: m] = 0
        return self._x[: s * m], self._y[: s * m], connect, m

    def run(
        self,
        data: NDArray[Any],
        timestamps: NDArray[np.float64],
        channels: NDArray[np.intp],
        gain: float,
        offsets: NDArray[np.float32],
        t_ref: float = 0.0,
        min_span: float = 0.0,
    ) -> tuple[NDArray[np.float64], NDArray[np.float32], NDArray[np.int32] | str, int]:
        """:meth:`reduce` then :meth:`stack` (see them for the parameters)."""
        self.reduce(data, timestamps)
        return self.stack(channels, gain, offsets, t_ref, min_span)
