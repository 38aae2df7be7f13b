"""Motor-unit pools: recruitment, rate coding and streaming discharge generation.

The model follows Fuglevand, Winter & Patla (1993, J Neurophysiol 70:2470):

- Recruitment thresholds grow exponentially with the unit's rank ``i``
  (0 = first recruited): ``thr_i = last * RR ** (i / (n - 1) - 1)``, so the
  first unit starts at ``last / RR`` and the last at ``last`` (drive 0-1).
- Above threshold the mean rate rises linearly,
  ``rate_i(e) = min_rate + gain * (e - thr_i)``, capped at a peak rate that
  falls linearly with threshold from ``peak_rate_first`` to ``peak_rate_last``
  (earlier units fire faster: the onion skin).
- Discharge times come from an integrate-and-fire on the rate: each unit's
  phase grows by ``rate_i(e(t)) / fs`` per sample and the unit discharges
  when the phase reaches a target ``1 + cv * z`` (``z`` standard normal,
  clipped to +-3), drawn anew at every discharge. Under a steady drive the
  inter-spike intervals are Gaussian with mean ``1 / rate`` and CV ``cv``;
  under a changing drive the rate acts at once. A newly recruited unit
  starts at a random phase, so units recruited together do not synchronise.

State per unit (the phase still to go before the next discharge, float32,
and a SplitMix64 stream) is advanced sample by sample in numba, one
vectorised pass per muscle and sample that also counts the due units; they
are then found 16 at a time (one vector compare,
:func:`~realtime.stages.engine.intrinsics.le_zero_mask16`). Because draws come from
the unit's own stream, the output is identical for any block size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from realtime.core.anatomy import MUSCLES
from realtime.stages.engine.intrinsics import MASK_LANES, le_zero_mask16, lowest_bit
from realtime.stages.engine.rng import Z_CLIP, clipped_normal, seed_states, uniform

if TYPE_CHECKING:
    from realtime.stages.engine.settings import EngineSettings

# Rows of the per-unit parameter table (structure of arrays, so numba loops vectorise).
P_THRESHOLD, P_GAIN, P_BASE, P_PEAK_RATE = 0, 1, 2, 3
# Rows of the float32 kernel table (per-sample increments, see PoolParameters.kernel_table).
K_THRESHOLD, K_GAIN, K_BASE, K_PEAK = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class PoolParameters:
    """Parameters of every motor unit of every simulated muscle.

    Units are stored muscle after muscle (``starts[m]:starts[m + 1]``), each
    muscle's units in recruitment order (ascending thresholds).

    Attributes
    ----------
    muscles : tuple of str
        Muscle names, in engine order.
    table : ndarray, shape (4, n_units), float64
        Rows: threshold (drive 0-1), rate gain (Hz per unit drive), rate
        offset ``min_rate - gain * threshold`` (Hz) and peak rate (Hz).
    starts : ndarray, shape (n_muscles + 1,), int64
        First unit of each muscle; ``starts[-1] == n_units``.
    muscle_index : ndarray, shape (n_units,), int32
        Index into ``muscles`` of each unit.
    unit_index : ndarray, shape (n_units,), int32
        Rank of each unit within its muscle (0 = first recruited).
    min_rate : float
        Discharge rate at recruitment (Hz).
    isi_cv : float
        Coefficient of variation of the inter-spike intervals.
    """

    muscles: tuple[str, ...]
    table: np.ndarray
    starts: np.ndarray
    muscle_index: np.ndarray
    unit_index: np.ndarray
    min_rate: float
    isi_cv: float

    @property
    def n_units(self) -> int:
        """Total number of units."""
        return int(self.table.shape[1])

    @property
    def thresholds(self) -> np.ndarray:
        """Recruitment threshold of each unit (drive 0-1)."""
        return self.table[P_THRESHOLD]

    @property
    def peak_rates(self) -> np.ndarray:
        """Peak discharge rate of each unit (Hz)."""
        return self.table[P_PEAK_RATE]

    def mean_rates(self, drive: float | np.ndarray) -> np.ndarray:
        """Steady-state mean discharge rate of each unit (Hz) under a constant drive.

        Parameters
        ----------
        drive : float | ndarray, shape (n_muscles,)
            Drive of every muscle (0-1), or one value per muscle.
        """
        e = np.broadcast_to(np.asarray(drive, dtype=np.float64), (len(self.muscles),))[
            self.muscle_index
        ]
        p = self.table
        r = np.minimum(p[P_BASE] + p[P_GAIN] * e, p[P_PEAK_RATE])
        return np.where(e >= p[P_THRESHOLD], r, 0.0)

    def kernel_table(self, fs: float) -> np.ndarray:
        """Parameters of :func:`advance_pool`: float32 ``(4, n_units)``, rates per sample.

        Rows: threshold, gain / fs, rate offset / fs, peak rate / fs, so one
        sample advances a unit's phase by ``min(base + gain * e, peak)``.
        """
        out = np.empty((4, self.n_units), np.float32)
        out[K_THRESHOLD] = self.table[P_THRESHOLD]
        out[K_GAIN] = self.table[P_GAIN] / fs
        out[K_BASE] = self.table[P_BASE] / fs
        out[K_PEAK] = self.table[P_PEAK_RATE] / fs
        return out

    def max_spikes(self, n_samples: int, fs: float) -> int:
        """Upper bound on the number of discharges of all units in ``n_samples`` samples."""
        per_unit = int(
            np.ceil(n_samples * float(self.peak_rates.max()) / (fs * (1.0 - Z_CLIP * self.isi_cv)))
        )
        return self.n_units * max(1, min(n_samples, per_unit + 2))


def build_pools(settings: EngineSettings) -> PoolParameters:
    """Compute thresholds and rate parameters for every muscle in ``settings``."""
    blocks = []
    counts = settings.unit_counts
    for m in range(settings.n_muscles):
        n = counts[m]
        frac = np.arange(n, dtype=np.float64) / (n - 1) if n > 1 else np.ones(1)
        last = settings.last_recruitment[m]
        thr = last * settings.recruitment_range ** (frac - 1.0)
        span = thr[-1] - thr[0]
        rel = (thr - thr[0]) / span if span > 0 else np.zeros(n)
        block = np.empty((4, n))
        block[P_THRESHOLD] = thr
        block[P_GAIN] = settings.rate_gain
        block[P_BASE] = settings.min_rate - settings.rate_gain * thr
        block[P_PEAK_RATE] = (
            settings.peak_rate_first + (settings.peak_rate_last - settings.peak_rate_first) * rel
        )
        blocks.append(block)
    n_m = settings.n_muscles
    sizes = np.array(counts, dtype=np.int64)
    return PoolParameters(
        muscles=settings.muscles,
        table=np.ascontiguousarray(np.hstack(blocks)),
        starts=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        muscle_index=np.repeat(np.arange(n_m, dtype=np.int32), sizes),
        unit_index=np.concatenate([np.arange(c, dtype=np.int32) for c in counts]),
        min_rate=float(settings.min_rate),
        isi_cv=float(settings.isi_cv),
    )


def initial_state(pool: PoolParameters, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh discharge state and random streams for every unit.

    A unit's stream is keyed by ``(seed, muscle name, rank)``, so a muscle's
    discharges do not change when other muscles are added or removed.

    Returns
    -------
    remaining : ndarray, shape (n_units,), float32
        Phase still to go before each unit's next discharge (set at recruitment).
    n_active : ndarray, shape (n_muscles,), int64
        Number of recruited units of each muscle (0: at rest). Recruited
        units are always a prefix of the muscle's units.
    rng : ndarray, shape (n_units,), uint64
        SplitMix64 state of each unit.
    """
    muscle_ids = np.array([MUSCLES.index(m) for m in pool.muscles], dtype=np.int64)
    keys = muscle_ids[pool.muscle_index] * 100_000 + pool.unit_index
    return (
        np.zeros(pool.n_units, np.float32),
        np.zeros(len(pool.muscles), np.int64),
        seed_states(seed, keys),
    )


