"""The device's analogue chain and sample clock: band-pass, then causal resampling to the device's rate.

The engine runs at a rate it supports (500-10000 Hz); a device profile
(``devices/profiles``) may publish at another one (a Myo at 200 Hz, a Trigno at
1925.926 Hz) and with a sample clock that runs slightly fast or slow against
the LSL clock (``drift_ppm``). :class:`OutputResampler` takes the engine's
blocks and gives the samples the device would have taken:

1. the device's pass band (``band``): a causal Butterworth band-pass, as the
   amplifier's analogue filters are;
2. an anti-alias low-pass at 0.45 x the output rate when the output rate is
   lower than the engine's (a causal Butterworth, 8th order);
3. linear interpolation of the filtered signal at the device's sample times
   ``t0 + n / (fs_out (1 + drift_ppm 1e-6))`` on the LSL clock: a sample is
   given as soon as the engine has produced a sample at or after its time,
   never earlier (causal; the delay is at most one engine sample).

Blocks out carry the device's **true** sample times as timestamps; what an app
would stamp them with is the device formatter's business (:mod:`devices.profiles.render`).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.signal import butter

from realtime.core.block import Block
from realtime.core.contract import StreamFormat, check_format
from realtime.stages.artefacts.sosfilt import normalised_sos, sosfilt_inplace

ANTI_ALIAS_FRACTION = 0.45
"""Anti-alias cut-off as a fraction of the output rate (below Nyquist, 0.5)."""

ANTI_ALIAS_ORDER = 8
"""Order of the anti-alias Butterworth low-pass."""

BAND_ORDER = 2
"""Order of each edge of the device's band-pass (a 2nd-order high-pass and low-pass: 40 dB/decade)."""


@njit(cache=True)
def _interpolate(ts: np.ndarray, xs: np.ndarray, t0: float, fs: float, k0: int, out: np.ndarray,
                 t_out: np.ndarray) -> None:  # pragma: no cover - numba
    """Linear interpolation of ``xs`` (rows at times ``ts``) at ``t0 + (k0 + i) / fs`` into ``out[i]``."""
    j = 0
    n_in = ts.shape[0]
    for i in range(out.shape[0]):
        t = t0 + (k0 + i) / fs
        t_out[i] = t
        while j < n_in - 1 and ts[j + 1] < t:
            j += 1
        if n_in == 1 or t <= ts[j]:
            for c in range(xs.shape[1]):
                out[i, c] = xs[j, c]
            continue
        span = ts[j + 1] - ts[j]
        w = (t - ts[j]) / span if span > 0 else 1.0
        if w > 1.0:
            w = 1.0
        for c in range(xs.shape[1]):
            out[i, c] = xs[j, c] * (1.0 - w) + xs[j + 1, c] * w


