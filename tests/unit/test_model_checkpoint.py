"""Checkpoint round trip, refusal to overwrite, and clear errors for bad checkpoints."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.app.training.network import ActivationNet, net_from_checkpoint
from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.units import IMU_CHANNELS
from realtime.stages.model import DEFAULT_CHECKPOINT
from realtime.stages.model.checkpoint import (
    NPZ_META,
    NPZ_STATE,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    runtime_twin,
    save_checkpoint,
)
from realtime.stages.model.config import NetConfig

CONFIG = NetConfig(channels=8, layers=3)


def make_checkpoint(seed: int = 0, config: NetConfig = CONFIG) -> Checkpoint:
    torch.manual_seed(seed)
    net = ActivationNet(config, mean=np.arange(6.0), std=np.full(6, 2.0))
    return Checkpoint(
        config=config,
        state=net.numpy_state(),
        inputs=IMU_CHANNELS,
        outputs=MUSCLES[: config.n_outputs],
        posture=JOINTS[: config.n_posture],
        fs=100.0,
        input_fs_range=(50.0, 500.0),
        cutoff_hz=25.0,
        metrics={"best_val_loss": 0.25, "history": [{"epoch": 1, "val_loss": np.float64(0.25)}]},
        training={"seed": 3, "command": "python launch.py train --seed 3"},
    )


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    ck = make_checkpoint()
    path = save_checkpoint(ck, tmp_path / "sub" / f"m{suffix}")
    back = load_checkpoint(path)
    assert back.config == ck.config
    assert back.inputs == IMU_CHANNELS
    assert back.outputs == MUSCLES
    assert back.posture == JOINTS
    assert (back.fs, back.input_fs_range, back.cutoff_hz, back.target) == (100.0, (50.0, 500.0), 25.0, "teacher")
    assert back.metrics["best_val_loss"] == 0.25
    assert back.training["seed"] == 3
    assert set(back.state) == set(ck.state)
    for k in ck.state:
        np.testing.assert_array_equal(back.state[k], ck.state[k])
    mean, std = back.normaliser
    np.testing.assert_array_equal(mean, np.arange(6.0))
    np.testing.assert_array_equal(std, np.full(6, 2.0))
    x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    a0, g0 = ck.streaming_net().process(x)
    a1, g1 = back.streaming_net().process(x)
    np.testing.assert_array_equal(a0, a1)
    np.testing.assert_array_equal(g0, g1)
    with torch.no_grad():
        a2, _ = net_from_checkpoint(back)(torch.from_numpy(x)[None], pad="replicate")
    np.testing.assert_allclose(a2[0].numpy(), a0, atol=1e-5)
    assert back.receptive_field == CONFIG.receptive_field
    assert back.receptive_field_s == pytest.approx(CONFIG.receptive_field / 100.0)


def test_never_overwrites_silently(tmp_path: Path) -> None:
    path = save_checkpoint(make_checkpoint(0), tmp_path / "m.pt")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        save_checkpoint(make_checkpoint(1), path)
    assert path.read_bytes() == before
    save_checkpoint(make_checkpoint(1), path, overwrite=True)
    assert path.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary files left


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"does not exist.*launch.py train"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_file(tmp_path: Path, damage: str, suffix: str) -> None:
    path = save_checkpoint(make_checkpoint(), tmp_path / f"m{suffix}")
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a checkpoint at all" * 10, "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="could not be read.*corrupt"):
        load_checkpoint(path)


def test_foreign_and_newer_files(tmp_path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a myostream activation-network checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    blob = make_checkpoint().to_dict()
    blob["state"] = {k: torch.from_numpy(np.array(v)) for k, v in blob["state"].items()}
    blob["version"] = 99
    torch.save(blob, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "new.pt")
    blob["version"] = 1
    del blob["state"]["blocks.1.conv.weight"]
    torch.save(blob, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="blocks.1.conv.weight"):
        load_checkpoint(tmp_path / "partial.pt")


def test_inconsistent_checkpoints_are_refused() -> None:
    ck = make_checkpoint()
    bad = dict(ck.state)
    bad["head.weight"] = np.full_like(bad["head.weight"], np.nan)
    with pytest.raises(CheckpointError, match="NaN"):
        replace(ck, state=bad)
    with pytest.raises(CheckpointError, match="names 7 outputs"):
        replace(ck, outputs=MUSCLES[:7])
    with pytest.raises(CheckpointError, match="model rate"):
        replace(ck, fs=0.0)


def test_check_source() -> None:
    ck = make_checkpoint()
    ck.check_source(IMU_CHANNELS, 100.0)
    ck.check_source(IMU_CHANNELS, 0.0)  # unknown rate: not checked
    with pytest.raises(CheckpointError, match="expects input channels"):
        ck.check_source(("a", "b", "c", "d", "e", "f"), 100.0)
    with pytest.raises(CheckpointError, match=r"runs at 20 Hz.*50-500 Hz"):
        ck.check_source(IMU_CHANNELS, 20.0)


def test_shipped_default_loads_without_torch_and_equals_the_torch_file() -> None:
    ck = load_checkpoint(None)  # the .npz copy
    assert ck.inputs == IMU_CHANNELS
    assert ck.outputs == MUSCLES
    assert ck.posture == JOINTS
    assert DEFAULT_CHECKPOINT.stat().st_size < 2 * 1024 * 1024
    assert ck.training.get("command", "").startswith("python launch.py train")
    pt = load_checkpoint(DEFAULT_CHECKPOINT)
    assert pt.to_dict()["meta"] == ck.to_dict()["meta"]
    assert pt.config == ck.config
    assert set(pt.state) == set(ck.state)
    for k in pt.state:
        np.testing.assert_array_equal(pt.state[k], ck.state[k])
    x = np.random.default_rng(1).normal(size=(200, 6)).astype(np.float32)
    for a, b in zip(pt.streaming_net().process(x), ck.streaming_net().process(x)):
        np.testing.assert_array_equal(a, b)


def test_a_npz_is_written_and_read_by_numpy_alone(tmp_path: Path) -> None:
    path = save_checkpoint(make_checkpoint(), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:  # no pickled objects inside
        assert NPZ_META in z.files
        assert all(k == NPZ_META or k.startswith(NPZ_STATE) for k in z.files)
    assert runtime_twin(tmp_path / "m.pt") == path


def test_metadata_is_stored_as_plain_values(tmp_path: Path) -> None:
    """Metadata with numpy scalars, str subclasses and paths still loads with weights_only=True."""

    class Version(str):
        pass

    ck = replace(make_checkpoint(), training={"torch": Version("2.0"), "out": tmp_path, "n": np.int64(3),
                                              "flag": np.bool_(True), "arr": np.arange(2)})
    back = load_checkpoint(save_checkpoint(ck, tmp_path / "m.pt"))
    assert back.training == {"torch": "2.0", "out": str(tmp_path), "n": 3, "flag": True, "arr": [0, 1]}
