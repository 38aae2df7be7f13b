"""The statistics and scheduling of ``bench viewer``'s late-tick comparison (no simulator run)."""

from __future__ import annotations

import pytest

from realtime.app.bench.stats import compare
from realtime.app.bench.viewer import CONSUMERS, PINNED, _consumer_order


def test_a_clear_increase_is_significant_and_noise_is_not() -> None:
    alone = [1, 3, 0, 2, 5, 1, 2]
    raised = compare({"none": alone, "inlet": alone, "viewer": [v + 40 for v in alone]})
    assert raised["raises_vs_none"] is True
    assert raised["p_one_sided_vs_none"] < 0.01
    assert raised["delta_vs_none"] == pytest.approx(40.0)
    lo, hi = raised["ci95_vs_none"]
    assert 0 < lo <= 40.0 <= hi
    # the same counts shuffled between conditions: no evidence of an increase
    same = compare({"none": [1, 3, 0, 2, 5], "inlet": [2, 1, 4, 0, 3], "viewer": [3, 0, 2, 5, 1]})
    assert same["raises_vs_none"] is False
    assert same["raises_vs_inlet"] is False
    assert same["p_one_sided_vs_none"] > 0.3
    lo, hi = same["ci95_vs_none"]
    assert lo <= 0.0 <= hi


def test_one_outlier_run_does_not_make_an_increase() -> None:
    # a burst of ambient load in one viewer window (the machine is shared): rank-based, so not significant
    out = compare({"none": [2, 1, 3, 2, 1], "viewer": [1, 2, 900, 2, 1]}, references=("none",))
    assert out["raises_vs_none"] is False
    assert out["delta_vs_none"] == pytest.approx(0.0)  # medians 2 and 2


def test_a_decrease_is_not_an_increase_and_equal_counts_give_p_one() -> None:
    down = compare({"none": [9, 8, 10, 9], "viewer": [1, 0, 2, 1]}, references=("none",))
    assert down["raises_vs_none"] is False
    assert down["p_one_sided_vs_none"] > 0.9
    flat = compare({"none": [0, 0, 0], "viewer": [0, 0, 0]}, references=("none",))
    assert flat["p_one_sided_vs_none"] == 1.0
    assert flat["raises_vs_none"] is False


def test_too_few_windows_give_no_verdict_and_bad_arguments_raise() -> None:
    few = compare({"none": [1, 2], "inlet": [1, 2, 3], "viewer": [50, 60]})
    assert few["raises_vs_none"] is None
    assert few["p_one_sided_vs_none"] is None
    assert few["delta_vs_none"] == pytest.approx(53.5)
    with pytest.raises(ValueError, match="'alpha' must be in"):
        compare({"none": [1], "viewer": [1]}, alpha=1.5)
    with pytest.raises(ValueError, match="'test' must be one of"):
        compare({"none": [1]}, test="viewer")


def test_bootstrap_interval_is_reproducible() -> None:
    counts = {"none": [0, 4, 1, 7, 2, 3], "viewer": [2, 6, 3, 1, 9, 4]}
    a = compare(counts, references=("none",))
    b = compare(counts, references=("none",))
    assert a["ci95_vs_none"] == b["ci95_vs_none"]


def test_conditions_take_every_position_in_turn() -> None:
    orders = [_consumer_order(CONSUMERS, r) for r in range(3)]
    for position in range(3):
        assert sorted(o[position] for o in orders) == sorted(CONSUMERS)
    four = (*CONSUMERS, PINNED)
    assert [_consumer_order(four, r)[0] for r in range(4)] == list(four)
