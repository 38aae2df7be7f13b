"""The consumer examples against a real simulator: the controller loop and the CSV recorder."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source
from tests.helpers import REPO_ROOT, load_example


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
    controller, recorder = load_example("controller"), load_example("record_csv")
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
    # Latencies measured (how small they are is the latency benchmark's target, not this test's).
    assert np.all(np.isfinite(stats.data_age_ms))
    assert np.all(stats.data_age_ms >= 0)
    assert np.all(np.isfinite(stats.compute_ms))
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
        proc = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / script), "--prefix", lsl_prefix,
                               "--resolve-timeout", "1", *extra],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1
        assert lsl_prefix in proc.stderr

