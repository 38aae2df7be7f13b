"""Provenance: which IMU sample each EMG block is the newest consequence of, carried by the blocks.

The activation stages name the IMU sample behind each row (aux ``imu_seq``/``imu_time``), the
engine-grid resampler names the row behind each block's last sample (``events["provenance"]``),
the runner publishes it (``realtime.app.provenance``).
"""

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
    provenance_stream_spec,
)
from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings
from realtime.core.block import Block, regular_timestamps
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS
from realtime.stages.grid import GridResampler
from realtime.stages.teacher import TeacherActivation
from tests.helpers.scripted import CopyEngine, ScriptedImu

MUSCLES = ("m1", "m2")


def _imu(t: np.ndarray, seq: int, data: np.ndarray | None = None) -> Block:
    if data is None:
        data = np.zeros((t.size, 6), np.float32)
    return Block(np.ascontiguousarray(data, np.float32), np.asarray(t, float), 1000.0, seq, IMU_CHANNELS)


def _act(t: np.ndarray, imu_seq, imu_time) -> Block:  # noqa: ANN001
    """Activation rows at times ``t`` produced by the IMU samples ``imu_seq`` (stamped ``imu_time``)."""
    t = np.asarray(t, float)
    aux = {"imu_seq": np.asarray(imu_seq, np.int64), "imu_time": np.asarray(imu_time, float)}
    return Block(np.zeros((t.size, 2), np.float32), t, 100.0, 0, MUSCLES, aux)


class Grid:
    """A 10 kHz engine grid from t = 0.9 s that answers "provenance at time t" by pulling up to t."""

    def __init__(self) -> None:
        self.grid = GridResampler(10_000.0)
        self.grid.reset(StreamFormat(fs=100.0, channels=MUSCLES), t0=0.9)
        self.n = 0

    @staticmethod
    def t(x: float) -> float:
        """The grid time nearest ``x``, exactly as the grid computes it (rows placed there fall on it)."""
        return float(regular_timestamps(0.9, 10_000.0, int(round((x - 0.9) * 10_000.0)), 1)[0])

    def push(self, t_rows: list[float], imu_seq: list[int], imu_time: list[float], read_time: float) -> None:
        act = _act([self.t(x) for x in t_rows], imu_seq, imu_time)
        self.grid.push(act, _imu(np.zeros(0), 0), read_time)

    def at(self, t_last: float) -> np.ndarray:
        """Provenance ``(imu_time, imu_seq, read_time)`` of a block whose last sample is at ``t_last``."""
        k = int(round((t_last - 0.9) * 10_000.0))
        blk = self.grid.pull(k + 1 - self.n)
        self.n = k + 1
        assert blk.timestamps[-1] == self.t(t_last)
        return blk.events["provenance"]


def test_the_grid_names_the_row_its_last_sample_uses_held_or_right_neighbour() -> None:
    g = Grid()
    # Rows at 1.000, 1.005, 1.010, 1.015 produced by IMU samples 10, 12, 13, 14 (at 1.000 ... 1.016).
    g.push([1.000, 1.005, 1.010, 1.015], [10, 12, 13, 14], [1.000, 1.008, 1.012, 1.016], read_time=2.0)
    before = g.at(0.95)  # before every row: no provenance
    assert before[1] == -1
    assert np.isnan(before[0]) and np.isnan(before[2])
    assert g.at(1.005)[1] == 12  # exactly on a row: that row only
    imu_time, imu_seq, read_time = g.at(1.007)  # between rows: the next row has a non-zero weight
    assert (imu_seq, imu_time, read_time) == (13, pytest.approx(1.012), 2.0)
    assert g.at(1.5)[1] == 14  # after every row: the newest is held
    # A later read: rows not newer than the newest held are dropped (as the resampler drops them).
    g.push([1.015, 1.020], [15, 16], [1.020, 1.024], read_time=3.0)
    imu_time, imu_seq, read_time = g.at(1.6)
    assert (imu_seq, read_time) == (16, 3.0)


