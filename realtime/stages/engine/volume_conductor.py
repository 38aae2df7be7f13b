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
    Two models (``Tissue.model``):

    ``"layered"`` (default)
        Muscle (anisotropic: ``sigma_long`` along the fibres, ``sigma_trans``
        across), subcutaneous fat and skin (isotropic) as planar layers, the
        skin surface insulated: the multilayer model of Farina & Merletti
        (2001, IEEE TBME 48(6):637-646), with their conductivities and the
        3 mm of fat and 1 mm of skin of a forearm/upper arm. Its surface
        potential is known in the spatial-frequency domain,
        ``H(kx, kz) = exp(-km d) sech(k hs) sech(k hf) /
        (sigma_t km (1 + r ts tf) + sigma_f k (tf + r ts))`` per ampere
        (``k = |(kx, kz)|``, ``km = sqrt(kx^2 + sigma_l / sigma_t kz^2)``,
        ``d`` the source depth below the muscle's surface, ``ts = tanh(k hs)``,
        ``tf = tanh(k hf)``, ``r = sigma_s / sigma_f``; derived from the
        continuity of potential and normal current at each interface), and
        brought to space by a numerical 2-D inverse FFT (:func:`layer_correction`).
        What the fat and skin change is the difference between that and the
        half-space with the source at the same total depth; it is tabulated
        once per tissue (depth x across x along the fibres) and added, by
        trilinear interpolation, to the exact half-space term of each fibre
        node (below) in the limb's cylindrical geometry, with the depth the
        distance below the skin and the across-fibre offset the arc length
        on the skin. Fat (0.05 S/m) spreads the potential over the surface and
        lowers it, as in Farina & Merletti's Fig. 3-5.
    ``"halfspace"``
        An anisotropic homogeneous half-space, insulated at the skin. A point
        current ``I`` at transverse distance ``rho`` and axial offset ``dx``
        from the electrode gives
        ``phi = 2 I / (4 pi sqrt(sigma_t) sqrt(sigma_l rho^2 + sigma_t dx^2))``
        (the 2 is the image of the source in the insulating skin surface).
        Fat and skin only set the minimum depth of a fibre.

    The layered model reduces to the half-space when the fat and skin are
    thin (their correction vanishes at zero thickness), or when all layers
    conduct like an isotropic muscle (tests/unit/test_layered_conductor.py).

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

from realtime.stages.engine.muscles import FAT_THICKNESS, SKIN_THICKNESS

NODE_SPACING = 0.0005
"""Distance between source nodes along a fibre (m)."""

MIN_INTERNAL_RATE = 8000.0
"""MUAPs are computed at least at this rate (Hz) before decimation."""

_ACTIVE_MM = 30.0  # Rosenfalck's depolarisation is < 1e-7 V beyond 30 mm behind the front.

CONDUCTOR_MODELS: tuple[str, ...] = ("layered", "halfspace")
"""Volume-conductor models of :class:`Tissue` (see the module doc)."""

LAYER_GRID_STEP = 0.0005
"""Spacing (m) of the spatial grid of :func:`layer_correction`, across and along the fibres and in depth."""

LAYER_GRID_SIZE = 512
"""FFT size of :func:`layer_correction` (the grid spans +-128 mm; beyond it the correction is 0)."""

