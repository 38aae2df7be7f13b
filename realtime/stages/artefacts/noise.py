"""Seeded Gaussian noise per channel: white, 1/f (pink) and baseline wander.

Each generator draws ``(n, n_channels)`` standard normals per block from its
own ``numpy.random.Generator`` (row-major, so a run split into any blocks
draws the same numbers in the same order), optionally shapes them with a
second-order-sections filter whose state carries across blocks, and scales
them to the requested RMS. Filtered noise is warmed up at ``reset()`` (the
filter runs on seeded noise for ten time constants of its lowest pole) so
that the RMS is stationary from sample 0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from realtime.stages.artefacts.sosfilt import normalised_sos, sosfilt_inplace


def pink_sos(fs: float, f_min: float, per_decade: int = 3) -> np.ndarray:
    """A filter whose power spectrum falls as 1/f from ``f_min`` to Nyquist.

    Real poles and zeros alternate on a logarithmic grid (``per_decade``
    poles per decade, each zero half a step above its pole), so the
    amplitude response falls at -10 dB/decade on average (within about
    ±0.3 dB for three poles per decade, measured from 1 Hz to 800 Hz at 2 kHz) and is flat below ``f_min``. The analog
    prototype is mapped with the bilinear transform.

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    f_min : float
        Lowest frequency of the 1/f band (Hz).
    per_decade : int
        Poles per decade.

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)
    """
    step = 10.0 ** (1.0 / per_decade)
    nyquist = fs / 2.0
    poles, zeros = [], []
    f = f_min
    while f < nyquist:
        poles.append(-2.0 * math.pi * f)
        zeros.append(-2.0 * math.pi * f * math.sqrt(step))
        f *= step
    z, p, k = signal.bilinear_zpk(np.array(zeros), np.array(poles), 1.0, fs)
    return signal.zpk2sos(z, p, k)


def wander_sos(fs: float, corner_hz: float) -> np.ndarray:
    """2nd-order Butterworth low-pass at ``corner_hz`` (baseline wander)."""
    return signal.butter(2, corner_hz, "lowpass", fs=fs, output="sos")


def noise_gain(sos: np.ndarray, fs: float, f_low: float) -> float:
    """RMS of the filter's output for unit-variance white noise in (sqrt of the impulse-response energy)."""
    n = int(math.ceil(40.0 * fs / (2.0 * math.pi * f_low)))
    impulse = np.zeros(n)
    impulse[0] = 1.0
    h = signal.sosfilt(sos, impulse)
    return float(np.sqrt(np.sum(h * h)))


class GaussianNoise:
    """Independent Gaussian noise on every channel at a set RMS, white or filtered.

    Parameters
    ----------
    rms : float
        Target RMS per channel (µV).
    n_channels : int
        Number of channels.
    seed : numpy.random.SeedSequence
        The generator's own seed (spawned from the stage seed).
    sos : ndarray | None
        Shaping filter (second-order sections); ``None`` for white noise.
    fs, f_low : float
        Sampling rate and lowest corner of ``sos`` (Hz), for the gain and warm-up.
    """

    def __init__(
        self,
        rms: float,
        n_channels: int,
        seed: np.random.SeedSequence,
        sos: np.ndarray | None = None,
        fs: float = 0.0,
        f_low: float = 1.0,
    ) -> None:
        self.rms = float(rms)
        self.n_channels = int(n_channels)
        self._seed = seed
        self._sos = None if sos is None else normalised_sos(sos)
        self._warmup = 0
        self._scale = self.rms
        if sos is not None:
            self._scale = self.rms / noise_gain(sos, fs, f_low)
            self._warmup = int(math.ceil(10.0 * fs / (2.0 * math.pi * f_low)))
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Restart the random stream at the seed and warm the filter up."""
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        if self._sos is not None:
            self._zi = np.zeros((self._sos.shape[0], 2, self.n_channels))
            chunk = 8192
            for start in range(0, self._warmup, chunk):
                x = self._rng.standard_normal((min(chunk, self._warmup - start), self.n_channels))
                sosfilt_inplace(self._sos, x, self._zi)

    def add(self, acc: np.ndarray, seq: int, imu: np.ndarray | None) -> None:
        """Add the next ``acc.shape[0]`` samples of noise to ``acc`` (float64, in place)."""
        x = self._rng.standard_normal(acc.shape)
        if self._sos is not None:
            sosfilt_inplace(self._sos, x, self._zi)
        x *= self._scale
        acc += x
