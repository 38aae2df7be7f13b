"""Analytical volume-conductor model of surface motor-unit action potentials.

Sources
    Each muscle fibre is a line of current sources along the limb axis,
    discretised every :data:`NODE_SPACING`. Two intracellular action
    potentials start at the innervation zone (IZ) and travel toward both
    tendons at the conduction velocity ``v``. The membrane potential behind
    a front at distance ``s`` (mm) follows Rosenfalck (1969),
    ``Vm(s) = 96 s^3 exp(-s) - 90`` mV. The transmembrane current of node
    ``k`` is ``sigma_i * pi * a^2 * d2Vm/dx2 * dx`` (core-conductor model),
    with sealed fibre ends: the net current of a fibre is zero at every
    instant, the waves are generated at the IZ and extinguished at the
    tendons (the end-of-fibre, non-propagating components), as in
    Merletti et al. (1999) and Farina & Merletti (2001).

Medium
    An anisotropic homogeneous half-space (muscle: ``sigma_long`` along the
    fibres, ``sigma_trans`` across), insulated at the skin. A point current
    ``I`` at transverse distance ``rho`` and axial offset ``dx`` from the
    electrode gives ``phi = 2 I / (4 pi sqrt(sigma_t) sqrt(sigma_l rho^2 + sigma_t dx^2))``
    (the 2 is the image of the source in the insulating skin surface).
    Depth low-pass filters the MUAP through the geometry alone. The fat and
    skin are not separate layers here: their thickness only sets the
    minimum depth of a fibre.

Electrodes
    Each electrode is a disc on the skin; its potential is the mean over
    five points of the disc (centre and four points at ``r / sqrt(2)``).

MUAPs are computed at an internal rate of at least 8 kHz, tapered to zero over
the last 3 ms of the window, and decimated to the engine rate with an
anti-aliasing filter (``scipy.signal.resample_poly``). All three steps are
linear and are applied to the membrane currents (:func:`decimation_matrix`),
so one unit's currents serve every rotation of its fibres around the limb.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.signal import resample_poly

NODE_SPACING = 0.0005
"""Distance between source nodes along a fibre (m)."""

MIN_INTERNAL_RATE = 8000.0
"""MUAPs are computed at least at this rate (Hz) before decimation."""

_ACTIVE_MM = 30.0  # Rosenfalck's depolarisation is < 1e-7 V beyond 30 mm behind the front.


@dataclass(frozen=True)
class Tissue:
    """Electrical properties of the volume conductor and the fibres.

    Parameters
    ----------
    sigma_long, sigma_trans : float
        Muscle conductivity along and across the fibres (S/m); Farina & Merletti (2001).
    sigma_intra : float
        Intracellular conductivity (S/m).
    fibre_radius : float
        Muscle-fibre radius (m).
    """

    sigma_long: float = 0.5
    sigma_trans: float = 0.1
    sigma_intra: float = 1.01
    fibre_radius: float = 25e-6


def rosenfalck(s_mm: np.ndarray) -> np.ndarray:
    """Depolarisation of the Rosenfalck action potential (V above rest).

    Parameters
    ----------
    s_mm : ndarray
        Distance behind the depolarisation front (mm); 0 ahead of it.
    """
    s = np.clip(np.asarray(s_mm, dtype=np.float64), 0.0, None)
    return 96e-3 * s**3 * np.exp(-s)


@njit(cache=True)
def add_fibre_currents(
    out: np.ndarray,
    x0: float,
    dz: float,
    k0: int,
    k1: int,
    x_iz: float,
    v: float,
    dt: float,
    scale: float,
) -> None:
    """Add the membrane currents (A) of one fibre to ``out`` (n_t, n_nodes).

    The fibre occupies nodes ``k0 .. k1 - 1`` of a grid ``x0 + k * dz``; its
    IZ is at ``x_iz`` and both waves start there at ``t = 0``. Only the
    nodes within :data:`_ACTIVE_MM` behind a front are evaluated.
    """
    n_t = out.shape[0]
    n = k1 - k0
    xs = x0 + k0 * dz
    span = _ACTIVE_MM * 1e-3
    vm = np.zeros(n + 2)  # vm[i + 1] is node k0 + i; vm[0], vm[n + 1] are sealed-end ghosts
    ranges = np.zeros(4, np.int64)
    for j in range(n_t):
        reach = v * (j * dt)
        front_d = x_iz + reach
        front_p = x_iz - reach
        a0 = max(0, int(np.floor((front_p - xs) / dz)) - 1)
        a1 = min(n, int(np.ceil((front_p + span - xs) / dz)) + 2)
        b0 = max(0, int(np.floor((front_d - span - xs) / dz)) - 1)
        b1 = min(n, int(np.ceil((front_d - xs) / dz)) + 2)
        if a1 + 2 > b0:  # the two ranges (plus their one-node margins) touch: merge
            ranges[0], ranges[1], ranges[2], ranges[3] = min(a0, b0), max(a1, b1), 0, 0
        else:
            ranges[0], ranges[1], ranges[2], ranges[3] = a0, a1, b0, b1
        for r in range(2):
            for i in range(ranges[2 * r], ranges[2 * r + 1]):
                x = xs + i * dz
                s = (front_d - x) * 1e3 if x >= x_iz else (x - front_p) * 1e3
                if 0.0 < s < _ACTIVE_MM:
                    vm[i + 1] = 96e-3 * s * s * s * np.exp(-s)
        vm[0] = vm[1]  # sealed ends: no axial current leaves the fibre
        vm[n + 1] = vm[n]
        for r in range(2):
            if ranges[2 * r + 1] <= ranges[2 * r]:
                continue
            lo = max(0, ranges[2 * r] - 1)
            hi = min(n, ranges[2 * r + 1] + 1)
            for i in range(lo, hi):
                out[j, k0 + i] += scale * (vm[i] - 2.0 * vm[i + 1] + vm[i + 2])
        for r in range(2):
            for i in range(ranges[2 * r], ranges[2 * r + 1]):
                vm[i + 1] = 0.0
        vm[0] = 0.0
        vm[n + 1] = 0.0


def fibre_currents_dense(
    n_t: int, x_nodes: np.ndarray, k0: int, k1: int, x_iz: float, v: float, dt: float, scale: float
) -> np.ndarray:
    """Plain numpy version of :func:`add_fibre_currents` (every node, every time), for tests."""
    x = x_nodes[k0:k1]
    t = np.arange(n_t)[:, None] * dt
    s = (
        np.where(x[None, :] >= x_iz, (x_iz + v * t - x[None, :]), (x[None, :] - (x_iz - v * t)))
        * 1e3
    )
    vm = np.where((s > 0) & (s < _ACTIVE_MM), rosenfalck(s), 0.0)
    padded = np.concatenate([vm[:, :1], vm, vm[:, -1:]], axis=1)
    out = np.zeros((n_t, x_nodes.size))
    out[:, k0:k1] = scale * (padded[:, :-2] - 2.0 * padded[:, 1:-1] + padded[:, 2:])
    return out


@njit(cache=True, fastmath=True)
def transfer_matrix(
    fibre_yz: np.ndarray,
    fibre_w: np.ndarray,
    x_nodes: np.ndarray,
    points: np.ndarray,
    point_elec: np.ndarray,
    point_w: np.ndarray,
    n_elec: int,
    sigma_l: float,
    sigma_t: float,
) -> np.ndarray:
    """Potential at each electrode per ampere at each node, summed over fibres.

    Parameters
    ----------
    fibre_yz : ndarray, shape (F, 2)
        Transverse position of each (representative) fibre (m).
    fibre_w : ndarray, shape (F,)
        Number of real fibres each one stands for.
    x_nodes : ndarray, shape (K,)
        Axial position of the source nodes (m).
    points : ndarray, shape (P, 3)
        Quadrature points ``(x, y, z)`` of the electrodes (m).
    point_elec : ndarray of int, shape (P,)
        Electrode of each point.
    point_w : ndarray, shape (P,)
        Weight of each point (the weights of one electrode sum to 1).
    n_elec : int
        Number of electrodes.
    sigma_l, sigma_t : float
        Longitudinal and transverse conductivities (S/m).

    Returns
    -------
    ndarray, shape (n_elec, K)
        Volts per ampere (computed in float32).
    """
    k_n = x_nodes.shape[0]
    w_out = np.zeros((n_elec, k_n), np.float32)
    dx2 = np.empty(k_n, np.float32)
    c0 = 2.0 / (4.0 * np.pi * np.sqrt(sigma_t))
    for p in range(points.shape[0]):
        row = w_out[point_elec[p]]
        for k in range(k_n):
            d = x_nodes[k] - points[p, 0]
            dx2[k] = np.float32(sigma_t * d * d)
        for f in range(fibre_yz.shape[0]):
            dy = fibre_yz[f, 0] - points[p, 1]
            dzz = fibre_yz[f, 1] - points[p, 2]
            a = np.float32(sigma_l * (dy * dy + dzz * dzz))
            g = np.float32(c0 * fibre_w[f] * point_w[p])
            for k in range(
                np.uint64(k_n)
            ):  # float32 + fastmath: vectorised reciprocal square roots
                row[k] += g / np.sqrt(a + dx2[k])
    return w_out.astype(np.float64)


def electrode_points(
    x: np.ndarray, angle: np.ndarray, electrode_radius: float, limb_radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five-point quadrature of disc electrodes on the limb surface.

    Returns
    -------
    points : ndarray, shape (5 * E, 3)
    point_elec : ndarray of int64, shape (5 * E,)
    point_w : ndarray, shape (5 * E,)
    """
    d = electrode_radius / math.sqrt(2.0)
    offsets = np.array([[0.0, 0.0], [d, 0.0], [-d, 0.0], [0.0, d], [0.0, -d]])
    n_e = x.size
    px = (x[:, None] + offsets[None, :, 0]).ravel()
    pa = (angle[:, None] + offsets[None, :, 1] / limb_radius).ravel()
    points = np.column_stack([px, limb_radius * np.cos(pa), limb_radius * np.sin(pa)])
    return points, np.repeat(np.arange(n_e, dtype=np.int64), 5), np.full(5 * n_e, 0.2)


