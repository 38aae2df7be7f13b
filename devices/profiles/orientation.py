"""Orientation of the simulated arm's IMU, for devices that publish quaternions and magnetometers.

:class:`OrientationTracker` integrates the gyroscope and pulls the tilt toward the
accelerometer's gravity direction (a Mahony-style complementary filter, Mahony et
al. 2008, IEEE TAC 53(5), proportional term only), so the quaternion a Myo or a
Muovi would report follows the motion. The magnetometer a Trigno sensor reports
is Earth's field in the sensor frame: :data:`EARTH_FIELD_UT` (about 20 µT
horizontal, 45 µT downward: mid-latitude Europe, NOAA/BGS World Magnetic Model
2020, total intensity ~48 µT) rotated by the orientation.
"""

from __future__ import annotations

import numpy as np

EARTH_FIELD_UT = np.array([20.0, 0.0, -45.0])
"""Earth's magnetic field in the world frame (x north, z up), µT."""

MAHONY_KP = 1.0
"""Proportional gain of the accelerometer tilt correction, 1/s."""


class OrientationTracker:
    """The sensor's orientation quaternion (w, x, y, z), sensor-to-world, updated sample by sample."""

    def __init__(self) -> None:
        self.q = np.array([1.0, 0.0, 0.0, 0.0])
        self._t: float | None = None

    def update(self, timestamps: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        """Advance over samples ``acc`` (m/s², (n, 3)) and ``gyr`` (rad/s, (n, 3)) at ``timestamps``."""
        q = self.q
        for i in range(len(timestamps)):
            t = float(timestamps[i])
            dt = 0.0 if self._t is None else min(max(t - self._t, 0.0), 0.1)
            self._t = t
            w = np.asarray(gyr[i], float)
            a = np.asarray(acc[i], float)
            norm = np.linalg.norm(a)
            if norm > 1e-6:
                # Gravity direction predicted by q (world z up) in the sensor frame vs the measured one.
                v = _rotate_inverse(q, np.array([0.0, 0.0, 1.0]))
                w = w + MAHONY_KP * np.cross(a / norm, v)
            dq = 0.5 * _multiply(q, np.array([0.0, *w])) * dt
            q = q + dq
            q /= np.linalg.norm(q)
        self.q = q

    def magnetometer(self) -> np.ndarray:
        """Earth's field in the sensor frame, µT."""
        return _rotate_inverse(self.q, EARTH_FIELD_UT)


def _multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product of quaternions (w, x, y, z)."""
    w1, x1, y1, z1 = p
    w2, x2, y2, z2 = q
    return np.array([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])


def _rotate_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``v`` (world frame) expressed in the sensor frame of orientation ``q``."""
    conj = q * np.array([1.0, -1.0, -1.0, -1.0])
    return _multiply(_multiply(conj, np.array([0.0, *v])), q)[1:]
