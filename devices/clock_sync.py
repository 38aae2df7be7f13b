"""Map a device's clock onto the LSL clock with an online linear fit.

A sample stamped ``x`` by the device (seconds on its own clock, or its sample
index divided by the nominal rate when the format carries no time) reaches the
host at ``y = a * x + b + delay`` on the LSL clock, where ``delay >= 0`` is the
transport latency (UART, USB polling, OS scheduling). The smallest delays are
the most informative, so the fit uses the *lower envelope*: device time is cut
into bins (0.25 s by default) and only the sample with the smallest
``y - x`` of each bin is kept; bins that arrived together (a burst from a
buffering device) count as one point, their least delayed one. A least-squares line through the bins of the
last ``window_s`` seconds, refitted without the bins whose residual is far
from the median (outliers: a host stall that delayed a whole bin), gives the
offset and the rate ratio ``a`` (clock drift).

Mapped times are never later than the sample's arrival (it cannot have been
measured after it was received) and strictly increase (by at least
:data:`MIN_STEP_S`, which may put a sample a few µs after its arrival when the
offset just moved back). Before the fit has
``min_span_s`` of data, or when it reports an implausible rate, the map is an
offset only (``a = 1``, smallest ``y - x`` seen), which is the arrival time of
the least delayed sample carried forward on the device clock.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from realtime.core.checks import check_number
from realtime.core.logs import logger

MIN_STEP_S = 1e-6
"""Smallest step between two mapped times (far below any IMU's sample period)."""


class ClockSync:
    """Online device-clock → LSL-clock mapping (see the module docstring).

    Parameters
    ----------
    window_s : float
        Span of device time the fit uses, in seconds.
    bin_s : float
        Width of the bins of device time (one envelope point each).
    min_span_s : float
        Span of device time needed before the slope is fitted.
    max_rate_error : float
        Largest accepted ``|a - 1|``; a fit beyond it is rejected (quartz
        clocks are within 1e-4; use a larger value when ``x`` is a sample
        index over a nominal rate that may be off).
    jump_s : float
        A sample that arrives more than this before the mapped time says the
        device clock jumped forward: the fit restarts.

    Attributes
    ----------
    slope : float
        Current rate ratio ``a`` (1.0 until fitted).
    resets : int
        Times the fit restarted because of a clock jump.
    """

    def __init__(self, window_s: float = 20.0, bin_s: float = 0.25, min_span_s: float = 2.0,
                 max_rate_error: float = 0.01, jump_s: float = 0.5) -> None:
        for name, value in (("window_s", window_s), ("bin_s", bin_s), ("min_span_s", min_span_s),
                            ("max_rate_error", max_rate_error), ("jump_s", jump_s)):
            check_number(name, value, 0.0, lo_open=True)
        if not bin_s * 3 <= min_span_s <= window_s:
            raise ValueError(
                f"The arguments must satisfy 3 * bin_s <= min_span_s <= window_s; got bin_s={bin_s}, "
                f"min_span_s={min_span_s}, window_s={window_s}."
            )
        self.window_s = float(window_s)
        self.bin_s = float(bin_s)
        self.min_span_s = float(min_span_s)
        self.max_rate_error = float(max_rate_error)
        self.jump_s = float(jump_s)
        self.resets = 0
        self._warned_rate = False
        self._last_out = -math.inf
        self.reset()

    def reset(self) -> None:
        """Forget every point (the device clock restarted); later outputs still never go backward."""
        self._bins: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self._x_ref = 0.0
        self._c0: float | None = None
        self._c1 = 0.0
        self._fitted = False

    @property
    def slope(self) -> float:
        """Rate ratio ``a`` of the current map."""
        return 1.0 + self._c1

    @property
    def fitted(self) -> bool:
        """Whether the slope comes from a fit (enough span) rather than the offset-only start."""
        return self._fitted

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the mapped LSL times of device times ``x`` (no clamping, no update)."""
        if self._c0 is None:
            raise RuntimeError("ClockSync has no data yet. Call ClockSync.map(x, arrival) first.")
        x = np.asarray(x, np.float64)
        return x + self._c0 + self._c1 * (x - self._x_ref)

    def map(self, x: np.ndarray, arrival: np.ndarray | float) -> np.ndarray:
        """Add samples to the fit and return their LSL timestamps.

        Parameters
        ----------
        x : ndarray, shape (n,), float64
            Device times in seconds, increasing.
        arrival : ndarray, shape (n,) | float
            Host arrival time of each sample on the LSL clock.

        Returns
        -------
        t : ndarray, shape (n,), float64
            Timestamps on the LSL clock: non-decreasing, never after ``arrival``.
        """
        x = np.asarray(x, np.float64)
        y = np.broadcast_to(np.asarray(arrival, np.float64), x.shape)
        if x.size == 0:
            return np.zeros(0)
        r = y - x
        if self._c0 is not None and bool(np.any(r < self.predict(x) - x - self.jump_s)):
            logger.info("ClockSync: the device clock jumped forward by more than %.2f s; restarting the fit.",
                        self.jump_s)
            self.resets += 1
            self.reset()
        if self._add_points(x, r):
            self._fit()
        t = np.minimum(self.predict(x), y)
        # Strictly increasing: a sample the map would put at or before the previous one (the offset just
        # learnt that earlier samples were stamped too late, e.g. the first chunks of a burst) goes
        # MIN_STEP_S after it. No two samples share a time, so none is dropped downstream.
        ramp = MIN_STEP_S * np.arange(1, x.size + 1)
        t = np.maximum.accumulate(np.maximum(t - ramp, self._last_out)) + ramp
        self._last_out = float(t[-1])
        return t

    def _add_points(self, x: np.ndarray, r: np.ndarray) -> bool:
        """Update the per-bin minima; return whether the fit should be recomputed."""
        keys = np.floor(x / self.bin_s).astype(np.int64)
        new_bin = False
        changed_min = False
        uniq, first = np.unique(keys, return_index=True)
        bounds = [*first.tolist(), x.size]
        for j, key in enumerate(uniq.tolist()):
            lo, hi = bounds[j], bounds[j + 1]
            i = lo + int(np.argmin(r[lo:hi]))
            old = self._bins.get(key)
            if old is None:
                new_bin = True
                self._bins[key] = (float(x[i]), float(r[i]))
            elif r[i] < old[1]:
                changed_min = True
                self._bins[key] = (float(x[i]), float(r[i]))
        newest = max(self._bins)
        oldest_kept = newest - int(math.ceil(self.window_s / self.bin_s))
        while self._bins and next(iter(self._bins)) < oldest_kept:
            self._bins.popitem(last=False)
        return new_bin or (changed_min and not self._fitted) or self._c0 is None

    def _fit(self) -> None:
        pts = np.array(list(self._bins.values()))
        if pts.shape[0] > 4:
            pts = pts[:-1]  # the newest bin is still filling: its minimum is not settled
        xs, rs = _one_per_arrival(pts[:, 0], pts[:, 1])
        span = xs.max() - xs.min()
        if span < self.min_span_s or xs.size < 4:
            self._c0, self._c1, self._x_ref, self._fitted = float(rs.min()), 0.0, 0.0, False
            return
        x_ref = float(xs.mean())
        # Theil-Sen start (median of pairwise slopes: robust to delayed bins), then
        # least squares on the bins within 4 MADs of it.
        i, j = np.triu_indices(xs.size, 1)
        c1 = float(np.median((rs[j] - rs[i]) / (xs[j] - xs[i])))
        c0 = float(np.median(rs - c1 * (xs - x_ref)))
        e = rs - (c0 + c1 * (xs - x_ref))
        mad = float(np.median(np.abs(e)))
        keep = np.abs(e) <= max(4.0 * 1.4826 * mad, 2e-4)
        if keep.sum() >= 4:
            c1, c0 = (float(v) for v in np.polyfit(xs[keep] - x_ref, rs[keep], 1))
        if abs(c1) > self.max_rate_error:
            if not self._warned_rate:
                logger.warning(
                    "ClockSync: fitted rate ratio %.4f is beyond 1 ± %.4f; using an offset-only map.",
                    1.0 + c1, self.max_rate_error,
                )
                self._warned_rate = True
            # Offset only, from the least delayed point of all: a bursty device (every sample of a burst
            # arrives at once) makes a sawtooth whose slope is meaningless, but whose minimum is the
            # last sample of a burst, the least delayed one.
            self._c0, self._c1, self._x_ref, self._fitted = float(rs.min()), 0.0, 0.0, False
            return
        self._c0, self._c1, self._x_ref, self._fitted = c0, c1, x_ref, True


BURST_RATIO = 0.02
"""Two bins whose arrival times differ by less than this fraction of their device-time distance arrived
together (a burst). Regular streams arrive at >= 0.05 of it (the widest rate tolerance, 0.95)."""


def _one_per_arrival(xs: np.ndarray, rs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep one point (the least delayed) per group of bins that arrived together.

    A bursty device delivers seconds of samples at once: their bins share one
    arrival time and their delays ``r`` fall along a slope of -1 (a sawtooth
    over several bursts), which would tilt the fit. Only the last sample of a
    burst says when the device clock met the host's. Bins of a regular stream
    arrive about ``bin_s`` apart and are all kept.
    """
    y = xs + rs
    order = np.argsort(xs, kind="stable")
    xs, rs, y = xs[order], rs[order], y[order]
    starts = np.flatnonzero(np.concatenate(([True], np.diff(y) > BURST_RATIO * np.diff(xs))))
    if starts.size == xs.size:
        return xs, rs
    best = [a + int(np.argmin(rs[a:b])) for a, b in zip(starts, [*starts[1:], xs.size])]
    return xs[best], rs[best]
