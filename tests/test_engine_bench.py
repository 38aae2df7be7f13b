"""The engine benchmark function returns a sane, JSON-ready result (tiny configuration)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from realtime.engine.bench import run_engine_bench


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
    assert [r["layout"] for r in rows] == ["armband8", "grid64"]
    assert result["numba_threads"] == 1
    for row in rows:
        assert row["n_motor_units"] == 10
        assert row["muaps"] == "static"
        assert row["realtime_factor"] > 0
        assert row["numpy_realtime_factor"] > 0
        assert row["discharges_per_s"] > 0
        # The baseline reproduces the engine's output from the same discharges and tables.
        assert row["baseline_max_rel_diff"] < 1e-5
    assert rows[1]["n_channels"] == 64
    assert rows[0]["n_channels"] == 8


def test_bench_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="block >= 1"):
        run_engine_bench(block=0, startup=False)
