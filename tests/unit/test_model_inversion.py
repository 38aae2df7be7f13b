"""Physics in the loop: the engine-calibrated gain model and the NNLS inversion (issue 15 item 3)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from realtime.app.physics import calibrate_gains, envelope_stage
from realtime.app.training.data import emg_envelope
from realtime.app.training.evaluate import pearson
from realtime.stages.engine import EngineSettings, simulate_emg
from realtime.stages.model.inversion import EnvelopeInversion
from realtime.stages.model.stage import ModelActivationStage
from tests.unit.test_model_outputs import make_checkpoint

SETTINGS = EngineSettings(layout="armband8", fs=1000.0, units_per_muscle=30, seed=2)
FOREARM = ("brachioradialis", "pronator_teres", "wrist_flexors", "wrist_extensors")


@pytest.fixture(scope="module")
def gains():  # noqa: ANN201
    return calibrate_gains(SETTINGS)


def test_gain_model_is_monotone_and_shaped(gains) -> None:  # noqa: ANN001
    assert gains.power.shape == (8, 8, 8)
    assert np.all(np.diff(gains.curves, axis=0) >= 0)
    assert gains.curves[0].max() == 0.0
    assert gains.curves[-1].min() == 1.0
    assert np.all(gains.gains.max(axis=0) > 0)  # every muscle reaches some channel


def test_inversion_reproduces_the_engine_envelopes(gains) -> None:  # noqa: ANN001
    fs = SETTINGS.fs
    t = np.arange(int(20 * fs)) / fs
    rng = np.random.default_rng(0)
    act = np.clip(0.35 + 0.3 * np.sin(2 * np.pi * t[:, None] * rng.uniform(0.1, 0.4, 8) + rng.uniform(0, 6, 8)),
                  0, 1).astype(np.float32)
    env = emg_envelope(simulate_emg(act, SETTINGS), fs)
    rows = np.arange(int(fs), len(t) - int(fs), 25)
    a = EnvelopeInversion(gains, list(range(8))).activations(env[rows])
    assert a.min() >= 0.0
    assert a.max() <= 1.0
    u = np.stack([np.interp(a[:, k], gains.levels, gains.curves[:, k]) for k in range(8)], axis=1)
    e_back = np.sqrt(u @ gains.gains.T)
    for c in range(8):
        assert pearson(e_back[:, c], env[rows, c]) > 0.85, c
    for m in FOREARM:  # muscles the armband sees are recovered
        k = SETTINGS.muscles.index(m)
        assert pearson(a[:, k], act[rows, k]) > 0.8, m


def test_envelope_checkpoint_needs_its_layout_channels() -> None:
    ck = make_checkpoint(n_posture=0)
    env = replace(ck, outputs=tuple(f"EMG{i}" for i in range(1, 9)), target="emg-envelope", output_kind="",
                  target_scale=(10.0,) * 8, layout="armband8")
    stage = envelope_stage(ModelActivationStage(env), SETTINGS)
    assert stage.output_format.channels == SETTINGS.muscles
    with pytest.raises(ValueError, match="run with --layout armband8"):
        envelope_stage(ModelActivationStage(env), replace(SETTINGS, layout="armband16"))
    wrong = replace(env, outputs=tuple(f"emg_{i}" for i in range(1, 9)))
    with pytest.raises(ValueError, match="not the channels of layout 'armband8'"):
        envelope_stage(ModelActivationStage(wrong), SETTINGS)
