"""Segment parameters of the simulated right arm and its joint ranges.

Anthropometry follows de Leva (1996, J Biomech 29:1223, male values, adjusted
from Zatsiorsky-Seluyanov) for a 75 kg adult: forearm 1.62 % of body mass,
centre of mass at 45.74 % of its length from the elbow; hand 0.61 %, centre of
mass at 79.0 % of the wrist-to-third-metacarpale length. Radii of gyration are
fractions of the segment length (forearm 27.6 / 26.5 / 12.1 %, hand 62.8 /
51.3 / 40.1 %, sagittal / transverse / longitudinal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from realtime.core.checks import check_number, check_vector

if TYPE_CHECKING:
    import numpy as np

BODY_MASS_KG = 75.0
FOREARM_COM = 0.4574
"""Forearm centre of mass, fraction of the forearm length from the elbow (de Leva 1996)."""
HAND_COM = 0.790
"""Hand centre of mass, fraction of the hand length from the wrist (de Leva 1996)."""
FOREARM_GYRATION = (0.121, 0.265, 0.276)
"""Forearm radii of gyration about its long, mediolateral and anteroposterior axes (fraction of length)."""
HAND_GYRATION = (0.401, 0.513, 0.628)
"""Hand radii of gyration about its long, flexion and palm-normal axes (fraction of length)."""
GRIP_FRACTION = 1.0
"""Distance of a held object's centre from the wrist, in hand lengths (the fist grips at about MET3)."""
LOAD_GYRATION_M = 0.04
"""Radius of gyration (m) of a held object about its own centre (isotropic)."""


@dataclass(frozen=True)
class ArmParams:
    """Segment lengths, masses and posture of the simulated right arm.

    The upper arm is fixed (the shoulder does not move); the forearm rotates
    about the elbow (flexion) and its own long axis (pronation); the hand
    rotates about the wrist (flexion). See ``docs/teacher.md``.

    Parameters
    ----------
    upper_arm_length : float
        Shoulder to elbow joint centre, m (de Leva: 0.282). Used for joint positions only.
    forearm_length : float
        Elbow to wrist joint centre, m (de Leva: 0.269).
    hand_length : float
        Wrist joint centre to the third metacarpale, m (de Leva: 0.086).
    forearm_mass : float
        kg (1.62 % of 75 kg).
    hand_mass : float
        kg (0.61 % of 75 kg).
    load_kg : float
        Mass of an object held in the hand, kg (motion programs may add more).
    shoulder_flexion : float
        Fixed shoulder flexion, rad: 0 with the upper arm hanging vertically,
        ``pi/2`` with it horizontal and pointing forward.
    joint_damping : tuple of 3 float
        Viscous damping of elbow, pronation and wrist, N·m·s/rad.
    """

    upper_arm_length: float = 0.2817
    forearm_length: float = 0.2689
    hand_length: float = 0.0862
    forearm_mass: float = 0.0162 * BODY_MASS_KG
    hand_mass: float = 0.0061 * BODY_MASS_KG
    load_kg: float = 0.0
    shoulder_flexion: float = 0.0
    joint_damping: tuple[float, float, float] = (0.1, 0.05, 0.03)

    def __post_init__(self) -> None:
        check_number("upper_arm_length", self.upper_arm_length, 0.15, 0.5, "m")
        check_number("forearm_length", self.forearm_length, 0.15, 0.45, "m")
        check_number("hand_length", self.hand_length, 0.04, 0.15, "m")
        check_number("forearm_mass", self.forearm_mass, 0.3, 4.0, "kg")
        check_number("hand_mass", self.hand_mass, 0.1, 1.5, "kg")
        check_number("load_kg", self.load_kg, 0.0, 20.0, "kg")
        check_number("shoulder_flexion", self.shoulder_flexion, -math.pi / 2, math.pi, "rad")
        damping = check_vector("joint_damping", self.joint_damping, 3, 0.0, 5.0, "N·m·s/rad")
        object.__setattr__(self, "joint_damping", damping)

    @classmethod
    def randomised(cls, rng: np.random.Generator, **overrides: float) -> ArmParams:
        """Draw a plausible subject around the defaults.

        Lengths vary uniformly by ±10 %, masses by ±15 %, damping by ±30 %
        (independently). ``overrides`` (e.g. ``load_kg=2.0``) are applied last.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        **overrides
            Fields to set after drawing.
        """
        base = cls()
        u = rng.uniform(-1.0, 1.0, size=8)
        drawn = cls(
            upper_arm_length=base.upper_arm_length * (1 + 0.10 * u[0]),
            forearm_length=base.forearm_length * (1 + 0.10 * u[1]),
            hand_length=base.hand_length * (1 + 0.10 * u[2]),
            forearm_mass=base.forearm_mass * (1 + 0.15 * u[3]),
            hand_mass=base.hand_mass * (1 + 0.15 * u[4]),
            joint_damping=tuple(d * (1 + 0.30 * x) for d, x in zip(base.joint_damping, u[5:8])),
        )
        return replace(drawn, **overrides) if overrides else drawn
