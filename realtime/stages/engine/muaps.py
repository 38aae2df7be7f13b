"""Motor-unit geometry: where each unit's fibres are, how many, how fast they conduct.

Each unit gets, from a generator keyed by ``(seed, muscle)``:

- a territory centre uniformly distributed in its muscle's cross-section
  circle (kept at least :data:`~realtime.stages.engine.muscles.SKIN_FAT_THICKNESS`
  under the skin), so territories are scattered through the cross-section and
  overlap (a biceps point lies in ~50 territories), and a territory whose area
  grows with the unit's innervation number at :data:`FIBRE_DENSITY` (20 fibres
  of the unit per mm^2, Fuglevand et al. 1993; Enoka & Fuglevand 2001):
  radius ~1 mm for the smallest biceps unit, ~6.5 mm for the largest;
- a number of fibres (innervation number) growing exponentially with its rank
  over :data:`INNERVATION_RANGE` (30-fold; recruitment order follows size), scaled so
  that the muscle's units hold its published fibre count
  (:data:`~realtime.stages.engine.muscles.MOTOR_UNITS`: units times the mean
  innervation number, e.g. biceps 774 x 750 = 580,000 fibres, Christensen 1959;
  Enoka & Fuglevand 2001). A pool configured with fewer units has larger ones;
- a conduction velocity rising with threshold across ``settings.conduction_velocity``
  (plus 0.15 m/s of scatter);
- fibres of the muscle's ``fibre_length`` (Holzbaur et al. 2005). When they
  span the belly, the unit's IZ lies 4 mm (SD) around the muscle's and its
  fibre ends 5 mm (SD) around the muscle's; when they are shorter (pennate
  forearm muscles), the unit's IZ is spread along the belly (SD a quarter of
  the spare length, kept inside it) with its fibres centred on it. A unit's
  fibres are split into three sub-bundles with a further 1.5 mm (IZ) and
  3 mm (ends) of scatter, the spread of end plates and tendon junctions.

Seven representative fibres (the centre and a ring at ``0.76 r``, which keeps the
mean squared radius of a uniform disc) carry the unit's fibre count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from realtime.core.anatomy import MUSCLES
from realtime.stages.engine.muscles import MOTOR_UNITS, MUSCLE_GEOMETRY, SKIN_FAT_THICKNESS
from realtime.stages.engine.volume_conductor import FibreBundle

if TYPE_CHECKING:
    from realtime.stages.engine.pool import PoolParameters
    from realtime.stages.engine.settings import EngineSettings

FIBRE_DENSITY = 20e6
"""Fibres of one unit per square metre of its territory (20 per mm^2; Fuglevand et al. 1993,
Enoka & Fuglevand 2001)."""

INNERVATION_RANGE = 30.0
"""Ratio of the largest to the smallest unit's fibre count. Twitch forces span ~100-fold
(Fuglevand et al. 1993), innervation numbers and fibre cross-sections together (Enoka &
Fuglevand 2001); 30-fold here is the model's choice (with 100-fold a single large unit under a
bipolar pair over a small muscle can carry over a third of the channel's energy)."""

N_SUB_BUNDLES = 3
_RING = math.sqrt(7.0 / 12.0)
_HEXAGON = np.vstack(
    [
        [0.0, 0.0],
        np.column_stack(
            [np.cos(np.arange(6) * math.pi / 3.0), np.sin(np.arange(6) * math.pi / 3.0)]
        ),
    ]
)  # the centre and six points of the unit circle: representative fibres, scaled by the ring radius


@dataclass(frozen=True, eq=False)
class UnitGeometry:
    """Anatomy of every motor unit (arrays of length ``n_units`` unless noted).

    Attributes
    ----------
    centre_yz : ndarray, shape (U, 2)
        Territory centre in the cross-section (m; ``y`` volar, ``z`` radial).
    depth : ndarray
        Depth of the territory centre below the skin (m).
    territory_radius : ndarray
        Radius of the territory (m).
    n_fibres : ndarray
        Number of muscle fibres.
    velocity : ndarray
        Conduction velocity (m/s).
    x_iz, x_proximal, x_distal : ndarray, shape (U, N_SUB_BUNDLES)
        IZ and fibre ends of each sub-bundle (m from the elbow).
    current_scale : ndarray | None
        Multiplier of each unit's fibre membrane currents (``1 / fibre length``
        away from the neutral posture, see :mod:`realtime.stages.engine.posture`); ``None`` means 1.
    """

    centre_yz: np.ndarray
    depth: np.ndarray
    territory_radius: np.ndarray
    n_fibres: np.ndarray
    velocity: np.ndarray
    x_iz: np.ndarray
    x_proximal: np.ndarray
    x_distal: np.ndarray
    current_scale: np.ndarray | None = None

    def bundle(self, u: int) -> FibreBundle:
        """The fibres of unit ``u`` for :func:`~realtime.stages.engine.volume_conductor.muap`."""
        scale = 1.0 if self.current_scale is None else float(self.current_scale[u])
        return FibreBundle(
            fibre_yz=_HEXAGON * (self.territory_radius[u] * _RING) + self.centre_yz[u],
            fibre_w=np.full(7, scale * self.n_fibres[u] / 7.0),
            x_iz=self.x_iz[u],
            x_proximal=self.x_proximal[u],
            x_distal=self.x_distal[u],
            velocity=float(self.velocity[u]),
        )


