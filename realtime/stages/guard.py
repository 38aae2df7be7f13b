"""The source boundary: IMU samples that no later stage can trust are rejected here, counted and announced.

Every source (serial, LSL, replay, synthetic) passes through one
:class:`InputGuard` before the activation stage, so the same rules hold
whatever the device:

- a sample with a non-finite value (NaN, inf) is rejected;
- a sample whose accelerometer or gyroscope reading lies outside the
  plausible range (default: the largest common IMU full scale, ±16 g and
  ±2000 °/s) is rejected: a finite absurd value (1e30, 1e38) cannot reach the
  network;
- a sample whose timestamp is not finite, does not advance past the last
  accepted one, lies more than ``future_s`` ahead of the runner's clock or
  more than ``max_age_s`` behind it is rejected (a burst of samples from a
  buffered device is several seconds old at most, and is kept).

Rejected samples are counted per cause (:attr:`InputGuard.counts`), logged
as one summary line per cause per ``log_interval_s`` (never per sample), and
when every sample of a source has been rejected for ``invalid_after_s`` the
guard announces ``"source invalid: ..."`` (and ``"source valid again"`` when a
sample passes) in the output block's ``events["source_events"]``, which the
runner publishes on ``<prefix>-markers``. What passes cannot make a later
stage raise: values are bounded and timestamps strictly increase.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from realtime.core.block import Block
from realtime.core.checks import check_number
from realtime.core.contract import StreamFormat
from realtime.core.logs import logger

STANDARD_GRAVITY = 9.80665  # m/s² per g

CAUSES: tuple[str, ...] = (
    "non-finite value",
    "accelerometer out of range",
    "gyroscope out of range",
    "non-finite timestamp",
    "timestamp not advancing",
    "timestamp in the future",
    "timestamp too old",
)
"""Why a sample can be rejected (keys of :attr:`InputGuard.counts`)."""

SHORT_CAUSES: dict[str, str] = {
    "non-finite value": "nan/inf",
    "accelerometer out of range": "acc range",
    "gyroscope out of range": "gyro range",
    "non-finite timestamp": "bad time",
    "timestamp not advancing": "time back",
    "timestamp in the future": "future",
    "timestamp too old": "too old",
}
"""A few characters per cause, for the status line."""


@dataclass(frozen=True)
class GuardSettings:
    """Rules of the source boundary.

    Parameters
    ----------
    acc_limit : float
        Largest plausible |acceleration| per axis, m/s² (default 16 g).
    gyro_limit : float
        Largest plausible |angular rate| per axis, rad/s (default 2000 °/s).
    future_s : float
        A timestamp more than this many seconds ahead of the runner's clock is rejected.
    max_age_s : float
        A timestamp more than this many seconds behind the runner's clock is rejected.
    invalid_after_s : float
        Seconds during which every sample must be rejected before ``"source invalid"`` is announced.
    log_interval_s : float
        At most one summary log line per cause per interval.
    """

    acc_limit: float = 16.0 * STANDARD_GRAVITY
    gyro_limit: float = math.radians(2000.0)
    future_s: float = 1.0
    max_age_s: float = 30.0
    invalid_after_s: float = 1.0
    log_interval_s: float = 5.0

    def __post_init__(self) -> None:
        check_number("acc_limit", self.acc_limit, 0.0, 1e4, "m/s^2", lo_open=True)
        check_number("gyro_limit", self.gyro_limit, 0.0, 1e3, "rad/s", lo_open=True)
        check_number("future_s", self.future_s, 0.0, 3600.0, "s")
        check_number("max_age_s", self.max_age_s, 0.0, 86400.0, "s", lo_open=True)
        check_number("invalid_after_s", self.invalid_after_s, 0.0, 3600.0, "s")
        check_number("log_interval_s", self.log_interval_s, 0.0, 3600.0, "s", lo_open=True)


class InputGuard:
    """Reject implausible IMU samples at the source boundary; count, log and announce them.

    Parameters
    ----------
    settings : GuardSettings | None
        The rules (defaults if ``None``).
    clock : Callable[[], float]
        The runner's clock (LSL clock, or a test clock): timestamps are judged against it.
    """

    name = "input guard"

    def __init__(self, settings: GuardSettings | None = None, clock: Callable[[], float] | None = None) -> None:
        self.settings = settings or GuardSettings()
        if not isinstance(self.settings, GuardSettings):
            raise TypeError(
                f"The argument 'settings' must be a GuardSettings, {type(self.settings).__name__} is invalid."
            )
        if clock is None:
            raise TypeError("The argument 'clock' must be the runner's clock (a callable returning seconds).")
        self._clock = clock
        self._fmt = StreamFormat()
        self.counts: dict[str, int] = dict.fromkeys(CAUSES, 0)
        """Samples rejected so far, per cause (since ``reset``)."""
        self.accepted = 0
        """Samples passed on so far (since ``reset``)."""
        self.reset()

    @property
    def input_format(self) -> StreamFormat:
        """IMU blocks (accelerometer then gyroscope columns), any rate."""
        return StreamFormat()

    @property
    def output_format(self) -> StreamFormat:
        """The same blocks without the rejected rows."""
        return StreamFormat(passes_aux=True)

    @property
    def invalid(self) -> bool:
        """Whether the source is currently announced as invalid (every sample rejected)."""
        return self._invalid

    @property
    def rejected(self) -> int:
        """Samples rejected so far (all causes)."""
        return sum(self.counts.values())

    def status_text(self, max_causes: int = 2) -> str:
        """A short summary for the status line (``""`` while nothing was rejected).

        E.g. ``"input INVALID, 1500 rejected (gyro range 1200, nan/inf 300)"``:
        the state when invalid, the rejected count and the ``max_causes`` most
        frequent causes (at most about 60 characters).
        """
        rejected = self.rejected
        if not rejected and not self._invalid:
            return ""
        top = sorted(((k, c) for c, k in self.counts.items() if k), reverse=True)[:max_causes]
        causes = ", ".join(f"{SHORT_CAUSES[c]} {k}" for k, c in top)
        state = "input INVALID, " if self._invalid else "input "
        return f"{state}{rejected} rejected ({causes})"

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Forget the last timestamp, the counters and the announced state."""
        self.counts = dict.fromkeys(CAUSES, 0)
        self.accepted = 0
        self._t_last = -math.inf
        self._invalid = False
        self._bad_since: float | None = None
        self._logged = dict.fromkeys(CAUSES, 0)
        self._next_log = -math.inf

    def process(self, block: Block) -> Block:
        """Return ``block`` without its implausible samples; announce a source turning invalid or valid."""
        n = block.n_samples
        now = float(self._clock())
        texts: list[str] = []
        if n:
            keep = self._judge(block, now)
            n_keep = int(keep.sum())
            self.accepted += n_keep
            if n_keep == 0:
                if self._bad_since is None:
                    self._bad_since = now
                if not self._invalid and now - self._bad_since >= self.settings.invalid_after_s:
                    self._invalid = True
                    texts.append(f"source invalid: every sample rejected for {now - self._bad_since:.1f} s "
                                 f"({self._causes_text()})")
            else:
                self._bad_since = None
                if self._invalid:
                    self._invalid = False
                    texts.append("source valid again")
            if n_keep < n:
                block = self._subset(block, keep)
        if now >= self._next_log:
            self._log_summary(now)
        if texts:
            for text in texts:
                logger.warning("%s: %s", type(self).__name__, text)
            events = dict(block.events)
            events["source_events"] = (*block.events.get("source_events", ()), *texts)
            block = block.replace(events=events)
        return block

    # ------------------------------------------------------------------ internals
    def _judge(self, block: Block, now: float) -> np.ndarray:
        """Which rows pass (bool per row); counts the rejected ones per cause, first failing rule only."""
        s = self.settings
        x, t = block.data, block.timestamps
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(x).all(axis=1)
            acc_ok = (np.abs(x[:, :3]) <= s.acc_limit).all(axis=1)
            gyro_ok = (np.abs(x[:, 3:6]) <= s.gyro_limit).all(axis=1)
        t_finite = np.isfinite(t)
        future = t > now + s.future_s
        old = t < now - s.max_age_s
        reasons = (
            (~finite, "non-finite value"),
            (~acc_ok, "accelerometer out of range"),
            (~gyro_ok, "gyroscope out of range"),
            (~t_finite, "non-finite timestamp"),
            (future, "timestamp in the future"),
            (old, "timestamp too old"),
        )
        keep = np.ones(t.size, bool)
        for bad, cause in reasons:
            hit = bad & keep
            if hit.any():
                self.counts[cause] += int(hit.sum())
                keep &= ~bad
        # Strictly increasing times among the survivors, against the last accepted sample too.
        if keep.any():
            idx = np.flatnonzero(keep)
            tk = t[idx]
            running = np.maximum.accumulate(np.concatenate(([self._t_last], tk)))[:-1]
            stale = tk <= running
            if stale.any():
                self.counts["timestamp not advancing"] += int(stale.sum())
                keep[idx[stale]] = False
                tk = tk[~stale]
            if tk.size:
                self._t_last = float(tk[-1])
        return keep

    @staticmethod
    def _subset(block: Block, keep: np.ndarray) -> Block:
        """The kept rows; aux ``"imu_seq"`` keeps each row's source index (the rows are no longer consecutive)."""
        rows = np.flatnonzero(keep)
        aux = {k: v[rows] for k, v in block.aux.items()}
        index = block.aux.get("imu_seq")
        aux["imu_seq"] = (index[rows] if index is not None else block.seq + rows).astype(np.int64)
        seq = int(aux["imu_seq"][0]) if rows.size else block.seq + block.n_samples
        return Block(np.ascontiguousarray(block.data[rows]), block.timestamps[rows], block.fs, seq,
                     block.channels, aux, block.events)

    def _causes_text(self) -> str:
        causes = [f"{c}: {k}" for c, k in self.counts.items() if k]
        return ", ".join(causes) if causes else "no cause"

    def flush_log(self) -> None:
        """Log the rejections not yet reported (the runner calls it when the run ends)."""
        self._log_summary(float(self._clock()))

    def _log_summary(self, now: float) -> None:
        new = {c: k - self._logged[c] for c, k in self.counts.items() if k > self._logged[c]}
        if new:
            logger.warning(
                "%s: rejected %s IMU samples since the last report (%s); %s accepted so far",
                type(self).__name__, sum(new.values()), ", ".join(f"{c}: {k}" for c, k in new.items()), self.accepted,
            )
            self._logged = dict(self.counts)
        self._next_log = now + self.settings.log_interval_s


__all__ = ["CAUSES", "SHORT_CAUSES", "GuardSettings", "InputGuard"]
