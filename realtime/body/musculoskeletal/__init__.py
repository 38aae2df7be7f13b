"""Musculoskeletal model of the forearm: the physics teacher of myostream.

Joint kinematics (elbow flexion, forearm pronation, wrist flexion) go in;
joint torques (inverse dynamics with gravity, inertia and a held load) and
activations of the eight muscles of ``realtime.core.anatomy.MUSCLES`` (static
optimisation with a co-contraction floor, then activation dynamics) come out.
See ``docs/teacher.md``.
"""

from __future__ import annotations

from realtime.body.musculoskeletal.activation import ActivationDynamics, activation_dynamics
from realtime.body.musculoskeletal.arm import ArmParams
from realtime.body.musculoskeletal.dynamics import (
    forearm_motion,
    inverse_dynamics,
    joint_positions,
)
from realtime.body.musculoskeletal.muscles import (
    CROSSES,
    MAX_FORCE_N,
    MuscleParams,
    cocontraction_floor,
    moment_arms,
    static_optimisation,
)
from realtime.body.musculoskeletal.teacher import (
    MuscleTeacher,
    TeacherSettings,
    muscle_excitation,
    teach,
)

__all__ = [
    "CROSSES",
    "MAX_FORCE_N",
    "ActivationDynamics",
    "ArmParams",
    "MuscleParams",
    "MuscleTeacher",
    "TeacherSettings",
    "activation_dynamics",
    "cocontraction_floor",
    "forearm_motion",
    "inverse_dynamics",
    "joint_positions",
    "moment_arms",
    "muscle_excitation",
    "static_optimisation",
    "teach",
]
