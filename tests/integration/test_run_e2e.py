"""End to end: ``launch.py run`` in its own process, a pylsl consumer here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pylsl
import pytest

from tests.helpers import REPO_ROOT, wait_until
from tests.helpers.lsl import resolve_stream


def _channels(info: pylsl.StreamInfo) -> list[dict[str, str]]:
    out, ch = [], info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append({k: ch.child_value(k) for k in ("label", "unit", "type")})
        ch = ch.next_sibling()
    return out


def test_run_publishes_every_emg_sample_with_metadata(lsl_prefix: str) -> None:
    duration, fs = 3.0, 2000.0
    with subprocess.Popen(
        [sys.executable, "launch.py", "run", "--duration", str(duration), "--name", lsl_prefix,
         "--wait-for-consumer", "60", "--quiet"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        info = resolve_stream(f"{lsl_prefix}-EMG", timeout=60.0)
        inlet = pylsl.StreamInlet(info, max_buflen=60)
        full = inlet.info(timeout=10.0)
        assert (full.type(), full.channel_count(), full.nominal_srate()) == ("EMG", 8, fs)
        assert full.source_id().startswith(f"{lsl_prefix}-emg-armband8")
        chans = _channels(full)
        assert [c["label"] for c in chans] == [f"EMG{k}" for k in range(1, 9)]
        assert {c["unit"] for c in chans} == {"microvolts"}
        assert {c["type"] for c in chans} == {"EMG"}
        assert full.desc().child("acquisition").child_value("manufacturer") == "myostream"
        assert full.desc().child("acquisition").child_value("model") == "armband8"

        n_expected = int(duration * fs)
        buf = np.empty((4096, 8), np.float32)
        data, stamps = [], []

        def every_sample() -> bool:
            _, ts = inlet.pull_chunk(timeout=0.2, max_samples=4096, dest_obj=buf)
            if ts:
                data.append(buf[: len(ts)].copy())
                stamps.append(np.asarray(ts))
            return sum(len(s) for s in stamps) >= n_expected

        wait_until(every_sample, 60.0, 0.0, f"{n_expected} EMG samples")
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    t = np.concatenate(stamps)
    x = np.concatenate(data)
    assert t.size == n_expected  # every sample, none twice
    np.testing.assert_allclose(np.diff(t), 1.0 / fs, rtol=0, atol=1e-6)  # no gaps: exactly 1/fs apart
    assert np.all(np.isfinite(x))
    rms = np.sqrt(np.mean(x[len(x) // 2 :] ** 2, axis=0))
    assert np.all(rms > 0.1), rms  # a live signal on every channel (µV)
    assert np.all(rms < 5000.0), rms


def test_ctrl_c_stops_cleanly_and_a_runner_error_sets_the_exit_code(lsl_prefix: str) -> None:
    import signal

    with subprocess.Popen([sys.executable, "launch.py", "run", "--name", lsl_prefix, "--quiet"], cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        resolve_stream(f"{lsl_prefix}-EMG", timeout=60.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped (Ctrl-C)" in out

    # The serial source fails inside the runner thread: the error reaches the exit code as one line.
    proc = subprocess.run([sys.executable, "launch.py", "run", "--source", "serial", "--port", "/dev/ttyNOPE",
                           "--name", lsl_prefix + "b", "--duration", "5"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "myostream: error: Serial port '/dev/ttyNOPE' does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def _viewer_pids(prefix: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"view" in cmd and prefix.encode() in cmd:
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc to see the viewer process")
def test_run_view_starts_the_viewer_process_and_closes_it(lsl_prefix: str) -> None:
    with subprocess.Popen([sys.executable, "launch.py", "run", "--duration", "8", "--view", "--name", lsl_prefix,
                           "--quiet"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        wait_until(lambda: _viewer_pids(lsl_prefix) or proc.poll() is not None, 60.0, 0.1,
                   "the viewer process (or the run to end)")
        assert _viewer_pids(lsl_prefix), "the viewer process did not start"
        _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert not _viewer_pids(lsl_prefix)

