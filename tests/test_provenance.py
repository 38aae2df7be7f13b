"""Provenance: which IMU sample each EMG block is the newest consequence of (realtime.app.provenance)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.app.provenance import (
    EMG_INDEX,
    EMG_PUSH_TIME,
    EMG_SAMPLES,
    IMU_READ_TIME,
    IMU_SEQ,
    IMU_TIME,
    PROVENANCE_CHANNELS,
    ProvenanceTracker,
)
from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings, TeacherActivation
from realtime.core.block import Block, regular_timestamps
from realtime.core.schemas import provenance_stream_spec
from realtime.core.units import IMU_CHANNELS
from tests.scripted import CopyEngine, ScriptedImu

MUSCLES = ("m1", "m2")


def _imu(t: np.ndarray, seq: int, data: np.ndarray | None = None) -> Block:
    if data is None:
        data = np.zeros((t.size, 6), np.float32)
    return Block(np.ascontiguousarray(data, np.float32), np.asarray(t, float), 1000.0, seq, IMU_CHANNELS)


def _act(t: np.ndarray) -> Block:
    return Block(np.zeros((t.size, 2), np.float32), np.asarray(t, float), 100.0, 0, MUSCLES)


def test_rows_are_attributed_to_the_first_sample_at_or_after_them_and_the_grid_uses_neighbours() -> None:
    tr = ProvenanceTracker(capacity=2)  # tiny: forces the buffers to grow and compact
    # IMU samples 10..14 at 1.000, 1.004, ..., activation rows at 1.000, 1.005, 1.010, 1.015
    imu = _imu(1.0 + 0.004 * np.arange(5), seq=10)
    tr.activation(imu, _act(np.array([1.000, 1.005, 1.010, 1.015])), read_time=2.0)
    # row 1.000 <- sample 10 (same time), 1.005 <- 12 (1.008), 1.010 <- 13 (1.012), 1.015 <- 14 (1.016)
    row = tr.emg(0, 2, t_last=0.5, push_time=2.1)  # before every row: no provenance
    assert row[IMU_SEQ] == -1
    assert np.isnan(row[IMU_TIME])
    assert np.isnan(row[IMU_READ_TIME])
    assert (row[EMG_INDEX], row[EMG_SAMPLES], row[EMG_PUSH_TIME]) == (0, 2, 2.1)
    assert tr.emg(2, 2, t_last=1.005, push_time=2.2)[IMU_SEQ] == 12  # exactly on a row: that row only
    row = tr.emg(4, 2, t_last=1.007, push_time=2.3)  # between rows: the next row has a non-zero weight
    assert row[IMU_SEQ] == 13
    assert row[IMU_TIME] == pytest.approx(1.012)
    assert row[IMU_READ_TIME] == 2.0
    assert tr.emg(6, 2, t_last=1.5, push_time=2.4)[IMU_SEQ] == 14  # after every row: the newest is held
    # A later read: rows not newer than the newest held are dropped (as the resampler drops them).
    tr.activation(_imu(np.array([1.020, 1.024]), seq=15), _act(np.array([1.015, 1.020])), read_time=3.0)
    row = tr.emg(8, 2, t_last=1.6, push_time=3.1)
    assert row[IMU_SEQ] == 15
    assert row[IMU_READ_TIME] == 3.0
    assert tr.n_pending == 1


def test_non_finite_imu_samples_cannot_complete_a_row() -> None:
    tr = ProvenanceTracker()
    data = np.zeros((3, 6), np.float32)
    data[1, 2] = np.nan
    tr.activation(_imu(np.array([1.0, 1.01, 1.02]), 0, data), _act(np.array([1.0, 1.01])), read_time=1.5)
    assert tr.emg(0, 1, t_last=1.01, push_time=1.6)[IMU_SEQ] == 2  # sample 1 is NaN: sample 2 completed 1.01


@pytest.mark.parametrize("provisional", [True, False], ids=["provisional", "grid-only"])
def test_model_stage_rows_map_to_the_sample_whose_arrival_completed_them(provisional: bool) -> None:
    """Feeding the network stage one sample at a time shows which sample emits each row; any
    chunking must give the tracker the same attribution. Committed grid rows are the same for every
    chunking; a provisional row stands at the newest sample of its read and names that sample."""
    from realtime.stages.model.stage import ModelActivationStage

    rng = np.random.default_rng(0)
    n = 600
    t = 50.0 + np.cumsum(rng.uniform(0.6e-3, 1.4e-3, n))  # ~1 kHz with jitter
    x = rng.normal(0, 1, (n, 6)).astype(np.float32)
    stage = ModelActivationStage(None, provisional=provisional)
    stage.reset()
    truth, grid = {}, set()
    for i in range(n):
        out = stage.process(_imu(t[i:i + 1], i, x[i:i + 1]))
        for g, p in zip(out.timestamps, out.aux["provisional"]):
            truth[float(g)] = i
            if not p:
                grid.add(float(g))
        # with provisional rows every sample has a row in its own read (the last row of the block)
        assert bool(out.n_samples > 0 and out.timestamps[-1] == t[i]) is (provisional or float(t[i]) in grid)
    assert len(grid) > 50
    assert (len(truth) > 500) is provisional

    stage.reset()
    tr = ProvenanceTracker()
    cuts = np.sort(rng.choice(np.arange(1, n), 120, replace=False))
    attributed, provisional_rows = {}, {}
    for a, b in zip([0, *cuts], [*cuts, n]):
        act = stage.process(_imu(t[a:b], a, x[a:b]))
        tr.activation(_imu(t[a:b], a, x[a:b]), act, read_time=float(t[b - 1]))
        for g, p in zip(act.timestamps, act.aux["provisional"]):  # ask for each row exactly at its own time
            attributed[float(g)] = int(tr.emg(0, 1, float(g), 0.0)[IMU_SEQ])
            if p:
                provisional_rows[float(g)] = b - 1
    assert {g: attributed[g] for g in grid} == {g: truth[g] for g in grid}  # every grid row, same sample
    assert set(attributed) - grid == set(provisional_rows)
    assert {g: attributed[g] for g in provisional_rows} == provisional_rows  # the newest sample of the read
    assert all(truth[g] == i for g, i in provisional_rows.items())
    assert (len(provisional_rows) > 100) is provisional


def test_the_one_row_shortcut_gives_what_the_general_rule_gives(monkeypatch) -> None:  # noqa: ANN001
    """Reads of one to three samples (some NaN, some repeating a time), each with zero to two rows at
    sample times, between them or after them; the tracker with and without its one-row shortcut agrees on every row."""
    rng = np.random.default_rng(4)
    general = ProvenanceTracker(capacity=4)
    monkeypatch.setattr(general, "_one_row_at_newest_sample", lambda *a: False)
    fast = ProvenanceTracker(capacity=4)
    taken = []
    original = fast._one_row_at_newest_sample
    monkeypatch.setattr(fast, "_one_row_at_newest_sample", lambda *a: taken.append(original(*a)) or taken[-1])
    t, k, n_emg = 10.0, 0, 0
    for _ in range(600):
        n = int(rng.integers(1, 4))
        ts = t + np.cumsum(rng.choice([0.0, 1e-3, 1e-3, 1e-3], n)) + 1e-3
        data = np.zeros((n, 6), np.float32)
        if rng.uniform() < 0.1:
            data[rng.integers(n), 0] = np.nan
        m = int(rng.choice([0, 1, 1, 1, 2]))
        kind = rng.uniform()
        if kind < 0.8:  # rows at sample times
            rows = np.sort(rng.choice(ts, m))
        else:  # rows between samples or after the newest (then a later row may not be newer than held)
            rows = np.sort(ts[-1] + rng.uniform(-2e-3, 3e-3, m))
        imu, act = _imu(ts, k, data), _act(rows)
        general.activation(imu, act, read_time=float(ts[-1]))
        fast.activation(imu, act, read_time=float(ts[-1]))
        t_last = float(ts[-1]) + rng.choice([-1e-3, 0.0, 0.5e-3])
        np.testing.assert_array_equal(general.emg(n_emg, 2, t_last, 1.0), fast.emg(n_emg, 2, t_last, 1.0))
        t, k, n_emg = float(ts[-1]), k + n, n_emg + 2
    assert general.n_pending == fast.n_pending
    assert 50 < sum(taken) < len(taken)  # the shortcut was taken, and refused too


def test_a_provisional_row_reaches_the_next_emg_block() -> None:
    """A row stamped with the newest IMU sample (a provisional row) makes that sample the provenance of
    the EMG block computed after it, whether the block ends after the row (held) or before it
    (right neighbour of the interpolation); a block ending exactly on the previous row does not use it."""
    tr = ProvenanceTracker()
    tr.activation(_imu(np.array([1.0095, 1.0105]), seq=9), _act(np.array([1.010])), read_time=1.011)
    assert tr.emg(0, 2, t_last=1.0105, push_time=1.011)[IMU_SEQ] == 10  # the committed row's sample
    tr.activation(_imu(np.array([1.0115, 1.0125]), seq=11), _act(np.array([1.0125])), read_time=1.013)
    assert tr.emg(2, 2, t_last=1.0130, push_time=1.013)[IMU_SEQ] == 12  # held
    tr.activation(_imu(np.array([1.0135]), seq=13), _act(np.array([1.0135])), read_time=1.0136)
    assert tr.emg(4, 2, t_last=1.0133, push_time=1.0136)[IMU_SEQ] == 13  # interpolated towards it
    tr.activation(_imu(np.array([1.0145]), seq=14), _act(np.array([1.0145])), read_time=1.0146)
    assert tr.emg(6, 2, t_last=1.0135, push_time=1.0146)[IMU_SEQ] == 13  # ends on the older row
    assert tr.emg(8, 2, t_last=1.0145, push_time=1.0151)[IMU_SEQ] == 14


class Collect:
    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.stamps: list[float] = []
        self.blocks: list[Block] = []

    def provenance(self, row: np.ndarray, timestamp: float) -> None:
        self.rows.append(row.copy())
        self.stamps.append(timestamp)

    def write(self, block: Block) -> None:
        self.blocks.append(block)


@pytest.mark.parametrize("slow", [False, True])
def test_pipeline_publishes_one_row_per_block_naming_the_sample_the_emg_shows(fake_clock, slow: bool) -> None:
    sink = Collect()
    engine = CopyEngine(fake_clock, frozenset({50, 51, 52}) if slow else frozenset(), cost=0.037)
    pipe = Pipeline(ScriptedImu(fake_clock, lambda t, k: np.stack([k, k], axis=1)), TeacherActivation(MUSCLES), engine, MUSCLES,
                    PipelineOutputs(emg=sink, provenance=sink.provenance),
                    PipelineSettings(fs=1000.0, block_size=4, duration=0.5), clock=fake_clock,
                    sleep=fake_clock.sleep)
    pipe.run()
    rows = np.array(sink.rows)
    assert rows.shape == (125, len(PROVENANCE_CHANNELS))
    assert np.array_equal(rows[:, EMG_INDEX], np.arange(0, 500, 4))
    assert np.all(rows[:, EMG_SAMPLES] == 4)
    assert np.array_equal(sink.stamps, [b.timestamps[-1] for b in sink.blocks])
    seq = rows[:, IMU_SEQ]
    assert np.all(seq >= 0)
    assert np.all(np.diff(seq) >= 0)
    assert np.all(rows[:, IMU_READ_TIME] <= rows[:, EMG_PUSH_TIME])
    assert np.all(rows[:, IMU_TIME] == pipe.stats.t0 + seq / 100.0)
    last = np.array([b.data[-1, 0] for b in sink.blocks])  # EMG = activation = IMU sample index
    held = last == seq  # the provenance sample is the one held ...
    between = (last > seq - 1) & (last < seq)  # ... or the right neighbour of an interpolation
    assert np.all(held | between)
    if slow:  # falling behind, the runner computes past blocks with newer samples already read
        assert pipe.stats.late_ticks > 0
        assert between.any()
    else:
        assert held.all()
    assert pipe.stats.newest_imu_seq == int(seq[-1])
    assert pipe.stats.newest_imu_time == rows[-1, IMU_TIME]


class Sine1k:
    """1 kHz IMU on the fake clock that remembers the newest sample index of every read."""

    fs = 1000.0

    def __init__(self, clock) -> None:  # noqa: ANN001
        self.clock, self.running, self.k, self.newest = clock, False, 0, []

    def start(self) -> None:
        self.running, self.t0, self.k = True, self.clock(), 0

    def stop(self) -> None:
        self.running = False

    def read(self) -> Block:
        n = max(int(np.floor((self.clock() - self.t0) * self.fs + 1e-9)) + 1 - self.k, 0)
        t = regular_timestamps(self.t0, self.fs, self.k, n)
        x = np.sin(2 * np.pi * t[:, None] * [1, 2, 3, 1, 2, 3]) * 5.0
        self.k += n
        self.newest.append(self.k - 1)
        return Block(x.astype(np.float32), t, self.fs, self.k - n, IMU_CHANNELS)


@pytest.mark.parametrize("provisional", [True, False], ids=["provisional", "grid-only"])
def test_with_provisional_rows_each_block_names_the_newest_sample_read(fake_clock, provisional: bool) -> None:
    """2 kHz, block 2, 1 kHz IMU: with provisional rows the EMG block of a tick includes the newest IMU
    sample that tick read; with grid rows only, a sample waits for the next 100 Hz grid point."""
    from realtime.stages.model.stage import ModelActivationStage

    sink = Collect()
    source = Sine1k(fake_clock)
    stage = ModelActivationStage(None, provisional=provisional)
    pipe = Pipeline(source, stage, CopyEngine(fake_clock), stage.channels,
                    PipelineOutputs(emg=sink, provenance=sink.provenance),
                    PipelineSettings(fs=2000.0, block_size=2, duration=0.5), clock=fake_clock,
                    sleep=fake_clock.sleep)
    pipe.run()
    seq = np.array(sink.rows)[:, IMU_SEQ]
    newest = np.array(source.newest)
    assert seq.size == newest.size == 500
    lag = newest - seq  # IMU samples read but not yet included
    assert np.all(seq >= 0)
    assert np.all(lag >= 0)
    if provisional:
        assert np.all(lag == 0)
    else:
        assert lag.max() == 9
        assert 3.5 < lag.mean() < 5.5


def test_provenance_stream_spec_is_a_regular_double_stream_at_the_block_rate() -> None:
    spec = provenance_stream_spec("p", 2000.0, 4)
    assert spec.name == "p-provenance"
    assert spec.type == "Provenance"
    assert spec.fs == 500.0
    assert spec.channel_format == "double64"
    assert [c.label for c in spec.channels] == list(PROVENANCE_CHANNELS)
    with pytest.raises(ValueError, match="capacity"):
        ProvenanceTracker(capacity=0)
