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


@njit(cache=True, error_model="numpy")
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
    grow = np.exp(dz * 1e3)  # exp(-s) one node further from the IZ, distal side
    shrink = np.exp(-dz * 1e3)  # proximal side
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
            # exp(-s) by recurrence along the nodes (s moves by dz_mm per node), one exp per regime.
            regime = -1
            e_s = 0.0
            for i in range(ranges[2 * r], ranges[2 * r + 1]):
                x = xs + i * dz
                distal = 1 if x >= x_iz else 0
                s = (front_d - x) * 1e3 if distal else (x - front_p) * 1e3
                if distal != regime:
                    e_s = np.exp(-s)
                    regime = distal
                elif distal:
                    e_s *= grow
                else:
                    e_s *= shrink
                if 0.0 < s < _ACTIVE_MM:
                    vm[i + 1] = 96e-3 * s * s * s * e_s
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


QUADRATURE_DISTANCE = 10.0
"""A fibre farther than this many electrode radii (across the limb) from an
electrode sees it as its centre point. The five-point disc average then
differs from the centre value by about ``(r / d)^2 / 4``, 0.25 %; measured on
differential channels (where common errors do not cancel) the tables differ
from the full quadrature by at most 0.25 % of the unit's peak."""


@njit(cache=True, error_model="numpy")
def axial_distances(x_nodes: np.ndarray, points: np.ndarray, sigma_t: float) -> np.ndarray:
    """``sigma_t * (x_node - x_point)^2`` for every quadrature point and node, float32 ``(P, K)``.

    It depends on the nodes and the electrodes only, so one unit's fibres at
    every rotation share it.
    """
    n_p = points.shape[0]
    k_n = x_nodes.shape[0]
    out = np.empty((n_p, k_n), np.float32)
    for p in range(n_p):
        xp = points[p, 0]
        for k in range(k_n):
            d = x_nodes[k] - xp
            out[p, k] = np.float32(sigma_t * d * d)
    return out