@njit(cache=True)
def _draw_target(rng: np.ndarray, u: int, cv: float) -> float:
    # ISI jitter is clipped at +-Z_CLIP standard deviations: targets stay >= 1 - 3 * 0.3 = 0.1.
    return 1.0 + cv * clipped_normal(rng, u)


@njit(cache=True)
def advance_pool(
    act: np.ndarray,
    cols: np.ndarray,
    starts: np.ndarray,
    ktab: np.ndarray,
    remaining: np.ndarray,
    n_active: np.ndarray,
    rng: np.ndarray,
    cv: float,
    spk_sample: np.ndarray,
    spk_unit: np.ndarray,
) -> int:
    """Advance every unit over the samples of ``act`` and record the discharges.

    Parameters
    ----------
    act : ndarray, shape (n, n_columns), float32
        Drive per sample; column ``cols[m]`` drives muscle ``m``. Values are
        clamped to [0, 1]; NaN counts as 0.
    cols : ndarray of int64, shape (n_muscles,)
        Column of ``act`` for each muscle.
    starts : ndarray of int64
        See :class:`PoolParameters`.
    ktab : ndarray, shape (4, n_units), float32
        :meth:`PoolParameters.kernel_table`.
    remaining, n_active, rng
        See :func:`initial_state`; updated in place.
    cv : float
        ISI coefficient of variation.
    spk_sample, spk_unit : ndarray of int32
        Filled with the sample index (within ``act``) and unit of each
        discharge, in time order (ties by unit index).

    Returns
    -------
    int
        Number of discharges written.
    """
    n = act.shape[0]
    n_m = starts.shape[0] - 1
    thr = ktab[0]
    gain = ktab[1]
    base = ktab[2]
    peak = ktab[3]
    zero = np.float32(0.0)
    k = 0
    for t in range(n):
        for m in range(n_m):
            e = act[t, cols[m]]
            if not e > zero:  # also catches NaN
                e = zero
            elif e > np.float32(1.0):
                e = np.float32(1.0)
            s0 = starts[m]
            s1 = starts[m + 1]
            na = n_active[m]
            # Thresholds ascend, so the recruited units are a prefix: move its end.
            while na > 0 and thr[s0 + na - 1] > e:
                na -= 1
            while s0 + na < s1 and thr[s0 + na] <= e:
                u = s0 + na
                # A random point of a fresh interval: no synchrony at recruitment.
                remaining[u] = np.float32(uniform(rng, u) * _draw_target(rng, u, cv))
                na += 1
            n_active[m] = na
            if na == 0:
                continue
            lo = np.uint64(s0)
            hi = np.uint64(s0 + na)
            due = 0
            for u in range(lo, hi):  # vectorised: rate coding, integration, count of discharges
                r = base[u] + gain[u] * e
                if r > peak[u]:
                    r = peak[u]
                x = remaining[u] - r
                remaining[u] = x
                due += x <= zero
            if due == 0:
                continue
            # The discharges, in unit order: 16 units per compare, then the last few one by one.
            c = np.int64(s0)
            end = np.int64(s0 + na)
            while due > 0 and c + MASK_LANES <= end:
                bits = le_zero_mask16(remaining, c)
                while bits:
                    u = c + lowest_bit(bits)
                    bits &= bits - np.uint64(1)
                    spk_sample[k] = t
                    spk_unit[k] = u
                    k += 1
                    remaining[u] += np.float32(_draw_target(rng, u, cv))
                    due -= 1
                c += MASK_LANES
            while due > 0 and c < end:
                if remaining[c] <= zero:
                    spk_sample[k] = t
                    spk_unit[k] = c
                    k += 1
                    remaining[c] += np.float32(_draw_target(rng, c, cv))
                    due -= 1
                c += 1
    return k
