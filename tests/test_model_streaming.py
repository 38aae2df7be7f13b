"""Cached-state streaming inference equals the offline network, and is causal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime.model.config import NetConfig
from realtime.model.network import ActivationNet
from realtime.model.streaming import StreamingNet, offline_forward

CONFIGS = [
    NetConfig(channels=16, layers=4, kernel=3),
    NetConfig(n_outputs=5, n_posture=0, channels=8, layers=3, kernel=2),
    NetConfig(channels=12, layers=3, kernel=4, dilation_base=3),
]


def _net(config: NetConfig, seed: int = 0) -> ActivationNet:
    torch.manual_seed(seed)
    net = ActivationNet(config, mean=np.linspace(-1, 1, config.n_inputs), std=np.linspace(0.5, 2, config.n_inputs))
    with torch.no_grad():  # make the residual branches matter
        for block in net.blocks:
            block.mix.weight.normal_(0.0, 0.3 / np.sqrt(config.channels))
            block.mix.bias.normal_(0.0, 0.05)
    net.eval()
    return net


def _signal(n: int, n_in: int = 6, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return (np.sin(t / (7.0 + np.arange(n_in))) * 3 + rng.normal(size=(n, n_in))).astype(np.float32)


def _offline(net: ActivationNet, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        act, ang = net(torch.from_numpy(x)[None], pad="replicate")
    ang_np = ang[0].numpy() if ang is not None else np.zeros((x.shape[0], 0), np.float32)
    return act[0].numpy(), ang_np


def _stream(net: ActivationNet, x: np.ndarray, sizes) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    s = StreamingNet(net.config, net.numpy_state())
    acts, angs, i = [], [], 0
    for n in sizes:
        a, g = s.process(x[i : i + n])
        assert a.shape == (len(x[i : i + n]), net.config.n_outputs)
        acts.append(a)
        angs.append(g)
        i += n
    assert i >= len(x)
    return np.concatenate(acts), np.concatenate(angs)


@pytest.mark.parametrize("config", CONFIGS, ids=["k3", "k2-no-posture", "k4-base3"])
@pytest.mark.parametrize("block", [1, 3, 64, "mix"])
def test_streaming_equals_offline(config: NetConfig, block: int | str) -> None:
    net = _net(config)
    x = _signal(700, config.n_inputs)
    if block == "mix":
        rng = np.random.default_rng(5)
        sizes = [0, 1, 0, 2, 5, 1, 0, 200, 7, 3, 1]
        while sum(sizes) < len(x):
            sizes.append(int(rng.integers(0, 40)))
    else:
        sizes = [block] * (-(-len(x) // block))
    act_s, ang_s = _stream(net, x, sizes)
    act_o, ang_o = _offline(net, x)
    assert act_s.shape == act_o.shape == (700, config.n_outputs)
    assert np.abs(act_s - act_o).max() <= 1e-5
    if config.n_posture:
        assert np.abs(ang_s - ang_o).max() <= 1e-5 * max(1.0, np.abs(ang_o).max())
    # The outputs are not trivially flat.
    assert act_o.std(axis=0).min() > 1e-3


def test_numpy_reference_equals_torch() -> None:
    config = CONFIGS[0]
    net = _net(config)
    x = _signal(300)
    act_n, ang_n = offline_forward(config, net.numpy_state(), x)
    act_o, ang_o = _offline(net, x)
    np.testing.assert_allclose(act_n, act_o, atol=1e-5)
    np.testing.assert_allclose(ang_n, ang_o, atol=1e-5)


def test_causality_offline_and_streaming() -> None:
    """Perturbing the input at t changes no output before t, and changes outputs from t on."""
    config = CONFIGS[0]
    net = _net(config)
    x = _signal(400)
    t = 250
    y = x.copy()
    y[t:] += np.random.default_rng(3).normal(size=y[t:].shape).astype(np.float32) * 5
    a0, _ = _offline(net, x)
    a1, _ = _offline(net, y)
    np.testing.assert_array_equal(a0[:t], a1[:t])
    assert np.abs(a0[t] - a1[t]).max() > 1e-4
    with torch.no_grad():  # zero padding (training mode) is causal too
        z0 = net(torch.from_numpy(x)[None])[0][0].numpy()
        z1 = net(torch.from_numpy(y)[None])[0][0].numpy()
    np.testing.assert_array_equal(z0[:t], z1[:t])
    s0, _ = _stream(net, x, [1] * len(x))
    s1, _ = _stream(net, y, [1] * len(y))
    np.testing.assert_array_equal(s0[:t], s1[:t])
    assert np.abs(s0[t] - s1[t]).max() > 1e-4


def test_receptive_field_is_exact() -> None:
    """An input change exactly receptive_field - 1 samples back still matters; one more does not."""
    config = NetConfig(channels=8, layers=3, kernel=3)
    rf = config.receptive_field
    assert rf == 1 + 2 * (1 + 2 + 4)
    state = _net(config).numpy_state()
    x = _signal(3 * rf)
    base, _ = offline_forward(config, state, x)  # float64: no rounding noise across positions
    for lag, changes in ((rf - 1, True), (rf, False)):
        y = x.copy()
        y[2 * rf - lag] += 10.0
        out, _ = offline_forward(config, state, y)
        assert bool(np.abs(out[2 * rf] - base[2 * rf]).max() > 1e-9) is changes


def test_reset_restarts_and_into_matches() -> None:
    config = CONFIGS[0]
    net = _net(config)
    x = _signal(200)
    s = StreamingNet(config, net.numpy_state())
    a1, g1 = s.process(x)
    s.reset()
    out = np.empty((200, config.n_outputs + config.n_posture), np.float32)
    s.process_into(x, out)
    np.testing.assert_array_equal(out[:, : config.n_outputs], a1)
    np.testing.assert_array_equal(out[:, config.n_outputs :], g1)


def test_constant_input_is_steady_from_the_first_sample() -> None:
    """After reset the past is the first sample held: a constant input gives a constant output."""
    config = CONFIGS[0]
    s = StreamingNet(config, _net(config).numpy_state())
    a, _ = s.process(np.tile(_signal(1), (50, 1)))
    np.testing.assert_allclose(a, np.tile(a[:1], (50, 1)), atol=1e-6)


def test_empty_block_and_bad_shapes() -> None:
    config = CONFIGS[0]
    s = StreamingNet(config, _net(config).numpy_state())
    a, g = s.process(np.zeros((0, 6), np.float32))
    assert a.shape == (0, config.n_outputs)
    assert g.shape == (0, config.n_posture)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 6\)"):
        s.process(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="should have shape"):
        StreamingNet(NetConfig(channels=20, layers=4), _net(config).numpy_state())
    with pytest.raises(ValueError, match="'layers'"):
        NetConfig(layers=0)
    with pytest.raises(ValueError, match="'kernel'"):
        NetConfig(kernel=1)
