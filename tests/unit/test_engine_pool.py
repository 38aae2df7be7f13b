"""Motor-unit pools: recruitment, rate coding, discharge variability, streaming determinism."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.app.validation import pool_discharges
from realtime.stages.engine import EngineSettings
from realtime.stages.engine.pool import build_pools

FS = 2000.0


def _run(
    settings: EngineSettings, drive: np.ndarray, block: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Discharges (sample, unit) of the pools for a drive (T, n_muscles), optionally in blocks."""
    return pool_discharges(settings, drive, block or drive.shape[0])


def _isis(samples: np.ndarray, units: np.ndarray, n_units: int) -> list[np.ndarray]:
    return [np.diff(samples[units == u]) / FS for u in range(n_units)]


@pytest.fixture(scope="module")
def steady() -> dict:
    """One muscle, 60 units, 30 s at 50 % drive."""
    s = EngineSettings(
        muscles=("wrist_flexors",), units_per_muscle=60, fs=FS, seed=7, last_recruitment=0.7
    )
    samples, units = _run(s, np.full((int(30 * FS), 1), 0.5))
    return {"settings": s, "pool": build_pools(s), "isis": _isis(samples, units, 60)}


def test_thresholds_are_exponential_and_span_the_range() -> None:
    s = EngineSettings(
        muscles=("biceps", "triceps"),
        units_per_muscle=50,
        recruitment_range=30.0,
        last_recruitment=(0.8, 0.6),
    )
    pool = build_pools(s)
    for m, last in enumerate((0.8, 0.6)):
        thr = pool.thresholds[pool.starts[m] : pool.starts[m + 1]]
        assert thr[-1] == pytest.approx(last)
        assert thr[0] == pytest.approx(last / 30.0)
        ratios = thr[1:] / thr[:-1]
        np.testing.assert_allclose(ratios, ratios[0])  # constant ratio = exponential
    assert np.all(pool.peak_rates <= 50.0)


def test_isi_statistics_under_steady_drive(steady: dict) -> None:
    pool, isis = steady["pool"], steady["isis"]
    expected = pool.mean_rates(0.5)
    cvs, checked = [], 0
    for u, isi in enumerate(isis):
        if expected[u] == 0.0:
            assert isi.size == 0  # not recruited: silent
            continue
        assert isi.size > 100
        rate = 1.0 / isi.mean()
        assert rate == pytest.approx(expected[u], rel=0.04)
        cvs.append(isi.std() / isi.mean())
        checked += 1
    assert checked >= 40
    cvs = np.array(cvs)
    assert np.all((cvs > 0.1) & (cvs < 0.3))
    assert np.mean(cvs) == pytest.approx(0.2, abs=0.02)


def test_onion_skin(steady: dict) -> None:
    active = [u for u, isi in enumerate(steady["isis"]) if isi.size > 100]
    rates = np.array([1.0 / steady["isis"][u].mean() for u in active])
    thr = steady["pool"].thresholds[active]
    assert rates[0] > rates[-1] + 5.0
    # Earlier-recruited (lower-threshold) units fire faster, linearly in the threshold.
    assert np.corrcoef(thr, rates)[0, 1] < -0.98
    assert np.all(np.diff(rates) < 0.6)  # never faster than an earlier unit beyond the ISI noise


def test_rate_at_recruitment_and_maximum_rates() -> None:
    s = EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=20, fs=FS, seed=3)
    pool = build_pools(s)
    # Muscle 0 just above unit 10's threshold; muscle 1 at full drive.
    e0 = pool.thresholds[10] + 1e-4
    drive = np.tile([e0, 1.0], (int(40 * FS), 1))
    samples, units = _run(s, drive)
    isis = _isis(samples, units, pool.n_units)
    rate10 = 1.0 / isis[10].mean()
    assert rate10 == pytest.approx(s.min_rate, rel=0.05)
    assert 6.0 <= rate10 <= 10.0
    assert isis[11].size == 0  # the next unit is not recruited
    full = np.array([1.0 / isi.mean() for isi in isis[20:]])
    assert np.all(full <= pool.peak_rates[20:] * 1.03)
    assert np.all(full <= 50.0)
    assert full.max() > 30.0


def test_last_unit_recruited_at_configured_drive() -> None:
    s = EngineSettings(
        muscles=("supinator",), units_per_muscle=30, fs=FS, seed=11, last_recruitment=0.6,
        recruitment_range=30.0,
    )
    t = np.arange(int(20 * FS)) / FS
    ramp = (t / 20.0)[:, None]  # 0 -> 1 in 20 s
    samples, units = _run(s, ramp)
    first_last = samples[units == 29].min()
    first_first = samples[units == 0].min()
    # Recruited when the drive crosses the threshold; the first discharge follows within one ISI.
    assert 0.6 <= ramp[first_last, 0] <= 0.6 + 0.05 * 0.25
    assert 0.6 / 30.0 <= ramp[first_first, 0] <= 0.6 / 30.0 + 0.05 * 0.25
    for u in range(30):
        assert (
            ramp[samples[units == u].min(), 0]
            >= s.last_recruitment[0] * 30.0 ** (u / 29 - 1) - 1e-7
        )


def test_rest_nan_and_derecruitment() -> None:
    s = EngineSettings(muscles=("biceps",), units_per_muscle=10, fs=FS)
    drive = np.zeros((6000, 1))
    drive[1000:3000] = 0.5
    drive[3000:3500] = np.nan
    samples, _ = _run(s, drive)
    assert samples.size > 0
    assert samples.min() >= 1000
    assert samples.max() < 3000


def test_deterministic_and_block_size_invariant() -> None:
    s = EngineSettings(muscles=("biceps", "wrist_extensors"), units_per_muscle=25, fs=FS, seed=5)
    rng = np.random.default_rng(0)
    drive = np.clip(0.4 + np.cumsum(rng.normal(0, 0.01, (8000, 2)), axis=0), 0, 1)
    ref = _run(s, drive)
    for block in (1, 7, 40):
        got = _run(s, drive, block)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    other = _run(EngineSettings(muscles=s.muscles, units_per_muscle=25, fs=FS, seed=6), drive)
    assert not (other[0].size == ref[0].size and np.array_equal(other[0], ref[0]))


def test_muscle_streams_do_not_depend_on_other_muscles() -> None:
    drive = np.full((4000, 1), 0.5)
    alone = _run(EngineSettings(muscles=("triceps",), units_per_muscle=10, fs=FS, seed=2), drive)
    both = _run(
        EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=10, fs=FS, seed=2),
        np.hstack([drive, drive]),
    )
    sel = both[1] >= 10
    np.testing.assert_array_equal(both[0][sel], alone[0])
    np.testing.assert_array_equal(both[1][sel] - 10, alone[1])
