"""Minimum-jerk trajectories built lazily from an endless sequence of segments.

A segment moves every coordinate from where the previous one ended to its
target in ``duration`` seconds along the minimum-jerk profile (Flash & Hogan
1985)::

    s = (t - t0) / T
    x = x0 + d (10 s³ - 15 s⁴ + 6 s⁵)
    x' = d / T (30 s² - 60 s³ + 30 s⁴)
    x'' = d / T² (60 s - 180 s² + 120 s³)

Velocity and acceleration are zero at both ends, so position, velocity and
acceleration are continuous across segment boundaries. A hold is a segment
whose target equals its start.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """One minimum-jerk move.

    Parameters
    ----------
    duration : float
        Seconds, > 0.
    target : tuple of float
        Value of every coordinate at the end of the segment.
    """

    duration: float
    target: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.duration > 0:
            raise ValueError(f"A segment's 'duration' must be > 0 s; {self.duration!r} is invalid.")


def minimum_jerk(t: np.ndarray, t0: np.ndarray, duration: np.ndarray, x0: np.ndarray,
                 x1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position, velocity and acceleration of minimum-jerk moves at times ``t``.

    Parameters
    ----------
    t : ndarray, shape (n,)
        Times, s.
    t0, duration : ndarray, shape (n,)
        Start and duration of the segment each time falls in, s.
    x0, x1 : ndarray, shape (n, d)
        Start and end values of that segment.

    Returns
    -------
    x, xd, xdd : ndarray, shape (n, d)
        Exact values and derivatives (times before ``t0`` or after the end are clamped).
    """
    s = np.clip((t - t0) / duration, 0.0, 1.0)[:, None]
    span = x1 - x0
    s2 = s * s
    T = duration[:, None]
    x = x0 + span * (s2 * s * (10.0 - 15.0 * s + 6.0 * s2))
    xd = span / T * (s2 * (30.0 - 60.0 * s + 30.0 * s2))
    xdd = span / (T * T) * (s * (60.0 - 180.0 * s + 120.0 * s2))
    return x, xd, xdd


class Trajectory:
    """Evaluate an endless chain of minimum-jerk segments at increasing times.

    Segments are drawn from ``segments`` only as far as the requested times
    need, and dropped once every later request lies beyond them, so memory
    stays bounded for an endless stream. Segment start times are accumulated
    in generation order, so the values at a given time do not depend on how
    the requests were chunked.

    Parameters
    ----------
    start : sequence of float
        Value of every coordinate at time 0.
    segments : Iterator[Segment]
        The moves, in order (usually an endless generator).
    """

    def __init__(self, start: tuple[float, ...] | np.ndarray, segments: Iterator[Segment]) -> None:
        self._segments = segments
        self._last = np.asarray(start, np.float64).copy()
        self._end = 0.0
        self._t0: list[float] = []
        self._dur: list[float] = []
        self._x0: list[np.ndarray] = []
        self._x1: list[np.ndarray] = []
        self._arrays: tuple[np.ndarray, ...] | None = None
        self._t_min = -np.inf

    @property
    def n_coordinates(self) -> int:
        """Number of coordinates of every sample."""
        return self._last.shape[0]

    def _extend(self, t_max: float) -> None:
        while self._end <= t_max:
            seg = next(self._segments)
            target = np.asarray(seg.target, np.float64)
            if target.shape != self._last.shape:
                raise ValueError(f"A segment target has shape {target.shape}; expected {self._last.shape}.")
            self._t0.append(self._end)
            self._dur.append(float(seg.duration))
            self._x0.append(self._last)
            self._x1.append(target)
            self._end = self._end + float(seg.duration)
            self._last = target
            self._arrays = None

    def _prune(self, t_min: float) -> None:
        keep = 0
        while keep < len(self._t0) - 1 and self._t0[keep] + self._dur[keep] <= t_min:
            keep += 1
        if keep:
            del self._t0[:keep], self._dur[:keep], self._x0[:keep], self._x1[:keep]
            self._arrays = None

    def evaluate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values, first and second derivatives at ``t`` (s, non-decreasing, not before earlier calls).

        Returns
        -------
        x, xd, xdd : ndarray, shape (n, n_coordinates)
        """
        t = np.asarray(t, np.float64)
        if t.size == 0:
            empty = np.zeros((0, self.n_coordinates))
            return empty, empty.copy(), empty.copy()
        if t[0] < self._t_min or t[0] < 0:
            raise ValueError(
                f"Trajectory times must not go back: {t[0]!r} s is before {max(self._t_min, 0.0)!r} s.")
        self._extend(float(t[-1]))
        self._prune(float(t[0]))
        if self._arrays is None:
            self._arrays = (np.array(self._t0), np.array(self._dur), np.array(self._x0), np.array(self._x1))
        t0, dur, x0, x1 = self._arrays
        idx = np.searchsorted(t0, t, side="right") - 1
        self._t_min = float(t[-1])
        return minimum_jerk(t, t0[idx], dur[idx], x0[idx], x1[idx])
