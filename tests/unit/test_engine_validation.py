"""Physiological validation: the checks pass on the defaults, fail when the physiology is wrong, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from realtime.app.validation import (
    Check,
    ValidationSettings,
    amplitude_cancellation,
    discharge_checks,
    fast_settings,
    fidelity_checks,
    propagation_checks,
    run_validation,
    top_unit_share,
    unit_energies,
)
from realtime.stages.engine import EngineSettings


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


EXPECTED = {
    "recruitment_rate_hz",
    "steady_rate_min_hz",
    "steady_rate_max_hz",
    "mean_rate_ceiling_hz",
    "onion_skin_rank_correlation",
    "isi_cv_median",
    "muap_duration_ms_median",
    "median_frequency_hz",
    "power_20_450_hz_fraction",
    "spectral_peak_ratio",
    "rms_step_ratio_min",
    "amplitude_cancellation_percent",
    "propagation_delay_ms_at_3_mps",
    "propagation_delay_ms_at_4_mps",
    "propagation_delay_ms_at_5_mps",
    "top3_units_energy_share_at_50pct_max",
    "excess_kurtosis_at_50pct_max",
    "monopolar_half_amplitude_distance_mm",
    "mvc_rms_uv_biceps",
    "rms_drive_exponent_biceps",
    "rest_rms_uv_max",
}


@pytest.fixture(scope="module")
def report():  # noqa: ANN201 - a ValidationReport
    return run_validation(fast_settings())


def test_defaults_pass_every_check(report) -> None:  # noqa: ANN001
    names = {c.name for c in report.checks}
    assert names >= EXPECTED
    assert {n for n in names if n.startswith("last_recruitment_")} == {
        f"last_recruitment_{m}" for m in EngineSettings().muscles
    }
    assert report.passed, [c.to_dict() for c in report.failed]
    # The measured values, not just the verdicts, are where the model puts them.
    assert report["recruitment_rate_hz"].value == pytest.approx(8.0, abs=1.0)
    assert report["isi_cv_median"].value == pytest.approx(0.2, abs=0.02)
    assert report["last_recruitment_wrist_flexors"].value == pytest.approx(0.70, abs=0.01)
    assert report["last_recruitment_biceps"].value == pytest.approx(0.85, abs=0.01)


def test_report_json_shape(report) -> None:  # noqa: ANN001
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True
    for check in data["checks"]:
        assert set(check) == {"name", "value", "low", "high", "passed"}
        assert check["low"] <= check["value"] <= check["high"]
    assert data["settings"]["noise_and_artefacts"].startswith("off")


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"isi_cv": 0.05}, {"isi_cv_median"}),
        ({"min_rate": 12.0, "peak_rate_first": 40.0}, {"recruitment_rate_hz"}),
        ({"last_recruitment": 0.95}, {f"last_recruitment_{m}" for m in ("biceps", "triceps")}),
        ({"peak_rate_first": 48.0, "rate_gain": 60.0}, {"steady_rate_max_hz"}),
        ({"min_rate": 4.0}, {"steady_rate_min_hz", "recruitment_rate_hz"}),
    ],
)
def test_wrong_physiology_fails_the_right_checks(change: dict, failing: set) -> None:
    settings = fast_settings(
        EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=40, **change)
    )
    checks = {c.name: c for c in discharge_checks(settings)}
    failed = {n for n, c in checks.items() if not c.passed}
    assert failing <= failed, {n: checks[n].value for n in failing}
    assert "mean_rate_ceiling_hz" not in failed  # 48 Hz peaks are still below 50 Hz on average


def test_reversed_onion_skin_is_not_enforced_when_configured() -> None:
    onion = {
        c.name: c
        for c in discharge_checks(
            fast_settings(EngineSettings(muscles=("biceps",), units_per_muscle=40))
        )
    }
    reverse = EngineSettings(
        muscles=("biceps",), units_per_muscle=40, peak_rate_first=25.0, peak_rate_last=40.0
    )
    rev = {c.name: c for c in discharge_checks(fast_settings(reverse))}
    assert (
        onion["onion_skin_rank_correlation"].low,
        onion["onion_skin_rank_correlation"].high,
    ) == (-1.0, -0.8)
    assert (rev["onion_skin_rank_correlation"].low, rev["onion_skin_rank_correlation"].high) == (
        -1.0,
        1.0,
    )
    assert rev["onion_skin_rank_correlation"].value > onion["onion_skin_rank_correlation"].value


def test_amplitude_cancellation_definition() -> None:
    wave = np.sin(np.linspace(0, 2 * np.pi, 20))
    muaps = np.stack([wave, -wave, wave])
    # Unit 0 and 1 fire together: their potentials cancel exactly. Unit 2 alone: no cancellation.
    assert amplitude_cancellation(
        muaps, np.array([10, 10]), np.array([0, 1]), 100, 0
    ) == pytest.approx(100.0)
    assert amplitude_cancellation(
        muaps, np.array([10, 50]), np.array([0, 2]), 100, 0
    ) == pytest.approx(0.0, abs=1e-9)


def test_propagation_delay_scales_with_one_over_velocity() -> None:
    checks = propagation_checks(replace(fast_settings(), velocities=(3.0, 4.5, 6.0)))
    delays = np.array([c.value for c in checks])
    assert all(c.passed for c in checks)
    np.testing.assert_allclose(delays * np.array([3.0, 4.5, 6.0]), delays[0] * 3.0, rtol=0.03)


def test_check_verdicts() -> None:
    assert Check("x", 1.0, 0.0, 1.0).passed
    assert not Check("x", 1.1, 0.0, 1.0).passed
    assert not Check("x", float("nan"), 0.0, 1.0).passed
    assert Check("x", float("nan"), 0.0, 1.0).to_dict()["value"] is None


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"engine": EngineSettings(layout="grid64")}, "differential"),
        ({"grid_layout": "armband8"}, "'grid_layout'"),
        ({"drives": (0.2, 1.0)}, "'drives'"),
        ({"cancellation_muscle": "supinator"}, "'cancellation_muscle'"),
        ({"ramp_s": 1.0}, "'ramp_s'"),
        ({"velocities": (1.0,)}, "'velocities'"),
    ],
)
def test_bad_validation_settings(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        ValidationSettings(**kwargs)


def test_validate_command(tmp_path: Path) -> None:
    from realtime.app.cli.validate import validate

    out = tmp_path / "v.json"
    res = CliRunner().invoke(validate, ["--fast", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "checks passed" in res.output
    data = json.loads(out.read_text())
    assert all(c["passed"] for c in data["checks"])
    bad = CliRunner().invoke(validate, ["--fast", "--last-recruitment", "0.95", "--json", str(out)])
    assert bad.exit_code == 1
    assert "FAIL last_recruitment_biceps" in bad.output
    assert not json.loads(out.read_text())["passed"]
    usage = CliRunner().invoke(validate, ["--layout", "grid64"])
    assert usage.exit_code == 2
    assert "differential" in usage.output


def test_unit_energies_from_spike_triggered_averages() -> None:
    """STA energies of independent trains recover each unit's energy (no engine internals)."""
    rng = np.random.default_rng(4)
    n, length, n_units = 200_000, 30, 12
    shapes = rng.normal(size=(n_units, length)) * np.linspace(3.0, 0.3, n_units)[:, None]
    x = np.zeros(n + length)
    samples, units = [], []
    for u in range(n_units):
        s = np.sort(rng.choice(n, size=600, replace=False))
        for k in s:
            x[k : k + length] += shapes[u]
        samples.append(s)
        units.append(np.full(s.size, u))
    x = x[:n]
    s, u = np.concatenate(samples), np.concatenate(units)
    e = unit_energies(x, s, u, n_units, length)
    truth = 600 * (shapes**2).sum(axis=1)
    np.testing.assert_allclose(e[:4], truth[:4], rtol=0.1)  # the large units, which the share counts
    share = top_unit_share(x, s, u, n_units, length)
    assert share == pytest.approx(np.sort(truth)[-3:].sum() / float((x - x.mean()) @ (x - x.mean())), rel=0.1)


def test_sparse_pools_fail_the_interference_checks() -> None:
    """Six units per muscle: a channel is a few units, not an interference pattern."""
    checks = {c.name: c for c in fidelity_checks(fast_settings(EngineSettings(units_per_muscle=6)))}
    assert not checks["top3_units_energy_share_at_50pct_max"].passed
    assert checks["top3_units_energy_share_at_50pct_max"].value > 0.5
    assert not checks["excess_kurtosis_at_50pct_max"].passed
