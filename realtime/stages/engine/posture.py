"""How the joint angles change each muscle's geometry, and the posture grid of the MUAP tables.

Posture is the joint angles of :data:`realtime.core.anatomy.JOINTS` (rad). At the
:data:`NEUTRAL_POSTURE` every muscle has the geometry of
:data:`~realtime.stages.engine.muscles.MUSCLE_GEOMETRY`. Away from it (BioMime's
idea: the volume-conductor parameters follow the posture):

- **Fibre length** ``lam = 1 + sum_j length_gain[j] * (q_j - neutral_j)``,
  clipped to [:data:`MIN_LENGTH`, :data:`MAX_LENGTH`]. Fibres scale about the
  muscle's proximal end, so the innervation zone and the fibre ends shift
  along the limb under the electrodes (``x' = x_prox + lam (x - x_prox)``).
- **Fibre diameter** at constant volume ``∝ lam^-1/2``: the conduction
  velocity (∝ diameter) and the territory radius scale by ``lam^-1/2``, the
  membrane current of a fibre (∝ cross-section) by ``1 / lam``; the muscle
  thickens inward (its superficial edge stays under the fat), so its units
  get deeper when it shortens.
- **Rotation**: forearm pronation turns the muscle around the limb axis,
  relative to the skin and the electrodes, by ``rotation_gain * (q_pron - neutral)``.

Tables are computed on a regular grid over :data:`POSTURE_RANGE` for the
joints a muscle depends on (``posture_points`` nodes per joint) and blended
at each discharge by simplex (Kuhn) interpolation: ``d + 1`` tables for a
muscle that depends on ``d`` joints, weights continuous in the posture, so
crossing a cell boundary never makes a jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from realtime.core.anatomy import JOINT_LIMITS, JOINTS
from realtime.stages.engine.muscles import MUSCLE_GEOMETRY, SKIN_FAT_THICKNESS

if TYPE_CHECKING:
    from realtime.stages.engine.muaps import UnitGeometry

NEUTRAL_POSTURE: tuple[float, float, float] = (math.pi / 2.0, 0.0, 0.0)
"""Elbow at 90°, forearm neutral (thumb up), wrist straight (rad, ``JOINTS`` order)."""

NEUTRAL_ANGLES = np.asarray(NEUTRAL_POSTURE, np.float32).astype(np.float64)
"""The neutral posture as the kernels use it (rounded to float32 like the angles of a block), so a
missing posture, a NaN angle and explicit neutral angles blend exactly the same tables."""

POSTURE_RANGE: tuple[tuple[float, float], ...] = tuple(JOINT_LIMITS)
"""Range of each joint covered by the posture grid (rad): the arm's range of motion."""

PRONATION = JOINTS.index("forearm_pronation")
MIN_LENGTH, MAX_LENGTH = 0.7, 1.3
"""Normalised fibre length is kept within these bounds."""

MAX_AXES = len(JOINTS)


@dataclass(frozen=True)
class MusclePose:
    """One muscle's geometry change at a posture.

    Attributes
    ----------
    length : float
        Normalised fibre length (1 at the neutral posture).
    rotation : float
        Rotation around the limb axis relative to the electrodes (rad, positive radial).
    """

    length: float = 1.0
    rotation: float = 0.0


def muscle_pose(muscle: str, posture: np.ndarray | tuple[float, ...]) -> MusclePose:
    """Fibre length and rotation of ``muscle`` at ``posture`` (rad, ``JOINTS`` order)."""
    g = MUSCLE_GEOMETRY[muscle]
    dq = np.asarray(posture, np.float64) - np.asarray(NEUTRAL_POSTURE)
    lam = 1.0 + float(np.dot(g.length_gain, dq))
    return MusclePose(min(max(lam, MIN_LENGTH), MAX_LENGTH), g.rotation_gain * float(dq[PRONATION]))


def muscle_joints(muscle: str) -> tuple[int, ...]:
    """Indices of the joints whose angle changes ``muscle``'s MUAPs."""
    g = MUSCLE_GEOMETRY[muscle]
    return tuple(
        j
        for j in range(len(JOINTS))
        if g.length_gain[j] != 0.0 or (j == PRONATION and g.rotation_gain != 0.0)
    )


