"""Kernel building blocks: LLVM intrinsics, the vectorised pool scan, held postures, Block.trusted."""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

import numpy as np
import pytest
from numba import njit

from realtime.core.block import NO_AUX, Block
from realtime.stages.engine import EmgEngine, EngineSettings, simulate_emg
from realtime.stages.engine.intrinsics import MASK_LANES, le_zero_mask16, lowest_bit, prefetch
from realtime.stages.engine.pointer_table import PointerTable, slot_1d, slot_2d, slot_3d
from realtime.stages.engine.pool import _draw_target, advance_pool, build_pools, initial_state
from realtime.stages.engine.rng import uniform


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


@njit(cache=True)
def _due_units(values: np.ndarray, start: int) -> np.ndarray:
    """Indices ``start + k`` with ``values[start + k] <= 0`` (k < 16), from the mask and its bits."""
    bits = le_zero_mask16(values, start)
    out = np.empty(MASK_LANES, np.int64)
    n = 0
    while bits:
        out[n] = start + lowest_bit(bits)
        bits &= bits - np.uint64(1)
        n += 1
    return out[:n]


@njit(cache=True)
def _sum_with_prefetch(values: np.ndarray) -> float:
    total = 0.0
    for i in range(values.size):
        prefetch(values, i + 1000)  # far past the end: a hint, never a load or a fault
        total += values[i]
    return total


def test_le_zero_mask16_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 1.0, 100).astype(np.float32)
    values[[3, 17, 40, 41]] = [0.0, -0.0, np.nan, -np.inf]
    for start in (0, 1, 3, 17, 40, 84):
        expected = start + np.flatnonzero(values[start : start + MASK_LANES] <= 0.0)
        np.testing.assert_array_equal(_due_units(values, start), expected)
    assert 40 not in _due_units(values, 30)  # NaN is never due
    assert _due_units(np.ones(16, np.float32), 0).size == 0


def test_prefetch_changes_nothing() -> None:
    values = np.arange(50, dtype=np.float64)
    assert _sum_with_prefetch(values) == values.sum()


def _reference_pool(drive: np.ndarray, settings: EngineSettings) -> tuple[np.ndarray, np.ndarray]:
    """The discharge rule of pool.py, unit by unit in plain Python (float32 arithmetic, same streams)."""
    pool = build_pools(settings)
    remaining, n_active, rng = initial_state(pool, settings.seed)
    ktab = pool.kernel_table(settings.fs)
    thr, gain, base, peak = ktab
    cv = pool.isi_cv
    samples, units = [], []
    for t in range(drive.shape[0]):
        for m in range(settings.n_muscles):
            d = float(drive[t, m])
            e = np.float32(min(d, 1.0) if d > 0.0 else 0.0)  # NaN and negative: 0
            s0, s1 = int(pool.starts[m]), int(pool.starts[m + 1])
            na = int(n_active[m])
            while na > 0 and thr[s0 + na - 1] > e:
                na -= 1
            while s0 + na < s1 and thr[s0 + na] <= e:
                u = s0 + na
                remaining[u] = np.float32(uniform(rng, u) * _draw_target(rng, u, cv))
                na += 1
            n_active[m] = na
            for u in range(s0, s0 + na):
                r = base[u] + gain[u] * e
                if r > peak[u]:
                    r = peak[u]
                remaining[u] = remaining[u] - r
            for u in range(s0, s0 + na):
                if remaining[u] <= 0.0:
                    samples.append(t)
                    units.append(u)
                    remaining[u] += np.float32(_draw_target(rng, u, cv))
    return np.array(samples, np.int64), np.array(units, np.int64)


@pytest.mark.parametrize("block", [1, 37, 600])
def test_vectorised_pool_scan_equals_the_unit_by_unit_rule(block: int) -> None:
    # 37 and 21 units: full 16-unit chunks and a remainder; drive that recruits, de-recruits and saturates.
    settings = EngineSettings(
        muscles=("wrist_flexors", "biceps"), units_per_muscle=37, fs=2000.0, seed=5
    )
    n = 600
    t = np.arange(n) / 2000.0
    drive = np.stack(
        [0.55 + 0.5 * np.sin(2 * np.pi * 3.0 * t), np.clip(1.2 * t / t[-1], 0.0, 1.0)], axis=1
    ).astype(np.float32)
    drive[100:110, 0] = np.nan  # NaN counts as 0
    ref_samples, ref_units = _reference_pool(drive, settings)
    assert ref_samples.size > 250
    pool = build_pools(settings)
    remaining, n_active, rng = initial_state(pool, settings.seed)
    ktab = pool.kernel_table(settings.fs)
    cap = pool.max_spikes(block, settings.fs)
    spk_sample, spk_unit = np.zeros(cap, np.int32), np.zeros(cap, np.int32)
    samples, units = [], []
    for start in range(0, n, block):
        k = advance_pool(
            drive[start : start + block], np.arange(2), pool.starts, ktab, remaining, n_active,
            rng, pool.isi_cv, spk_sample, spk_unit,
        )  # fmt: skip
        samples.append(spk_sample[:k] + start)
        units.append(spk_unit[:k].copy())
    np.testing.assert_array_equal(np.concatenate(samples), ref_samples)
    np.testing.assert_array_equal(np.concatenate(units), ref_units)


