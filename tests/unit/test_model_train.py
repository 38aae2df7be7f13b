"""Training on tiny generated data lowers the validation loss, deterministically; fine-tuning works."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.app.training.data import (
    DataError,
    Dataset,
    Sequence,
    TeacherDataSpec,
    teacher_dataset,
)
from realtime.app.training.evaluate import RidgeBaseline, evaluate_checkpoint, pearson, xcorr_lag
from realtime.app.training.train import TrainSettings, train_network
from realtime.stages.model.config import NetConfig

CONFIG = NetConfig(channels=8, layers=3)
SPEC = TeacherDataSpec(subjects=2, val_subjects=1, test_subjects=1, duration_s=8.0,
                       motions=("elbow-curls", "pronation"), imu_rates=(100.0, 200.0), seed=4)
SETTINGS = TrainSettings(epochs=4, batch_size=8, window=64, lr=5e-3, seed=1, patience=10)


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return teacher_dataset(SPEC, 100.0, 25.0, CONFIG.receptive_field)


def test_teacher_dataset_split(tiny: Dataset) -> None:
    assert len(tiny.train) == 4
    assert len(tiny.val) == 2
    assert len(tiny.test) == 2
    assert tiny.held_out is tiny.test
    groups = [{s.group for s in part} for part in (tiny.train, tiny.val, tiny.test)]
    assert groups[0].isdisjoint(groups[1])
    assert groups[0].isdisjoint(groups[2])
    assert groups[1].isdisjoint(groups[2])
    # No two recordings share IMU data: every subject and program is drawn afresh.
    firsts = [s.x[:50].tobytes() for s in tiny.train + tiny.val + tiny.test]
    assert len(set(firsts)) == len(firsts)
    for s in tiny.train + tiny.val + tiny.test:
        assert s.x.shape == (len(s), 6)
        assert s.y.shape == (len(s), 8)
        assert s.angles.shape == (len(s), 3)
        assert abs(len(s) - 800) <= 1
        assert s.x.dtype == np.float32
    assert tiny.outputs[0] == "biceps"
    assert tiny.posture[0] == "elbow_flexion"
    assert tiny.input_fs_range == (100.0, 200.0)
    # Same seed, same data; the held-out subjects differ from the training ones.
    again = teacher_dataset(SPEC, 100.0, 25.0, CONFIG.receptive_field)
    np.testing.assert_array_equal(again.val[0].x, tiny.val[0].x)
    assert not np.array_equal(tiny.train[0].x[:100], tiny.val[0].x[:100])


def test_training_lowers_validation_loss_and_is_deterministic(tiny: Dataset) -> None:
    a = train_network(tiny, CONFIG, 100.0, 25.0, SETTINGS, progress=False)
    m = a.metrics
    assert m["epochs_run"] == 4
    assert len(m["history"]) == 4
    assert m["best_val_loss"] < 0.8 * m["initial_val_loss"]
    assert a.outputs == tiny.outputs
    assert a.posture == tiny.posture
    assert a.input_fs_range == (100.0, 200.0)
    mean, std = a.normaliser
    x = np.concatenate([s.x for s in tiny.train])
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-4, atol=1e-4)
    b = train_network(tiny, CONFIG, 100.0, 25.0, SETTINGS, progress=False)
    for k in a.state:
        np.testing.assert_array_equal(a.state[k], b.state[k])


def test_fine_tune_with_new_outputs(tiny: Dataset) -> None:
    base = train_network(tiny, CONFIG, 100.0, 25.0, TrainSettings(epochs=1, window=64, seed=0), progress=False)
    # Two "EMG channels" that are functions of the teacher activations, without angles.
    seqs = [Sequence(s.name, s.x, np.ascontiguousarray(s.y[:, [0, 4]] * 3), None, s.input_fs, s.group)
            for s in tiny.train + tiny.val]
    ds = Dataset(seqs[:4], seqs[4:], ("emg1", "emg2"), (), "emg-envelope", (1.0, 1.0), (100.0, 200.0))
    cfg = NetConfig(n_outputs=2, channels=8, layers=3)
    tuned = train_network(ds, cfg, 100.0, 25.0, SETTINGS, init=base, progress=False)
    assert tuned.outputs == ("emg1", "emg2")
    assert tuned.posture == base.posture
    assert tuned.metrics["best_val_loss"] < tuned.metrics["initial_val_loss"]
    # The normaliser and the posture head come from the initial checkpoint.
    np.testing.assert_array_equal(tuned.state["norm_mean"], base.state["norm_mean"])
    np.testing.assert_array_equal(tuned.state["pos.weight"], base.state["pos.weight"])


def test_evaluate_on_tiny_set(tiny: Dataset) -> None:
    ck = train_network(tiny, CONFIG, 100.0, 25.0, SETTINGS, progress=False)
    res = evaluate_checkpoint(ck, tiny)
    assert set(res["network"]) == set(res["baseline"]) == set(ck.outputs)
    for scores in (res["network"]["biceps"], res["baseline"]["biceps"]):
        assert -1 <= scores["r"] <= 1
        assert scores["rmse"] >= 0
        assert abs(scores["lag_ms"]) <= 500
    assert set(res["angles"]) == {"elbow_flexion", "forearm_pronation", "wrist_flexion"}
    assert res["data"]["n_val_sequences"] == 2
    assert "median_r" in res["summary"]


def test_metric_helpers() -> None:
    t = np.arange(2000) / 100.0
    a = np.sin(t) + 0.1 * np.sin(7 * t)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert np.isnan(pearson(a, np.ones_like(a)))
    b = np.convolve(np.random.default_rng(0).normal(size=2100), np.ones(8) / 8, "valid")[:2000]
    late = np.concatenate([np.full(12, b[0]), b[:-12]])  # prediction 120 ms behind
    assert xcorr_lag([late], [b], 100.0) == pytest.approx(0.12)
    assert xcorr_lag([b], [late], 100.0) == pytest.approx(-0.12)
    seqs = [Sequence("s", np.stack([t] * 6, 1).astype(np.float32), (np.tanh(t)[:, None] * 0.5).astype(np.float32),
                     None, 100.0)]
    base = RidgeBaseline(100.0).fit(seqs)
    assert pearson(base.predict(seqs[0].x)[:, 0], seqs[0].y[:, 0]) > 0.9


def test_bad_training_input(tiny: Dataset) -> None:
    single = [Sequence("single", s.x[:1], s.y[:1], s.angles[:1], s.input_fs) for s in tiny.train]
    ds = Dataset(single, [], tiny.outputs, tiny.posture, "teacher")
    with pytest.raises(DataError, match="at least 2"):
        train_network(ds, CONFIG, 100.0, 25.0, SETTINGS, progress=False)
    with pytest.raises(ValueError, match="'--epochs'"):
        TrainSettings(epochs=0)
    with pytest.raises(DataError, match="'--duration'"):
        TeacherDataSpec(duration_s=1.0)
    with pytest.raises(DataError, match="Unknown motions"):
        TeacherDataSpec(motions=("juggling",))
