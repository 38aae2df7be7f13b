"""Training covers every sample the streaming model produces; --init maps outputs by name (issue 15 item 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from realtime.app.cli.train import train as train_cmd
from realtime.app.training.data import Dataset, Sequence
from realtime.app.training.network import ActivationNet
from realtime.app.training.train import (
    TrainSettings,
    _map_head_by_name,
    _windows,
    train_network,
    window_input,
)
from realtime.core.anatomy import MUSCLES
from realtime.core.units import IMU_CHANNELS
from realtime.stages.model.checkpoint import Checkpoint, save_checkpoint
from realtime.stages.model.config import NetConfig
from realtime.stages.model.streaming import StreamingNet

CONFIG = NetConfig(channels=8, layers=4, n_posture=0)  # receptive field 31 samples


def _seq(n: int, seed: int, n_out: int = 2, name: str = "s") -> Sequence:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=(n, 6)), axis=0).astype(np.float32)
    y = (0.5 + 0.4 * np.tanh(x[:, :n_out] / 5)).astype(np.float32)
    return Sequence(name, x, y, None, 100.0, name)


@pytest.mark.parametrize("n", [5, 64, 200, 257])
def test_windows_cover_every_sample(n: int) -> None:
    seqs = [_seq(n, 0)]
    for seed in range(5):
        covered = np.zeros(n, int)
        for i, a, length in _windows(seqs, 64, np.random.default_rng(seed)):
            assert length == min(64, n)
            covered[a : a + length] += 1
        assert covered.min() >= 1


def test_window_outputs_equal_the_streaming_model_from_its_first_sample() -> None:
    """The loss sees exactly what the cached stream gives after reset(), first samples included."""
    torch.manual_seed(0)
    net = ActivationNet(CONFIG, mean=np.zeros(6), std=np.full(6, 3.0))
    s = _seq(120, 1)
    rf = CONFIG.receptive_field
    stream = StreamingNet(CONFIG, net.numpy_state())
    stream.reset()
    want = stream.process(s.x)[0]
    for start, length in ((0, 40), (7, 20), (90, 30)):
        xb = torch.from_numpy(window_input(s.x, start, length, rf)[None])
        with torch.no_grad():
            got = net(xb)[0][0, rf - 1 :].numpy()
        np.testing.assert_allclose(got, want[start : start + length], atol=2e-5)


def test_clips_shorter_than_the_receptive_field_train() -> None:
    ds = Dataset([_seq(20, k) for k in range(4)], [_seq(20, 9)], ("a", "b"), (), "emg-envelope", (1.0, 1.0))
    cfg = NetConfig(channels=8, layers=4, n_posture=0, n_outputs=2)
    ck = train_network(ds, cfg, 100.0, 25.0, TrainSettings(epochs=2, batch_size=4, window=16), progress=False)
    assert ck.metrics["epochs_run"] == 2
    assert np.isfinite(ck.metrics["best_val_loss"])


def _init_ckpt() -> Checkpoint:
    torch.manual_seed(3)
    cfg = NetConfig(channels=8, layers=3, n_posture=0, n_outputs=len(MUSCLES))
    net = ActivationNet(cfg, mean=np.zeros(6), std=np.ones(6))
    return Checkpoint(cfg, net.numpy_state(), IMU_CHANNELS, MUSCLES, (), 100.0, (100.0, 100.0), 25.0)


def test_init_maps_outputs_by_name_and_starts_a_fresh_head_for_new_ones() -> None:
    init = _init_ckpt()
    from realtime.app.training.network import net_from_checkpoint

    net = net_from_checkpoint(init)
    outputs = ("triceps", "new_channel", "biceps")
    cfg = NetConfig(channels=8, layers=3, n_posture=0, n_outputs=3)
    fresh = _map_head_by_name(net, init, outputs, cfg)
    assert fresh == [1]
    w = np.asarray(init.state["act.weight"])
    b = np.asarray(init.state["act.bias"])
    got_w = net.act.weight.detach().numpy()
    np.testing.assert_array_equal(got_w[0], w[MUSCLES.index("triceps")])
    np.testing.assert_array_equal(got_w[2], w[MUSCLES.index("biceps")])
    assert net.act.bias.detach().numpy()[2] == b[MUSCLES.index("biceps")]
    assert not any(np.array_equal(got_w[1], row) for row in w)


def test_shape_options_with_init_are_refused_in_one_line(tmp_path: Path) -> None:
    path = save_checkpoint(_init_ckpt(), tmp_path / "init.pt")
    res = CliRunner().invoke(train_cmd, ["--init", str(path), "--layers", "5", "--channels", "8",
                                         "--out", str(tmp_path / "o.pt"), "--quiet"])
    assert res.exit_code == 2
    assert "--layers 5 (the checkpoint has 3)" in res.output
    assert "--channels" not in res.output.split("Error:")[1]  # the same as the checkpoint's: not a conflict
