"""The engine benchmark's start-up probe: fresh processes, cold then warm caches."""

from __future__ import annotations

import numpy as np

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
    # Cold builds the tables, warm loads them from the cache (how much faster: the bench's
    # tables_warm_over_cold target, not this test).
    assert [times[k]["tables_source"] for k in ("cold", "warm")] == ["built", "cache"]
    for k in ("cold", "warm"):
        assert np.isfinite(times[k]["muap_tables_s"])
        assert times[k]["muap_tables_s"] >= 0
        assert times[k]["process_wall_s"] > 0

