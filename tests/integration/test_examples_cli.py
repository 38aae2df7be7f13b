"""The examples, run as examples/README.md says, against a real `launch.py run` (separate processes)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pylsl
import pytest

from realtime.core.schemas import STREAM_SUFFIXES
from tests.helpers import wait_until
from tests.helpers.paths import REPO_ROOT

ROOT = REPO_ROOT


def _quiet_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no LSL configuration of the user's (so the examples' own quieting shows)."""
    env = dict(os.environ)
    env.pop("LSLAPICFG", None)
    env["HOME"] = str(tmp_path)  # no ~/lsl_api/lsl_api.cfg
    return env


@pytest.fixture
def simulator(lsl_prefix: str):
    """``launch.py run --motion wrist-flexion --wait-for-consumer``: the command examples/README.md uses."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "launch.py"),
            "run",
            "--motion",
            "wrist-flexion",
            "--name",
            lsl_prefix,
            "--duration",
            "40",
            "--wait-for-consumer",
            "90",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield lsl_prefix
    if proc.poll() is None:
        proc.terminate()
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err


def _stream_names(prefix: str, want: set[str], timeout: float) -> set[str]:
    """Names of the ``<prefix>-*`` streams, as an independent resolver sees them once all of ``want`` are there."""
    resolver = pylsl.ContinuousResolver(pred=f"starts-with(name,'{prefix}-')")
    names: set[str] = set()

    def all_there() -> bool:
        names.clear()
        names.update(info.name() for info in resolver.results())
        return want <= names

    try:
        wait_until(all_there, timeout, 0.2, f"the streams {sorted(want)}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; found {sorted(names)}") from None
    return set(names)


def test_controller_and_recorder_do_what_the_readme_says(simulator: str, tmp_path: Path) -> None:
    prefix = simulator
    out_dir = tmp_path / "recording"
    env = _quiet_env(tmp_path)
    recorder = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "record_csv.py"),
            "--prefix",
            prefix,
            "--out",
            str(out_dir),
            "--duration",
            "14",
            "--resolve-timeout",
            "90",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    controller = None
    try:
        # Every stream of a run with the model (the default) stage: the truth and the model's activations.
        # (-gesture and -intent exist only with --gestures)
        always = {role: suffix for role, suffix in STREAM_SUFFIXES.items() if role not in ("gesture", "intent")}
        published = _stream_names(prefix, {f"{prefix}-{s}" for s in always.values()}, 120.0)
        controller = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "examples" / "controller.py"),
                "--prefix",
                prefix,
                "--duration",
                "18",  # outlives the 14 s recorder, which must end first, however late either starts
                "--publish",
                "--resolve-timeout",
                "30",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # --publish: the command is on <prefix>-controller while the controller runs
        assert f"{prefix}-controller" in _stream_names(prefix, {f"{prefix}-controller"}, 30.0)
        # the recorder ends first (a stream vanishing under a recorder is an error line of liblsl's)
        r_out, r_err = recorder.communicate(timeout=90)
        c_out, c_err = controller.communicate(timeout=90)
    finally:  # a failure above must not leave the examples running into the next test
        for proc in (recorder, controller):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()

    # quiet: no liblsl INFO lines, nothing on stderr
    assert controller.returncode == 0, c_err
    assert recorder.returncode == 0, r_err
    assert c_err == ""
    assert r_err == ""

    # the controller: a command line once a second, extension whenever the hand moves (README)
    lines = c_out.splitlines()
    commands = [line for line in lines if line.startswith("wrist velocity")]
    assert len(commands) >= 10
    pattern = re.compile(r"wrist velocity +([+-]\d+\.\d\d) rad/s (flex|ext |rest) #*$")
    kinds = []
    for line in commands:
        match = pattern.match(line)
        assert match, line
        value, kind = float(match.group(1)), match.group(2).strip()
        assert (kind == "ext") == (value < 0)
        assert (kind == "rest") == (value == 0)
        kinds.append(kind)
    assert "flex" not in kinds
    assert "ext" in kinds
    summary = re.match(
        r"(\d+) commands; EMG sample age at command p50 [\d.]+ / p99 [\d.]+ ms; compute p50 [\d.]+ / "
        r"p99 [\d.]+ ms; motion \(IMU sample\) to command p50 [\d.]+ / p99 [\d.]+ ms$",
        lines[-1],
    )
    assert summary, lines[-1]
    assert int(summary.group(1)) > 1000  # one every 10 ms for 18 s

    # the recorder: one CSV per stream the simulator publishes (found by discovery), the
    # model's activations and the spikes included
    simulator_streams = {name for name in published if not name.endswith("-controller")}
    assert {f"{prefix}-activation-model", f"{prefix}-spikes", f"{prefix}-EMG"} <= simulator_streams
    files = {path.stem for path in out_dir.glob("*.csv")}
    assert simulator_streams <= files
    assert f"{prefix}-controller" in files  # appeared during the recording: added
    reported = dict(
        line.split(": ", 1) for line in r_out.splitlines() if line.startswith(f"{prefix}-")
    )
    assert set(reported) == files  # one summary line per file
    for name in simulator_streams - {f"{prefix}-markers", f"{prefix}-spikes"}:
        with open(out_dir / f"{name}.csv") as fh:
            rows = list(csv.reader(fh))
        assert rows[0][0] == "timestamp"
        assert len(rows) > 10, name  # regular streams have data
        assert reported[name].startswith(f"{len(rows) - 1} samples -> ")
    # the command stream the controller published, as recorded: extension whenever it moves
    command = np.loadtxt(out_dir / f"{prefix}-controller.csv", delimiter=",", skiprows=1)[:, 1]
    moving = command != 0
    assert command.size > 500
    assert moving.mean() > 0.2  # the program moves the wrist about half the time; slow phases read as rest
    assert np.all(command[moving] < 0)
    with open(out_dir / f"{prefix}-activation-model.csv") as fh:
        header = next(csv.reader(fh))
    assert header[1:] == [
        "biceps",
        "brachialis",
        "brachioradialis",
        "triceps",
        "pronator_teres",
        "supinator",
        "wrist_flexors",
        "wrist_extensors",
    ]


def test_examples_print_no_liblsl_lines_without_a_simulator(
    lsl_prefix: str, tmp_path: Path
) -> None:
    for script, extra in (("controller.py", []), ("record_csv.py", ["--out", str(tmp_path / "r")])):
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / script),
                "--prefix",
                lsl_prefix,
                "--resolve-timeout",
                "1",
                *extra,
            ],
            cwd=tmp_path,
            env=_quiet_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, lines  # the error alone: no "INFO| Loaded default config"
        assert lsl_prefix in lines[0]
