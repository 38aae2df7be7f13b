"""Power-line interference: a 50 or 60 Hz sinusoid and its harmonics, phase-continuous.

The phase of every sample is computed from its index in the stream,
``2π · ((k · h · f) mod fs) / fs`` for harmonic ``h``, in float64 with exact
integer products, so it never drifts and any split of the run into blocks
gives the same samples. Each channel has a fixed, seeded amplitude factor
(0.5-1) and phase offset (σ = 0.2 rad) per harmonic: the interference is
nearly common-mode, as it is on real monopolar electrodes.
"""

from __future__ import annotations

import math

import numpy as np


class Powerline:
    """Mains interference on every channel.

    Parameters
    ----------
    frequency : float
        Mains frequency (50 or 60 Hz).
    amplitude : float
        Peak amplitude of the fundamental on a channel with factor 1 (µV).
    harmonics : tuple of float
        Relative amplitude of harmonic ``k`` at index ``k - 1``.
    fs : float
        Sampling rate (Hz); harmonics at or above ``fs / 2`` are left out.
    n_channels : int
        Number of channels.
    seed : numpy.random.SeedSequence
        Seed of the per-channel factors and phases.
    """

    def __init__(
        self,
        frequency: float,
        amplitude: float,
        harmonics: tuple[float, ...],
        fs: float,
        n_channels: int,
        seed: np.random.SeedSequence,
    ) -> None:
        self.frequency = float(frequency)
        self.fs = float(fs)
        rng = np.random.Generator(np.random.PCG64(seed))
        factor = rng.uniform(0.5, 1.0, n_channels)
        orders = [k + 1 for k, r in enumerate(harmonics) if r > 0 and (k + 1) * frequency < fs / 2.0]
        self.orders = np.array(orders, np.float64)
        ratios = np.array([harmonics[k - 1] for k in orders], np.float64)
        # (n_harmonics, n_channels) peak amplitudes and phase offsets.
        self.amplitudes = amplitude * ratios[:, None] * factor[None, :]
        self.phases = rng.normal(0.0, 0.2, (len(harmonics), n_channels))[[k - 1 for k in orders]]
        # sin(θ + φ) = sin θ · cos φ + cos θ · sin φ: two small products per block.
        self._mix = np.concatenate([self.amplitudes * np.cos(self.phases), self.amplitudes * np.sin(self.phases)])

    def reset(self) -> None:
        """Stateless: the phase comes from the sample index."""

    def add(self, acc: np.ndarray, seq: int, imu: np.ndarray | None) -> None:
        """Add the interference of samples ``seq .. seq + n - 1`` to ``acc`` (in place)."""
        n = acc.shape[0]
        if self.orders.size == 0:
            return
        k = np.arange(seq, seq + n, dtype=np.float64)
        cycles = np.mod(k[:, None] * (self.orders * self.frequency)[None, :], self.fs)  # exact: integers < 2**53
        theta = (2.0 * math.pi / self.fs) * cycles
        acc += np.concatenate([np.sin(theta), np.cos(theta)], axis=1) @ self._mix
