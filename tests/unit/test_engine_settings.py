"""EngineSettings validation and EmgEngine argument errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from realtime.core.anatomy import MUSCLES
from realtime.core.block import Block
from realtime.stages.engine import EmgEngine, EngineSettings, simulate_emg


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


def test_defaults() -> None:
    s = EngineSettings()
    assert s.layout == "armband8"
    assert s.fs == 2000.0
    assert s.muscles == MUSCLES
    assert s.units_per_muscle is None  # the published count of each muscle
    assert s.unit_counts[MUSCLES.index("biceps")] == 774  # Christensen 1959
    assert s.unit_counts[MUSCLES.index("brachioradialis")] == 333  # Feinstein et al. 1955
    assert s.n_units == sum(s.unit_counts)
    assert s.volume_conductor == "layered"
    assert len(s.last_recruitment) == 8
    assert all(0.5 <= v <= 0.9 for v in s.last_recruitment)
    assert s.muap_samples == 60
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.fs = 1000.0  # type: ignore[misc]


def test_unit_counts_one_per_muscle_or_shared() -> None:
    s = EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=[10, 20])
    assert s.units_per_muscle == (10, 20)
    assert s.unit_counts == (10, 20)
    assert s.n_units == 30
    assert EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=7).unit_counts == (7, 7)
    with pytest.raises(ValueError, match="one count per muscle"):
        EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=(10,))
    with pytest.raises(ValueError, match="'units_per_muscle'"):
        EngineSettings(muscles=("biceps", "triceps"), units_per_muscle=(10, 0))


def test_scalar_and_list_arguments_are_normalised() -> None:
    s = EngineSettings(muscles=["biceps", "triceps"], last_recruitment=0.6)
    assert s.muscles == ("biceps", "triceps")
    assert s.last_recruitment == (0.6, 0.6)
    s = EngineSettings(muscles=("biceps", "triceps"), last_recruitment=[0.5, 0.9])
    assert s.last_recruitment == (0.5, 0.9)


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"fs": 400.0}, ValueError, "'fs'.*400"),
        ({"fs": 20000}, ValueError, "'fs'"),
        ({"fs": float("nan")}, ValueError, "'fs'"),
        ({"layout": "armband99"}, ValueError, "'layout'.*armband8, armband16"),
        ({"layout": "missing_file.toml"}, ValueError, "does not exist"),
        ({"layout": 3}, TypeError, "'layout'"),
        ({"muscles": ("biceps", "deltoid")}, ValueError, "'muscles'.*deltoid"),
        ({"muscles": ("biceps", "biceps")}, ValueError, "repeat"),
        ({"muscles": ()}, ValueError, "'muscles'"),
        ({"units_per_muscle": 0}, ValueError, "'units_per_muscle'"),
        ({"units_per_muscle": 2.5}, TypeError, "'units_per_muscle'.*integer"),
        ({"seed": -1}, ValueError, "'seed'"),
        ({"recruitment_range": 0.5}, ValueError, "'recruitment_range'"),
        ({"last_recruitment": 1.5}, ValueError, "'last_recruitment'"),
        ({"last_recruitment": (0.5, 0.6)}, ValueError, "one value per muscle"),
        ({"min_rate": 0.0}, ValueError, "'min_rate'"),
        ({"peak_rate_first": 60.0}, ValueError, "'peak_rate_first'.*50"),
        ({"peak_rate_last": 5.0}, ValueError, "'peak_rate_last'"),
        ({"isi_cv": 0.5}, ValueError, "'isi_cv'"),
        ({"conduction_velocity": (5.0, 3.0)}, ValueError, "low <= high"),
        ({"conduction_velocity": (1.0, 3.0)}, ValueError, "'conduction_velocity'"),
        ({"muap_duration": 0.2}, ValueError, "'muap_duration'"),
        ({"muaps": "wobbly"}, ValueError, "'muaps'.*static, dynamic"),
        ({"posture_points": (5, 5)}, ValueError, "'posture_points'"),
        ({"posture_points": (5, 0, 3)}, ValueError, "'posture_points'"),
        ({"posture_points": (5, 10, 3)}, ValueError, "'posture_points'"),
        ({"muap_floor": 0.2}, ValueError, "'muap_floor'"),
        ({"cache": "yes"}, TypeError, "'cache'"),
    ],
)
def test_bad_settings_raise_named_errors(kwargs: dict, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        EngineSettings(**kwargs)


def test_engine_argument_errors() -> None:
    with pytest.raises(TypeError, match="'settings'"):
        EmgEngine("armband8")  # type: ignore[arg-type]
    settings = EngineSettings(muscles=("wrist_flexors",), units_per_muscle=2, fs=1000.0)
    engine = EmgEngine(settings)
    block = Block(
        np.zeros((4, 1), np.float32), np.arange(4) / 1000.0, 1000.0, 0, ("wrist_flexors",)
    )
    with pytest.raises(RuntimeError, match="reset"):
        engine.process(block)
    with pytest.raises(ValueError, match="'max_block'"):
        engine.reset(max_block=0)
    engine.reset(max_block=4)
    wrong_fs = Block(block.data, block.timestamps, 2000.0, 0, block.channels)
    with pytest.raises(ValueError, match="fs"):
        engine.process(wrong_fs)
    wrong_labels = Block(block.data, block.timestamps, 1000.0, 0, ("biceps",))
    with pytest.raises(ValueError, match="wrist_flexors"):
        engine.process(wrong_labels)
    with pytest.raises(ValueError, match="'activation'"):
        simulate_emg(np.zeros((10, 3)), settings)