@dataclass(frozen=True)
class FibreBundle:
    """One motor unit's fibres, as the volume conductor needs them.

    Parameters
    ----------
    fibre_yz : ndarray, shape (F, 2)
        Transverse positions of representative fibres (m).
    fibre_w : ndarray, shape (F,)
        Real fibres per representative fibre.
    x_iz : ndarray, shape (B,)
        Innervation zone of each sub-bundle (m); the unit's fibres are split
        evenly into ``B`` sub-bundles that differ in IZ and fibre ends.
    x_proximal, x_distal : ndarray, shape (B,)
        Fibre ends of each sub-bundle (m).
    velocity : float
        Conduction velocity (m/s).
    """

    fibre_yz: np.ndarray
    fibre_w: np.ndarray
    x_iz: np.ndarray
    x_proximal: np.ndarray
    x_distal: np.ndarray
    velocity: float


@functools.lru_cache(maxsize=16)
def decimation_matrix(fs: float, n_samples: int) -> tuple[np.ndarray, int]:
    """Linear map from the internal-rate signal to the table: taper, anti-alias filter, decimation.

    The signal is computed at ``os_factor * fs`` (at least :data:`MIN_INTERNAL_RATE`),
    tapered to zero over the last 3 ms before the last output sample, then
    decimated with ``scipy.signal.resample_poly`` (its anti-aliasing FIR).
    All three are linear, so they form one ``(n_samples, n_samples * os_factor)``
    matrix, applied once per unit to the membrane currents.

    Returns
    -------
    matrix : ndarray, shape (n_samples, n_t), float64, read-only
    os_factor : int
    """
    os_factor = max(1, int(math.ceil(MIN_INTERNAL_RATE / fs)))
    n_t = n_samples * os_factor
    dt = 1.0 / (fs * os_factor)
    taper = np.ones(n_t)
    end = (n_samples - 1) * os_factor
    n_taper = min(end, int(round(0.003 / dt)))
    if n_taper > 1:
        taper[end - n_taper + 1 : end + 1] = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n_taper))
        taper[end + 1 :] = 0.0
    mat = np.diag(taper)
    if os_factor > 1:
        mat = resample_poly(mat, 1, os_factor, axis=0)[:n_samples]
    mat = np.ascontiguousarray(mat)
    mat.setflags(write=False)
    return mat, os_factor


