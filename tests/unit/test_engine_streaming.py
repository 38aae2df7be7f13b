"""Streaming engine == offline engine, overlap-add == np.convolve reference, causality, block API."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from realtime.app.bench.reference import reference_emg, spike_trains
from realtime.core.anatomy import MUSCLES
from realtime.core.block import Block, empty_block
from realtime.stages.engine import Discharges, EmgEngine, EngineSettings, simulate_emg
from realtime.stages.engine.overlap_add import add_discharges, read_block
from realtime.stages.engine.posture import build_grid


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


FS = 2000.0
SETTINGS = EngineSettings(units_per_muscle=8, fs=FS, seed=3)


def _activation(n: int, n_muscles: int = 8, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    walk = 0.45 + np.cumsum(rng.normal(0.0, 0.01, (n, n_muscles)), axis=0)
    act = np.clip(walk, 0.0, 1.0)
    act[:200] = 0.0  # start at rest
    return act.astype(np.float32)


def _stream(
    engine: EmgEngine,
    act: np.ndarray,
    block: int,
    channels: tuple[str, ...] = MUSCLES,
    t0: float = 100.0,
) -> tuple[list[Block], list]:
    outs, discharges = [], []
    for seq in range(0, act.shape[0], block):
        data = np.ascontiguousarray(act[seq : seq + block])
        blk = Block(data, t0 + np.arange(seq, seq + data.shape[0]) / FS, FS, seq, channels)
        out = engine.process(blk)
        outs.append(out)
        discharges.append(out.events.get("discharges", Discharges.empty()))
    return outs, discharges


@pytest.fixture(scope="module")
def offline() -> tuple[np.ndarray, np.ndarray, object]:
    act = _activation(3000)
    emg, dis = simulate_emg(act, SETTINGS, return_discharges=True)
    return act, emg, dis


@pytest.fixture(scope="module")
def engine() -> EmgEngine:
    return EmgEngine(SETTINGS)


@pytest.mark.parametrize("block", [1, 7, 40])
def test_streaming_equals_offline(engine: EmgEngine, offline: tuple, block: int) -> None:
    act, emg, dis = offline
    engine.reset(max_block=block)
    outs, discharges = _stream(engine, act, block)
    streamed = np.concatenate([b.data for b in outs])
    assert len(dis) > 500
    np.testing.assert_array_equal(streamed, emg)  # bit-identical for any block size
    np.testing.assert_array_equal(np.concatenate([d.sample for d in discharges]), dis.sample)
    np.testing.assert_array_equal(np.concatenate([d.unit for d in discharges]), dis.unit)
    np.testing.assert_array_equal(np.concatenate([d.muscle for d in discharges]), dis.muscle)


def test_output_blocks_keep_timing_and_use_layout_labels(engine: EmgEngine, offline: tuple) -> None:
    act = offline[0]
    engine.reset(max_block=16)
    outs, _ = _stream(engine, act[:64], 16)
    for k, out in enumerate(outs):
        assert out.channels == engine.layout.channels == tuple(f"EMG{i}" for i in range(1, 9))
        assert out.seq == 16 * k
        assert out.fs == FS
        assert out.data.dtype == np.float32
        assert out.data.flags.c_contiguous
        np.testing.assert_array_equal(out.timestamps, 100.0 + np.arange(16 * k, 16 * k + 16) / FS)


def test_reset_restarts_from_the_seed_and_large_blocks_grow(
    engine: EmgEngine, offline: tuple
) -> None:
    act, emg, _ = offline
    engine.reset(max_block=10)
    first = np.concatenate([b.data for b in _stream(engine, act[:500], 10)[0]])
    # Blocks larger than max_block are accepted (buffers grow) and stay exact.
    rest = np.concatenate([b.data for b in _stream(engine, act[500:], 333, t0=100.0 + 500 / FS)[0]])
    np.testing.assert_array_equal(np.concatenate([first, rest]), emg)
    engine.reset(max_block=10)
    again = np.concatenate([b.data for b in _stream(engine, act[:500], 10)[0]])
    np.testing.assert_array_equal(again, first)


def test_extra_and_reordered_activation_columns(engine: EmgEngine, offline: tuple) -> None:
    act, emg, _ = offline
    order = list(reversed(MUSCLES)) + ["something_else"]
    wide = np.hstack([act[:, ::-1], np.full((act.shape[0], 1), 0.9, np.float32)])
    engine.reset(max_block=40)
    outs, _ = _stream(engine, wide, 40, channels=tuple(order))
    np.testing.assert_array_equal(np.concatenate([b.data for b in outs]), emg)


def test_empty_block(engine: EmgEngine) -> None:
    engine.reset(max_block=8)
    out = engine.process(empty_block(MUSCLES, FS, seq=42))
    assert out.data.shape == (0, 8)
    assert out.seq == 42
    assert out.channels == engine.channels
    assert "discharges" not in out.events


def test_engine_matches_convolution_reference(offline: tuple, engine: EmgEngine) -> None:
    act, emg, dis = offline
    units = engine.pool.starts[dis.muscle] + dis.unit
    trains = spike_trains(dis.sample, units, engine.pool.n_units, act.shape[0])
    assert trains.max() == 1.0
    ref = reference_emg(trains, engine.muaps)
    np.testing.assert_allclose(emg, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_overlap_add_keeps_overlapping_discharges_and_tails() -> None:
    rng = np.random.default_rng(0)
    n_l, n_c = 12, 5
    rows = np.array([12, 7, 10])  # truncated tables of different lengths
    scale = rng.uniform(0.5, 2.0, 3).astype(np.float32)
    tabs = [rng.integers(-30000, 30000, (r, n_c)).astype(np.int16) for r in rows]
    seg = -(-rows * n_c // 16) * 16  # zero-padded to whole vectors, as MuapTables stores them
    data = np.concatenate([np.pad(t.ravel(), (0, g - t.size)) for t, g in zip(tabs, seg)])
    offset = np.concatenate([[0], np.cumsum(seg)[:-1]]).astype(np.int64)
    unit_info = np.column_stack([rows, offset, np.arange(3), seg]).astype(np.int64)
    grid = build_grid(("biceps", "triceps", "supinator"), (1, 1, 1), dynamic=False)
    muaps = np.zeros((3, n_l, n_c))
    for u in range(3):
        muaps[u, : rows[u]] = tabs[u] * np.float64(scale[u])
    n = 50
    # Unit 0 fires three times within one MUAP length; discharges near the end leave tails.
    spk_sample = np.array([0, 0, 3, 5, 20, 20, 44, 49], np.int32)
    spk_unit = np.array([0, 2, 0, 0, 1, 1, 2, 0], np.int32)
    trains = spike_trains(spk_sample, spk_unit, 3, n + n_l)
    ref = reference_emg(trains, muaps)
    acc = np.zeros((n + n_l - 1) * n_c + 16, np.float32)
    add_discharges(
        acc, n_c, spk_sample, spk_unit, spk_sample.size, np.zeros((n, 3), np.float32), unit_info,
        *grid.kernel_arrays(),
        np.zeros(3), data, scale, np.zeros((n * 3, 5), np.int64), np.zeros((n * 3, 4), np.float32),
    )  # fmt: skip
    out = np.empty((n, n_c), np.float32)
    read_block(acc, out, n_l - 1)
    np.testing.assert_allclose(out, ref[:n], rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    # The tails moved to the front of the accumulator; everything after them is zero.
    tails = acc[: (n_l - 1) * n_c].reshape(n_l - 1, n_c)
    np.testing.assert_allclose(
        tails, ref[n : n + n_l - 1], rtol=1e-6, atol=1e-6 * np.abs(ref).max()
    )
    assert not acc[(n_l - 1) * n_c :].any()


def test_causality(engine: EmgEngine) -> None:
    act = np.zeros((2000, 8), np.float32)
    act[700:] = 0.6
    engine.reset(max_block=25)
    outs, discharges = _stream(engine, act, 25)
    emg = np.concatenate([b.data for b in outs])
    first = min(int(d.sample.min()) for d in discharges if len(d))
    assert first >= 700
    assert not emg[:first].any()  # exactly zero before the first discharge
    assert np.abs(emg[first : first + engine.settings.muap_samples]).max() > 0.0


def test_discharge_instants_do_not_depend_on_the_layout(offline: tuple) -> None:
    """The spike ground truth is the discharge instant: the same for every layout; the onset is per layout."""
    act, _, dis = offline
    for layout in ("grid13x5", "muscle_pairs"):
        settings = EngineSettings(units_per_muscle=8, fs=FS, seed=3, layout=layout)
        _, other = simulate_emg(act, settings, return_discharges=True)
        np.testing.assert_array_equal(other.sample, dis.sample)
        np.testing.assert_array_equal(other.unit, dis.unit)
        np.testing.assert_array_equal(other.muscle, dis.muscle)
    engine = EmgEngine(EngineSettings(units_per_muscle=8, fs=FS, seed=3, layout="grid13x5"))
    onsets = engine.muap_onsets()
    assert onsets.shape == (engine.pool.n_units, engine.n_channels)
    assert onsets.min() >= 0  # every unit reaches every channel (a volume conductor has no zeros)
    mag = np.abs(engine.muaps)
    u, c = 0, int(mag[0].max(axis=0).argmax())
    k = int(onsets[u, c])
    assert mag[u, k, c] >= 0.05 * mag[u, :, c].max() > mag[u, :k, c].max(initial=0.0)
    with pytest.raises(ValueError, match="fraction"):
        engine.muap_onsets(0.0)
