"""The pipeline stage: IMU blocks at any rate in, activations on the model grid out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime.anatomy import JOINTS, MUSCLES
from realtime.block import IMU_CHANNELS, Block
from realtime.model.checkpoint import Checkpoint, CheckpointError
from realtime.model.config import NetConfig
from realtime.model.network import ActivationNet
from realtime.model.resample import ImuResampler
from realtime.model.stage import ModelActivationStage
from realtime.model.streaming import StreamingNet


def make_checkpoint() -> Checkpoint:
    torch.manual_seed(0)
    config = NetConfig(channels=8, layers=3)
    net = ActivationNet(config, mean=np.zeros(6), std=np.full(6, 5.0))
    return Checkpoint(config, net.numpy_state(), IMU_CHANNELS, MUSCLES, JOINTS, 100.0, (50.0, 500.0), 25.0)


def _imu(fs: float, seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1000.0 + np.cumsum(rng.uniform(0.8, 1.2, int(fs * seconds))) / fs
    x = np.concatenate([np.sin(t[:, None] * [1, 2, 3]) * 9.81, np.cos(t[:, None] * [2, 3, 5])], axis=1)
    return t, x.astype(np.float32)


def _blocks(t, x, sizes):  # noqa: ANN001, ANN202
    i, seq = 0, 0
    for n in sizes:
        yield Block(np.ascontiguousarray(x[i : i + n]), t[i : i + n], 200.0, seq, IMU_CHANNELS)
        i += n
        seq += n


@pytest.mark.parametrize("sizes", [[1] * 600, [7] * 86, [0, 3, 250, 0, 1, 346]], ids=["one", "seven", "mixed"])
def test_stage_equals_resampler_plus_network(sizes: list[int]) -> None:
    ck = make_checkpoint()
    t, x = _imu(200.0, 3.0)
    stage = ModelActivationStage(ck)
    stage.reset()
    outs = [stage.process(b) for b in _blocks(t, x, sizes)]
    data = np.concatenate([o.data for o in outs])
    stamps = np.concatenate([o.timestamps for o in outs])
    angles = np.concatenate([o.aux["angles"] for o in outs])
    # Reference: the resampler over everything, then the network over everything.
    rs = ImuResampler(100.0, 6, 25.0)
    xg, _ = rs.process(t, x)
    ref_a, ref_g = StreamingNet(ck.config, ck.state).process(xg)
    np.testing.assert_allclose(data, ref_a, atol=1e-6)
    np.testing.assert_allclose(angles, ref_g, atol=1e-5)
    np.testing.assert_allclose(stamps, t[0] + np.arange(len(stamps)) / 100.0, rtol=0, atol=1e-9)
    seqs = [o.seq for o in outs if o.n_samples]
    assert seqs[0] == 0
    assert all(o.fs == 100.0 and o.channels == ck.outputs for o in outs)
    assert np.all((data >= 0) & (data <= 1))
    assert len(data) == int(np.floor((t[-1] - t[0]) * 100.0)) + 1


def test_reset_restarts_the_grid() -> None:
    ck = make_checkpoint()
    t, x = _imu(100.0, 1.0)
    stage = ModelActivationStage(ck)
    a = stage.process(Block(x, t, 100.0, 0, IMU_CHANNELS))
    stage.reset()
    b = stage.process(Block(x[10:], t[10:] + 5.0, 100.0, 0, IMU_CHANNELS))
    assert b.seq == 0
    assert b.timestamps[0] == t[10] + 5.0
    assert a.data.shape[1] == b.data.shape[1] == 8
    assert b.aux["angles"].shape == (b.n_samples, 3)


def test_empty_blocks_and_nan_samples() -> None:
    stage = ModelActivationStage(make_checkpoint())
    stage.reset()
    empty = stage.process(Block(np.zeros((0, 6), np.float32), np.zeros(0), 100.0, 0, IMU_CHANNELS))
    assert empty.n_samples == 0
    assert empty.aux["angles"].shape == (0, 3)
    assert empty.channels == stage.channels
    t, x = _imu(100.0, 1.0)
    x[20] = np.nan
    out = stage.process(Block(x, t, 100.0, 0, IMU_CHANNELS))
    assert np.all(np.isfinite(out.data))
    assert out.n_samples > 90


def test_source_that_does_not_fit() -> None:
    stage = ModelActivationStage(make_checkpoint())
    t, x = _imu(100.0, 0.2)
    with pytest.raises(CheckpointError, match="expects input channels"):
        stage.process(Block(x, t, 100.0, 0, ("ax", "ay", "az", "gx", "gy", "gz")))
    with pytest.raises(CheckpointError, match="runs at 10 Hz"):
        stage.process(Block(x, t, 10.0, 0, IMU_CHANNELS))


def test_missing_checkpoint_error(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(CheckpointError, match="does not exist"):
        ModelActivationStage(tmp_path / "missing.pt")
