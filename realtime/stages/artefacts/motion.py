"""Motion artefacts driven by the IMU's acceleration.

Electrode and cable movement make low-frequency potentials that follow the
acceleration of the limb. The three accelerometer axes (on the EMG grid,
aux ``"imu"``) are band-passed (2nd-order Butterworth, default 1-20 Hz:
gravity and slow orientation changes are removed) and projected on each
channel with a fixed, seeded weight vector (random direction, gain 0.5-1.5),
times ``motion_uv`` µV per m/s².

Before the first IMU sample reaches the grid the resampler gives NaN rows:
they add nothing. At the first finite row the filter starts in its steady
state for that value, so the arrival of gravity is not an artefact.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from realtime.stages.artefacts.sosfilt import normalised_sos, sosfilt_inplace


class MotionArtefact:
    """Accelerometer-driven artefact on every channel.

    Parameters
    ----------
    gain : float
        µV per m/s² of band-passed acceleration.
    band : tuple of float
        Pass band (Hz).
    fs : float
        Sampling rate (Hz).
    n_channels : int
        Number of channels.
    seed : numpy.random.SeedSequence
        Seed of the per-channel projections.
    """

    def __init__(
        self,
        gain: float,
        band: tuple[float, float],
        fs: float,
        n_channels: int,
        seed: np.random.SeedSequence,
    ) -> None:
        high = min(band[1], 0.45 * fs)
        self.sos = normalised_sos(signal.butter(2, (band[0], high), "bandpass", fs=fs, output="sos"))
        rng = np.random.Generator(np.random.PCG64(seed))
        direction = rng.normal(size=(3, n_channels))
        direction /= np.linalg.norm(direction, axis=0, keepdims=True)
        self.weights = direction * rng.uniform(0.5, 1.5, n_channels)[None, :] * float(gain)
        """Projection ``(3, n_channels)``: µV on each channel per m/s² on each axis (band-passed)."""
        self._zi_unit = signal.sosfilt_zi(self.sos)
        self._zi: np.ndarray | None = None
        self._last = np.zeros(3)

    def reset(self) -> None:
        """Forget the filter state; the next finite IMU row starts it."""
        self._zi = None
        self._last = np.zeros(3)

    def add(self, acc: np.ndarray, seq: int, imu: np.ndarray | None) -> None:
        """Add the artefact for the block's IMU rows (``imu``: ``(n, >=3)`` m/s²) to ``acc`` (in place)."""
        if imu is None:
            raise ValueError(
                "Motion artefacts need the IMU on the EMG grid: the block's aux 'imu' is missing. "
                "Run the artefact stage inside realtime.app.runner.Pipeline (it resamples the IMU), "
                "pass imu= to add_artefacts, or set motion_uv=0."
            )
        a = np.array(imu[:, :3], np.float64)  # a copy: filtered in place
        finite = np.isfinite(a).all(axis=1)
        if self._zi is None:
            if not finite.any():
                return
            first = int(np.argmax(finite))
            self._zi = np.ascontiguousarray(self._zi_unit[:, :, None] * a[first][None, None, :])
            self._last = a[first].copy()
            a = a[first:]
            finite = finite[first:]
            acc = acc[first:]
        if not finite.all():  # a gap in the IMU: hold the last finite value
            for i in np.flatnonzero(~finite):
                a[i] = a[i - 1] if i > 0 else self._last
        if a.shape[0] == 0:
            return
        self._last = a[-1].copy()
        sosfilt_inplace(self.sos, a, self._zi)
        acc += a @ self.weights