def test_held_posture_reuses_weights_exactly() -> None:
    # Angles held for a few samples and changing mid-block: the kernel reuses a sample's weights when
    # its angles equal the previous sample's; the result must equal the per-discharge blended reference.
    settings = EngineSettings(
        muscles=("brachioradialis", "wrist_extensors"), units_per_muscle=12, fs=2000.0, seed=2,
        muaps="dynamic", posture_points=(3, 3, 3),
    )  # fmt: skip
    n = 1200
    act = np.full((n, 2), 0.7, np.float32)
    steps = np.repeat(np.arange(n // 3), 3)[:n]
    angles = np.stack(
        [1.2 + 0.6 * np.sin(steps / 40.0), 0.9 * np.cos(steps / 55.0), 0.4 * np.sin(steps / 30.0)],
        axis=1,
    ).astype(np.float32)
    emg, dis = simulate_emg(act, settings, angles=angles, return_discharges=True)
    engine = EmgEngine(settings)
    tables = engine.tables
    ref = np.zeros((n + tables.n_samples, engine.n_channels))
    for s, m, u in zip(dis.sample, dis.muscle, dis.unit):
        unit = int(engine.pool.starts[m] + u)
        ref[s : s + tables.n_samples] += tables.blended(unit, angles[s])
    np.testing.assert_allclose(emg, ref[:n], rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    engine.reset(max_block=4)  # blocks of 4 start at every phase of the 3-sample holds
    out = []
    for seq in range(0, n, 4):
        blk = Block(
            act[seq : seq + 4], np.arange(seq, seq + 4) / 2000.0, 2000.0, seq, settings.muscles,
            {"angles": angles[seq : seq + 4]},
        )  # fmt: skip
        out.append(engine.process(blk).data)
    np.testing.assert_array_equal(np.concatenate(out), emg)


def test_block_trusted_builds_the_same_block_without_checks() -> None:
    data = np.arange(8, dtype=np.float32).reshape(4, 2)
    ts = np.arange(4) / 100.0
    aux = MappingProxyType({"x": np.zeros((4, 1))})
    fast = Block.trusted(data, ts, 100.0, 7, ("a", "b"), aux)
    slow = Block(data, ts, 100.0, 7, ("a", "b"), aux)
    for name in ("data", "timestamps", "fs", "seq", "channels", "aux"):
        assert getattr(fast, name) is getattr(slow, name) or getattr(fast, name) == getattr(
            slow, name
        )
    assert (fast.n_samples, fast.n_channels) == (4, 2)
    assert fast.t_last == pytest.approx(0.03)
    assert Block.trusted(data, ts, 100.0, 7, ("a", "b")).aux is NO_AUX
    with pytest.raises(AttributeError):
        fast.seq = 8  # still frozen
    with pytest.raises(TypeError):
        fast.aux["y"] = np.zeros(4)  # read-only mapping


def test_engine_blocks_pass_the_validating_constructor() -> None:
    engine = EmgEngine(EngineSettings(units_per_muscle=3, seed=1))
    engine.reset(max_block=5)
    act = np.full((5, 8), 0.5, np.float32)
    out = engine.process(Block(act, np.arange(5) / 2000.0, 2000.0, 10, engine.settings.muscles))
    again = Block(out.data, out.timestamps, out.fs, out.seq, out.channels, out.aux)
    assert again.data is out.data
    assert again.aux == out.aux == {}
    assert isinstance(out.aux, MappingProxyType)


def test_process_before_reset_raises_with_the_fix() -> None:
    engine = EmgEngine(EngineSettings(units_per_muscle=2))
    act = np.zeros((4, 8), np.float32)
    block = Block(act, np.arange(4) / 2000.0, 2000.0, 0, engine.settings.muscles)
    with pytest.raises(RuntimeError, match=r"before reset\(\)\. Use EmgEngine\.reset"):
        engine.process(block)
    with pytest.raises(RuntimeError, match="before reset"):
        engine.process(Block(act[:0], np.zeros(0), 2000.0, 0, engine.settings.muscles))


@njit(cache=True)
def _read_and_write_slots(table: np.ndarray) -> float:  # pragma: no cover - numba
    a = slot_1d(table, 0, np.float32)
    b = slot_2d(table, 1, np.int64)
    c = slot_3d(table, 2, np.uint64)
    a[1] += np.float32(1.0)
    b[1, 2] = -7
    c[1, 0, 1] = 9
    return float(a.sum()) + float(b.sum()) + float(c.sum())


def test_pointer_table_gives_the_kernel_the_arrays_themselves() -> None:
    a = np.arange(5, dtype=np.float32)
    b = np.arange(6, dtype=np.int64).reshape(2, 3)
    c = np.zeros((2, 2, 2), np.uint64)
    table = PointerTable([(a, np.float32, 1), (b, np.int64, 2), (c, np.uint64, 3)])
    total = _read_and_write_slots(table.table)
    assert a.tolist() == [0.0, 2.0, 2.0, 3.0, 4.0]  # written in place: the caller sees it
    assert b.tolist() == [[0, 1, 2], [3, 4, -7]]
    assert c[1, 0, 1] == 9
    assert total == a.sum() + b.sum() + c.sum()
    assert table.arrays[0] is a  # the table keeps its arrays alive


def test_pointer_table_rejects_what_the_kernel_would_misread() -> None:
    with pytest.raises(
        TypeError, match=r"slot 0: the kernel reads a 1-D float32 array, got float64"
    ):
        PointerTable([(np.zeros(3), np.float32, 1)])
    with pytest.raises(
        TypeError, match=r"slot 1: the kernel reads a 2-D int64 array.*shape \(4,\)"
    ):
        PointerTable(
            [(np.zeros(3, np.float32), np.float32, 1), (np.zeros(4, np.int64), np.int64, 2)]
        )
    with pytest.raises(ValueError, match="slot 0: the array must be C-contiguous"):
        PointerTable([(np.zeros((4, 4), np.float32)[:, ::2], np.float32, 2)])