@njit(cache=True, fastmath=True, error_model="numpy")
def transfer_matrix(
    fibre_yz: np.ndarray,
    fibre_w: np.ndarray,
    dx2: np.ndarray,
    points: np.ndarray,
    point_w: np.ndarray,
    n_elec: int,
    electrode_radius: float,
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
    dx2 : ndarray, shape (5 * E, K), float32
        :func:`axial_distances` of the nodes and the points.
    points : ndarray, shape (5 * E, 3)
        Quadrature points ``(x, y, z)`` of the electrodes (m), five per
        electrode in electrode order, the centre first (:func:`electrode_points`).
    point_w : ndarray, shape (5 * E,)
        Weight of each point (the weights of one electrode sum to 1).
    n_elec : int
        Number of electrodes ``E``.
    electrode_radius : float
        Electrode radius (m): fibres beyond :data:`QUADRATURE_DISTANCE` radii
        across the limb use the centre point only.
    sigma_l, sigma_t : float
        Longitudinal and transverse conductivities (S/m).

    Returns
    -------
    ndarray, shape (n_elec, K), float32
        Volts per ampere.
    """
    k_n = dx2.shape[1]
    w_out = np.zeros((n_elec, k_n), np.float32)
    c0 = 2.0 / (4.0 * np.pi * np.sqrt(sigma_t))
    quad = QUADRATURE_DISTANCE * electrode_radius
    for e in range(n_elec):
        row = w_out[e]
        pc = 5 * e
        for f in range(fibre_yz.shape[0]):
            fy, fz = fibre_yz[f, 0], fibre_yz[f, 1]
            single = np.sqrt((fy - points[pc, 1]) ** 2 + (fz - points[pc, 2]) ** 2) > quad
            for p in range(pc, pc + (1 if single else 5)):
                dy = fy - points[p, 1]
                dzz = fz - points[p, 2]
                a = np.float32(sigma_l * (dy * dy + dzz * dzz))
                g = np.float32(c0 * fibre_w[f] * (1.0 if single else point_w[p]))
                d = dx2[p]
                for k in range(
                    np.uint64(k_n)
                ):  # float32 + fastmath: vectorised reciprocal square roots
                    row[k] += g / np.sqrt(a + d[k])
    return w_out.astype(np.float64)


@njit(cache=True, fastmath=True, error_model="numpy")
def channel_potentials(currents: np.ndarray, w_elec: np.ndarray, montage: np.ndarray) -> np.ndarray:
    """``currents @ (montage @ w_elec).T`` in µV, ``(n_samples, C)``, single-threaded (no BLAS).

    Parameters
    ----------
    currents : ndarray, shape (n_samples, K)
        Node currents (A).
    w_elec : ndarray, shape (E, K), float32
        Transfer matrix (V/A).
    montage : ndarray, shape (C, E)
        Channels from electrodes (zero weights skipped).

    Notes
    -----
    The sums run in float32 (the tables are stored as int16, 1/65534 of a
    unit's peak, far coarser than float32 rounding).
    """
    n_c, n_e = montage.shape
    k_n = w_elec.shape[1]
    w_ck = np.zeros((n_c, k_n), np.float32)
    for c in range(n_c):
        for e in range(n_e):
            m = np.float32(montage[c, e])
            if m != 0.0:
                for k in range(k_n):
                    w_ck[c, k] += m * w_elec[e, k]
    n_s = currents.shape[0]
    cur = np.empty((n_s, k_n), np.float32)
    for i in range(n_s):
        for k in range(k_n):
            cur[i, k] = np.float32(currents[i, k] * 1e6)
    out = np.empty((n_s, n_c), np.float32)
    for i in range(n_s):
        row = cur[i]
        for c in range(n_c):
            w = w_ck[c]
            acc = np.float32(0.0)
            for k in range(np.uint64(k_n)):  # fastmath: a vectorised dot product
                acc += row[k] * w[k]
            out[i, c] = acc
    return out.astype(np.float64)


def electrode_points(
    x: np.ndarray, angle: np.ndarray, electrode_radius: float, limb_radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Five-point quadrature of disc electrodes on the limb surface.

    Returns
    -------
    points : ndarray, shape (5 * E, 3)
        ``(x, y, z)`` of each point, five per electrode in electrode order,
        the centre first, then ``r / sqrt(2)`` along and around the limb.
    point_w : ndarray, shape (5 * E,)
        Weight of each point (0.2).
    """
    d = electrode_radius / math.sqrt(2.0)
    offsets = np.array([[0.0, 0.0], [d, 0.0], [-d, 0.0], [0.0, d], [0.0, -d]])
    n_e = x.size
    px = (x[:, None] + offsets[None, :, 0]).ravel()
    pa = (angle[:, None] + offsets[None, :, 1] / limb_radius).ravel()
    points = np.column_stack([px, limb_radius * np.cos(pa), limb_radius * np.sin(pa)])
    return points, np.full(5 * n_e, 0.2)


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
def decimation_matrix(fs: float, n_samples: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Linear map from the internal-rate signal to the table: taper, anti-alias filter, decimation.

    The signal is computed at ``os_factor * fs`` (at least :data:`MIN_INTERNAL_RATE`),
    tapered to zero over the last 3 ms before the last output sample, then
    decimated with ``scipy.signal.resample_poly`` (its anti-aliasing FIR).
    All three are linear, so they form one ``(n_samples, n_samples * os_factor)``
    matrix, applied to the membrane currents as they are generated.

    Returns
    -------
    matrix : ndarray, shape (n_samples, n_t), float64, read-only
    band : ndarray of int64, shape (2, n_samples)
        Row ``i``'s non-zero weights are in columns ``band[0, i] .. band[1, i] - 1``.
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
        # deferred: scipy.signal (~1 s to import) only when tables are built
        from scipy.signal import resample_poly

        mat = resample_poly(mat, 1, os_factor, axis=0)[:n_samples]
    mat = np.ascontiguousarray(mat)
    band = np.zeros((2, n_samples), np.int64)
    for i in range(n_samples):
        nz = np.flatnonzero(mat[i])
        if nz.size:
            band[0, i], band[1, i] = nz[0], nz[-1] + 1
    mat.setflags(write=False)
    band.setflags(write=False)
    return mat, band, os_factor


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
    mat, band, os_factor = decimation_matrix(float(fs), int(n_samples))
    dt = 1.0 / (fs * os_factor)
    dz = NODE_SPACING
    x0 = float(np.min(bundle.x_proximal))
    k_n = int(round((float(np.max(bundle.x_distal)) - x0) / dz)) + 1
    x_nodes = x0 + dz * np.arange(k_n)
    n_b = bundle.x_iz.size
    scale = tissue.sigma_intra * math.pi * tissue.fibre_radius**2 / dz / n_b
    currents = np.zeros((mat.shape[1], k_n))
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
    return banded_product(mat, band, currents), x_nodes


@njit(cache=True, error_model="numpy")
def banded_product(mat: np.ndarray, band: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``mat @ x`` for a row-banded ``mat`` (:func:`decimation_matrix`), single-threaded."""
    n_out = mat.shape[0]
    k_n = x.shape[1]
    out = np.zeros((n_out, k_n))
    for i in range(n_out):
        row = out[i]
        for j in range(band[0, i], band[1, i]):
            w = mat[i, j]
            src = x[j]
            for k in range(k_n):
                row[k] += w * src[k]
    return out


def surface_potentials(
    currents: np.ndarray,
    x_nodes: np.ndarray,
    fibre_yz: np.ndarray,
    fibre_w: np.ndarray,
    points: np.ndarray,
    point_w: np.ndarray,
    montage: np.ndarray,
    electrode_radius: float,
    tissue: Tissue | None = None,
    dx2: np.ndarray | None = None,
) -> np.ndarray:
    """Channel potentials (µV, ``(n_samples, C)``) of ``currents`` on fibres at ``fibre_yz``.

    Parameters
    ----------
    currents, x_nodes : ndarray
        From :func:`decimated_currents`.
    fibre_yz, fibre_w : ndarray
        The unit's representative fibres (:class:`FibreBundle`).
    points, point_w : ndarray
        Electrode quadrature from :func:`electrode_points` (five points per electrode).
    montage : ndarray, shape (C, E)
        Channels from electrodes.
    electrode_radius : float
        Electrode radius (m).
    tissue : Tissue | None
        Conductor properties.
    dx2 : ndarray | None
        :func:`axial_distances` of ``x_nodes`` and ``points`` if already computed.
    """
    tissue = tissue or Tissue()
    if dx2 is None:
        dx2 = axial_distances(x_nodes, points, tissue.sigma_trans)
    w = transfer_matrix(
        np.ascontiguousarray(fibre_yz, np.float64),
        np.ascontiguousarray(fibre_w, np.float64),
        dx2,
        points,
        point_w,
        montage.shape[1],
        float(electrode_radius),
        tissue.sigma_long,
        tissue.sigma_trans,
    )
    return channel_potentials(currents, w, np.ascontiguousarray(montage, np.float64))


def muap(
    bundle: FibreBundle,
    points: np.ndarray,
    point_w: np.ndarray,
    montage: np.ndarray,
    electrode_radius: float,
    fs: float,
    n_samples: int,
    tissue: Tissue | None = None,
) -> np.ndarray:
    """Surface MUAP of one motor unit at every channel.

    Parameters
    ----------
    bundle : FibreBundle
        The unit's fibres.
    points, point_w : ndarray
        Electrode quadrature from :func:`electrode_points` (five points per electrode).
    montage : ndarray, shape (C, E)
        Channels from electrodes.
    electrode_radius : float
        Electrode radius (m).
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
        point_w,
        montage,
        electrode_radius,
        tissue,
    )
