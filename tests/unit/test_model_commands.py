"""``train``, ``evaluate`` and ``bench model`` commands: tiny runs and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from realtime.app.cli.bench_model import model as bench_model_cmd
from realtime.app.cli.evaluate import evaluate as evaluate_cmd
from realtime.app.cli.train import train as train_cmd
from realtime.stages.model.checkpoint import load_checkpoint

TINY_NET = ["--layers", "3", "--channels", "8", "--epochs", "2", "--window", "64", "--batch-size", "8", "--quiet"]
TINY_TEACHER = ["--subjects", "2", "--val-subjects", "1", "--test-subjects", "1", "--duration", "6", "--motions", "elbow-curls", "pronation",
                "--imu-fs", "100", "200"]
IMU = ["ax", "ay", "az", "gx", "gy", "gz"]


def _run(cmd, args: list[str]):  # noqa: ANN001, ANN202
    return CliRunner().invoke(cmd, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ck") / "tiny.pt"
    res = _run(train_cmd, ["--out", str(out), *TINY_NET, *TINY_TEACHER])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output
    return out


def _csv(path: Path, seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(200 * seconds)) / 200.0
    imu = np.stack([np.sin(t), np.cos(t), np.ones_like(t), np.cos(t), np.zeros_like(t), -np.sin(t)], axis=1)
    emg = (1 + np.sin(t))[:, None] * rng.normal(size=(len(t), 2)) * 20
    np.savetxt(path, np.concatenate([imu, emg], axis=1), delimiter=",", header=",".join([*IMU, "e1", "e2"]),
               comments="", fmt="%.5f")


def test_train_writes_a_checkpoint_and_refuses_to_overwrite(teacher_ckpt: Path) -> None:
    ck = load_checkpoint(teacher_ckpt)
    assert ck.config.layers == 3
    assert ck.config.channels == 8
    assert ck.fs == 100.0
    assert ck.training["data"]["subjects"] == 2
    assert ck.training["settings"]["seed"] == 0
    assert "validation" in ck.metrics
    before = teacher_ckpt.read_bytes()
    res = CliRunner().invoke(train_cmd, ["--out", str(teacher_ckpt), *TINY_NET, *TINY_TEACHER])
    assert res.exit_code == 1
    assert "already exists and was left untouched" in res.output
    assert "--force" in res.output
    assert teacher_ckpt.read_bytes() == before


def test_evaluate_teacher_json(teacher_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    res = _run(evaluate_cmd, ["--ckpt", str(teacher_ckpt), "--json", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["network"]["biceps"]) >= {"r", "r_within", "rmse", "lag_ms"}
    assert set(data["baseline"]) == set(data["network"])
    # The checkpoint's own test subjects (unseen in training and in early stopping): 1 subject x 2 programs.
    assert data["data"]["held_out"] == "test"
    assert data["data"]["n_val_sequences"] == 2
    assert "median r" in res.output


def test_train_and_evaluate_csv(tmp_path: Path) -> None:
    files = []
    for i in range(3):
        _csv(tmp_path / f"r{i}.csv", 6.0, i)
        files.append(str(tmp_path / f"r{i}.csv"))
    out = tmp_path / "emg.pt"
    res = _run(train_cmd, ["--out", str(out), *TINY_NET, "--csv", *files, "--imu-cols", *IMU,
                           "--emg-cols", "e1", "e2", "--fs", "200", "--acc-unit", "g"])
    assert res.exit_code == 0, res.output
    ck = load_checkpoint(out)
    assert ck.outputs == ("e1", "e2")
    assert ck.target == "emg-envelope"
    assert len(ck.target_scale) == 2
    assert ck.posture == ()
    assert ck.input_fs_range == (200.0, 200.0)
    res = _run(evaluate_cmd, ["--ckpt", str(out), "--csv", *files, "--imu-cols", *IMU, "--emg-cols", "e1", "e2",
                              "--fs", "200", "--acc-unit", "g", "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    assert set(json.loads((tmp_path / "e.json").read_text())["network"]) == {"e1", "e2"}


def test_one_line_errors(tmp_path: Path) -> None:
    def err(cmd, args: list[str]) -> str:  # noqa: ANN001
        res = CliRunner().invoke(cmd, args)
        assert res.exit_code != 0
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1, res.output
        assert lines[0].startswith("Error:"), res.output
        return lines[0]

    assert "does not exist" in err(evaluate_cmd, ["--ckpt", str(tmp_path / "none.pt")])
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert "could not be read" in err(evaluate_cmd, ["--ckpt", str(tmp_path / "junk.pt")])
    _csv(tmp_path / "a.csv", 3.0, 0)
    msg = err(train_cmd, ["--out", str(tmp_path / "x.pt"), "--csv", str(tmp_path / "a.csv"), "--imu-cols", *IMU,
                          "--emg-cols", "e7", "--fs", "200"])
    assert "'e7' does not exist" in msg
    assert "e1" in msg
    assert "--fs" in err(train_cmd, ["--out", str(tmp_path / "x.pt"), "--csv", str(tmp_path / "a.csv"),
                                     "--imu-cols", *IMU, "--emg-cols", "e1"])
    lines = (tmp_path / "a.csv").read_text().splitlines()
    lines[3] = "nan," + lines[3].split(",", 1)[1]
    (tmp_path / "n.csv").write_text("\n".join(lines))
    assert "NaN" in err(train_cmd, ["--out", str(tmp_path / "x.pt"), "--csv", str(tmp_path / "n.csv"),
                                    "--imu-cols", *IMU, "--emg-cols", "e1", "--fs", "200"])
    assert "shorter than the receptive field" in err(train_cmd, ["--out", str(tmp_path / "x.pt"), "--duration", "2",
                                                                 "--layers", "9", "--quiet"])
    assert not (tmp_path / "x.pt").exists()


def test_bench_model_json(teacher_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = _run(bench_model_cmd, ["--json", str(out), "--ckpt", str(teacher_ckpt), "--samples", "300", "--windows", "5"])
    assert res.exit_code == 0, res.output
    nets = json.loads(out.read_text())["nets"]
    assert [n["name"] for n in nets] == ["default", "reference"]
    ref = nets[1]
    assert (ref["layers"], ref["channels"], ref["kernel"], ref["receptive_field"]) == (10, 64, 3, 2047)
    for n in nets:
        assert set(n) >= {"name", "layers", "channels", "kernel", "receptive_field", "stream_us_p50",
                          "stream_us_p99", "window_us_p50", "speedup"}
        assert 0 < n["stream_us_p50"] <= n["stream_us_p99"]
        assert n["speedup"] > 1
