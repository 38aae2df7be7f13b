"""Motion programs of the synthetic arm: endless, seeded sequences of minimum-jerk segments.

Each program yields :class:`Segment` targets over four coordinates: the three
joint angles of ``realtime.core.anatomy.JOINTS`` (rad) and the mass held in the
hand (kg, interpolated with the same profile, so an object is taken up and
put down smoothly). ``speed`` divides every duration; ``amplitude`` scales
every excursion from the program's home posture; targets are clipped to
``JOINT_LIMITS``. Durations and targets are jittered by the seeded RNG.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from realtime.body.synthetic.trajectory import Segment
from realtime.core.anatomy import JOINT_LIMITS
from realtime.core.checks import check_choice

MOTIONS: tuple[str, ...] = (
    "rest", "elbow-curls", "elbow-curls-loaded", "wrist-flexion", "pronation", "grasp-lift", "random-reaches",
)
"""Names of the motion programs."""

CURL_LOAD_KG = 2.0
"""Dumbbell of ``elbow-curls-loaded``."""
LIFT_LOAD_KG = 1.0
"""Object lifted in ``grasp-lift``."""

_LOW = np.array([lim[0] for lim in JOINT_LIMITS])
_HIGH = np.array([lim[1] for lim in JOINT_LIMITS])

HOME: dict[str, tuple[float, float, float]] = {
    "rest": (0.3, 0.0, 0.0),
    "elbow-curls": (0.15, 0.0, 0.0),
    "elbow-curls-loaded": (0.15, -1.2, -0.25),
    "wrist-flexion": (1.57, 1.2, 0.0),
    "pronation": (1.57, 0.0, 0.0),
    "grasp-lift": (0.3, 0.0, 0.0),
    "random-reaches": (0.9, 0.0, 0.0),
}
"""Posture (rad) at time 0 of each program; excursions scale about it."""


class _Program:
    """Turns nominal moves into scaled, jittered, clipped segments."""

    def __init__(self, motion: str, rng: np.random.Generator, speed: float, amplitude: float) -> None:
        self.home = np.array(HOME[motion])
        self.rng = rng
        self.speed = speed
        self.amplitude = amplitude
        self.load = 0.0
        self.q = self.home.copy()

    def move(self, target: tuple[float, float, float] | np.ndarray, duration: float, load: float | None = None,
             jitter: float = 0.05, keep: np.ndarray | None = None) -> Segment:
        """Move to ``target`` (nominal, rad) in about ``duration`` s; ``load`` kg at the end.

        Joints where ``keep`` is true stay where they are.
        """
        nominal = np.asarray(target, np.float64) + self.rng.normal(0.0, jitter, 3)
        q = np.clip(self.home + self.amplitude * (nominal - self.home), _LOW, _HIGH)
        self.q = q if keep is None else np.where(keep, self.q, q)
        if load is not None:
            self.load = float(load)
        return self._segment(duration)

    def hold(self, duration: float, load: float | None = None) -> Segment:
        """Stay put for about ``duration`` s (the load may change)."""
        if load is not None:
            self.load = float(load)
        return self._segment(duration)

    def _segment(self, duration: float) -> Segment:
        seconds = duration * self.rng.uniform(0.85, 1.15) / self.speed
        return Segment(max(seconds, 1e-3), (*self.q.tolist(), self.load))


def _rest(p: _Program) -> Iterator[Segment]:
    while True:
        yield p.hold(10.0)


def _curls(p: _Program, load: float) -> Iterator[Segment]:
    """Elbow flexion-extension cycles in the home forearm rotation and wrist posture.

    Free (unloaded) flexion is done in the forearm's resting, thumb-forward
    rotation; a dumbbell curl is done supinated with the wrist slightly
    extended by the grip (see ``docs/teacher.md``).
    """
    p.load = load
    low = p.home
    high = np.array([2.1, p.home[1], p.home[2]])
    while True:
        yield p.move(high, 1.0)
        yield p.hold(0.3)
        yield p.move(low, 1.2)
        yield p.hold(0.6)


def _wrist_flexion(p: _Program) -> Iterator[Segment]:
    elbow, pron = p.home[0], p.home[1]
    while True:
        yield p.move((elbow, pron, 1.0), 0.7)
        yield p.hold(0.2)
        yield p.move((elbow, pron, -0.8), 1.0)
        yield p.hold(0.2)
        yield p.move((elbow, pron, 0.0), 0.6)
        yield p.hold(0.5)


def _pronation(p: _Program) -> Iterator[Segment]:
    elbow = p.home[0]
    while True:
        yield p.move((elbow, 1.2, 0.0), 0.8)
        yield p.hold(0.2)
        yield p.move((elbow, -1.2, 0.0), 1.2)
        yield p.hold(0.2)
        yield p.move((elbow, 0.0, 0.0), 0.6)
        yield p.hold(0.4)


def _grasp_lift(p: _Program) -> Iterator[Segment]:
    while True:
        yield p.move((0.9, 0.3, -0.4), 1.0)              # reach toward the object, wrist extended
        yield p.hold(0.4, load=LIFT_LOAD_KG)             # grasp: take up its weight
        yield p.move((1.9, 0.2, -0.35), 1.2)             # lift, the grip keeps the wrist extended
        yield p.hold(1.0)
        yield p.move((0.9, 0.3, -0.35), 1.2)             # put it down
        yield p.hold(0.4, load=0.0)                      # release
        yield p.move(p.home, 1.0)                        # back to rest
        yield p.hold(1.0)


def _random_reaches(p: _Program) -> Iterator[Segment]:
    # Wrist targets within its functional range, 40° extension to 40° flexion (Ryu et al. 1991).
    low, high = np.array([0.2, -1.2, -0.7]), np.array([2.2, 1.2, 0.7])
    while True:
        target = p.rng.uniform(low, high)
        keep = p.rng.random(3) < 0.25                   # some reaches leave a joint where it is
        yield p.move(target, p.rng.uniform(0.6, 1.6), jitter=0.0, keep=keep)
        yield p.hold(p.rng.uniform(0.05, 0.8))


_PROGRAMS: dict[str, Callable[[_Program], Iterator[Segment]]] = {
    "rest": _rest,
    "elbow-curls": lambda p: _curls(p, 0.0),
    "elbow-curls-loaded": lambda p: _curls(p, CURL_LOAD_KG),
    "wrist-flexion": _wrist_flexion,
    "pronation": _pronation,
    "grasp-lift": _grasp_lift,
    "random-reaches": _random_reaches,
}


def motion_program(motion: str, rng: np.random.Generator, speed: float = 1.0,
                   amplitude: float = 1.0) -> tuple[np.ndarray, Iterator[Segment]]:
    """Start posture and endless segments of a motion program.

    Parameters
    ----------
    motion : str
        One of ``MOTIONS``.
    rng : numpy.random.Generator
        Jitter and random targets.
    speed : float
        Divides every duration (> 0).
    amplitude : float
        Scales every excursion from the home posture (0-1.5).

    Returns
    -------
    start : ndarray, shape (4,)
        Joint angles (rad) and load (kg) at time 0.
    segments : Iterator[Segment]
        Targets over the same four coordinates.
    """
    check_choice("motion", motion, MOTIONS)
    program = _Program(motion, rng, speed, amplitude)
    segments = _PROGRAMS[motion](program)
    start_load = CURL_LOAD_KG if motion == "elbow-curls-loaded" else 0.0
    return np.array([*program.home, start_load]), segments