def sample_geometry(pool: PoolParameters, settings: EngineSettings, radius: float) -> UnitGeometry:
    """Draw the anatomy of every unit of ``pool``, reproducibly from ``settings.seed``.

    Parameters
    ----------
    pool : PoolParameters
        Thresholds (units in engine order).
    settings : EngineSettings
        Seed and conduction-velocity range.
    radius : float
        Limb radius (m).
    """
    n_u = pool.n_units
    centre = np.empty((n_u, 2))
    depth = np.empty(n_u)
    terr = np.empty(n_u)
    nfib = np.empty(n_u)
    vel = np.empty(n_u)
    shape = (n_u, N_SUB_BUNDLES)
    x_iz, x_p, x_d = np.empty(shape), np.empty(shape), np.empty(shape)
    lo, hi = settings.conduction_velocity
    for m, name in enumerate(pool.muscles):
        g = MUSCLE_GEOMETRY[name]
        rng = np.random.default_rng(
            np.random.SeedSequence([settings.seed, 0x4D55, MUSCLES.index(name)])
        )
        sl = slice(int(pool.starts[m]), int(pool.starts[m + 1]))
        thr = pool.thresholds[sl]
        n = thr.size
        # Innervation number exponential in rank over INNERVATION_RANGE (Fuglevand et al. 1993's twitch forces).
        size = INNERVATION_RANGE ** (np.arange(n) / (n - 1)) if n > 1 else np.ones(1)
        rel = (thr - thr[0]) / (thr[-1] - thr[0]) if n > 1 and thr[-1] > thr[0] else np.zeros(n)
        n_lit, in_lit = MOTOR_UNITS[name][:2]
        nfib[sl] = size * (n_lit * in_lit / size.sum())
        terr[sl] = np.sqrt(nfib[sl] / (math.pi * FIBRE_DENSITY))
        # Territory centres: uniform in the muscle's circle, pulled inside the skin/fat limit.
        rr = g.radius * np.sqrt(rng.uniform(size=n))
        aa = rng.uniform(0.0, 2.0 * math.pi, size=n)
        c_r = radius - g.depth
        cy = c_r * math.cos(g.angle) + rr * np.cos(aa)
        cz = c_r * math.sin(g.angle) + rr * np.sin(aa)
        dist = np.hypot(cy, cz)
        limit = radius - SKIN_FAT_THICKNESS - terr[sl]
        f = np.where(dist > limit, limit / dist, 1.0)
        centre[sl, 0], centre[sl, 1] = cy * f, cz * f
        depth[sl] = radius - dist * f
        vel[sl] = np.clip(lo + (hi - lo) * rel + rng.normal(0.0, 0.15, n), lo - 0.25, hi + 0.25)
        # Fibres of fibre_length centred on the unit's innervation zone; in a pennate
        # muscle (fibres shorter than the belly) the units spread along the belly.
        span = g.x_distal - g.x_proximal
        if g.fibre_length < span:
            half = 0.5 * g.fibre_length
            iz_u = np.clip(
                g.x_iz + rng.normal(0.0, 0.25 * (span - g.fibre_length), n),
                g.x_proximal + half,
                g.x_distal - half,
            )
            xp_u = iz_u - half + rng.normal(0.0, 0.003, n)
            xd_u = iz_u + half + rng.normal(0.0, 0.003, n)
        else:
            iz_u = g.x_iz + rng.normal(0.0, 0.004, n)
            xp_u = g.x_proximal + rng.normal(0.0, 0.005, n)
            xd_u = g.x_distal + rng.normal(0.0, 0.005, n)
        x_iz[sl] = iz_u[:, None] + rng.normal(0.0, 0.0015, (n, N_SUB_BUNDLES))
        x_p[sl] = xp_u[:, None] + rng.normal(0.0, 0.003, (n, N_SUB_BUNDLES))
        x_d[sl] = xd_u[:, None] + rng.normal(0.0, 0.003, (n, N_SUB_BUNDLES))
    # Keep every IZ at least 1 cm inside its fibre.
    x_iz = np.clip(x_iz, x_p + 0.01, x_d - 0.01)
    return UnitGeometry(centre, depth, terr, nfib, vel, x_iz, x_p, x_d)