def pose_units(
    geometry: UnitGeometry, sl: slice, muscle: str, pose: MusclePose, limb_radius: float
) -> UnitGeometry:
    """The geometry of the units ``sl`` (all of ``muscle``) at ``pose`` (see the module doc)."""
    g = MUSCLE_GEOMETRY[muscle]
    lam, s = pose.length, pose.length**-0.5
    c_r = limb_radius - g.depth
    centre_m = np.array([c_r * math.cos(g.angle), c_r * math.sin(g.angle)])
    # Thicker when shorter, superficial edge fixed: the centre moves by the change of radius.
    c_r2 = c_r - g.radius * (s - 1.0)
    centre_m2 = centre_m * (c_r2 / c_r)
    yz = centre_m2 + s * (geometry.centre_yz[sl] - centre_m)
    cos_r, sin_r = math.cos(pose.rotation), math.sin(pose.rotation)
    yz = yz @ np.array([[cos_r, sin_r], [-sin_r, cos_r]])
    terr = geometry.territory_radius[sl] * s
    dist = np.hypot(yz[:, 0], yz[:, 1])
    limit = limb_radius - SKIN_FAT_THICKNESS - terr
    f = np.where(dist > limit, limit / dist, 1.0)
    yz = yz * f[:, None]
    x0 = g.x_proximal
    return replace(
        geometry,
        centre_yz=yz,
        depth=limb_radius - dist * f,
        territory_radius=terr,
        n_fibres=geometry.n_fibres[sl],
        velocity=geometry.velocity[sl] * s,
        x_iz=x0 + lam * (geometry.x_iz[sl] - x0),
        x_proximal=x0 + lam * (geometry.x_proximal[sl] - x0),
        x_distal=x0 + lam * (geometry.x_distal[sl] - x0),
        current_scale=np.full(sl.stop - sl.start, 1.0 / lam),
    )


