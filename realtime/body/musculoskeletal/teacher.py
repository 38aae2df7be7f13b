"""The physics teacher: joint kinematics -> joint torques -> muscle activations.

Per sample: inverse dynamics (:func:`inverse_dynamics`), posture-dependent
moment arms, a co-contraction floor and static optimisation give each
muscle's excitation; first-order activation dynamics turn excitation into
activation. Only the last step has memory, so streaming equals offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from realtime.body.musculoskeletal.activation import ActivationDynamics
from realtime.body.musculoskeletal.arm import ArmParams
from realtime.body.musculoskeletal.dynamics import as_joint_array, inverse_dynamics
from realtime.body.musculoskeletal.muscles import (
    MAX_FORCE_N,
    MuscleParams,
    cocontraction_floor,
    moment_arms,
    static_optimisation,
)
from realtime.core.checks import check_type


@dataclass(frozen=True)
class TeacherSettings:
    """Arm and muscle parameters of the teacher.

    Parameters
    ----------
    arm : ArmParams
        Segments, posture and default load.
    muscles : MuscleParams
        Co-contraction and activation-dynamics parameters.
    """

    arm: ArmParams = field(default_factory=ArmParams)
    muscles: MuscleParams = field(default_factory=MuscleParams)

    def __post_init__(self) -> None:
        check_type("arm", self.arm, ArmParams, "an ArmParams")
        check_type("muscles", self.muscles, MuscleParams, "a MuscleParams")


def muscle_excitation(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, settings: TeacherSettings | None = None,
                      load_kg: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Joint torques and muscle excitations, sample by sample (no memory).

    Parameters
    ----------
    q, qd, qdd : ndarray, shape (n, 3)
        Joint angles, velocities, accelerations (rad, rad/s, rad/s²).
    settings : TeacherSettings | None
        Model parameters; default ``TeacherSettings()``.
    load_kg : float | ndarray of shape (n,) | None
        Mass in the hand; ``None`` uses ``settings.arm.load_kg``.

    Returns
    -------
    tau : ndarray, shape (n, 3)
        Joint torques, N·m.
    excitation : ndarray, shape (n, 8)
        Static-optimisation activations with the co-contraction floor, raised to
        at least the resting tone, in [0, 1].
    """
    settings = settings or TeacherSettings()
    q, qdd = as_joint_array("q", q), as_joint_array("qdd", qdd)
    load = settings.arm.load_kg if load_kg is None else load_kg
    tau = inverse_dynamics(q, qd, qdd, settings.arm, load)
    strength = moment_arms(q) * MAX_FORCE_N
    floor = cocontraction_floor(tau, strength, load, settings.muscles, qdd)
    excitation = static_optimisation(strength, tau, floor)
    return tau, np.maximum(excitation, settings.muscles.base_activation)


class MuscleTeacher:
    """Streaming physics teacher.

    Parameters
    ----------
    settings : TeacherSettings | None
        Model parameters; default ``TeacherSettings()``.

    Examples
    --------
    >>> teacher = MuscleTeacher()
    >>> teacher.reset(fs=100.0)
    >>> tau, act = teacher.process(q, qd, qdd)   # doctest: +SKIP
    """

    def __init__(self, settings: TeacherSettings | None = None) -> None:
        self.settings = settings or TeacherSettings()
        self._dynamics = ActivationDynamics(self.settings.muscles.tau_act, self.settings.muscles.tau_deact)

    @property
    def fs(self) -> float:
        """Sampling rate set by ``reset`` (0 before)."""
        return self._dynamics.fs

    def reset(self, fs: float) -> None:
        """Prepare for a new stream sampled at ``fs`` Hz."""
        self._dynamics.reset(fs)

    def process(self, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray,
                load_kg: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(tau (n, 3) N·m, activation (n, 8) in [0, 1])`` for the next samples."""
        if self.fs <= 0:
            raise RuntimeError("MuscleTeacher has no sampling rate. Use MuscleTeacher.reset(fs).")
        tau, excitation = muscle_excitation(q, qd, qdd, self.settings, load_kg)
        return tau, self._dynamics.process(excitation)


def teach(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, fs: float, settings: TeacherSettings | None = None,
          load_kg: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Offline teacher: torques and activations of a whole recording (see :class:`MuscleTeacher`)."""
    teacher = MuscleTeacher(settings)
    teacher.reset(fs)
    return teacher.process(q, qd, qdd, load_kg)
