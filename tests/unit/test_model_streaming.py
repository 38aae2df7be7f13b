"""Cached-state streaming inference equals the offline network, and is causal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime.app.training.network import ActivationNet
from realtime.stages.model.config import NetConfig
from realtime.stages.model.streaming import StreamingNet, offline_forward

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


def _hidden_sequences(config: NetConfig, state: dict, x: np.ndarray) -> tuple[list[np.ndarray], dict]:
    """Input of every residual block over the whole sequence (numpy, float64, replicate padding)."""
    pad = config.receptive_field - 1
    s = {k: np.asarray(v, np.float64) for k, v in state.items()}
    xp = np.concatenate([np.repeat(np.asarray(x[:1], np.float64), pad, axis=0), x])
    h = ((xp - s["norm_mean"]) / s["norm_std"]) @ s["inp.weight"][:, :, 0].T + s["inp.bias"]
    seqs = []
    for i, d in enumerate(config.dilations):
        seqs.append(h)
        w = s[f"blocks.{i}.conv.weight"]
        hp = np.concatenate([np.zeros(((config.kernel - 1) * d, h.shape[1])), h])
        z = np.zeros_like(h) + s[f"blocks.{i}.conv.bias"]
        for j in range(config.kernel):
            z += hp[j * d : j * d + h.shape[0]] @ w[:, :, j].T
        h = h + np.maximum(z, 0.0) @ s[f"blocks.{i}.mix.weight"][:, :, 0].T + s[f"blocks.{i}.mix.bias"]
    return seqs, s


def _peek_reference(config: NetConfig, state: dict, past: np.ndarray, x_new: np.ndarray, phase: float):
    """The peek written out: newest tap = the new sample; tap m*d = the hidden state m*d grid steps
    behind it, linearly interpolated between the committed rows around that time."""
    seqs, s = _hidden_sequences(config, state, past)
    k = config.kernel
    h = ((np.asarray(x_new, np.float64) - s["norm_mean"]) / s["norm_std"]) @ s["inp.weight"][:, :, 0].T
    h = h + s["inp.bias"]
    for i, d in enumerate(config.dilations):
        hs = seqs[i]
        w = s[f"blocks.{i}.conv.weight"]  # (out, in, tap); tap k-1 multiplies the newest input
        z = s[f"blocks.{i}.conv.bias"] + w[:, :, k - 1] @ h
        for m in range(1, k):
            tap = phase * hs[-m * d] + (1.0 - phase) * hs[-m * d - 1]
            z = z + w[:, :, k - 1 - m] @ tap
        h = h + np.maximum(z, 0.0) @ s[f"blocks.{i}.mix.weight"][:, :, 0].T + s[f"blocks.{i}.mix.bias"]
    u = np.maximum(np.maximum(h, 0.0) @ s["head.weight"][:, :, 0].T + s["head.bias"], 0.0)
    act = 1.0 / (1.0 + np.exp(-(u @ s["act.weight"][:, :, 0].T + s["act.bias"])))
    ang = u @ s["pos.weight"][:, :, 0].T + s["pos.bias"] if config.n_posture else np.zeros(0)
    return act, ang


@pytest.mark.parametrize("config", CONFIGS, ids=["k3", "k2-no-posture", "k4-base3"])
def test_peek_equals_the_written_out_reference(config: NetConfig) -> None:
    net = _net(config)
    state = net.numpy_state()
    x = _signal(300, config.n_inputs)
    s = StreamingNet(config, state)
    s.process(x[:250])
    rng = np.random.default_rng(7)
    for phase in (1.0, 0.0, 0.5, 0.13, 0.9):
        x_new = x[250] + rng.normal(size=config.n_inputs).astype(np.float32)
        act, ang = s.peek(x_new, phase)
        ref_a, ref_g = _peek_reference(config, state, x[:250], x_new, phase)
        np.testing.assert_allclose(act, ref_a, atol=1e-5)
        np.testing.assert_allclose(ang, ref_g, atol=1e-5 * max(1.0, np.abs(ref_g).max(initial=0.0)))


@pytest.mark.parametrize("config", CONFIGS, ids=["k3", "k2-no-posture", "k4-base3"])
def test_peek_commits_nothing_and_meets_the_grid_at_both_ends(config: NetConfig) -> None:
    net = _net(config)
    x = _signal(400, config.n_inputs)
    plain = StreamingNet(config, net.numpy_state())
    ref_a, ref_g = plain.process(x)
    s = StreamingNet(config, net.numpy_state())
    acts, angs = [], []
    rng = np.random.default_rng(2)
    out = np.empty(config.n_outputs + config.n_posture, np.float32)
    for i in range(0, 400, 7):
        a, g = s.process(x[i : i + 7])
        acts.append(a)
        angs.append(g)
        for _ in range(3):  # peeks in between must not change any later committed output
            s.peek_into(rng.normal(size=config.n_inputs).astype(np.float32), out, float(rng.uniform()))
        if i + 7 < 400:
            # phase 1: exactly the output the next sample will have once committed
            a1, g1 = s.peek(x[i + 7], 1.0)
            nxt = StreamingNet(config, net.numpy_state())
            na, ng = nxt.process(x[: i + 8])
            np.testing.assert_allclose(a1, na[-1], atol=1e-6)
            np.testing.assert_allclose(g1, ng[-1], atol=1e-5)
        # phase 0 with the newest committed input: that sample's own output again
        a0, g0 = s.peek(x[min(i + 6, 399)], 0.0)
        np.testing.assert_allclose(a0, ref_a[min(i + 6, 399)], atol=1e-6)
        np.testing.assert_allclose(g0, ref_g[min(i + 6, 399)], atol=1e-5)
    np.testing.assert_array_equal(np.concatenate(acts), ref_a)
    np.testing.assert_array_equal(np.concatenate(angs), ref_g)


def test_peek_before_any_sample_is_that_sample_as_the_first() -> None:
    config = CONFIGS[0]
    net = _net(config)
    x = _signal(3)
    s = StreamingNet(config, net.numpy_state())
    assert not s.primed
    a, g = s.peek(x[0], 0.4)
    assert not s.primed
    a1, g1 = s.process(x[:1])
    assert s.primed
    np.testing.assert_allclose(a, a1[0], atol=1e-6)
    np.testing.assert_allclose(g, g1[0], atol=1e-5)


def test_peek_arguments() -> None:
    config = CONFIGS[0]
    s = StreamingNet(config, _net(config).numpy_state())
    s.process(_signal(5))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="'phase'"):
            s.peek(np.zeros(6, np.float32), bad)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        s.peek(np.zeros(5, np.float32))
