"""The MUAP-table disk cache: where it lives, what its key covers, reuse, corrupt files, opting out."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from realtime.stages.engine import EmgEngine, EngineSettings
from realtime.stages.engine.cache import CACHE_ENV, cache_root, muap_cache_dir

SMALL = EngineSettings(
    muscles=("wrist_flexors", "biceps"), units_per_muscle=4, seed=1, muaps="dynamic"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    return tmp_path / "c" / "muaps"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


def test_cache_location_follows_the_environment(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert muap_cache_dir() == cache
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root() == Path.home() / ".cache" / "myostream"


def test_built_once_then_loaded_identically(cache: Path) -> None:
    first = EmgEngine(SMALL)
    t1 = first.tables
    assert first.tables_source == "built"
    assert len(_files(cache)) == 1
    second = EmgEngine(SMALL)
    t2 = second.tables
    assert second.tables_source == "cache"
    np.testing.assert_array_equal(t1.data, t2.data)
    np.testing.assert_array_equal(t1.scale, t2.scale)
    np.testing.assert_array_equal(t1.unit_info, t2.unit_info)
    np.testing.assert_array_equal(t1.grid.n_nodes, t2.grid.n_nodes)
    np.testing.assert_array_equal(
        first.muaps_at((1.0, 0.5, -0.3)), second.muaps_at((1.0, 0.5, -0.3))
    )
    assert not list(cache.glob("*.tmp"))  # written atomically: no leftovers


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 2},
        {"layout": "armband16"},
        {"posture_points": (3, 5, 3)},
        {"muaps": "static"},
        {"fs": 1000.0},
        {"muap_floor": 0.02},
        {"conduction_velocity": (3.0, 4.0)},
    ],
)
def test_every_input_is_in_the_key(cache: Path, change: dict) -> None:
    EmgEngine(SMALL).tables
    other = EmgEngine(EngineSettings(**{**SMALL.__dict__, **change}))
    other.tables
    assert other.tables_source == "built"
    assert len(_files(cache)) == 2


def test_layout_file_with_the_same_content_shares_the_tables(cache: Path, tmp_path: Path) -> None:
    from realtime.stages.engine.layout_files import save_layout
    from realtime.stages.engine.layouts import get_layout

    EmgEngine(SMALL).tables
    path = save_layout(get_layout("armband8"), tmp_path / "copy.json")
    again = EmgEngine(EngineSettings(**{**SMALL.__dict__, "layout": str(path)}))
    again.tables
    assert again.tables_source == "cache"


def test_corrupt_file_is_rebuilt_with_a_warning(
    cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    EmgEngine(SMALL).tables
    (path,) = _files(cache)
    path.write_bytes(b"not an npz file")
    logger = logging.getLogger("myostream")
    logger.addHandler(caplog.handler)
    try:
        engine = EmgEngine(SMALL)
        engine.tables
    finally:
        logger.removeHandler(caplog.handler)
    assert engine.tables_source == "built"
    assert any("cannot read" in r.getMessage() for r in caplog.records)
    healed = EmgEngine(SMALL)
    healed.tables
    assert healed.tables_source == "cache"  # the rebuilt tables replaced the corrupt file


def test_cache_off_writes_nothing(cache: Path) -> None:
    engine = EmgEngine(EngineSettings(**{**SMALL.__dict__, "cache": False}))
    engine.tables
    assert engine.tables_source == "built"
    assert _files(cache) == []


def test_unwritable_cache_only_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker))  # a file where the folder should be
    engine = EmgEngine(SMALL)
    assert engine.tables.n_units == 8
    assert engine.tables_source == "built"
