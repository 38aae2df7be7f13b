"""Kinematics and inverse dynamics of the forearm-hand chain (vectorised over samples).

Frames (right arm; see ``docs/teacher.md``):

- World: x forward, y to the subject's left, z up. The shoulder and upper arm
  are fixed; the elbow joint centre is the origin.
- Forearm frame F: x along the forearm from elbow to wrist, y toward the thumb
  side in neutral pronation, z out of the dorsal skin. With the arm hanging,
  elbow straight and forearm neutral: x down, y forward, z to the right.
  ``R_WF = R0 · Rz(shoulder_flexion + elbow) · Rx(-pronation)``.
- Hand frame: ``Ry(wrist)`` relative to F (flexion turns the hand toward the palm, -z).

All vectors here are expressed in F. Inputs are ``(n, 3)`` arrays of joint
angles, velocities and accelerations in ``realtime.core.anatomy.JOINTS`` order.
"""

from __future__ import annotations

import numpy as np

from realtime.body.musculoskeletal.arm import (
    FOREARM_COM,
    FOREARM_GYRATION,
    GRIP_FRACTION,
    HAND_COM,
    HAND_GYRATION,
    LOAD_GYRATION_M,
    ArmParams,
)
from realtime.core.units import STANDARD_GRAVITY


def as_joint_array(name: str, x: object) -> np.ndarray:
    """Return ``x`` as a float64 ``(n, 3)`` array or raise naming ``name``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"The argument '{name}' should be an array of shape (n_samples, 3), {arr.shape} is invalid.")
    return arr


def _stack(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of 3-vectors along the last axis (broadcasting); ``np.cross`` without its overhead."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a1 * b2 - a2 * b1
    out[..., 1] = a2 * b0 - a0 * b2
    out[..., 2] = a0 * b1 - a1 * b0
    return out


def forearm_motion(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray,
                   shoulder_flexion: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angular velocity, angular acceleration and the up direction of the forearm, in F.

    Parameters
    ----------
    q, qd, qdd : ndarray, shape (n, 3)
        Joint angles (rad), velocities (rad/s), accelerations (rad/s²).
    shoulder_flexion : float
        Fixed shoulder flexion, rad.

    Returns
    -------
    omega : ndarray, shape (n, 3)
        ``(-pd, -ed sin p, ed cos p)``: pronation spins about -x, elbow flexion about ``(0, -sin p, cos p)``.
    alpha : ndarray, shape (n, 3)
        Its time derivative (rad/s²).
    up : ndarray, shape (n, 3)
        Unit vector pointing up (against gravity), ``(-cos psi, sin psi cos p, sin psi sin p)``
        with ``psi = shoulder_flexion + elbow``.
    """
    psi = shoulder_flexion + q[:, 0]
    sp, cp = np.sin(q[:, 1]), np.cos(q[:, 1])
    ed, pd = qd[:, 0], qd[:, 1]
    edd, pdd = qdd[:, 0], qdd[:, 1]
    omega = _stack(-pd, -ed * sp, ed * cp)
    alpha = _stack(-pdd, -edd * sp - ed * pd * cp, edd * cp - ed * pd * sp)
    spsi = np.sin(psi)
    up = _stack(-np.cos(psi), spsi * cp, spsi * sp)
    return omega, alpha, up