class OutputResampler:
    """Band-limit and resample engine blocks onto a device's sample clock, causally.

    Parameters
    ----------
    channels : tuple of str
        Channel labels (in and out).
    fs_in : float
        The engine's rate in Hz.
    fs_out : float
        The device's nominal rate in Hz.
    drift_ppm : float
        The device clock's rate error in parts per million (positive: it samples
        faster than nominal). Its true rate is ``fs_out * (1 + drift_ppm * 1e-6)``.
    band : (highpass, lowpass) | None
        The device's pass band in Hz (``highpass`` 0: no high-pass); ``None``: none.
    max_block : int
        Largest input block (rows) for preallocation.
    """

    def __init__(
        self,
        channels: tuple[str, ...],
        fs_in: float,
        fs_out: float,
        drift_ppm: float = 0.0,
        band: tuple[float, float] | None = None,
        max_block: int = 64,
    ) -> None:
        if not (np.isfinite(fs_in) and fs_in > 0):
            raise ValueError(f"The argument 'fs_in' must be a positive rate in Hz; {fs_in!r} is invalid.")
        if not (np.isfinite(fs_out) and fs_out > 0):
            raise ValueError(f"The argument 'fs_out' must be a positive rate in Hz; {fs_out!r} is invalid.")
        if not (np.isfinite(drift_ppm) and abs(drift_ppm) < 1e4):
            raise ValueError(f"The argument 'drift_ppm' must be within +-10000 ppm; {drift_ppm!r} is invalid.")
        self.channels = tuple(channels)
        self.fs_in = float(fs_in)
        self.fs_out = float(fs_out)
        self.drift_ppm = float(drift_ppm)
        self.fs_true = self.fs_out * (1.0 + self.drift_ppm * 1e-6)
        self.band = band
        sections = []
        if band is not None:
            hp, lp = (float(v) for v in band)
            nyq = min(self.fs_in, self.fs_out) / 2.0
            if not (0.0 <= hp < lp):
                raise ValueError(f"The argument 'band' needs 0 <= highpass < lowpass; {band!r} is invalid.")
            if hp > 0:
                sections.append(butter(BAND_ORDER, hp, "highpass", fs=self.fs_in, output="sos"))
            if lp < nyq:
                sections.append(butter(BAND_ORDER, lp, "lowpass", fs=self.fs_in, output="sos"))
        if self.fs_out < self.fs_in:
            cutoff = ANTI_ALIAS_FRACTION * self.fs_out
            if band is None or cutoff < float(band[1]):
                sections.append(butter(ANTI_ALIAS_ORDER, cutoff, "lowpass", fs=self.fs_in, output="sos"))
        self._sos = normalised_sos(np.concatenate(sections)) if sections else None
        self.passthrough = self._sos is None and self.fs_true == self.fs_in
        self._max_block = int(max_block)
        self.reset()

    @property
    def input_format(self) -> StreamFormat:
        """Blocks at the engine's rate with these channels."""
        return StreamFormat(fs=self.fs_in, channels=self.channels)

    @property
    def output_format(self) -> StreamFormat:
        """Blocks at the device's nominal rate (timestamps: its true sample times), the same channels."""
        return StreamFormat(fs=self.fs_out, channels=self.channels)

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int | None = None) -> None:
        """Forget the signal and the clock; the next block's first sample starts the device clock."""
        if check_format(fmt, "OutputResampler") is not None:
            why = self.input_format.mismatch(fmt)
            if why is not None:
                raise ValueError(f"The output resampler expects {self.input_format.describe()}: {why}.")
        if max_block is not None:
            self._max_block = int(max_block)
        n_ch = len(self.channels)
        self._zi = None if self._sos is None else np.zeros((self._sos.shape[0], 2, n_ch))
        self._work = np.zeros((self._max_block + 1, n_ch))
        self._t_work = np.zeros(self._max_block + 1)
        max_out = int(np.ceil(self._max_block * self.fs_true / self.fs_in)) + 2
        self._out = np.zeros((max_out, n_ch), np.float32)
        self._t_out = np.zeros(max_out)
        self._t0: float | None = None
        self._next = 0  # index of the next device sample
        self._have_prev = False

    def process(self, block: Block) -> Block:
        """Return the device samples whose time has come with ``block`` (possibly none).

        The returned block's arrays are reused by the next call: consume (copy) them first.
        """
        n = block.n_samples
        if self.passthrough:
            if self._t0 is None and n:
                self._t0 = float(block.timestamps[0]) - block.seq / self.fs_in
            return block.replace(fs=self.fs_out) if self.fs_out != block.fs else block
        if n == 0:
            return self._empty()
        if n + 1 > self._work.shape[0]:
            self._work = np.zeros((n + 1, len(self.channels)))
            self._t_work = np.zeros(n + 1)
        if self._t0 is None:
            self._t0 = float(block.timestamps[0])
        # Row 0 keeps the previous filtered sample: the left neighbour of the first output.
        x = self._work[1:n + 1]
        x[:] = block.data
        if self._sos is not None:
            sosfilt_inplace(self._sos, x, self._zi)
        t = self._t_work[1:n + 1]
        t[:] = block.timestamps
        start = 0 if self._have_prev else 1
        xs, ts = self._work[start:n + 1], self._t_work[start:n + 1]
        # Device samples due: t0 + k / fs_true <= newest input time.
        last = int(np.floor((ts[-1] - self._t0) * self.fs_true + 1e-9))
        seq, count = self._next, max(0, last + 1 - self._next)
        if count > self._out.shape[0]:
            self._out = np.zeros((count, len(self.channels)), np.float32)
            self._t_out = np.zeros(count)
        out, times = self._out[:count], self._t_out[:count]
        if count:
            _interpolate(ts, xs, self._t0, self.fs_true, seq, out, times)
            self._next = last + 1
        self._work[0] = x[-1]
        self._t_work[0] = t[-1]
        self._have_prev = True
        return Block.trusted(out, times, self.fs_out, seq, self.channels)

    def true_time(self, index: int) -> float | None:
        """True LSL time of device sample ``index`` (``None`` before the first block)."""
        if self._t0 is None:
            return None
        if self.passthrough:
            return self._t0 + index / self.fs_in
        return self._t0 + index / self.fs_true

    def _empty(self) -> Block:
        return Block(np.zeros((0, len(self.channels)), np.float32), np.zeros(0), self.fs_out, self._next,
                     self.channels)
