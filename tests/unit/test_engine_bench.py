"""The engine benchmark function returns a sane, JSON-ready result (tiny configuration)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.app.bench.engine import (
    evaluate_targets,
    format_rows,
    measure_startup,
    posture_sweep,
    run_engine_bench,
)
from realtime.stages.engine import EngineSettings
from realtime.stages.engine.posture import POSTURE_RANGE


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


def test_bench_result_shape_and_sanity() -> None:
    result = run_engine_bench(
        units_per_muscle=5,
        muscles=("wrist_flexors", "biceps"),
        duration=0.2,
        baseline_duration=0.1,
        repeats=1,
        baseline_repeats=1,
        startup=False,
    )
    json.dumps(result)  # JSON-ready
    rows = result["configs"]
    assert [(r["layout"], r["muaps"]) for r in rows] == [
        ("armband8", "static"),
        ("armband8", "dynamic"),
        ("grid64", "static"),
        ("grid64", "dynamic"),
    ]
    assert result["numba_threads"] == 1
    for row in rows:
        assert row["n_motor_units"] == 10
        assert row["realtime_factor"] > 0
        assert row["numpy_realtime_factor"] > 0
        # The JSON rounds the speed-up to 0.1 and the factors to 2-3 decimals: allow for both.
        assert row["speedup_vs_numpy"] == pytest.approx(
            row["realtime_factor"] / row["numpy_realtime_factor"], rel=0.02, abs=0.06
        )
        assert row["discharges_per_s"] > 0
        assert row["table_mb"] > 0
        # The baseline reproduces the engine's output from the same discharges and (neutral) tables.
        assert row["baseline_max_rel_diff"] < 1e-5
    assert rows[2]["n_channels"] == 64
    assert rows[0]["n_channels"] == 8
    # Dynamic tables hold one table per posture node: more memory than static ones.
    assert rows[1]["n_tables"] > rows[0]["n_tables"] == 10
    assert rows[3]["table_mb"] > rows[2]["table_mb"]
    # The baseline is measured once per layout, in the same run.
    assert rows[1]["numpy_cpu_s_median"] == rows[0]["numpy_cpu_s_median"]
    targets = result["targets"]
    assert set(targets) >= {
        "grid64_dynamic_realtime_factor",
        "armband8_static_realtime_factor",
        "grid64_dynamic_table_mb",
    }
    for t in targets.values():
        assert t["met"] == (
            t["value"] >= t["target"] if t["kind"] == "min" else t["value"] <= t["target"]
        )
    assert any("target" in line for line in format_rows(result))


def test_startup_first_run_needs_an_empty_numba_cache(tmp_path: Path) -> None:
    (tmp_path / "stale.nbi").write_text("")
    with pytest.raises(ValueError, match="empty 'numba_cache'"):
        measure_startup(EngineSettings(units_per_muscle=1), tmp_path, first_run=True)
    with pytest.raises(ValueError, match="empty 'numba_cache'"):
        measure_startup(EngineSettings(units_per_muscle=1), None, first_run=True)


def test_bench_command_writes_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from realtime.app.cli.bench_engine import engine

    out = tmp_path / "bench.json"
    args = ["--json", str(out), "--duration", "0.1", "--baseline-duration", "0.1", "--repeats", "1"]
    args += [
        "--units-per-muscle",
        "2",
        "--layout",
        "armband8",
        "--muaps",
        "dynamic",
        "--no-startup",
    ]
    res = CliRunner().invoke(engine, args)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert [(r["layout"], r["muaps"]) for r in data["configs"]] == [("armband8", "dynamic")]
    assert "armband8 dynamic" in res.output


def test_bench_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="block >= 1"):
        run_engine_bench(block=0, startup=False)
    with pytest.raises(ValueError, match="'muaps'"):
        run_engine_bench(muaps=("wobbly",), startup=False)


def test_posture_sweep_covers_the_range() -> None:
    q = posture_sweep(20000, 2000.0)
    for j, (lo, hi) in enumerate(POSTURE_RANGE):
        assert q[:, j].min() == pytest.approx(lo, abs=0.02)
        assert q[:, j].max() == pytest.approx(hi, abs=0.02)



def test_warm_start_target_compares_loading_with_building_the_tables() -> None:
    rows = [{"layout": "grid64", "muaps": "dynamic", "tables_warm_over_cold": 0.1},
            {"layout": "armband8", "muaps": "dynamic", "tables_warm_over_cold": 0.8}]
    targets = evaluate_targets(rows)
    assert targets["grid64_dynamic_tables_warm_over_cold"] == {"value": 0.1, "target": 0.5, "kind": "max", "met": True}
    assert targets["armband8_dynamic_tables_warm_over_cold"]["met"] is False
    assert "target armband8_dynamic_tables_warm_over_cold: 0.8 <= 0.5: NOT met" in format_rows(
        {"configs": [], "targets": targets}
    )
