"""The consumer examples against a real simulator: the controller loop and the CSV recorder."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source

ROOT = Path(__file__).resolve().parents[1]


def _example(name: str) -> object:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def simulator(lsl_prefix: str):
    """A running simulator (synthetic wrist flexion/extension, ground-truth activations) that waits for a consumer."""
    config = SimulatorConfig(prefix=lsl_prefix, fs=1000.0, block_size=4, duration=20.0, activation="teacher",
                             units_per_muscle=40)
    sim = Simulator(config, build_source({"source": "synthetic", "motion": "wrist-flexion", "imu_rate": 200.0}))
    starter = threading.Thread(target=sim.start, kwargs={"wait_for_consumer": 15.0}, daemon=True)
    starter.start()
    yield sim
    starter.join(30.0)
    sim.stop()


def test_controller_and_recorder_run_against_the_simulator(simulator: Simulator, lsl_prefix: str,
                                                           tmp_path: Path) -> None:
    controller, recorder = _example("controller"), _example("record_csv")
    counts: dict[str, int] = {}
    rec = threading.Thread(target=lambda: counts.update(recorder.record(lsl_prefix, tmp_path, duration=5.0)))
    rec.start()
    stats = controller.run_controller(lsl_prefix, duration=5.0, resolve_timeout=20.0)
    rec.join(30.0)

    # The controller: a command every 10 ms, its own latency measured and plausible.
    assert stats.commands > 250
    assert np.all(np.isfinite(stats.velocity))
    assert stats.flexors
    assert stats.extensors
    assert not set(stats.flexors) & set(stats.extensors)
    assert np.all(stats.data_age_ms >= 0)
    assert np.median(stats.data_age_ms) < 50.0
    assert np.all(stats.compute_ms >= 0)
    m2c = stats.motion_to_command_ms[np.isfinite(stats.motion_to_command_ms)]
    assert m2c.size > 0.8 * stats.commands  # provenance gives motion-to-command latency
    assert np.all(m2c >= 0)  # the IMU sample behind the newest EMG came before the command

    # The recorder: one CSV per stream, headers with the channel labels, EMG on its exact grid.
    names = {p.stem for p in tmp_path.glob("*.csv")}
    for suffix in ("EMG", "IMU", "activation", "status", "markers", "provenance"):
        assert f"{lsl_prefix}-{suffix}" in names
    with open(tmp_path / f"{lsl_prefix}-EMG.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp"] + [f"EMG{k}" for k in range(1, 9)]
    emg = np.array(rows[1:], float)
    assert emg.shape[0] == counts[f"{lsl_prefix}-EMG"] > 3000
    np.testing.assert_allclose(np.diff(emg[:, 0]), 1e-3, atol=2e-6)
    truth = np.loadtxt(tmp_path / f"{lsl_prefix}-activation.csv", delimiter=",", skiprows=1)
    with open(tmp_path / f"{lsl_prefix}-activation.csv") as fh:
        header = next(csv.reader(fh))
    flex, ext = header.index("wrist_flexors"), header.index("wrist_extensors")
    # The command follows the muscles. In this motion the extensors dominate (they hold the hand), so the
    # controller, which sees only EMG, must command extension (negative velocity) whenever it moves.
    assert np.mean(truth[:, ext] > truth[:, flex]) > 0.8
    moving = stats.velocity != 0
    assert moving.sum() > 50
    assert np.mean(stats.velocity[moving] < 0) > 0.75
    with open(tmp_path / f"{lsl_prefix}-markers.csv") as fh:
        assert next(csv.reader(fh)) == ["timestamp", "event"]


def test_example_command_lines_fail_cleanly_without_a_simulator(lsl_prefix: str, tmp_path: Path) -> None:
    for script, extra in (("controller.py", []), ("record_csv.py", ["--out", str(tmp_path)])):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--prefix", lsl_prefix,
                               "--resolve-timeout", "1", *extra],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1
        assert lsl_prefix in proc.stderr


def test_sliding_features_and_velocity_mapping() -> None:
    controller = _example("controller")
    feats = controller.SlidingFeatures(2, 4)
    feats.push(np.array([[1, -2], [3, 4], [-5, 6]], np.float32))
    feats.push(np.array([[7, 8], [9, -10]], np.float32))  # wraps: window is the last 4 rows
    np.testing.assert_allclose(feats.mav(), [(3 + 5 + 7 + 9) / 4, (4 + 6 + 8 + 10) / 4])
    np.testing.assert_allclose(feats.rms(), np.sqrt([(9 + 25 + 49 + 81) / 4, (16 + 36 + 64 + 100) / 4]))
    assert controller.wrist_velocity(1.0, 1.0, 2.0, 0.1, 0.5) == 0.0  # co-contraction: no movement
    assert controller.wrist_velocity(0.2, 0.1, 2.0, 0.1, 0.5) == 0.0  # at rest
    assert controller.wrist_velocity(3.0, 1.0, 2.0, 0.1, 0.5) == pytest.approx(2.0 * 0.5)
    assert controller.wrist_velocity(1.0, 3.0, 2.0, 0.1, 0.5) == pytest.approx(-1.0)
    angles = np.array([0.0, 45.0, 90.0, 135.0, 180.0, -135.0, -90.0, -45.0])
    assert controller.pick_channels(angles, -40.0) == [0, 6, 7]
    assert controller.pick_channels(angles, 180.0) == [3, 4, 5]
    assert controller.parse_channels("1, 8", 8) == [0, 7]
    with pytest.raises(ValueError, match="'9'"):
        controller.parse_channels("1,9", 8)
