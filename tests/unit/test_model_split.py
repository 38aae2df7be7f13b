"""Honest evaluation (issue 15 item 4): explicit split, two baselines, --val-fraction 0, the t column."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from devices.replay import ReplaySettings, load_recording
from realtime.app.cli.evaluate import evaluate as evaluate_cmd
from realtime.app.cli.train import train as train_cmd
from realtime.app.training.data import load_csv
from realtime.stages.model.checkpoint import load_checkpoint

IMU = ["ax", "ay", "az", "gx", "gy", "gz"]
TINY_NET = ["--layers", "3", "--channels", "8", "--epochs", "2", "--window", "64", "--batch-size", "8", "--quiet"]


def write_csv(path: Path, seconds: float, seed: int, fs: float = 200.0, jitter: float = 0.0) -> np.ndarray:
    """A recording whose EMG amplitude follows the gyroscope; a ``t`` column (irregular with ``jitter``)."""
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = 3.0 + (np.arange(n) + rng.uniform(-jitter, jitter, n)) / fs
    w = 1.0 + 0.3 * seed
    gy = np.sin(w * t)
    imu = np.stack([np.sin(t), np.cos(t), np.full(n, 9.81), gy, np.zeros(n), 0.5 * np.cos(w * t)], axis=1)
    emg = (0.2 + np.maximum(gy, 0))[:, None] * rng.normal(size=(n, 2)) * 30
    table = np.concatenate([t[:, None], imu, emg], axis=1)
    np.savetxt(path, table, delimiter=",", header=",".join(["t", *IMU, "e1", "e2"]), comments="", fmt="%.6f")
    return t


def test_the_t_column_times_training_as_replay_does(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "jitter.csv"
    t = write_csv(path, 8.0, 1, jitter=0.3)
    with caplog.at_level(logging.WARNING, logger="myostream"):
        rec = load_csv(path, IMU, ["e1", "e2"], 250.0)
    assert any("time column" in r.getMessage() and "250" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(rec.t_imu, t, atol=1e-6)  # the file holds 6 decimals
    replay = load_recording(ReplaySettings(path=str(path), channels=tuple(IMU)))
    np.testing.assert_allclose(rec.t_imu - rec.t_imu[0], replay.t, atol=1e-9)  # the same times
    assert rec.imu_fs == pytest.approx(replay.fs)
    assert rec.emg_fs == rec.imu_fs
    np.testing.assert_allclose(np.diff(rec.t_emg), 1.0 / rec.emg_fs, rtol=1e-9)  # EMG resampled to a regular grid
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="myostream"):
        load_csv(path, IMU, ["e1", "e2"], 200.0)  # agrees within 1 %: no warning
        load_csv(path, IMU, ["e1", "e2"], None)  # --fs may be omitted when there is a time column
    assert not [r for r in caplog.records if "time column" in r.getMessage()]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("rec")
    files = {"fit": [], "score": []}
    for i in range(4):
        p = root / f"rec{i}.csv"
        write_csv(p, 10.0, i)
        files["fit" if i < 2 else "score"].append(p)
    return files


def test_train_with_val_fraction_zero_and_evaluate_with_an_explicit_split(
        tmp_path: Path, recordings: dict[str, list[Path]]) -> None:
    out = tmp_path / "m.pt"
    cols = ["--imu-cols", *IMU, "--emg-cols", "e1", "e2"]
    res = CliRunner().invoke(train_cmd, ["--out", str(out), "--csv", *map(str, recordings["fit"]), *cols,
                                         "--val-fraction", "0", *TINY_NET], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ck = load_checkpoint(out)
    assert ck.training["data"]["val_files"] == []
    assert ck.output_kind == "envelope"
    js = tmp_path / "e.json"
    res = CliRunner().invoke(evaluate_cmd, ["--model", str(out), "--train-csv", *map(str, recordings["fit"]),
                                            "--csv", *map(str, recordings["score"]), *cols, "--json", str(js),
                                            "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    split = next(line for line in res.output.splitlines() if line.startswith("split:"))
    assert "rec0.csv, rec1.csv" in split
    assert "scored on 2 held-out recordings [rec2.csv, rec3.csv]" in split
    data = json.loads(js.read_text())
    assert data["data"]["fit_on"] == ["rec0.csv", "rec1.csv"]
    assert data["data"]["scored"] == ["rec2.csv", "rec3.csv"]
    assert set(data["baselines"]) == {"ridge", "hgb"}
    for name in ("e1", "e2"):
        assert np.isfinite(data["baselines"]["hgb"][name]["r"])
    assert "hgb" in res.output
    # The same files on both sides of a split are refused; so is scoring without held-out data.
    both = CliRunner().invoke(evaluate_cmd, ["--model", str(out), "--train-csv", str(recordings["fit"][0]),
                                             "--csv", str(recordings["fit"][0]), *cols, "--quiet"])
    assert both.exit_code == 1
    assert "both to fit" in both.output
    none = CliRunner().invoke(evaluate_cmd, ["--model", str(out), "--csv", *map(str, recordings["score"]), *cols,
                                             "--val-fraction", "0", "--quiet"])
    assert none.exit_code == 1
    assert "--train-csv" in none.output
