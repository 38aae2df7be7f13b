"""The provisional-row benchmark runs, writes JSON, and ranks the stage's estimate first (not a speed test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from realtime.app.bench.provisional import ESTIMATES, bench_peek, provisional_accuracy
from realtime.app.cli.bench_model import provisional as provisional_cmd
from realtime.stages.model.config import NetConfig


def test_peek_at_the_sample_phase_follows_the_network_best() -> None:
    res = provisional_accuracy(seconds=5.0, motions=("elbow-curls", "pronation"), warmup_s=3.0)
    est = res["estimates"]
    assert set(est) == set(ESTIMATES)
    assert all(est[k]["activation_rms"] > 0 for k in ESTIMATES)
    best = est["peek_phase"]["activation_rms"]
    assert all(best < 0.25 * est[k]["activation_rms"] for k in ESTIMATES if k != "peek_phase")
    assert est["peek_phase"]["angles_rms_deg"] < 0.25 * est["hold"]["angles_rms_deg"]
    assert set(res["per_motion_activation_rms"]) == {"elbow-curls", "pronation"}
    with pytest.raises(ValueError, match="'imu_rate'"):
        provisional_accuracy(seconds=5.0, imu_rate=250.0, motions=("rest",))


def test_peek_timing_has_every_kind() -> None:
    r = bench_peek(NetConfig(channels=8, layers=3), None, n=200)
    for kind in ("process_one", "peek_phase_1", "peek_fractional"):
        assert 0 < r[kind]["p50_us"] <= r[kind]["p99_us"]
    assert r["receptive_field"] == 15


def test_command_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = CliRunner().invoke(provisional_cmd, ["--json", str(out), "--samples", "200", "--seconds", "4"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert set(doc) >= {"nets", "stage", "accuracy", "machine"}
    assert doc["stage"]["provisional"]["rows_per_call"] == pytest.approx(1.0)
    assert doc["stage"]["grid_only"]["rows_per_call"] == pytest.approx(0.1, abs=0.01)
    assert "peek" in result.output