@dataclass(frozen=True, eq=False)
class PostureGrid:
    """The posture nodes of every muscle's MUAP tables and how to blend them.

    Attributes
    ----------
    joint : ndarray of int64, shape (n_muscles, 3)
        Joint of each grid axis of a muscle (``-1``: unused axis).
    low, step : ndarray of float64, shape (n_muscles, 3)
        First node and spacing of each axis (rad).
    size : ndarray of int64, shape (n_muscles, 3)
        Nodes per axis (1 for unused axes).
    stride : ndarray of int64, shape (n_muscles, 3)
        Step of the flat node index per axis (last axis fastest).
    n_nodes : ndarray of int64, shape (n_muscles,)
        Nodes of each muscle's grid (1 for a posture-independent muscle).
    """

    joint: np.ndarray
    low: np.ndarray
    step: np.ndarray
    size: np.ndarray
    stride: np.ndarray
    n_nodes: np.ndarray

    def nodes(self, m: int) -> np.ndarray:
        """Postures ``(n_nodes[m], 3)`` of muscle ``m``'s nodes, flat-index order; other joints neutral."""
        out = np.tile(np.asarray(NEUTRAL_POSTURE), (int(self.n_nodes[m]), 1))
        flat = np.arange(int(self.n_nodes[m]))
        for a in range(MAX_AXES):
            j = int(self.joint[m, a])
            if j < 0:
                continue
            idx = (flat // self.stride[m, a]) % self.size[m, a]
            out[:, j] = self.low[m, a] + self.step[m, a] * idx
        return out

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The grid as the numba kernels read it.

        Returns
        -------
        grid_int : ndarray of int64, shape (3, n_muscles, 3)
            Joint, size and stride of each axis.
        grid_float : ndarray of float64, shape (2, n_muscles, 3)
            First node and inverse spacing of each axis.
        """
        return (
            np.ascontiguousarray(np.stack([self.joint, self.size, self.stride])),
            np.ascontiguousarray(np.stack([self.low, 1.0 / self.step])),
        )

    def weights(self, m: int, posture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Node indices and blend weights of muscle ``m`` at ``posture`` (the kernel's rule)."""
        grid_int, grid_float = self.kernel_arrays()
        nodes = np.zeros((1, MAX_AXES + 1), np.int64)
        weights = np.zeros((1, MAX_AXES + 1), np.float32)
        angles = np.asarray(posture, np.float32).reshape(1, -1)
        n = simplex_weights(angles, 0, grid_int, grid_float, m, NEUTRAL_ANGLES, nodes, weights, 0)
        return nodes[0, :n].copy(), weights[0, :n].copy()


def build_grid(
    muscles: tuple[str, ...], points: tuple[int, int, int], dynamic: bool
) -> PostureGrid:
    """The posture grid of ``muscles`` with ``points`` nodes per joint (a single node if not ``dynamic``)."""
    n_m = len(muscles)
    joint = np.full((n_m, MAX_AXES), -1, np.int64)
    low = np.zeros((n_m, MAX_AXES))
    step = np.ones((n_m, MAX_AXES))
    size = np.ones((n_m, MAX_AXES), np.int64)
    stride = np.ones((n_m, MAX_AXES), np.int64)
    n_nodes = np.ones(n_m, np.int64)
    for m, name in enumerate(muscles):
        if not dynamic:
            continue
        axes = [j for j in muscle_joints(name) if points[j] > 1]
        for a, j in enumerate(axes):
            lo, hi = POSTURE_RANGE[j]
            joint[m, a], low[m, a], size[m, a] = j, lo, points[j]
            step[m, a] = (hi - lo) / (points[j] - 1)
        total = 1
        for a in reversed(range(len(axes))):
            stride[m, a] = total
            total *= int(size[m, a])
        n_nodes[m] = total
    return PostureGrid(joint, low, step, size, stride, n_nodes)


@njit(cache=True, inline="always")
def simplex_weights(
    angles, t, grid_int, grid_float, m, neutral, nodes, weights, row
):  # pragma: no cover - numba
    """Kuhn-simplex interpolation on muscle ``m``'s grid at sample ``t``: ``d + 1`` nodes and weights.

    Inlined into the overlap-add kernel; the outputs are rows of 2-D arrays
    (no array views, so no reference counting per (muscle, sample)).

    Parameters
    ----------
    angles : ndarray, shape (n, 3), float32
        Posture of each sample (rad); NaN joints count as neutral, angles
        outside the grid are clamped to it.
    t : int
        The sample.
    grid_int, grid_float : ndarray
        :meth:`PostureGrid.kernel_arrays`.
    m : int
        The muscle.
    neutral : ndarray, shape (3,)
        The neutral posture.
    nodes : ndarray of int64, shape (rows, >= 4)
        Out: ``nodes[row, :4]`` the flat node indices; slots past ``n``
        repeat a node and have weight 0.
    weights : ndarray of float32, shape (rows, >= 4)
        Out: ``weights[row, :4]`` the weights (non-negative, the first ``n`` sum to 1, the rest 0).
    row : int
        The row of ``nodes`` and ``weights`` to write.

    Returns
    -------
    int
        ``n``, the number of nodes used: ``1 + number of axes`` (at most 4),
        less the trailing zero weights (an axis exactly on a node).
    """
    # Up to three axes, kept in scalars (no allocation in the per-discharge path).
    f0 = f1 = f2 = 0.0
    base = 0
    d = 0
    for a in range(3):
        j = grid_int[0, m, a]
        if j < 0:
            break
        x = angles[t, j]
        if not (x == x):  # NaN: neutral
            x = neutral[j]
        g = (x - grid_float[0, m, a]) * grid_float[1, m, a]
        top = grid_int[1, m, a] - 1
        if g <= 0.0:
            g = 0.0
        elif g >= top:
            g = float(top)
        i = int(g)  # g >= 0: truncation is the floor
        if i > top - 1:
            i = top - 1
        if d == 0:
            f0 = g - i
        elif d == 1:
            f1 = g - i
        else:
            f2 = g - i
        base += i * grid_int[2, m, a]
        d += 1
    # Axes in order of decreasing fraction (ties: lower axis first).
    a0, a1, a2 = 0, 1, 2
    fa, fb, fc = f0, f1, f2
    if d >= 2 and fb > fa:
        a0, a1, fa, fb = a1, a0, fb, fa
    if d == 3:
        if fc > fb:
            a1, a2, fb, fc = a2, a1, fc, fb
        if fb > fa:
            a0, a1, fa, fb = a1, a0, fb, fa
    # Weights rounded to float32 as stored; an axis exactly on a node gives a zero last weight
    # (the smallest fraction): it is dropped.
    w0 = np.float32(1.0 - fa if d >= 1 else 1.0)
    w1 = np.float32(fa - fb if d >= 2 else fa)
    w2 = np.float32(fb - fc if d == 3 else fb)
    w3 = np.float32(fc)
    n1 = base + grid_int[2, m, a0] if d >= 1 else base
    n2 = n1 + grid_int[2, m, a1] if d >= 2 else n1
    n3 = n2 + grid_int[2, m, a2] if d == 3 else n2
    nodes[row, 0] = base
    nodes[row, 1] = n1
    nodes[row, 2] = n2
    nodes[row, 3] = n3
    weights[row, 0] = w0
    weights[row, 1] = w1
    weights[row, 2] = w2
    weights[row, 3] = w3
    n = d + 1
    if n == 4 and w3 == 0.0:
        n = 3
    if n == 3 and w2 == 0.0:
        n = 2
    if n == 2 and w1 == 0.0:
        n = 1
    return n
