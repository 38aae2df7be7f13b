"""Causal resampling of IMU samples (any rate, possibly jittery) onto the model's regular grid.

The network runs at its own rate ``fs_out`` (stored in its checkpoint); IMU
sources deliver 50-1000 Hz, with jitter and sometimes dropped, repeated or
corrupt samples. :class:`ImuResampler` turns timestamped samples into samples
on the grid ``t0 + k / fs_out`` (``t0`` = time of the first valid sample after
``reset()``), using only samples that have already arrived:

1. **Anti-alias low-pass** on the input samples: two cascaded one-pole filters
   with time constant ``tau = 1 / (2 pi cutoff_hz)``. Each step uses the actual
   time since the previous sample (``alpha = 1 - exp(-dt / tau)``), so jitter and
   any input rate are handled by the same filter.
2. **Linear interpolation** of the filtered signal at each grid time between
   the two received samples that bracket it. A grid sample is emitted as soon
   as an input sample at or after its time has arrived (no waiting, no
   extrapolation); while no new input arrives, nothing is emitted.

Samples with a non-finite value or timestamp, and samples whose timestamp does
not advance, are dropped and counted (:attr:`ImuResampler.n_dropped`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from realtime.core.checks import check_number, ensure_int

# Layout of the float64 state array.
_T_PREV, _T0, _K, _STARTED, _DROPPED, _STATE0 = 0, 1, 2, 3, 4, 5


@numba.njit(cache=True, nogil=True)
def _resample_kernel(t, x, out, src, st, fs_out, tau):
    """Filter and interpolate ``(t, x)``; write grid samples to ``out`` and, for each, the index of the
    input sample whose arrival completed it to ``src``; return how many."""
    c = x.shape[1]
    y1 = st[_STATE0 : _STATE0 + c]
    y2 = st[_STATE0 + c : _STATE0 + 2 * c]
    yp = st[_STATE0 + 2 * c : _STATE0 + 3 * c]
    n = 0
    for i in range(t.shape[0]):
        ti = t[i]
        ok = np.isfinite(ti)
        for j in range(c):
            if not np.isfinite(x[i, j]):
                ok = False
        if not ok or (st[_STARTED] != 0.0 and ti <= st[_T_PREV]):
            st[_DROPPED] += 1.0
            continue
        if st[_STARTED] == 0.0:
            st[_STARTED] = 1.0
            st[_T0] = ti
            st[_T_PREV] = ti
            for j in range(c):
                y1[j] = x[i, j]
                y2[j] = x[i, j]
                yp[j] = x[i, j]
                out[n, j] = x[i, j]
            src[n] = i
            n += 1
            st[_K] = 1.0
            continue
        dt = ti - st[_T_PREV]
        a = 1.0 if tau <= 0.0 else 1.0 - math.exp(-dt / tau)
        for j in range(c):
            y1[j] += a * (x[i, j] - y1[j])
            y2[j] += a * (y1[j] - y2[j])
        k = st[_K]
        g = st[_T0] + k / fs_out
        while g <= ti:
            w = (g - st[_T_PREV]) / dt
            for j in range(c):
                out[n, j] = yp[j] + w * (y2[j] - yp[j])
            src[n] = i
            n += 1
            k += 1.0
            g = st[_T0] + k / fs_out
        st[_K] = k
        for j in range(c):
            yp[j] = y2[j]
        st[_T_PREV] = ti
    return n


class ImuResampler:
    """Causal resampler from timestamped IMU samples to the model's regular grid.

    Parameters
    ----------
    fs_out : float
        Model rate in Hz.
    n_channels : int
        Channels per sample (6 for an IMU).
    cutoff_hz : float | None
        Corner of the anti-alias low-pass; ``None`` uses ``0.25 * fs_out``;
        ``0`` disables filtering.
    """

    def __init__(self, fs_out: float, n_channels: int = 6, cutoff_hz: float | None = None) -> None:
        fs_out = check_number("fs_out", fs_out, 0.0, unit="Hz", lo_open=True)
        n_channels = ensure_int("n_channels", n_channels, lo=1)
        if cutoff_hz is None:
            cutoff_hz = 0.25 * fs_out
        check_number("cutoff_hz", cutoff_hz, 0.0, 0.5 * fs_out, "Hz", hi_open=True,
                     hint="0 switches the filter off; the corner must lie below fs_out / 2.")
        self.fs_out = float(fs_out)
        self.n_channels = n_channels
        self.cutoff_hz = float(cutoff_hz)
        self._tau = 1.0 / (2.0 * math.pi * cutoff_hz) if cutoff_hz > 0 else 0.0
        self._state = np.zeros(_STATE0 + 3 * n_channels, np.float64)
        self._buf = np.zeros((64, n_channels), np.float32)
        self._src = np.zeros(64, np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next valid sample starts a new grid."""
        self._state[:] = 0.0
        self._seq = 0
        self._n_last = 0

    @property
    def started(self) -> bool:
        """Whether a grid has been anchored (a valid sample arrived since ``reset``)."""
        return bool(self._state[_STARTED])

    @property
    def t0(self) -> float:
        """Time of grid sample 0 (the first valid input sample)."""
        return float(self._state[_T0])

    @property
    def seq(self) -> int:
        """Index of the next grid sample to be emitted."""
        return self._seq

    @property
    def n_dropped(self) -> int:
        """Input samples dropped since ``reset`` (non-finite, or timestamp not advancing)."""
        return int(self._state[_DROPPED])

    @property
    def newest_time(self) -> float:
        """Time of the newest accepted input sample (0 before any)."""
        return float(self._state[_T_PREV])

    @property
    def newest_filtered(self) -> np.ndarray:
        """The anti-aliased input at :attr:`newest_time`, float64 ``(n_channels,)`` (a read-only view)."""
        c = self.n_channels
        view = self._state[_STATE0 + 2 * c : _STATE0 + 3 * c]
        view.setflags(write=False)
        return view

    @property
    def sources(self) -> np.ndarray:
        """For each grid sample returned by the last :meth:`process`, the index (in that call's input)
        of the input sample whose arrival completed it (a view, valid until the next call)."""
        return self._src[: self._n_last]

    @property
    def delay_s(self) -> float:
        """Group delay of the anti-alias filter at low frequency (s)."""
        return 2.0 * self._tau

    def process(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, int]:
        """Feed new input samples; return the grid samples they complete.

        Parameters
        ----------
        t : ndarray, shape (n,)
            Timestamps in seconds, increasing.
        x : ndarray, shape (n, n_channels)
            Samples.

        Returns
        -------
        samples : ndarray, shape (m, n_channels), float32
            Grid samples ``seq .. seq + m - 1``; a view of an internal buffer,
            valid until the next call (copy it to keep it).
        seq : int
            Grid index of the first returned sample; its time is ``t0 + seq / fs_out``.
        """
        t = np.ascontiguousarray(t, np.float64)
        x = np.ascontiguousarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_channels or t.shape != (x.shape[0],):
            raise ValueError(
                f"The samples should have shape (n, {self.n_channels}) with timestamps (n,); "
                f"got {x.shape} and {t.shape}."
            )
        seq = self._seq
        self._n_last = 0
        if x.shape[0] == 0:
            return self._buf[:0], seq
        if t.size == 1:  # the usual live case: one sample, scalar checks (no arrays per call)
            t_min = t_max = float(t[0])
            if not math.isfinite(t_min):
                self._state[_DROPPED] += 1
                return self._buf[:0], seq
        else:
            finite_t = t[np.isfinite(t)]
            if finite_t.size == 0:
                self._state[_DROPPED] += t.size
                return self._buf[:0], seq
            t_min, t_max = float(finite_t.min()), float(finite_t.max())
        t_ref = self._state[_T0] if self.started else t_min
        bound = int(math.floor((t_max - t_ref) * self.fs_out)) - seq + 2
        if bound > self._buf.shape[0]:
            size = max(bound, 2 * self._buf.shape[0])
            self._buf = np.zeros((size, self.n_channels), np.float32)
            self._src = np.zeros(size, np.int64)
        n = _resample_kernel(t, x, self._buf, self._src, self._state, self.fs_out, self._tau)
        self._n_last = n
        self._seq += n
        return self._buf[:n], seq


def resample_imu(
    t: np.ndarray, x: np.ndarray, fs_out: float, cutoff_hz: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a whole recording with :class:`ImuResampler` (same result as streaming it).

    Parameters
    ----------
    t : ndarray, shape (n,)
        Timestamps (s).
    x : ndarray, shape (n, n_channels)
        Samples.
    fs_out : float
        Output rate in Hz.
    cutoff_hz : float | None
        Anti-alias corner (default ``0.25 * fs_out``).

    Returns
    -------
    t_grid : ndarray, shape (m,)
        Grid times ``t0 + k / fs_out``.
    x_grid : ndarray, shape (m, n_channels), float32
    """
    x = np.asarray(x)
    rs = ImuResampler(fs_out, x.shape[1] if x.ndim == 2 else 1, cutoff_hz)
    out, seq = rs.process(t, x)
    t_grid = rs.t0 + np.arange(seq, seq + len(out)) / rs.fs_out
    return t_grid, out.copy()
