"""Issue 15 acceptance: run (synthetic) → record XDF → train --xdf → evaluate with an explicit split →
run --model on the new checkpoint with the replay source → EMG without gaps, MU spikes on -spikes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pylsl
import pyxdf

from realtime.stages.model.checkpoint import load_checkpoint
from tests.helpers import REPO_ROOT

LAUNCH = [sys.executable, "launch.py"]


def _launch(args: list[str], **kw: object) -> subprocess.Popen:
    return subprocess.Popen([*LAUNCH, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _ok(args: list[str], timeout: float = 120.0, env: dict | None = None) -> str:
    res = subprocess.run([*LAUNCH, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout + res.stderr


def _resolve(name: str, timeout: float) -> pylsl.StreamInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pylsl.resolve_byprop("name", name, timeout=0.5)
        if found:
            return found[0]
    raise AssertionError(f"stream {name!r} not found within {timeout} s")


def test_record_train_evaluate_and_stream_the_new_model(lsl_prefix: str, tmp_path: Path) -> None:
    a, b, model = tmp_path / "a.xdf", tmp_path / "b.xdf", tmp_path / "m.pt"
    # The tests' LSL configuration (machine scope) plus the local peer: the liblsl inside LabRecorderCLI
    # resolves nothing with ResolveScope = machine alone (docs/model.md, troubleshooting).
    cfg = tmp_path / "lsl_api.cfg"
    cfg.write_text(Path(os.environ["LSLAPICFG"]).read_text() + "[lab]\nKnownPeers = {127.0.0.1}\n")
    env = {**os.environ, "LSLAPICFG": str(cfg)}
    # 1. The simulator (synthetic arm, physics activations), recorded twice with LabRecorder.
    with _launch(["run", "--name", lsl_prefix, "--activation", "teacher", "--fs", "1000", "--units", "30",
                  "--duration", "40", "--wait-for-consumer", "60", "--quiet"], env=env) as sim:
        try:
            for path in (a, b):
                out = _ok(["record", str(path), "--name", lsl_prefix, "--duration", "6", "--timeout", "60"], env=env)
                assert "record:     1.0 s" in out  # the progress line
                assert f"wrote {path}" in out
        finally:
            sim.terminate()
            sim.communicate(timeout=30)
    streams, _ = pyxdf.load_xdf(str(a))
    names = {s["info"]["name"][0] for s in streams}
    assert {f"{lsl_prefix}-{k}" for k in ("EMG", "IMU", "spikes", "markers", "status")} <= names
    # 2. Train on A (streams found by type), tiny and few epochs.
    out = _ok(["train", "--xdf", str(a), "--out", str(model), "--layers", "3", "--channels", "8", "--epochs", "3",
               "--window", "64", "--quiet"])
    assert f"wrote {model}" in out
    ck = load_checkpoint(model)
    assert (ck.output_kind, ck.layout) == ("envelope", "armband8")  # it streams through the physics inversion
    # 3. Evaluate with an explicit split: baselines fitted on A, every file of B scored, stream_r included.
    js = tmp_path / "e.json"
    out = _ok(["evaluate", "--model", str(model), "--train-xdf", str(a), "--xdf", str(b), "--json", str(js),
               "--quiet"])
    assert "split: baselines fitted on 1 recordings [a.xdf]; scored on 1 held-out recordings [b.xdf]" in out
    res = json.loads(js.read_text())
    assert res["data"]["fit_on"] == ["a.xdf"]
    assert res["data"]["scored"] == ["b.xdf"]
    assert set(res["baselines"]) == {"ridge", "hgb"}
    assert res["stream"]["recordings"] == ["b.xdf"]
    assert len(res["stream"]["channels"]) == 8
    # 4. Stream the new checkpoint from the replayed recording B; read the EMG and the spikes.
    prefix = f"{lsl_prefix}-m"
    duration, fs = 4.0, 1000.0
    with _launch(["run", "--model", str(model), "--source", "replay", "--file", str(b), "--stream-name",
                  f"{lsl_prefix}-IMU", "--name", prefix, "--fs", "1000", "--units", "30", "--duration",
                  str(duration), "--wait-for-consumer", "60", "--quiet"]) as proc:
        spikes_inlet = pylsl.StreamInlet(_resolve(f"{prefix}-spikes", 60.0), max_buflen=60)
        emg_inlet = pylsl.StreamInlet(_resolve(f"{prefix}-EMG", 60.0), max_buflen=60)
        spikes_inlet.open_stream(timeout=10)
        stamps, spikes = [], 0
        deadline = time.monotonic() + 60.0
        n_expected = int(duration * fs)
        while sum(len(s) for s in stamps) < n_expected and time.monotonic() < deadline:
            _, ts = emg_inlet.pull_chunk(timeout=0.2, max_samples=4096)
            stamps += [np.asarray(ts)] if ts else []
            _, st = spikes_inlet.pull_chunk(timeout=0.0)
            spikes += len(st)
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            _, st = spikes_inlet.pull_chunk(timeout=0.2)
            spikes += len(st)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    t = np.concatenate(stamps)
    assert t.size == n_expected  # every sample once
    np.testing.assert_allclose(np.diff(t), 1.0 / fs, rtol=0, atol=1e-6)  # no gaps
    assert spikes > 0  # motor units discharge: the engine stays in the loop
