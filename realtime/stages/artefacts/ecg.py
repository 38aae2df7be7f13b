"""ECG crosstalk: a synthetic P-QRS-T train at a set heart rate.

Each beat is a sum of Gaussians (the static form of McSharry et al. 2003,
"A dynamical model for generating synthetic electrocardiogram signals",
IEEE TBME 50(3)): P, Q, R, S and T waves at -200, -30, 0, +30 and +250 ms
from the R peak, R normalised to 1. RR intervals are ``60 / bpm`` seconds
times ``1 + hrv · z`` (``z`` ~ N(0, 1) clipped to ±3), the first R peak at a
seeded random phase of the first interval. Beats are drawn one after the
other from the component's own random stream, so the train does not depend
on the block split. Each channel sees the beat with a fixed, seeded weight
(0.3-1) times ``ecg_uv``.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# (time from the R peak in s, amplitude relative to R, Gaussian width in s)
_WAVES: tuple[tuple[float, float, float], ...] = (
    (-0.200, 0.12, 0.025),  # P
    (-0.030, -0.15, 0.008),  # Q
    (0.000, 1.00, 0.010),  # R
    (0.030, -0.25, 0.009),  # S
    (0.250, 0.30, 0.045),  # T
)
_PRE_S, _POST_S = 0.30, 0.45


def qrs_template(fs: float) -> tuple[np.ndarray, int]:
    """One P-QRS-T beat sampled at ``fs``, peak R = 1.

    Returns
    -------
    template : ndarray, shape (L,)
        The beat, from 300 ms before to 450 ms after the R peak.
    r_index : int
        Index of the R peak in ``template``.
    """
    r_index = int(round(_PRE_S * fs))
    t = (np.arange(r_index + int(round(_POST_S * fs)) + 1) - r_index) / fs
    beat = np.zeros_like(t)
    for centre, amplitude, width in _WAVES:
        beat += amplitude * np.exp(-0.5 * ((t - centre) / width) ** 2)
    return beat / beat[r_index], r_index


class EcgCrosstalk:
    """A synthetic ECG added to every channel with a per-channel weight.

    Parameters
    ----------
    amplitude : float
        R-wave amplitude on a channel with weight 1 (µV).
    bpm : float
        Mean heart rate (beats per minute).
    hrv : float
        Standard deviation of the RR interval as a fraction of its mean.
    fs : float
        Sampling rate (Hz).
    n_channels : int
        Number of channels.
    seed : numpy.random.SeedSequence
        Seed of the weights and of the beat times.
    """

    def __init__(
        self,
        amplitude: float,
        bpm: float,
        hrv: float,
        fs: float,
        n_channels: int,
        seed: np.random.SeedSequence,
    ) -> None:
        weight_seed, self._beat_seed = seed.spawn(2)
        rng = np.random.Generator(np.random.PCG64(weight_seed))
        self.weights = rng.uniform(0.3, 1.0, n_channels) * float(amplitude)
        """µV of R wave on each channel."""
        self.fs = float(fs)
        self.rr_mean = 60.0 / float(bpm)
        self.hrv = float(hrv)
        self.template, self.r_index = qrs_template(self.fs)
        self._rng = np.random.Generator(np.random.PCG64(self._beat_seed))
        self._beats: deque[int] = deque()
        self._next_r_time = 0.0
        self.r_samples: list[int] = []
        """Every R-peak sample index generated so far (ground truth for tests)."""

    def reset(self) -> None:
        """Restart the beat train at the seed."""
        self._rng = np.random.Generator(np.random.PCG64(self._beat_seed))
        self._beats.clear()
        self.r_samples = []
        self._next_r_time = float(self._rng.uniform(0.0, 1.0)) * self.rr_mean

    def _draw_beats_until(self, end: int) -> None:
        """Schedule every beat whose template starts before sample ``end``."""
        while True:
            r = int(round(self._next_r_time * self.fs))
            if r - self.r_index >= end:
                return
            self._beats.append(r)
            self.r_samples.append(r)
            z = float(np.clip(self._rng.standard_normal(), -3.0, 3.0))
            self._next_r_time += self.rr_mean * max(1.0 + self.hrv * z, 0.4)

    def add(self, acc: np.ndarray, seq: int, imu: np.ndarray | None) -> None:
        """Add the beats overlapping samples ``seq .. seq + n - 1`` to ``acc`` (in place)."""
        n = acc.shape[0]
        end = seq + n
        self._draw_beats_until(end)
        length = self.template.size
        while self._beats and self._beats[0] - self.r_index + length <= seq:
            self._beats.popleft()  # finished before this block
        for r in self._beats:
            start = r - self.r_index
            a, b = max(start, seq), min(start + length, end)
            if a >= b:
                continue
            acc[a - seq : b - seq] += self.template[a - start : b - start, None] * self.weights[None, :]