def decimated_currents(
    bundle: FibreBundle, fs: float, n_samples: int, tissue: Tissue | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Membrane currents of a unit's fibres at the table rate (per representative-fibre weight 1).

    Returns
    -------
    currents : ndarray, shape (n_samples, K)
        Current (A) of each source node, tapered and decimated like the table.
    x_nodes : ndarray, shape (K,)
        Axial position of the nodes (m).
    """
    tissue = tissue or Tissue()
    mat, os_factor = decimation_matrix(float(fs), int(n_samples))
    n_t = mat.shape[1]
    dt = 1.0 / (fs * os_factor)
    dz = NODE_SPACING
    x0 = float(np.min(bundle.x_proximal))
    k_n = int(round((float(np.max(bundle.x_distal)) - x0) / dz)) + 1
    x_nodes = x0 + dz * np.arange(k_n)
    n_b = bundle.x_iz.size
    scale = tissue.sigma_intra * math.pi * tissue.fibre_radius**2 / dz / n_b
    currents = np.zeros((n_t, k_n))
    for b in range(n_b):
        k0 = int(round((bundle.x_proximal[b] - x0) / dz))
        k1 = int(round((bundle.x_distal[b] - x0) / dz)) + 1
        add_fibre_currents(
            currents,
            x0,
            dz,
            k0,
            min(k1, k_n),
            float(bundle.x_iz[b]),
            float(bundle.velocity),
            dt,
            scale,
        )
    return mat @ currents, x_nodes


def surface_potentials(
    currents: np.ndarray,
    x_nodes: np.ndarray,
    fibre_yz: np.ndarray,
    fibre_w: np.ndarray,
    points: np.ndarray,
    point_elec: np.ndarray,
    point_w: np.ndarray,
    montage: np.ndarray,
    tissue: Tissue | None = None,
) -> np.ndarray:
    """Channel potentials (µV, ``(n_samples, C)``) of currents on fibres at ``fibre_yz``."""
    tissue = tissue or Tissue()
    w = transfer_matrix(
        np.ascontiguousarray(fibre_yz, np.float64),
        np.ascontiguousarray(fibre_w, np.float64),
        x_nodes,
        points,
        point_elec,
        point_w,
        montage.shape[1],
        tissue.sigma_long,
        tissue.sigma_trans,
    )
    w_ch = w if _is_identity(montage) else montage @ w  # (C, K)
    return (currents @ w_ch.T) * 1e6


def muap(
    bundle: FibreBundle,
    points: np.ndarray,
    point_elec: np.ndarray,
    point_w: np.ndarray,
    montage: np.ndarray,
    fs: float,
    n_samples: int,
    tissue: Tissue | None = None,
) -> np.ndarray:
    """Surface MUAP of one motor unit at every channel.

    Parameters
    ----------
    bundle : FibreBundle
        The unit's fibres.
    points, point_elec, point_w : ndarray
        Electrode quadrature from :func:`electrode_points`.
    montage : ndarray, shape (C, E)
        Channels from electrodes.
    fs : float
        Output rate (Hz).
    n_samples : int
        Table length ``L``; sample 0 is the discharge at the neuromuscular junction.
    tissue : Tissue | None
        Conductor properties (defaults of :class:`Tissue` if ``None``).

    Returns
    -------
    ndarray, shape (L, C), float64
        The MUAP in microvolts, time-major.
    """
    currents, x_nodes = decimated_currents(bundle, fs, n_samples, tissue)
    return surface_potentials(
        currents,
        x_nodes,
        bundle.fibre_yz,
        bundle.fibre_w,
        points,
        point_elec,
        point_w,
        montage,
        tissue,
    )


def _is_identity(m: np.ndarray) -> bool:
    return m.shape[0] == m.shape[1] and bool(np.array_equal(m, np.eye(m.shape[0])))
