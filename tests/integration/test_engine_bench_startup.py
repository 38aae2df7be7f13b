"""The engine benchmark's start-up probe: fresh processes, cold then warm caches."""

from __future__ import annotations

from realtime.app.bench.engine import measure_startup
from realtime.stages.engine import EngineSettings


def test_startup_probe_cold_then_warm() -> None:
    settings = EngineSettings(
        muscles=("wrist_flexors",), units_per_muscle=3, muaps="dynamic", posture_points=(2, 2, 2)
    )
    times = measure_startup(
        settings
    )  # this checkout's numba cache: the kernels are compiled already
    assert set(times) == {"cold", "warm"}
    assert [times[k]["tables_source"] for k in ("cold", "warm")] == ["built", "cache"]
    assert times["warm"]["muap_tables_s"] < times["cold"]["muap_tables_s"]
    assert times["warm"]["process_wall_s"] > 0