def point_acceleration(omega: np.ndarray, alpha: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Acceleration of a point at ``r`` on a body spinning about a fixed point: ``alpha×r + omega×(omega×r)``."""
    return cross(alpha, r) + cross(omega, cross(omega, r))


def _inertia_times(moments: tuple[float, float, float] | np.ndarray, axes: tuple[np.ndarray, ...],
                   v: np.ndarray) -> np.ndarray:
    """``I @ v`` for an inertia with principal ``moments`` about unit ``axes`` (each (n, 3) or (3,))."""
    out = np.zeros_like(v)
    for moment, axis in zip(moments, axes):
        out += (moment * np.sum(axis * v, axis=-1))[..., None] * axis
    return out


def _rigid_moment(moments: tuple, axes: tuple, omega: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Euler's equation about the centre of mass: ``I alpha + omega × (I omega)``."""
    return _inertia_times(moments, axes, alpha) + cross(omega, _inertia_times(moments, axes, omega))


def inverse_dynamics(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, params: ArmParams | None = None,
                     load_kg: float | np.ndarray | None = None) -> np.ndarray:
    """Joint torques that produce the motion, by Newton-Euler on forearm, hand and held load.

    Parameters
    ----------
    q, qd, qdd : ndarray, shape (n, 3)
        Joint angles (rad), velocities (rad/s), accelerations (rad/s²) in
        ``realtime.core.anatomy.JOINTS`` order.
    params : ArmParams | None
        Arm model; default ``ArmParams()``.
    load_kg : float | ndarray of shape (n,) | None
        Mass held in the hand per sample; ``None`` uses ``params.load_kg``.

    Returns
    -------
    tau : ndarray, shape (n, 3)
        Net muscle torque (N·m) about elbow flexion, pronation and wrist flexion
        (positive = flexion / pronation / flexion): gravity, inertia of forearm,
        hand and load (with the velocity-product terms), plus joint damping.
    """
    params = params or ArmParams()
    q, qd, qdd = as_joint_array("q", q), as_joint_array("qd", qd), as_joint_array("qdd", qdd)
    n = q.shape[0]
    if qd.shape[0] != n or qdd.shape[0] != n:
        raise ValueError(f"q, qd and qdd must have the same number of samples; got {n}, {qd.shape[0]}, {qdd.shape[0]}.")
    m_load = np.broadcast_to(np.asarray(params.load_kg if load_kg is None else load_kg, np.float64), (n,))
    if np.any(m_load < 0):
        raise ValueError("The argument 'load_kg' must be >= 0 kg; a negative mass is invalid.")
    omega, alpha, up = forearm_motion(q, qd, qdd, params.shoulder_flexion)
    gravity = -STANDARD_GRAVITY * up
    ex, ey, ez = np.eye(3)

    # Forearm: axisymmetric body from the elbow (origin) to the wrist.
    length = params.forearm_length
    r_f = FOREARM_COM * length * ex
    mom_f = tuple(params.forearm_mass * (k * length) ** 2 for k in FOREARM_GYRATION)
    force_f = params.forearm_mass * (point_acceleration(omega, alpha, r_f) - gravity)
    m_elbow = cross(r_f, force_f) + _rigid_moment(mom_f, (ex, ey, ez), omega, alpha)

    # Hand and load: rotate about the wrist axis y.
    wrist = length * ex
    a_wrist = point_acceleration(omega, alpha, wrist)
    w, wd, wdd = q[:, 2], qd[:, 2][:, None], qdd[:, 2][:, None]
    cw, sw = np.cos(w), np.sin(w)
    zero = np.zeros_like(w)
    hand_x = _stack(cw, zero, -sw)
    hand_z = _stack(sw, zero, cw)
    hand_y = np.broadcast_to(ey, hand_x.shape)
    omega_h = omega + wd * ey
    alpha_h = alpha + wdd * ey + cross(omega, wd * ey)
    m_wrist = np.zeros_like(omega)
    force_w = np.zeros_like(omega)
    h_len = params.hand_length
    mom_h = tuple(params.hand_mass * (k * h_len) ** 2 for k in HAND_GYRATION)
    bodies = (
        (params.hand_mass, HAND_COM * h_len, mom_h),
        (m_load, GRIP_FRACTION * h_len, None),
    )
    for mass, dist, moments in bodies:
        rho = dist * hand_x
        acc = a_wrist + cross(alpha_h, rho) + cross(omega_h, cross(omega_h, rho))
        mass_col = np.asarray(mass)[..., None] if np.ndim(mass) else mass
        force = mass_col * (acc - gravity)
        force_w += force
        m_wrist += cross(rho, force)
        if moments is None:  # isotropic load: I alpha, no gyroscopic term
            m_wrist += mass_col * LOAD_GYRATION_M**2 * alpha_h
        else:
            m_wrist += _rigid_moment(moments, (hand_x, hand_y, hand_z), omega_h, alpha_h)
    m_elbow += m_wrist + cross(wrist, force_w)

    sp, cp = np.sin(q[:, 1]), np.cos(q[:, 1])
    tau = np.empty((n, 3))
    tau[:, 0] = -m_elbow[:, 1] * sp + m_elbow[:, 2] * cp
    tau[:, 1] = -m_elbow[:, 0]
    tau[:, 2] = m_wrist[:, 1]
    tau += np.asarray(params.joint_damping) * qd
    return tau


def joint_positions(q: np.ndarray, params: ArmParams | None = None) -> dict[str, np.ndarray]:
    """World positions (m) of elbow, wrist and hand centre of mass relative to the shoulder.

    Parameters
    ----------
    q : ndarray, shape (n, 3)
        Joint angles, rad.
    params : ArmParams | None
        Arm model; default ``ArmParams()``.

    Returns
    -------
    dict
        ``"elbow"``, ``"wrist"``, ``"hand"``: arrays of shape (n, 3) in the world frame
        (x forward, y left, z up).
    """
    params = params or ArmParams()
    q = as_joint_array("q", q)
    phi = params.shoulder_flexion
    psi = phi + q[:, 0]
    elbow = params.upper_arm_length * np.array([np.sin(phi), 0.0, -np.cos(phi)])
    elbow = np.broadcast_to(elbow, q.shape)
    forearm_dir = _stack(np.sin(psi), np.zeros_like(psi), -np.cos(psi))
    wrist = elbow + params.forearm_length * forearm_dir
    # Hand direction: forearm x rotated toward the palm (-z of F) by the wrist angle; -z of F in
    # world, for R_WF = R0 Rz(psi) Rx(-p) with R0 columns (-z, x, -y), is built from its parts.
    p, w = q[:, 1], q[:, 2]
    flex_dir = _stack(np.cos(psi), np.zeros_like(psi), np.sin(psi))  # F's y at p = 0, in world
    lateral = np.array([0.0, -1.0, 0.0])                               # F's z at p = 0, in world
    z_f = np.sin(p)[:, None] * flex_dir + np.cos(p)[:, None] * lateral
    hand_dir = np.cos(w)[:, None] * forearm_dir - np.sin(w)[:, None] * z_f
    hand = wrist + HAND_COM * params.hand_length * hand_dir
    return {"elbow": np.array(elbow), "wrist": wrist, "hand": hand}
