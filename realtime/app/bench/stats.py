"""Does a consumer raise the simulator's late-tick count? The statistics of ``bench viewer``.

Each condition (``none``: the simulator alone, ``inlet``: a bare LSL inlet
pulling the EMG at 30 Hz, ``viewer``: the viewer process) gives one late-tick
count per counted window, the conditions interleaved in rotating order
(:mod:`realtime.app.bench.viewer`). Late ticks on a shared machine are rare, bursty integers
(mostly 0-10 per 10^4 ticks, now and then hundreds when another process
competes), so the comparison is rank-based and robust to such outliers:

- ``late_ticks_delta`` = median(viewer) − median(alone) (the issue's field),
  ``late_ticks_delta_vs_bare_inlet`` = median(viewer) − median(inlet);
- a one-sided Mann–Whitney U test of "the viewer's counts tend to be larger"
  against each reference condition (exact p-value for small samples without
  ties, normal approximation with tie correction otherwise);
- a bootstrap 95 % confidence interval of each median difference (10 000
  resamples of each condition, fixed seed, percentile interval).

Decision rule: ``viewer_raises_late_ticks`` is true when the one-sided
p-value against the simulator alone is below ``alpha`` (0.05), i.e. when the
viewer's counts are significantly larger; false otherwise, including when
there are too few windows to tell (fewer than 3 per condition: ``None``).
``viewer_raises_late_ticks_vs_bare_inlet`` applies the same rule against the
bare inlet (what drawing adds beyond being an LSL consumer at all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

ALPHA = 0.05
MIN_WINDOWS = 3  # per condition, for a test to be run at all
N_BOOTSTRAP = 10_000


def _bootstrap_median_diff(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_boot: int
) -> tuple[float, float]:
    """Percentile 95 % interval of median(a) − median(b), resampling each sample with replacement."""
    ia = rng.integers(0, a.size, size=(n_boot, a.size))
    ib = rng.integers(0, b.size, size=(n_boot, b.size))
    diff = np.median(a[ia], axis=1) - np.median(b[ib], axis=1)
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return float(lo), float(hi)


def compare(
    counts: dict[str, Sequence[float]],
    test: str = "viewer",
    references: Sequence[str] = ("none", "inlet"),
    alpha: float = ALPHA,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare the late-tick counts of condition ``test`` with each reference condition.

    Parameters
    ----------
    counts : dict
        Condition name -> late ticks of each counted window.
    test : str
        The condition suspected of raising the count.
    references : sequence of str
        Conditions to compare with (absent ones are skipped).
    alpha : float
        Significance level of the one-sided test, in (0, 1).
    n_boot : int
        Bootstrap resamples (at least 100).
    seed : int
        Seed of the bootstrap (the figures are reproducible).

    Returns
    -------
    dict
        ``medians`` (condition -> median), and per reference ``ref``:
        ``delta_vs_<ref>`` (median difference), ``p_one_sided_vs_<ref>``,
        ``ci95_vs_<ref>`` ([low, high] of the median difference) and
        ``raises_vs_<ref>`` (True / False, ``None`` with fewer than
        :data:`MIN_WINDOWS` windows in either condition).
    """
    from scipy.stats import mannwhitneyu  # deferred: scipy.stats (~1 s) only for a comparison

    if not (0.0 < alpha < 1.0):
        raise ValueError(f"The argument 'alpha' must be in (0, 1). {alpha!r} is invalid.")
    if n_boot < 100:
        raise ValueError(f"The argument 'n_boot' must be at least 100. {n_boot!r} is invalid.")
    if test not in counts:
        raise ValueError(
            f"The argument 'test' must be one of the conditions {sorted(counts)}. {test!r} is invalid."
        )
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in counts.items()}
    medians = {k: (float(np.median(v)) if v.size else None) for k, v in arrays.items()}
    out: dict[str, Any] = {"medians": medians, "alpha": alpha}
    rng = np.random.default_rng(seed)
    t = arrays[test]
    for ref in references:
        if ref not in arrays or ref == test:
            continue
        r = arrays[ref]
        enough = t.size >= MIN_WINDOWS and r.size >= MIN_WINDOWS
        out[f"delta_vs_{ref}"] = medians[test] - medians[ref] if t.size and r.size else None
        if not enough:
            out[f"p_one_sided_vs_{ref}"] = None
            out[f"ci95_vs_{ref}"] = None
            out[f"raises_vs_{ref}"] = None
            continue
        if np.ptp(np.concatenate([t, r])) == 0:  # all equal: no evidence either way
            p = 1.0
        else:
            p = float(mannwhitneyu(t, r, alternative="greater", method="auto").pvalue)
        out[f"p_one_sided_vs_{ref}"] = p
        out[f"ci95_vs_{ref}"] = list(_bootstrap_median_diff(t, r, rng, n_boot))
        out[f"raises_vs_{ref}"] = bool(p < alpha)
    return out


__all__ = ["ALPHA", "MIN_WINDOWS", "N_BOOTSTRAP", "compare"]
