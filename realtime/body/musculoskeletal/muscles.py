"""Muscle geometry and load sharing: moment arms, co-contraction floor, static optimisation.

Muscles follow ``realtime.core.anatomy.MUSCLES``; joints ``realtime.core.anatomy.JOINTS``.
Parameter values and their sources are listed in ``docs/teacher.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.checks import check_number

MAX_FORCE_N: np.ndarray = np.array([1060.0, 987.0, 261.0, 2047.0, 642.0, 476.0, 700.0, 500.0])
"""Maximum isometric force per muscle (N), in ``MUSCLES`` order.

Holzbaur et al. (2005), heads summed: biceps 624 + 436, brachialis 987,
brachioradialis 261, triceps 799 + 624 + 624, pronator teres 566 + pronator
quadratus 75, supinator 476. The wrist groups lump the wrist and extrinsic
finger muscles; their forces are set so that the maximal wrist moments
(≈ 12 N·m flexion, ≈ 7 N·m extension) match measured strength (Delp et al. 1996).
"""

CROSSES: np.ndarray = np.array([
    # biceps, brachialis, brachioradialis, triceps, pronator_teres, supinator, wrist_flex, wrist_ext
    [1, 1, 1, 1, 1, 0, 0, 0],  # elbow_flexion
    [1, 0, 1, 0, 1, 1, 0, 0],  # forearm_pronation
    [0, 0, 0, 0, 0, 0, 1, 1],  # wrist_flexion
], dtype=bool)
"""Which muscle (column) spans which joint (row)."""

assert CROSSES.shape == (len(JOINTS), len(MUSCLES))
assert MAX_FORCE_N.shape == (len(MUSCLES),)

BATCH = 4096
"""Samples solved at once by :func:`static_optimisation` (bounds the temporary memory)."""


def moment_arms(q: np.ndarray) -> np.ndarray:
    """Posture-dependent moment arms (m), positive toward flexion / pronation / flexion.

    Parameters
    ----------
    q : ndarray, shape (n, 3)
        Joint angles (rad) in ``JOINTS`` order.

    Returns
    -------
    ndarray, shape (n, 3, 8)
        ``r[k, j, i]``: moment arm of muscle ``i`` about joint ``j`` at sample ``k``.
        Elbow-flexor arms peak near 90° of flexion (biceps 1.5 → 4.5 cm,
        brachioradialis 2 → 7 cm); the biceps and supinator supinate more when
        the forearm is pronated, the pronator teres pronates more when it is
        supinated, and the brachioradialis turns the forearm toward neutral.
    """
    q = np.asarray(q, np.float64)
    se = np.sin(q[:, 0])
    p = q[:, 1]
    r = np.zeros((q.shape[0], 3, len(MUSCLES)))
    r[:, 0, 0] = 0.015 + 0.030 * se          # biceps
    r[:, 0, 1] = 0.008 + 0.014 * se          # brachialis
    r[:, 0, 2] = 0.020 + 0.050 * se          # brachioradialis
    r[:, 0, 3] = -(0.025 - 0.005 * se)       # triceps
    r[:, 0, 4] = 0.006 + 0.008 * se          # pronator teres
    r[:, 1, 0] = np.minimum(-(0.006 + 0.003 * p), -0.001)   # biceps supinates
    r[:, 1, 2] = -0.006 * np.sin(p)                          # brachioradialis: toward neutral
    r[:, 1, 4] = 0.010 - 0.002 * p                           # pronator teres (+ quadratus)
    r[:, 1, 5] = np.minimum(-(0.006 + 0.002 * p), -0.002)   # supinator
    r[:, 2, 6] = 0.017                        # wrist flexors
    r[:, 2, 7] = -0.014                       # wrist extensors
    return r


@dataclass(frozen=True)
class MuscleParams:
    """Load-sharing and activation-dynamics parameters of the physics teacher.

    Parameters
    ----------
    tau_act : float
        Activation time constant, s (Thelen 2003: 0.015).
    tau_deact : float
        Deactivation time constant, s (Thelen 2003: 0.050).
    base_activation : float
        Resting tone: no excitation falls below it (0-0.2). Applied after the
        load sharing, it is not part of the moment balance.
    cocontraction : float
        Extra floor of every muscle spanning a joint, per unit of that joint's
        normalised effort ``|tau| / capacity`` (0-0.5).
    grip_per_kg : float
        Extra floor of both wrist groups per kg held (gripping co-contracts
        forearm flexors and extensors), per kg (0-0.1).
    dynamic_cocontraction : float
        Extra floor of every muscle spanning a joint while that joint
        accelerates: the stiffness demand of starting and stopping a movement
        (0-0.5). It is reached at ``cocontraction_acc`` and grows linearly below.
    cocontraction_acc : float
        Joint acceleration (rad/s²) at which the dynamic co-contraction saturates (1-1000).
    """

    tau_act: float = 0.015
    tau_deact: float = 0.050
    base_activation: float = 0.03
    cocontraction: float = 0.15
    grip_per_kg: float = 0.03
    dynamic_cocontraction: float = 0.1
    cocontraction_acc: float = 20.0

    def __post_init__(self) -> None:
        check_number("tau_act", self.tau_act, 0.001, 0.2, "s")
        check_number("tau_deact", self.tau_deact, 0.001, 0.5, "s")
        check_number("base_activation", self.base_activation, 0.0, 0.2)
        check_number("cocontraction", self.cocontraction, 0.0, 0.5)
        check_number("grip_per_kg", self.grip_per_kg, 0.0, 0.1, "1/kg")
        check_number("dynamic_cocontraction", self.dynamic_cocontraction, 0.0, 0.5)
        check_number("cocontraction_acc", self.cocontraction_acc, 1.0, 1000.0, "rad/s^2")


MAX_FLOOR = 0.5
"""Upper limit of the co-contraction floor."""


def cocontraction_floor(tau: np.ndarray, strength: np.ndarray, load_kg: np.ndarray | float,
                        params: MuscleParams, qdd: np.ndarray | None = None) -> np.ndarray:
    """Lower bound of each muscle's activation in the load sharing: co-contraction and grip.

    ``floor_i = max_j(CROSSES[j, i] · (cocontraction · effort_j + dynamic_cocontraction · accel_j))
    + grip_per_kg · load`` (grip for the wrist groups only), capped at ``MAX_FLOOR``, where
    ``effort_j = min(|tau_j| / capacity_j, 1)``, ``capacity_j`` is the sum of
    ``strength`` of the muscles that can act in the direction of ``tau_j``, and
    ``accel_j = min(|qdd_j| / cocontraction_acc, 1)`` (0 without ``qdd``).

    Parameters
    ----------
    tau : ndarray, shape (n, 3)
        Joint torques, N·m.
    strength : ndarray, shape (n, 3, 8)
        Moment arms times maximum forces (N·m per unit activation).
    load_kg : ndarray of shape (n,) or float
        Mass held in the hand, kg.
    params : MuscleParams
        Gains.
    qdd : ndarray, shape (n, 3) | None
        Joint accelerations, rad/s² (the dynamic co-contraction; ``None``: none).

    Returns
    -------
    ndarray, shape (n, 8)
    """
    direction = np.sign(tau)[:, :, None]
    capacity = np.sum(np.maximum(strength * direction, 0.0), axis=2)
    effort = np.minimum(np.abs(tau) / np.maximum(capacity, 1e-9), 1.0)
    demand = params.cocontraction * effort
    if qdd is not None:
        accel = np.minimum(np.abs(np.asarray(qdd, np.float64)) / params.cocontraction_acc, 1.0)
        demand = demand + params.dynamic_cocontraction * accel
    floor = np.max(CROSSES[None, :, :] * demand[:, :, None], axis=1)
    grip = params.grip_per_kg * np.broadcast_to(np.asarray(load_kg, np.float64), (tau.shape[0],))
    floor[:, 6:8] += grip[:, None]
    return np.minimum(floor, MAX_FLOOR)


def static_optimisation(strength: np.ndarray, tau: np.ndarray, lower: np.ndarray, upper: float = 1.0,
                        penalty: float = 1e-6, tol: float = 1e-10, max_iter: int = 50) -> np.ndarray:
    """Activations minimising ``sum(a²)`` subject to ``strength @ a = tau`` and ``lower <= a <= upper``.

    Solved in the dual: ``a = clip(strength.T @ lam, lower, upper)`` where ``lam``
    (3 numbers per sample) minimises a convex piecewise-quadratic function. Each
    iteration takes a Newton step on the current active set followed by an
    exact line search along it (the function is piecewise quadratic, so the
    line minimum is found from its sorted breakpoints). All samples are solved
    at once with numpy, each from the same start and stopping on its own
    criterion, so a sample's result does not depend on the batch it is in.

    Where ``tau`` is out of reach, the moment balance is relaxed by a quadratic
    penalty ``|strength a - tau|² / (2 penalty)``: the agonists saturate at
    ``upper`` and the residual torque is left unbalanced. Where it is within
    reach, the residual is about ``penalty · |lam|`` (≈ 1e-8 N·m).

    Parameters
    ----------
    strength : ndarray, shape (n, 3, m)
        Moment arm × maximum force, N·m per unit activation.
    tau : ndarray, shape (n, 3)
        Joint torques to balance, N·m.
    lower : ndarray, shape (n, m)
        Per-sample lower bounds (the co-contraction floor), below ``upper``.
    upper : float
        Upper bound of every activation.
    penalty : float
        Moment-balance relaxation, (N·m)².
    tol : float
        Stop when the gradient (moment residual) is below ``tol · (1 + |tau|)`` N·m.
    max_iter : int
        Iteration cap.

    Returns
    -------
    ndarray, shape (n, m)
        Activations in ``[lower, upper]``.
    """
    strength = np.asarray(strength, np.float64)
    tau = np.asarray(tau, np.float64)
    lower = np.asarray(lower, np.float64)
    out = np.empty(lower.shape)
    for start in range(0, tau.shape[0], BATCH):
        sl = slice(start, start + BATCH)
        out[sl] = _solve_batch(strength[sl], tau[sl], lower[sl], upper, penalty, tol, max_iter)
    return out


def _solve_batch(A: np.ndarray, tau: np.ndarray, lo: np.ndarray, hi: float, eps: float,
                 tol: float, max_iter: int) -> np.ndarray:
    n = A.shape[0]
    lam = _solve_sym3(_weighted_gram(A, np.ones(A.shape[::2], bool), eps), tau)
    limit = tol * (1.0 + np.abs(tau).sum(axis=1))
    todo = np.arange(n)
    for _ in range(max_iter):
        a_sub, t_sub, lo_sub, lam_sub = A[todo], tau[todo], lo[todo], lam[todo]
        z = np.einsum("kji,kj->ki", a_sub, lam_sub)
        act = np.clip(z, lo_sub, hi)
        grad = np.einsum("kji,ki->kj", a_sub, act) - t_sub + eps * lam_sub
        busy = np.abs(grad).max(axis=1) > limit[todo]
        todo, a_sub, t_sub, lo_sub, lam_sub, z, grad = (
            x[busy] for x in (todo, a_sub, t_sub, lo_sub, lam_sub, z, grad))
        if todo.size == 0:
            break
        free = (z > lo_sub) & (z < hi)
        step = -_solve_sym3(_weighted_gram(a_sub, free, eps), grad)
        t_star = _exact_line_search(a_sub, t_sub, lo_sub, hi, eps, lam_sub, z, step)
        lam[todo] = lam_sub + t_star[:, None] * step
    z = np.einsum("kji,kj->ki", A, lam)
    return np.clip(z, lo, hi)


def _weighted_gram(A: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """The six distinct entries ``(00, 11, 22, 01, 02, 12)`` of ``A diag(weight) A.T + eps I``, shape (n, 6)."""
    aw = A * weight[:, None, :]
    g = np.empty((A.shape[0], 6))
    for col, (j, k) in enumerate(((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))):
        g[:, col] = np.sum(aw[:, j] * A[:, k], axis=1)
    g[:, :3] += eps
    return g


def _solve_sym3(h: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve symmetric 3×3 systems given as ``_weighted_gram`` entries, by the adjugate (n, 3)."""
    h00, h11, h22, h01, h02, h12 = h.T
    c00 = h11 * h22 - h12 * h12
    c01 = h02 * h12 - h01 * h22
    c02 = h01 * h12 - h02 * h11
    c11 = h00 * h22 - h02 * h02
    c12 = h01 * h02 - h00 * h12
    c22 = h00 * h11 - h01 * h01
    det = h00 * c00 + h01 * c01 + h02 * c02
    b0, b1, b2 = b.T
    x = np.stack([c00 * b0 + c01 * b1 + c02 * b2,
                  c01 * b0 + c11 * b1 + c12 * b2,
                  c02 * b0 + c12 * b1 + c22 * b2], axis=1)
    return x / det[:, None]


