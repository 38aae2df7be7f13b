"""Any checkpoint drives the engine: outputs matched by name, posture head optional (issue 15 item 2)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings
from realtime.app.training.network import ActivationNet
from realtime.body.synthetic import SyntheticArm, SyntheticSettings
from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.units import IMU_CHANNELS
from realtime.stages.engine import EmgEngine, EngineSettings
from realtime.stages.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from realtime.stages.model.config import NetConfig
from realtime.stages.model.outputs import check_activation_outputs
from realtime.stages.model.stage import ModelActivationStage
from tests.helpers import FakeClock


def make_checkpoint(n_posture: int = 3, seed: int = 0) -> Checkpoint:
    torch.manual_seed(seed)
    config = NetConfig(channels=8, layers=3, n_posture=n_posture)
    net = ActivationNet(config, mean=np.zeros(6), std=np.full(6, 5.0))
    posture = JOINTS if n_posture else ()
    return Checkpoint(config, net.numpy_state(), IMU_CHANNELS, MUSCLES, posture, 100.0, (50.0, 500.0), 25.0)


def permuted(ck: Checkpoint, order: np.ndarray) -> Checkpoint:
    """The same network with its activation outputs (weights and names) in another order."""
    state = dict(ck.state)
    state["act.weight"] = np.ascontiguousarray(state["act.weight"][order])
    state["act.bias"] = np.ascontiguousarray(state["act.bias"][order])
    return replace(ck, state=state, outputs=tuple(ck.outputs[i] for i in order))


def _emg(ck: Checkpoint) -> np.ndarray:
    clock = FakeClock()
    blocks = []

    class Sink:
        def write(self, block) -> None:  # noqa: ANN001
            blocks.append(block.data.copy())

    pipe = Pipeline(SyntheticArm(SyntheticSettings(motion="wrist-flexion", seed=5), clock=clock),
                    ModelActivationStage(ck), [EmgEngine(EngineSettings(fs=1000.0, units_per_muscle=20, seed=5))],
                    PipelineOutputs(emg=Sink()), PipelineSettings(fs=1000.0, block_size=5, duration=1.5),
                    clock=clock, sleep=clock.sleep)
    pipe.run()
    return np.concatenate(blocks)


def test_a_permuted_checkpoint_drives_the_same_muscles() -> None:
    ck = make_checkpoint()
    order = np.arange(len(MUSCLES))[::-1]
    perm = permuted(ck, order)
    assert perm.outputs != ck.outputs
    a, b = _emg(ck), _emg(perm)
    assert np.abs(a).max() > 1.0
    np.testing.assert_array_equal(a, b)


def test_a_checkpoint_without_posture_head_runs_with_neutral_posture() -> None:
    """It used to crash: 'A block with 0 channels needs 0 channel labels, got 3'."""
    ck = make_checkpoint(n_posture=0)
    stage = ModelActivationStage(ck)
    assert not stage.has_posture
    assert stage.output_format.aux["angles"] == len(JOINTS)
    emg = _emg(ck)
    assert emg.shape[1] == 8
    assert np.isfinite(emg).all()
    assert np.abs(emg).max() > 1.0


def test_outputs_with_other_names_fail_in_one_line_naming_them() -> None:
    ck = replace(make_checkpoint(), outputs=tuple(f"emg_{i + 1}" for i in range(8)), output_kind="activation")
    with pytest.raises(CheckpointError) as err:
        check_activation_outputs(ck, MUSCLES, "my.pt")
    text = str(err.value)
    assert "\n" not in text
    assert "'my.pt'" in text
    assert "emg_1" in text
    assert "biceps" in text


def test_run_model_option_names_the_checkpoint_and_its_outputs(tmp_path: Path) -> None:
    from realtime.app.cli.run import run

    bad = tmp_path / "bad.pt"
    save_checkpoint(replace(make_checkpoint(), outputs=tuple(f"emg_{i + 1}" for i in range(8)),
                            output_kind="activation"), bad)
    res = CliRunner().invoke(run, ["--model", str(bad), "--duration", "0.1", "--quiet"])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert str(bad) in lines[0]
    assert "emg_1" in lines[0]
    assert "biceps" in lines[0]
    missing = CliRunner().invoke(run, ["--model", str(tmp_path / "nope.pt"), "--duration", "0.1"])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output


def test_checkpoint_states_its_output_kind_and_layout(tmp_path: Path) -> None:
    ck = make_checkpoint()
    assert ck.output_kind == "activation"
    env = replace(ck, target="emg-envelope", target_scale=(1.0,) * 8, output_kind="", layout="armband8")
    assert env.output_kind == "envelope"
    path = save_checkpoint(env, tmp_path / "env.pt")
    back = load_checkpoint(path)
    assert (back.output_kind, back.layout) == ("envelope", "armband8")
    with pytest.raises(CheckpointError, match="output kind"):
        replace(ck, output_kind="muscles")
    with pytest.raises(CheckpointError, match="unique"):
        replace(ck, outputs=("biceps",) * 8)
