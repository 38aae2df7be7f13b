"""What a 6-axis IMU strapped to the forearm measures.

The sensor sits on the dorsal side of the forearm, ``position`` of the way
from elbow to wrist and ``offset`` metres from the forearm's long axis. Its
axes are those of the forearm frame F (x toward the wrist, y toward the thumb
in neutral pronation, z out of the skin; see
``realtime.body.musculoskeletal.dynamics``), turned by a small fixed ``rotation``.

- Accelerometer: specific force ``a - g`` in the sensor frame (m/s²); at rest
  it reads +9.81 m/s² along "up" in any posture. ``a`` includes the tangential
  and centripetal terms of elbow flexion and pronation.
- Gyroscope: angular velocity of the forearm (elbow flexion + pronation; the
  wrist does not move the sensor) in the sensor frame (rad/s).
- Noise: white Gaussian per sample plus a constant bias per axis, drawn from
  the seed in fixed pages of samples so that they do not depend on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from realtime.body.musculoskeletal import forearm_motion
from realtime.body.musculoskeletal.dynamics import point_acceleration
from realtime.core.units import STANDARD_GRAVITY


@lru_cache(maxsize=16)
def rotation_matrix(angles_deg: tuple[float, float, float]) -> np.ndarray:
    """Rotation ``Rx(a) @ Ry(b) @ Rz(c)`` (columns: sensor axes in F) from angles in degrees (do not modify)."""
    a, b, c = np.radians(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


@dataclass(frozen=True)
class SensorMount:
    """Where and how the IMU is strapped to the forearm (validated by ``SyntheticSettings``).

    Parameters
    ----------
    forearm_length : float
        Elbow to wrist, m.
    shoulder_flexion : float
        Fixed shoulder flexion, rad.
    position : float
        Fraction of the forearm length from the elbow.
    offset : float
        Distance from the forearm axis to the sensor, dorsal side, m.
    rotation : tuple of 3 float
        Mounting error about the sensor x, y, z axes, degrees.
    """

    forearm_length: float
    shoulder_flexion: float
    position: float = 2.0 / 3.0
    offset: float = 0.03
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)


def imu_signals(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, mount: SensorMount) -> np.ndarray:
    """Noise-free IMU samples for joint kinematics.

    Parameters
    ----------
    q, qd, qdd : ndarray, shape (n, 3)
        Joint angles (rad), velocities (rad/s), accelerations (rad/s²).
    mount : SensorMount
        Sensor placement.

    Returns
    -------
    ndarray, shape (n, 6), float64
        ``acc_x, acc_y, acc_z`` (m/s²), ``gyr_x, gyr_y, gyr_z`` (rad/s) in the sensor frame.
    """
    omega, alpha, up = forearm_motion(q, qd, qdd, mount.shoulder_flexion)
    r = np.array([mount.position * mount.forearm_length, 0.0, mount.offset])
    specific_force = point_acceleration(omega, alpha, r) + STANDARD_GRAVITY * up
    rot = rotation_matrix(mount.rotation)
    out = np.empty((q.shape[0], 6))
    out[:, :3] = specific_force @ rot
    out[:, 3:] = omega @ rot
    return out


class ImuNoise:
    """Seeded white noise and constant bias, identical for any chunking.

    Sample ``k``'s noise comes from page ``k // page`` of a generator seeded with
    ``(seed, stream, page)``; the bias from ``(seed, stream, "bias")``.

    Parameters
    ----------
    seed : int
        Seed.
    std : ndarray, shape (6,)
        RMS noise per channel.
    bias_std : ndarray, shape (6,)
        Standard deviation of the constant bias drawn per channel.
    page : int
        Samples per generated page.
    """

    _STREAM = 0x1A0

    def __init__(self, seed: int, std: np.ndarray, bias_std: np.ndarray, page: int = 4096) -> None:
        self.seed = seed
        self.std = np.asarray(std, np.float64)
        self.page = page
        self.bias = np.random.default_rng([seed, self._STREAM, 1]).normal(0.0, 1.0, 6) * np.asarray(bias_std)
        self._cache: tuple[int, np.ndarray] | None = None

    def _page(self, j: int) -> np.ndarray:
        if self._cache is None or self._cache[0] != j:
            rng = np.random.default_rng([self.seed, self._STREAM, 2, j])
            self._cache = (j, rng.standard_normal((self.page, 6)))
        return self._cache[1]

    def samples(self, start: int, n: int) -> np.ndarray:
        """Noise plus bias of samples ``start .. start+n-1``, shape (n, 6)."""
        out = np.empty((n, 6))
        k = start
        while k < start + n:
            j, offset = divmod(k, self.page)
            take = min(self.page - offset, start + n - k)
            out[k - start:k - start + take] = self._page(j)[offset:offset + take]
            k += take
        return out * self.std + self.bias
