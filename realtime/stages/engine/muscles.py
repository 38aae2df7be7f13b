"""Where each muscle sits in the simulated limb, and its per-muscle engine defaults.

The limb is a cylinder of radius :data:`~realtime.stages.engine.layout.FOREARM_RADIUS`
(same coordinates as :mod:`realtime.stages.engine.layouts`: ``x`` from the elbow
crease, positive distal; ``angle`` from the volar midline, positive radial).
Each muscle is a bundle of fibres parallel to the limb axis. In the cross
section its motor-unit territories fill a circle (``depth`` of the centre
below the skin, ``radius``); along the limb its fibres run from
``x_proximal`` to ``x_distal`` with an innervation zone at ``x_iz``.

The numbers are rounded from forearm/upper-arm cross-section anatomy (a right
arm, forearm supinated) and chosen so that fibre half-lengths stay under
~9 cm (propagation within the 30 ms MUAP window). Upper-arm muscles
(biceps, brachialis, triceps) end near the elbow, so a forearm armband sees
only their far field, as a real one would.

The geometry holds at the neutral posture
(:data:`~realtime.stages.engine.posture.NEUTRAL_POSTURE`: elbow at 90°, forearm
neutral, wrist straight). How it changes with the joint angles (fibre length,
rotation under the skin) is set per muscle by ``length_gain`` and
``rotation_gain`` and applied in :mod:`realtime.stages.engine.posture`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from realtime.core.anatomy import MUSCLES


@dataclass(frozen=True)
class MuscleGeometry:
    """Position and defaults of one muscle.

    Parameters
    ----------
    angle_deg : float
        Centre of the muscle's cross-section around the limb (degrees, 0 volar, +90 radial).
    depth : float
        Depth of that centre below the skin (m).
    radius : float
        Radius of the circle holding the motor-unit territories (m).
    x_iz : float
        Mean innervation-zone position along the limb (m from the elbow).
    x_proximal, x_distal : float
        Mean fibre ends (tendon junctions) along the limb (m).
    last_recruitment : float
        Default drive (0-1) at which the last motor unit is recruited.
    length_gain : tuple of float
        Change of the normalised fibre length per radian of each joint of
        :data:`realtime.core.anatomy.JOINTS` away from the neutral posture (1/rad):
        negative when the joint's motion shortens the muscle.
    rotation_gain : float
        Rotation of the muscle around the limb axis, relative to the skin and
        the electrodes, per radian of forearm pronation (rad/rad).
    fibre_length : float
        Length of the muscle fibres (m; optimal fibre length, Holzbaur et al.
        2005). Shorter than the belly (``x_distal - x_proximal``) for the
        pennate forearm muscles: each unit's fibres then occupy a segment of
        the belly around its own innervation zone.
    """

    angle_deg: float
    depth: float
    radius: float
    x_iz: float
    x_proximal: float
    x_distal: float
    last_recruitment: float
    length_gain: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_gain: float = 0.0
    fibre_length: float = 1.0

    @property
    def angle(self) -> float:
        """Centre angle in radians."""
        return math.radians(self.angle_deg)


MUSCLE_GEOMETRY: dict[str, MuscleGeometry] = {
    # angle, depth, radius, x_iz, x_proximal, x_distal, last_recruitment, length_gain, rotation_gain,
    # fibre_length (Holzbaur et al. 2005 optimal fibre lengths, heads and group members averaged)
    "biceps": MuscleGeometry(
        0.0, 0.020, 0.013, -0.140, -0.220, -0.050, 0.85, (-0.12, 0.0, 0.0), 0.0, 0.124
    ),
    "brachialis": MuscleGeometry(
        10.0, 0.030, 0.011, -0.075, -0.140, -0.010, 0.80, (-0.12, 0.0, 0.0), 0.0, 0.086
    ),
    "brachioradialis": MuscleGeometry(
        80.0, 0.011, 0.008, 0.045, -0.040, 0.130, 0.70, (-0.10, 0.0, 0.0), -0.25, 0.173
    ),
    "triceps": MuscleGeometry(
        180.0, 0.018, 0.014, -0.140, -0.230, -0.045, 0.80, (0.08, 0.0, 0.0), 0.0, 0.121
    ),
    "pronator_teres": MuscleGeometry(
        35.0, 0.016, 0.008, 0.045, -0.010, 0.110, 0.70, (-0.05, -0.08, 0.0), -0.25, 0.055
    ),
    "supinator": MuscleGeometry(
        125.0, 0.024, 0.008, 0.035, 0.000, 0.070, 0.70, (0.0, 0.08, 0.0), -0.25, 0.033
    ),
    "wrist_flexors": MuscleGeometry(
        -40.0, 0.011, 0.015, 0.060, 0.000, 0.150, 0.70, (0.0, 0.0, -0.10), -0.25, 0.060
    ),
    "wrist_extensors": MuscleGeometry(
        180.0, 0.011, 0.015, 0.055, 0.000, 0.150, 0.70, (0.0, 0.0, 0.08), -0.25, 0.067
    ),
}
"""Geometry of every muscle in :data:`realtime.core.anatomy.MUSCLES` (documented in docs/engine.md)."""

FAT_THICKNESS = 0.003
"""Subcutaneous fat over the muscles (m): 3 mm, as simulated for the forearm/upper arm by
Farina & Merletti (2001); the layered volume conductor's fat layer."""

SKIN_THICKNESS = 0.001
"""Skin (m): 1 mm (Farina & Merletti 2001); the layered volume conductor's skin layer."""

MOTOR_UNITS: dict[str, tuple[int, float, str]] = {
    # muscle: (motor units, mean innervation number (fibres per unit), source)
    "biceps": (774, 750.0, "Christensen 1959 (anatomical count); 580,000 fibres, Enoka & Fuglevand 2001 Table 1"),
    "brachioradialis": (333, 390.0, "Feinstein et al. 1955 (anatomical count, 129,200 fibres)"),
    "brachialis": (500, 750.0, "no anatomical count; scaled from biceps by maximal force (Holzbaur et al. 2005), capped"),
    "triceps": (500, 750.0, "no anatomical count; scaled from biceps by maximal force (Holzbaur et al. 2005), capped"),
    "pronator_teres": (400, 400.0, "no anatomical count; scaled from biceps by maximal force (Holzbaur et al. 2005)"),
    "supinator": (350, 400.0, "no anatomical count; scaled from biceps by maximal force (Holzbaur et al. 2005)"),
    "wrist_flexors": (400, 400.0, "group (FCR, FCU, FDS...); no anatomical count, as brachioradialis (Feinstein et al. 1955)"),
    "wrist_extensors": (400, 400.0, "group (ECRL, ECRB, ECU...); no anatomical count, as brachioradialis (Feinstein et al. 1955)"),
}
"""Default motor-unit count and mean innervation number of each muscle, with the source of each
(documented in docs/engine.md). Where no count is published the value is an estimate, named as such."""

SKIN_FAT_THICKNESS = FAT_THICKNESS + SKIN_THICKNESS
"""Skin + subcutaneous fat over the muscles (m); no fibre lies shallower than this."""

if set(MUSCLE_GEOMETRY) != set(MUSCLES) or set(MOTOR_UNITS) != set(MUSCLES):  # pragma: no cover - import-time consistency check
    raise RuntimeError(
        f"MUSCLE_GEOMETRY must cover exactly realtime.core.anatomy.MUSCLES; got {sorted(MUSCLE_GEOMETRY)}."
    )
