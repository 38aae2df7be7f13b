"""Hostile input through the whole pipeline, for every source (issue 12 item 1): extreme finite values
(1e38, 1e30), NaN, inf, subnormals and garbage timestamps from serial (binary, csv, witmotion on a real
pty), an LSL IMU outlet and a replayed file reach the real activation network and engine. Nothing
raises, the input guard counts each cause, and a stretch of garbage is announced on the markers
("source invalid: ...", then "source valid again")."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np
import pylsl
import pytest

from devices.formats import binary, witmotion
from devices.formats.csv_text import format_lines
from devices.lsl_imu import LslImu, LslSettings, resolve_stream
from devices.replay import ReplaySettings, ReplaySource
from devices.serial_imu import SerialImu, SerialSettings
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.core.units import IMU_CHANNELS
from tests.helpers import REPO_ROOT

RATE = 100.0
N = 450
GARBAGE = slice(200, 350)  # 1.5 s in which every sample is rejected: the source turns invalid


def _rows() -> np.ndarray:
    """4.5 s at 100 Hz: good, then isolated hostile rows, then 1.5 s of 1e38 gyro, then good again."""
    k = np.arange(N)
    x = np.zeros((N, 6))
    x[:, 2] = 9.81
    x[:, 3] = 0.5 * np.sin(k / 10.0)
    x[100:105, 4] = 1e38  # the crash of issue 12: 5 consecutive
    x[105:108, 0] = np.nan
    x[108:110, 5] = np.inf
    x[110:114, 1] = 1e-40  # float32 subnormal: harmless, kept
    x[114:117, 0] = 1e30
    x[GARBAGE, 3] = 1e38
    return x


EXPECTED = {"gyroscope out of range": 5 + 150, "non-finite value": 5, "accelerometer out of range": 3}


class MarkerLog:
    """Records every marker the runner sends (and still publishes it)."""

    def __init__(self, sim: Simulator) -> None:
        self.texts: list[str] = []
        forward = sim.pipeline.outputs.markers

        def record(text: str, timestamp: float) -> None:
            self.texts.append(text)
            forward(text, timestamp)

        sim.pipeline.outputs.markers = record


def _run(source: object, prefix: str, feed, until) -> tuple[Simulator, MarkerLog]:
    """Run the real simulator (activation network, engine) on ``source`` while ``feed`` delivers the rows."""
    config = SimulatorConfig(prefix=prefix, fs=1000.0, block_size=4, units_per_muscle=10)
    sim = Simulator(config, source)
    log = MarkerLog(sim)
    sim.start()
    try:
        deadline = time.monotonic() + 30.0
        while not source.running and time.monotonic() < deadline:  # the port is open: nothing is flushed
            time.sleep(0.01)
        feed()
        deadline = time.monotonic() + 30.0
        while not until(sim) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        sim.stop()  # re-raises anything a stage raised
    return sim, log


def _paced(write, chunks: list[bytes | np.ndarray]) -> None:
    """Deliver ``chunks`` (5 samples each) every 50 ms: 100 Hz in real time."""
    for i, chunk in enumerate(chunks):
        write(i, chunk)
        time.sleep(0.05)


def _check(sim: Simulator, log: MarkerLog, expected: dict[str, int]) -> None:
    guard = sim.pipeline.guard
    for cause, count in expected.items():
        assert guard.counts[cause] == count, (cause, guard.counts)
    invalid = [t for t in log.texts if t.startswith("source invalid")]
    assert len(invalid) == 1, log.texts
    assert "gyroscope out of range" in invalid[0]
    assert log.texts.index("source valid again") > log.texts.index(invalid[0])
    assert log.texts[-1] == "myostream: stop"


@pytest.mark.parametrize("fmt", ["binary", "csv", "witmotion"])
def test_serial_formats_on_a_pty(fmt: str, lsl_prefix: str) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    x = _rows()
    k = np.arange(N)
    if fmt == "binary":
        data = [binary.encode_frames(x[i:i + 5], k[i:i + 5], np.rint(k[i:i + 5] * 1e4).astype(np.int64), "float32")
                for i in range(0, N, 5)]
    elif fmt == "csv":
        data = [format_lines(x[i:i + 5], ("ax", "ay", "az", "gx", "gy", "gz"), decimals=60) for i in range(0, N, 5)]
    else:  # int16 counts: the extremes saturate at full scale, nothing reaches the guard out of range
        data = [witmotion.encode_frames(np.nan_to_num(x[i:i + 5], posinf=1e3, neginf=-1e3)) for i in range(0, N, 5)]
    source = SerialImu(SerialSettings(os.ttyname(slave), 921600, fmt, fs=RATE))
    feeder = threading.Thread(target=_paced, args=(lambda i, b: os.write(master, b), data), daemon=True)
    try:
        sim, log = _run(source, lsl_prefix, feeder.start,
                        lambda s: not feeder.is_alive() and s.pipeline.guard.accepted + s.pipeline.guard.rejected > 0)
    finally:
        os.close(master)
        os.close(slave)
    if fmt == "witmotion":
        assert sim.pipeline.guard.rejected == 0
        assert sim.pipeline.guard.accepted == N
        return
    if fmt == "csv":  # NaN/inf lines are malformed for the decoder (counted there), never reach the guard
        assert source.decoder.counters.malformed == 5
        _check(sim, log, {**EXPECTED, "non-finite value": 0})
    else:
        _check(sim, log, EXPECTED)
    assert sim.pipeline.guard.accepted == N - sum(EXPECTED.values())


def _lsl_outlet(name: str) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, "IMU", 6, RATE, pylsl.cf_float32, f"{name}_src")
    chans = info.desc().append_child("channels")
    for label, unit in zip(IMU_CHANNELS, ("m/s^2",) * 3 + ("rad/s",) * 3):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info, chunk_size=1)


def test_lsl_imu_inlet(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_imu"
    outlet = _lsl_outlet(name)
    settings = LslSettings(name=name, resolve_timeout_s=5.0)
    source = LslImu(settings, info=resolve_stream(settings))
    x = _rows().astype(np.float32)
    garbage_times = {60: 1e12, 61: float("nan"), 62: -1e12}  # a far future, a NaN and a far past time

    def feed() -> None:
        deadline = time.monotonic() + 10.0
        while not outlet.have_consumers() and time.monotonic() < deadline:
            time.sleep(0.01)

        def push(i: int, chunk: np.ndarray) -> None:
            for j in range(5):
                k = 5 * i + j
                t = garbage_times.get(k, pylsl.local_clock())
                outlet.push_sample(chunk[j].tolist(), t)

        threading.Thread(target=_paced, args=(push, [x[i:i + 5] for i in range(0, N, 5)]), daemon=True).start()

    sim, log = _run(source, lsl_prefix, feed, lambda s: s.pipeline.guard.accepted + s.pipeline.guard.rejected >= N)
    _check(sim, log, EXPECTED)
    guard = sim.pipeline.guard
    time_causes = ("non-finite timestamp", "timestamp in the future", "timestamp too old", "timestamp not advancing")
    assert sum(guard.counts[c] for c in time_causes) >= 3, guard.counts  # the garbage times, rejected alone
    assert guard.accepted + guard.rejected == N
    assert guard.accepted >= N - sum(EXPECTED.values()) - len(garbage_times)  # later samples are not poisoned


def test_replayed_file(tmp_path: Path, lsl_prefix: str) -> None:
    def write(x: np.ndarray) -> Path:
        path = tmp_path / "hostile.csv"
        t = np.arange(N) / RATE
        rows = [",".join(repr(float(v)) for v in (t[i], *x[i])) for i in range(N)]
        path.write_text("\n".join(["time," + ",".join(IMU_CHANNELS), *rows]) + "\n")
        return path

    # A file with NaN or inf is refused when loaded, in one line naming the file and the sample.
    with pytest.raises(ValueError, match=r"hostile.csv' has a non-finite IMU value at sample 105"):
        ReplaySource(ReplaySettings(path=str(write(_rows()))))
    x = _rows()
    x[105:110] = x[99]  # finite hostile values only: they reach the guard
    source = ReplaySource(ReplaySettings(path=str(write(x))))
    sim, log = _run(source, lsl_prefix, lambda: None, lambda s: s.pipeline.guard.accepted + s.pipeline.guard.rejected >= N)
    _check(sim, log, {**EXPECTED, "non-finite value": 0})


def test_launch_run_survives_1e38_float32_frames_on_a_pty(lsl_prefix: str) -> None:
    """The crash of issue 12 end to end: float32 binary frames with a correct CRC carrying a 1e38 gyro value
    on 5 consecutive samples, into ``launch.py run``; it used to exit 1 with 'division by zero'."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    x = np.zeros((600, 6))
    x[:, 2] = 9.81
    x[300:305, 4] = 1e38
    k = np.arange(600)
    frames = binary.encode_frames(x, k, np.rint(k * 1e4).astype(np.int64), "float32")
    size = len(frames) // 600
    proc = subprocess.Popen(
        [sys.executable, "launch.py", "run", "--source", "serial", "--port", port, "--format", "binary",
         "--baud", "921600", "--imu-rate", "100", "--duration", "8", "--name", lsl_prefix, "--units", "10",
         "--fs", "1000", "--wait-for-consumer", "60"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        infos = pylsl.resolve_byprop("name", f"{lsl_prefix}-markers", 1, 120.0)
        assert infos, "the run did not start"
        markers = pylsl.StreamInlet(infos[0])
        markers.open_stream(10.0)
        emg = pylsl.StreamInlet(pylsl.resolve_byprop("name", f"{lsl_prefix}-EMG", 1, 10.0)[0])
        emg.open_stream(10.0)  # the run's clock starts now
        for i in range(0, 600, 5):  # 6 s of frames at 100 Hz
            os.write(master, frames[i * size:(i + 5) * size])
            time.sleep(0.05)
        texts = []
        deadline = time.monotonic() + 60.0
        while (not texts or not texts[-1].startswith("myostream: stop")) and time.monotonic() < deadline:
            samples, _ = markers.pull_chunk(timeout=0.2)
            texts += [s[0] for s in samples]
            emg.pull_chunk(timeout=0.0)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert "division by zero" not in err
    assert texts[-1] == "myostream: stop", texts
    assert "rejected 5 IMU samples since the last report (gyroscope out of range: 5)" in err, err
    assert "stopped after 8000 samples" in out


def test_launch_run_with_the_wrong_format_ends_with_a_stop_marker(lsl_prefix: str) -> None:
    """CSV lines read as --format binary: the run fails after 5 s, and says so on the markers first."""
    master, slave = os.openpty()
    tty.setraw(slave)
    lines = format_lines(np.tile([0.0, 0.0, 9.81, 0.0, 0.0, 0.0], (20, 1)))
    proc = subprocess.Popen(
        [sys.executable, "launch.py", "run", "--source", "serial", "--port", os.ttyname(slave), "--format", "binary",
         "--name", lsl_prefix, "--units", "10", "--fs", "1000", "--wait-for-consumer", "60", "--quiet"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    texts: list[str] = []
    try:
        infos = pylsl.resolve_byprop("name", f"{lsl_prefix}-markers", 1, 120.0)
        assert infos, "the run did not start"
        markers = pylsl.StreamInlet(infos[0])
        markers.open_stream(10.0)
        emg = pylsl.StreamInlet(pylsl.resolve_byprop("name", f"{lsl_prefix}-EMG", 1, 10.0)[0])
        emg.open_stream(10.0)
        deadline = time.monotonic() + 60.0
        while proc.poll() is None and time.monotonic() < deadline:
            os.write(master, lines)
            samples, _ = markers.pull_chunk(timeout=0.1)
            texts += [s[0] for s in samples]
            emg.pull_chunk(timeout=0.0)
        samples, _ = markers.pull_chunk(timeout=0.5)
        texts += [s[0] for s in samples]
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 1
    assert "no valid binary frame in 5 s" in err
    assert texts[0] == "myostream: start"
    assert texts[-1].startswith("myostream: stop (error: Serial port"), texts
    assert "no valid binary frame" in texts[-1]