LAYER_MAX_DEPTH = 0.045
"""Deepest source (m below the muscle surface) in the correction table; deeper ones use its last plane."""


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
    sigma_fat, sigma_skin : float
        Conductivity of the subcutaneous fat and of the skin (S/m); Farina & Merletti (2001).
    fat_thickness, skin_thickness : float
        Layer thicknesses (m): 3 mm and 1 mm, typical of the forearm and upper arm
        (Farina & Merletti 2001 simulate 3 mm of fat and 1 mm of skin). Fibres lie
        below both (:data:`~realtime.stages.engine.muscles.SKIN_FAT_THICKNESS`).
    model : str
        ``"layered"`` or ``"halfspace"`` (:data:`CONDUCTOR_MODELS`).
    """

    sigma_long: float = 0.5
    sigma_trans: float = 0.1
    sigma_intra: float = 1.01
    fibre_radius: float = 25e-6
    sigma_fat: float = 0.05
    sigma_skin: float = 1.0
    fat_thickness: float = FAT_THICKNESS
    skin_thickness: float = SKIN_THICKNESS
    model: str = "layered"

    def __post_init__(self) -> None:
        if self.model not in CONDUCTOR_MODELS:
            raise ValueError(
                f"The argument 'model' must be one of {CONDUCTOR_MODELS}, {self.model!r} is invalid."
            )
        for name in ("sigma_long", "sigma_trans", "sigma_intra", "sigma_fat", "sigma_skin"):
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"The argument '{name}' must be > 0 S/m, {getattr(self, name)!r} is invalid.")
        for name in ("fat_thickness", "skin_thickness"):
            if not 0.0 <= float(getattr(self, name)) <= 0.03:
                raise ValueError(f"The argument '{name}' must be within [0, 0.03] m, {getattr(self, name)!r} is invalid.")

    @property
    def layer_thickness(self) -> float:
        """Fat plus skin (m)."""
        return float(self.fat_thickness + self.skin_thickness)

    @property
    def layered(self) -> bool:
        """Whether the fat and skin layers are modelled (``model == "layered"`` and some thickness)."""
        return self.model == "layered" and self.layer_thickness > 0.0


def layered_transfer(
    kx: np.ndarray, kz: np.ndarray, depth: float, tissue: Tissue
) -> np.ndarray:
    """Surface potential per ampere of a point source, in the spatial-frequency domain (V/A x m^2).

    Planar muscle (anisotropic) / fat / skin, the skin surface insulated
    (Farina & Merletti 2001); see the module doc for the formula.

    Parameters
    ----------
    kx, kz : ndarray
        Spatial angular frequencies across and along the fibres (rad/m), broadcast together.
    depth : float
        Depth of the source below the muscle's surface (m, >= 0).
    tissue : Tissue
        Conductivities and thicknesses.
    """
    st, sl = tissue.sigma_trans, tissue.sigma_long
    k = np.hypot(kx, kz)
    km = np.sqrt(kx * kx + (sl / st) * kz * kz)
    ts = np.tanh(k * tissue.skin_thickness)
    tf = np.tanh(k * tissue.fat_thickness)
    r = tissue.sigma_skin / tissue.sigma_fat
    # sech(a) = 2 exp(-a) / (1 + exp(-2a)): no overflow at large k.
    ea, eb = np.exp(-k * tissue.skin_thickness), np.exp(-k * tissue.fat_thickness)
    sech = (2.0 * ea / (1.0 + ea * ea)) * (2.0 * eb / (1.0 + eb * eb))
    den = st * km * (1.0 + r * ts * tf) + tissue.sigma_fat * k * (tf + r * ts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(-km * depth) * sech / den


def halfspace_transfer(kx: np.ndarray, kz: np.ndarray, depth: float, tissue: Tissue) -> np.ndarray:
    """:func:`layered_transfer` of the muscle half-space, source at ``depth`` below the skin."""
    km = np.sqrt(kx * kx + (tissue.sigma_long / tissue.sigma_trans) * kz * kz)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(-km * depth) / (tissue.sigma_trans * km)


def halfspace_potential(x: np.ndarray, z: np.ndarray, depth: float, tissue: Tissue) -> np.ndarray:
    """Surface potential (V per A) of a point source ``depth`` under an insulated anisotropic half-space.

    ``x`` across and ``z`` along the fibres (m) from the point above the source.
    """
    st, sl = tissue.sigma_trans, tissue.sigma_long
    return 1.0 / (2.0 * np.pi * np.sqrt(st) * np.sqrt(sl * (x * x + depth * depth) + st * z * z))


def layered_potential_planar(
    depth: float, tissue: Tissue, n: int = LAYER_GRID_SIZE, step: float = LAYER_GRID_STEP
) -> tuple[np.ndarray, np.ndarray]:
    """Surface potential of the planar layered model on a grid, by numerical 2-D inverse FFT.

    The half-space at the same total depth (``depth + fat + skin``), whose
    potential is known in closed form, is subtracted in the frequency domain
    (removing the ``1/k`` singularity at ``k = 0``) and added back in space.

    Parameters
    ----------
    depth : float
        Source depth below the muscle's surface (m).
    tissue : Tissue
    n, step : int, float
        Grid size and spacing (m).

    Returns
    -------
    phi : ndarray, shape (n // 2 + 1, n // 2 + 1)
        Potential (V per A) at ``(|x|, |z|) = (i, j) * step``, ``x`` across the fibres.
    correction : ndarray, same shape
        ``phi`` minus the half-space term.
    """
    correction = _correction_plane(depth, tissue, n, step)
    h = np.arange(n // 2 + 1) * step
    ref = halfspace_potential(h[:, None], h[None, :], depth + tissue.layer_thickness, tissue)
    return ref + correction, correction


def _correction_spectrum(tissue: Tissue, n: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth-independent parts of the correction's spectrum on the half-plane of ``irfft2``.

    Returns ``(g, km)``: the correction of a source ``d`` below the muscle's
    surface is ``exp(-km d) * g`` (:func:`layered_transfer` minus
    :func:`halfspace_transfer` at ``d + layers``, both ``exp(-km d)`` times a
    function of ``k``).
    """
    kx = 2.0 * np.pi * np.fft.fftfreq(n, step)[:, None]
    kz = 2.0 * np.pi * np.fft.rfftfreq(n, step)[None, :]
    km = np.sqrt(kx * kx + (tissue.sigma_long / tissue.sigma_trans) * kz * kz)
    with np.errstate(invalid="ignore"):
        g = layered_transfer(kx, kz, 0.0, tissue) - halfspace_transfer(kx, kz, tissue.layer_thickness, tissue)
    # k = 0: the limit differs by direction (k / km); use the mean of its neighbours.
    g[0, 0] = (g[1, 0] + g[-1, 0] + 2.0 * g[0, 1]) / 4.0
    return g, km


def _correction_plane(depth: float, tissue: Tissue, n: int, step: float) -> np.ndarray:
    g, km = _correction_spectrum(tissue, n, step)
    plane = np.fft.irfft2(np.exp(-km * depth) * g, s=(n, n)) / (step * step)
    return plane[: n // 2 + 1, : n // 2 + 1]


LAYER_TAPER = (0.06, 0.12)
"""Distances (m) over which the correction is tapered to zero (raised cosine): beyond the table it is
0, and a step there, where a fibre's nodes cross it, would add broadband noise to distant channels."""


def _far_taper(m: int, step: float) -> np.ndarray:
    """Raised-cosine weight of the table cells by their distance from the source (1 near, 0 far)."""
    h = np.arange(m) * step
    rho = np.hypot(h[:, None], h[None, :])
    lo, hi = LAYER_TAPER
    w = 0.5 + 0.5 * np.cos(np.pi * np.clip((rho - lo) / (hi - lo), 0.0, 1.0))
    return w


@functools.lru_cache(maxsize=4)
def layer_correction(tissue: Tissue) -> np.ndarray:
    """What the fat and skin add to the half-space potential, tabulated: float32 ``(D, N, N)`` V per A.

    Plane ``i`` is a source ``i * LAYER_GRID_STEP`` below the muscle's surface
    (up to :data:`LAYER_MAX_DEPTH`); ``[i, a, b]`` is the correction at
    ``a * step`` across and ``b * step`` along the fibres (the model is
    symmetric in both), tapered to zero between 6 and 12 cm from the source
    (:data:`LAYER_TAPER`; the correction falls as ``1/r^2``, the skin's
    sheet conductance acting on the far field, and is 10-20 % of the
    potential at 10 cm: beyond 6 cm the model blends into the half-space).
    Zeros for a tissue without layers. Read-only.
    """
    n, step = LAYER_GRID_SIZE, LAYER_GRID_STEP
    n_d = int(round(LAYER_MAX_DEPTH / step)) + 1
    m = n // 2 + 1
    out = np.zeros((n_d, m, m), np.float32)
    if tissue.layered:
        # deferred: scipy.fft only when tables are built
        from scipy.fft import irfft2

        g, km = _correction_spectrum(tissue, n, step)
        attenuation = np.exp(-km * step)
        spectrum = g / (step * step)
        taper = _far_taper(m, step)
        for i in range(n_d):
            out[i] = irfft2(spectrum, s=(n, n), workers=1)[:m, :m] * taper
            spectrum *= attenuation
    out.setflags(write=False)
    return out


@njit(cache=True, fastmath=True, error_model="numpy")
def add_layer_correction(
    w_out: np.ndarray,
    fibre_yz: np.ndarray,
    fibre_w: np.ndarray,
    x_nodes: np.ndarray,
    points: np.ndarray,
    point_w: np.ndarray,
    electrode_radius: float,
    limb_radius: float,
    layers: float,
    corr: np.ndarray,
    step: float,
) -> None:
    """Add the fat/skin correction (:func:`layer_correction`) to a transfer matrix ``(E, K)`` in place.

    Each fibre's depth below the muscle surface is ``limb_radius - |yz| - layers``
    (at least 0), its offset across the fibres the arc length on the skin
    between its angle and the quadrature point's, its offset along them
    ``x_node - x_point``; the table is interpolated trilinearly. The points
    and the near/far rule are those of :func:`transfer_matrix`.
    """
    n_elec = w_out.shape[0]
    k_n = x_nodes.shape[0]
    n_d, n_a, n_b = corr.shape
    quad = QUADRATURE_DISTANCE * electrode_radius
    inv = 1.0 / step
    for e in range(n_elec):
        row = w_out[e]
        pc = 5 * e
        for f in range(fibre_yz.shape[0]):
            fy, fz = fibre_yz[f, 0], fibre_yz[f, 1]
            depth = limb_radius - np.sqrt(fy * fy + fz * fz) - layers
            if depth < 0.0:
                depth = 0.0
            di = depth * inv
            d0 = int(di)
            if d0 >= n_d - 1:
                d0, fd = n_d - 2, 1.0
            else:
                fd = di - d0
            theta = np.arctan2(fz, fy)
            single = np.sqrt((fy - points[pc, 1]) ** 2 + (fz - points[pc, 2]) ** 2) > quad
            for p in range(pc, pc + (1 if single else 5)):
                dth = theta - np.arctan2(points[p, 2], points[p, 1])
                dth = abs((dth + np.pi) % (2.0 * np.pi) - np.pi)
                ai = dth * limb_radius * inv
                a0 = int(ai)
                if a0 >= n_a - 1:
                    continue
                fa = ai - a0
                g = fibre_w[f] * (1.0 if single else point_w[p])
                c00 = corr[d0, a0]
                c01 = corr[d0, a0 + 1]
                c10 = corr[d0 + 1, a0]
                c11 = corr[d0 + 1, a0 + 1]
                w00 = g * (1.0 - fd) * (1.0 - fa)
                w01 = g * (1.0 - fd) * fa
                w10 = g * fd * (1.0 - fa)
                w11 = g * fd * fa
                xp = points[p, 0]
                for k in range(k_n):
                    bi = abs(x_nodes[k] - xp) * inv
                    b0 = int(bi)
                    if b0 >= n_b - 1:
                        continue
                    fb = bi - b0
                    lo = w00 * c00[b0] + w01 * c01[b0] + w10 * c10[b0] + w11 * c11[b0]
                    hi = w00 * c00[b0 + 1] + w01 * c01[b0 + 1] + w10 * c10[b0 + 1] + w11 * c11[b0 + 1]
                    row[k] += lo + fb * (hi - lo)


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
    if tissue.layered:
        add_layer_correction(
            w,
            np.ascontiguousarray(fibre_yz, np.float64),
            np.ascontiguousarray(fibre_w, np.float64),
            np.ascontiguousarray(x_nodes, np.float64),
            points,
            point_w,
            float(electrode_radius),
            float(np.hypot(points[0, 1], points[0, 2])),
            tissue.layer_thickness,
            layer_correction(tissue),
            LAYER_GRID_STEP,
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