def test_a_provisional_row_reaches_the_next_emg_block() -> None:
    """A row stamped with the newest IMU sample (a provisional row) makes that sample the provenance of
    the EMG block computed after it, whether the block ends after the row (held) or before it
    (right neighbour of the interpolation); a block ending exactly on the previous row does not use it."""
    g = Grid()
    g.push([1.010], [10], [1.0105], read_time=1.011)
    assert g.at(1.0105)[1] == 10  # the committed row's sample
    g.push([1.0125], [12], [1.0125], read_time=1.013)
    assert g.at(1.0130)[1] == 12  # held
    g.push([1.0135], [13], [1.0135], read_time=1.0136)
    assert g.at(1.0133)[1] == 13  # interpolated towards it
    g.push([1.0145], [14], [1.0145], read_time=1.0146)
    assert g.at(1.0135)[1] == 13  # ends on the older row
    assert g.at(1.0145)[1] == 14


def test_teacher_rows_are_their_own_samples() -> None:
    imu = _imu(np.array([1.0, 1.01, 1.02]), 40).replace(aux={"activation": np.zeros((3, 2), np.float32)})
    act = TeacherActivation(MUSCLES).process(imu)
    assert act.aux["imu_seq"].tolist() == [40, 41, 42]
    np.testing.assert_array_equal(act.aux["imu_time"], imu.timestamps)


@pytest.mark.parametrize("provisional", [True, False], ids=["provisional", "grid-only"])
def test_model_stage_rows_name_the_sample_whose_arrival_completed_them(provisional: bool) -> None:
    """Feeding the network stage one sample at a time shows which sample emits each row; any chunking
    gives the same committed rows with the same samples in their aux["imu_seq"]; a provisional row
    stands at the newest sample of its read and names that sample. NaN samples complete no row."""
    from realtime.stages.model.stage import ModelActivationStage

    rng = np.random.default_rng(0)
    n = 600
    t = 50.0 + np.cumsum(rng.uniform(0.6e-3, 1.4e-3, n))  # ~1 kHz with jitter
    x = rng.normal(0, 1, (n, 6)).astype(np.float32)
    x[rng.choice(n, 30, replace=False), 2] = np.nan
    valid = np.isfinite(x).all(axis=1)
    stage = ModelActivationStage(None, provisional=provisional)
    stage.reset()
    truth, grid = {}, set()
    for i in range(n):
        out = stage.process(_imu(t[i:i + 1], i, x[i:i + 1]))
        assert out.aux["imu_seq"].tolist() == [i] * out.n_samples
        for g, p in zip(out.timestamps, out.aux["provisional"]):
            truth[float(g)] = i
            if not p:
                grid.add(float(g))
    assert len(grid) > 50
    assert (len(truth) > 500) is provisional
    assert all(valid[i] for i in truth.values())  # a NaN sample never completes a row

    stage.reset()
    cuts = np.sort(rng.choice(np.arange(1, n), 120, replace=False))
    attributed, provisional_rows = {}, {}
    for a, b in zip([0, *cuts], [*cuts, n]):
        act = stage.process(_imu(t[a:b], a, x[a:b]))
        np.testing.assert_array_equal(act.aux["imu_time"], t[act.aux["imu_seq"]])
        for g, p, s in zip(act.timestamps, act.aux["provisional"], act.aux["imu_seq"]):
            attributed[float(g)] = int(s)
            if p:
                provisional_rows[float(g)] = int(np.flatnonzero(valid[a:b])[-1]) + a
    assert {g: attributed[g] for g in grid} == {g: truth[g] for g in grid}  # every grid row, same sample
    assert set(attributed) - grid == set(provisional_rows)
    assert {g: attributed[g] for g in provisional_rows} == provisional_rows  # the newest valid sample of the read
    assert (len(provisional_rows) > 100) is provisional


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
    pipe = Pipeline(ScriptedImu(fake_clock, lambda t, k: np.stack([k, k], axis=1)), TeacherActivation(MUSCLES), [engine],
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
    output_format = StreamFormat(fs=1000.0, channels=IMU_CHANNELS)

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
    pipe = Pipeline(source, stage, [CopyEngine(fake_clock)],
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
