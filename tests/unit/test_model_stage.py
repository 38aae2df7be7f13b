"""The pipeline stage: IMU blocks at any rate in, activations on the model grid (and provisional rows) out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime.app.training.network import ActivationNet
from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.block import Block
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS
from realtime.stages.model.checkpoint import Checkpoint, CheckpointError
from realtime.stages.model.config import NetConfig
from realtime.stages.model.resample import ImuResampler
from realtime.stages.model.stage import ModelActivationStage
from realtime.stages.model.streaming import StreamingNet


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


def _run(stage: ModelActivationStage, blocks) -> list[Block]:  # noqa: ANN001
    stage.reset()
    return [stage.process(b) for b in blocks]


def _committed(outs: list[Block]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = np.concatenate([~o.aux["provisional"] for o in outs])
    data = np.concatenate([o.data for o in outs])[keep]
    stamps = np.concatenate([o.timestamps for o in outs])[keep]
    angles = np.concatenate([o.aux["angles"] for o in outs])[keep]
    return data, stamps, angles


def _filtered(t: np.ndarray, x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """The anti-alias filter written out: two one-pole low-passes stepped by the actual dt (float64)."""
    tau = 1.0 / (2.0 * np.pi * cutoff_hz)
    y1 = x[0].astype(np.float64)
    y2 = y1.copy()
    out = np.empty((len(t), x.shape[1]))
    out[0] = y2
    for i in range(1, len(t)):
        a = 1.0 - np.exp(-(t[i] - t[i - 1]) / tau)
        y1 = y1 + a * (x[i] - y1)
        y2 = y2 + a * (y1 - y2)
        out[i] = y2
    return out


SIZES = [[1] * 600, [7] * 86, [0, 3, 250, 0, 1, 346]]


@pytest.mark.parametrize("provisional", [True, False], ids=["provisional", "grid-only"])
@pytest.mark.parametrize("sizes", SIZES, ids=["one", "seven", "mixed"])
def test_committed_rows_equal_resampler_plus_network(sizes: list[int], provisional: bool) -> None:
    ck = make_checkpoint()
    t, x = _imu(200.0, 3.0)
    outs = _run(ModelActivationStage(ck, provisional=provisional), _blocks(t, x, sizes))
    data, stamps, angles = _committed(outs)
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
    every = np.concatenate([o.data for o in outs])
    assert np.all((every >= 0) & (every <= 1))
    assert len(data) == int(np.floor((t[-1] - t[0]) * 100.0)) + 1
    n_prov = sum(int(o.aux["provisional"].sum()) for o in outs)
    assert (n_prov > 0) is provisional
    # Rows (committed and provisional) come at strictly increasing times, and row i of a block
    # has index seq + i (a provisional row: the grid point it stands in for).
    all_t = np.concatenate([o.timestamps for o in outs])
    assert np.all(np.diff(all_t) > 0)
    for o in outs:
        for i, g in enumerate(o.timestamps):
            k = o.seq + i
            assert t[0] + (k - 1) / 100.0 < g <= t[0] + k / 100.0 + 1e-9


@pytest.mark.parametrize("sizes", SIZES, ids=["one", "seven", "mixed"])
def test_provisional_row_is_the_network_at_the_newest_sample(sizes: list[int]) -> None:
    """One provisional row per block whose newest sample is off the grid, stamped with that sample's
    time, equal to the network peeked with the filtered input there at its phase in the grid step."""
    ck = make_checkpoint()
    t, x = _imu(200.0, 3.0)
    stage = ModelActivationStage(ck)
    stage.reset()
    xf = _filtered(t, x.astype(np.float64), 25.0)
    xg, _ = ImuResampler(100.0, 6, 25.0).process(t, x)
    ref = StreamingNet(ck.config, ck.state)
    i, k, n_checked = 0, 0, 0
    for blk in _blocks(t, x, sizes):
        out = stage.process(blk)
        i += blk.n_samples
        prov = out.aux["provisional"]
        n_new = int((~prov).sum())
        assert not prov[:n_new].any()  # committed rows first, then at most one provisional row
        ref.process(xg[k : k + n_new])
        k += n_new
        if blk.n_samples == 0:
            assert out.n_samples == 0
            continue
        t_newest, g_newest = t[i - 1], t[0] + (k - 1) / 100.0
        on_grid = abs(t_newest - g_newest) < 1e-12
        assert prov.sum() == (0 if on_grid else 1)
        if on_grid:
            continue
        assert prov[-1]
        assert out.timestamps[-1] == t_newest
        a, g = ref.peek(xf[i - 1].astype(np.float32), (t_newest - g_newest) * 100.0)
        np.testing.assert_allclose(out.data[-1], a, atol=2e-6)
        np.testing.assert_allclose(out.aux["angles"][-1], g, atol=2e-5)
        n_checked += 1
    assert n_checked > 50 if len(sizes) > 50 else n_checked >= 2


def test_provisional_rows_follow_the_network_between_grid_points() -> None:
    """The network evaluated on a grid that ends at the sample's own time is what a row at that time
    should be; provisional rows must come far closer to it than holding the last grid row."""
    ck = make_checkpoint()
    fs, period = 1000.0, 10
    t = 500.0 + np.arange(4000) / fs
    x = np.concatenate([np.sin(2 * np.pi * t[:, None] * [0.7, 1.1, 1.9]) * 9.81,
                        np.cos(2 * np.pi * t[:, None] * [1.3, 0.9, 2.3]) * 3.0], axis=1).astype(np.float32)
    xf, _ = ImuResampler(fs, 6, 25.0).process(t, x)  # the filtered signal at every sample
    truth = np.empty((len(t), ck.config.n_outputs))
    for j in range(period):  # the net on the grid through sample j, j + 10, ...
        truth[j::period] = StreamingNet(ck.config, ck.state).process(xf[j::period])[0]
    stage = ModelActivationStage(ck)
    stage.reset()
    rows = np.empty_like(truth)
    held = np.empty_like(truth)
    last = None
    for i in range(len(t)):
        out = stage.process(Block(x[i : i + 1], t[i : i + 1], fs, i, IMU_CHANNELS))
        assert out.n_samples == 1
        assert out.timestamps[0] == t[i]
        rows[i] = out.data[0]
        if not out.aux["provisional"][0]:
            last = out.data[0]
        held[i] = last
    between = (np.arange(len(t)) % period != 0) & (np.arange(len(t)) >= 3000)
    err_rows = np.sqrt(np.mean((rows[between] - truth[between]) ** 2))
    err_held = np.sqrt(np.mean((held[between] - truth[between]) ** 2))
    assert err_held > 1e-3  # the test signal moves enough between grid points to tell them apart
    assert err_rows < 0.1 * err_held


def test_pipeline_publishes_grid_rows_and_drives_the_engine_with_provisional_ones(fake_clock) -> None:  # noqa: ANN001
    from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings

    class Sine1k:  # 1 kHz IMU on the fake clock
        fs, running = 1000.0, False
        output_format = StreamFormat(fs=1000.0, channels=IMU_CHANNELS)

        def start(self) -> None:
            self.running, self.t0, self.k = True, fake_clock(), 0

        def stop(self) -> None:
            self.running = False

        def read(self) -> Block:
            n = int(np.floor((fake_clock() - self.t0) * self.fs + 1e-9)) + 1 - self.k
            tt = self.t0 + np.arange(self.k, self.k + max(n, 0)) / self.fs
            self.k += tt.size
            xx = np.sin(2 * np.pi * tt[:, None] * [1, 2, 3, 1, 2, 3]) * 5.0
            return Block(xx.astype(np.float32), tt, self.fs, self.k - tt.size, IMU_CHANNELS)

    class Copy:  # the engine returns its activation input as 'EMG'
        input_format, output_format = StreamFormat(), StreamFormat()

        def reset(self, fmt=None, *, max_block: int = 64) -> None:  # noqa: ANN001
            pass

        def process(self, block: Block) -> Block:
            return Block(block.data.copy(), block.timestamps, block.fs, block.seq, block.channels)

    class Sink:
        def __init__(self) -> None:
            self.blocks: list[Block] = []

        def write(self, block: Block) -> None:
            self.blocks.append(block)

    model, emg = Sink(), Sink()
    stage = ModelActivationStage(make_checkpoint())
    pipe = Pipeline(Sine1k(), stage, [Copy()], PipelineOutputs(emg=emg, activation_model=model),
                    PipelineSettings(fs=2000.0, block_size=2, duration=0.5), clock=fake_clock,
                    sleep=fake_clock.sleep)
    pipe.run()
    published = np.concatenate([b.timestamps for b in model.blocks])
    k = np.rint((published - published[0]) * 100.0)
    np.testing.assert_allclose(published, published[0] + k / 100.0, rtol=0, atol=1e-9)  # grid rows only
    assert np.array_equal(k, np.arange(k.size))
    assert not any(b.aux.get("provisional", np.zeros(0, bool)).any() for b in model.blocks)
    # The EMG grid saw provisional rows: it changes between two model-grid points, not only at them.
    e = np.concatenate([b.data for b in emg.blocks])[:, 0]
    te = np.concatenate([b.timestamps for b in emg.blocks])
    inside = (te > published[5]) & (te < published[-1])
    steps = np.flatnonzero(np.diff(e[inside]) != 0)
    assert steps.size > 5 * np.count_nonzero(np.diff(np.floor((te[inside] - published[0]) * 100.0)))


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


def test_provisional_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="'provisional' must be True or False"):
        ModelActivationStage(make_checkpoint(), provisional="yes")