def _exact_line_search(A: np.ndarray, tau: np.ndarray, lo: np.ndarray, hi: float, eps: float,
                       lam: np.ndarray, z: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Minimiser ``t >= 0`` of the dual along ``lam + t step``.

    The derivative ``phi'(t) = dz · clip(z + t dz) - step · tau + eps (lam + t step) · step``
    is continuous, increasing and piecewise linear; its slope changes by ``±dz_i²``
    where muscle ``i`` enters or leaves the box. Walk the sorted breakpoints and
    interpolate the root in the segment where ``phi'`` changes sign.
    """
    dz = np.einsum("kji,kj->ki", A, step)
    d0 = np.sum(dz * np.clip(z, lo, hi), axis=1) - np.sum(step * tau, axis=1) + eps * np.sum(lam * step, axis=1)
    curv = eps * np.sum(step * step, axis=1)
    dz2 = dz * dz
    moving_up, moving_down = dz > 0, dz < 0
    free0 = ((z > lo) & (z < hi)) | ((z == lo) & moving_up) | ((z == hi) & moving_down)
    slope0 = np.sum(dz2 * free0, axis=1) + curv
    with np.errstate(divide="ignore", invalid="ignore"):
        t_lo = np.where(dz != 0, (lo - z) / dz, np.inf)
        t_hi = np.where(dz != 0, (hi - z) / dz, np.inf)
    t_lo = np.where(t_lo > 0, t_lo, np.inf)
    t_hi = np.where(t_hi > 0, t_hi, np.inf)
    # Entering the box at lo while moving up, or at hi while moving down; leaving otherwise.
    change = np.concatenate([np.where(moving_up, dz2, -dz2), np.where(moving_down, dz2, -dz2)], axis=1)
    times = np.concatenate([t_lo, t_hi], axis=1)
    order = np.argsort(times, axis=1)
    times = np.take_along_axis(times, order, axis=1)
    change = np.take_along_axis(change, order, axis=1)
    change[~np.isfinite(times)] = 0.0
    # Segment k runs from bounds[k] to bounds[k+1] with slope slopes[k].
    bounds = np.concatenate([np.zeros((len(z), 1)), times], axis=1)
    slopes = slope0[:, None] + np.concatenate([np.zeros((len(z), 1)), np.cumsum(change, axis=1)], axis=1)
    with np.errstate(invalid="ignore"):
        widths = np.diff(bounds, axis=1)
    widths[~np.isfinite(widths)] = 0.0
    at_bounds = d0[:, None] + np.concatenate(
        [np.zeros((len(z), 1)), np.cumsum(slopes[:, :-1] * widths, axis=1)], axis=1)
    # First segment whose end derivative is >= 0 (the last one is unbounded: slope >= curv > 0).
    ends = np.concatenate([at_bounds[:, 1:], np.full((len(z), 1), np.inf)], axis=1)
    ends[:, :-1][~np.isfinite(times)] = np.inf
    k = np.argmax(ends >= 0, axis=1)
    rows = np.arange(len(z))
    return np.maximum(bounds[rows, k] - at_bounds[rows, k] / slopes[rows, k], 0.0)
