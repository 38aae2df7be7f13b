"""The runner: exact timestamps, no dropped samples, late ticks, errors reach the caller.

The source and engine here are small deterministic stand-ins so that the
runner's own rules are tested in isolation; the end-to-end tests use the real
synthetic arm, engine and LSL outlets.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings
from realtime.core.block import Block
from realtime.core.contract import ChainError
from realtime.core.units import IMU_CHANNELS
from realtime.stages.teacher import TeacherActivation
from tests.helpers import wait_until
from tests.helpers.scripted import CopyEngine, ScriptedImu

MUSCLES = ("m1", "m2")


def ramp_source(clock) -> ScriptedImu:
    """100 Hz IMU whose activation is the time modulo 1 s (and 0.5), angles 0.1 rad/s ramps."""
    return ScriptedImu(
        clock,
        activation=lambda t, k: np.stack([t % 1.0, np.full_like(t, 0.5)], axis=1),
        angles=lambda t, k: np.repeat(t[:, None] * 0.1, 3, axis=1),
    )


class ListSink:
    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def write(self, block: Block) -> None:
        self.blocks.append(block)

    def cat(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.concatenate([b.timestamps for b in self.blocks]), np.concatenate([b.data for b in self.blocks]))


def _pipeline(clock, engine, settings, outputs) -> Pipeline:
    return Pipeline(ramp_source(clock), TeacherActivation(MUSCLES), [engine], outputs, settings,
                    clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize("block_size", [1, 4, 7, 40])
def test_exact_timestamps_and_sample_count(fake_clock, block_size: int) -> None:
    sink, truth = ListSink(), ListSink()
    settings = PipelineSettings(fs=2000.0, block_size=block_size, duration=1.5)
    pipe = _pipeline(fake_clock, CopyEngine(), settings, PipelineOutputs(emg=sink, activation_truth=truth))
    stats = pipe.run()
    t, x = sink.cat()
    assert stats.samples_sent == t.size == 3000
    assert stats.late_ticks == 0
    n = np.arange(3000)
    assert_allclose(t, stats.t0 + n / 2000.0, rtol=0, atol=1e-9)  # t0 + n / fs, no drift
    assert [b.seq for b in sink.blocks] == list(range(0, 3000, block_size))
    # The runner slept its way through: 1.5 s of fake time, to within one block.
    assert fake_clock.t - stats.t0 == pytest.approx(1.5, abs=block_size / 2000.0 + 1e-9)
    # The ground truth went out at the source's rate; the engine saw it resampled, never ahead of time.
    t_truth, _ = truth.cat()
    assert_allclose(np.diff(t_truth), 0.01, atol=1e-9)
    assert np.all(x[:, 0] <= (t - stats.t0) % 1.0 + 1e-6)


def test_posture_reaches_the_engine_on_its_grid(fake_clock) -> None:
    engine = CopyEngine()
    stats = _pipeline(fake_clock, engine, PipelineSettings(fs=1000.0, block_size=5, duration=1.0),
                      PipelineOutputs()).run()
    angles = np.concatenate(engine.angles)
    assert angles.shape == (1000, 3)
    t = stats.t0 + np.arange(1000) / 1000.0
    # The source's angles are 0.1 rad/s ramps sampled at 100 Hz: interpolated or held, never ahead.
    assert np.all(angles[:, 0] <= (t - stats.t0) * 0.1 + 1e-6)
    assert np.all(angles[:, 0] >= (t - stats.t0) * 0.1 - 0.1 * 0.01 - 1e-6)


def test_slow_stage_counts_late_ticks_and_still_computes_every_sample(fake_clock) -> None:
    sink = ListSink()
    # Calls 100 and 300 each take 50 ms of (fake) time: 25 blocks of 2 ms are owed afterwards.
    engine = CopyEngine(fake_clock, slow_calls=frozenset({100, 300}), cost=0.05)
    settings = PipelineSettings(fs=2000.0, block_size=4, duration=1.0)
    stats = _pipeline(fake_clock, engine, settings, PipelineOutputs(emg=sink)).run()
    t, _ = sink.cat()
    assert t.size == stats.samples_sent == 2000
    assert_allclose(np.diff(t), 1 / 2000.0, atol=1e-9)
    # After each stall, the blocks due more than one block period ago are late: 2 × 23 or 24.
    assert 44 <= stats.late_ticks <= 50


def test_exception_in_a_stage_reaches_stop_and_the_source_is_closed(fake_clock) -> None:
    class Boom(CopyEngine):
        def process(self, block: Block) -> Block:
            if self.calls == 5:
                raise RuntimeError("engine exploded")
            return super().process(block)

    pipe = _pipeline(fake_clock, Boom(), PipelineSettings(duration=None), PipelineOutputs())
    pipe.start()
    # The thread ends by itself on the error.
    wait_until(lambda: not pipe.running, 10.0, 0.01, "the runner thread to end on the stage's error")
    with pytest.raises(RuntimeError, match="engine exploded"):
        pipe.stop()
    assert pipe.source.running is False
    # wait() re-raises too.
    pipe.start()
    with pytest.raises(RuntimeError, match="engine exploded"):
        pipe.wait(timeout=10.0)


def test_stop_before_start_says_how_to_fix_and_settings_are_validated(fake_clock) -> None:
    pipe = _pipeline(fake_clock, CopyEngine(), PipelineSettings(), PipelineOutputs())
    with pytest.raises(RuntimeError, match="Use Pipeline.start"):
        pipe.stop()
    with pytest.raises(ValueError, match="'fs'"):
        PipelineSettings(fs=0)
    with pytest.raises(ValueError, match="'block_size'"):
        PipelineSettings(block_size=0)
    with pytest.raises(ValueError, match="'duration'"):
        PipelineSettings(duration=-1.0)


def test_teacher_activation_needs_ground_truth() -> None:
    blk = Block(np.zeros((2, 6), np.float32), np.arange(2.0), 100.0, 0, IMU_CHANNELS)
    with pytest.raises(ValueError, match="--activation model"):
        TeacherActivation(MUSCLES).process(blk)


def test_warm_up_changes_nothing_in_the_output() -> None:
    """Real synthetic arm, activation network and engine: a warmed-up run equals a cold one."""
    from realtime.body.synthetic import SyntheticArm, SyntheticSettings
    from realtime.stages.engine import EmgEngine, EngineSettings
    from realtime.stages.model.stage import ModelActivationStage
    from tests.helpers import FakeClock

    runs = []
    for warm in (False, True):
        clock = FakeClock()
        sink = ListSink()
        pipe = Pipeline(
            SyntheticArm(SyntheticSettings(motion="elbow-curls", seed=3), clock=clock),
            ModelActivationStage(None),
            [EmgEngine(EngineSettings(fs=1000.0, units_per_muscle=20, seed=3))],
            PipelineOutputs(emg=sink), PipelineSettings(fs=1000.0, block_size=4, duration=1.0),
            clock=clock, sleep=clock.sleep,
        )
        if warm:
            pipe.warm_up()
        pipe.run()
        runs.append(sink.cat())
    np.testing.assert_array_equal(runs[0][0] - runs[0][0][0], runs[1][0] - runs[1][0][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert np.abs(runs[1][1]).max() > 0


def test_runner_thread_gets_the_priority_it_asked_for(fake_clock) -> None:
    sink = ListSink()
    settings = PipelineSettings(fs=2000.0, block_size=4, duration=0.2, priority="auto")
    pipe = _pipeline(fake_clock, CopyEngine(), settings, PipelineOutputs(emg=sink))
    assert pipe.thread_priority is None
    pipe.start()
    assert pipe.wait(30)
    assert pipe.thread_priority in ("realtime", "normal")  # what the system allowed (realtime.core.priority)
    assert sum(b.n_samples for b in sink.blocks) == 400
    normal = _pipeline(fake_clock, CopyEngine(), PipelineSettings(duration=0.1), PipelineOutputs())
    normal.start()
    assert normal.wait(30)
    assert normal.thread_priority == "normal"


class PermutedTeacher(TeacherActivation):
    """A teacher stage that emits its muscles in reverse order (labels reversed with the columns)."""

    def __init__(self, muscles: tuple[str, ...]) -> None:
        super().__init__(muscles)
        self.labels = tuple(reversed(muscles))

    @property
    def output_format(self):  # noqa: ANN201
        return super().output_format.__class__(fs=None, channels=self.labels, aux={"imu_seq": 0, "imu_time": 0})

    def process(self, block: Block) -> Block:
        out = super().process(block)
        return Block(np.ascontiguousarray(out.data[:, ::-1]), out.timestamps, out.fs, out.seq, self.labels, out.aux)


def test_an_activation_stage_with_its_muscles_in_another_order_drives_the_right_muscles() -> None:
    """The engine-grid resampler keeps the labels the activation stage gave; the engine picks its
    muscles by name. (It used to relabel the columns with the pipeline's muscle names: reversed
    columns then drove the wrong muscles, silently.)"""
    from realtime.body.synthetic import SyntheticArm, SyntheticSettings
    from realtime.core.anatomy import MUSCLES as ALL
    from realtime.stages.engine import EmgEngine, EngineSettings
    from tests.conftest import FakeClock

    runs = []
    for stage in (TeacherActivation(ALL), PermutedTeacher(ALL)):
        clock, sink = FakeClock(), ListSink()
        engine = EmgEngine(EngineSettings(fs=1000.0, units_per_muscle=20, seed=5))
        pipe = Pipeline(SyntheticArm(SyntheticSettings(motion="wrist-flexion", seed=5), clock=clock), stage,
                        [engine], PipelineOutputs(emg=sink), PipelineSettings(fs=1000.0, block_size=5, duration=2.0),
                        clock=clock, sleep=clock.sleep)
        pipe.run()
        runs.append(sink.cat()[1])
    assert np.abs(runs[0]).max() > 1.0
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_chain_whose_neighbours_do_not_fit_fails_at_construction_naming_both(fake_clock) -> None:
    from realtime.stages.engine import EmgEngine, EngineSettings

    engine = EmgEngine(EngineSettings(fs=2000.0, units_per_muscle=5))
    two = ("biceps", "triceps")  # the activation stage gives 2 muscles; the engine needs 8, by name
    source = ScriptedImu(fake_clock, activation=lambda t, k: np.zeros((t.size, 2)), muscles=two)
    with pytest.raises(ChainError, match=r"'engine-grid resampler' gives 2 channels .*'EMG engine' expects 8 "
                                         r"channels.*\['brachialis', .*missing"):
        Pipeline(source, TeacherActivation(two), [engine], settings=PipelineSettings(fs=2000.0), clock=fake_clock)
    with pytest.raises(ChainError, match=r"'ScriptedImu' gives .*'teacher activation' expects .*columns of side "
                                         r"data 'activation' differ \(m1, m2 given, biceps, triceps expected\)"):
        Pipeline(ramp_source(fake_clock), TeacherActivation(two), [engine], clock=fake_clock)
    wrong_rate = EmgEngine(EngineSettings(fs=1000.0, units_per_muscle=5))
    with pytest.raises(ChainError, match=r"rate differs \(2000 Hz given, 1000 Hz expected\)"):
        Pipeline(ramp_source(fake_clock), TeacherActivation(MUSCLES), [wrong_rate],
                 settings=PipelineSettings(fs=2000.0), clock=fake_clock)
    no_truth = ScriptedImu(fake_clock, activation=lambda t, k: np.zeros((t.size, 2)))
    no_truth.output_format = no_truth.output_format.__class__(fs=100.0, channels=IMU_CHANNELS)
    with pytest.raises(ChainError, match=r"stage 'teacher activation' expects .*side data \['activation'\]"):
        Pipeline(no_truth, TeacherActivation(MUSCLES), [CopyEngine()], clock=fake_clock)
