"""Building sources from command-line options: every source, and errors that name the option."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from devices.replay import ReplaySource
from realtime.app.sources import (
    SOURCE_DEFAULTS,
    build_source,
    source_options,
    source_status_line,
)
from realtime.body.synthetic import SyntheticArm


def test_defaults_build_the_synthetic_arm(fake_clock) -> None:
    src = build_source({}, clock=fake_clock)
    assert isinstance(src, SyntheticArm)
    assert src.fs == 100.0
    assert src.settings.motion == "random-reaches"
    with src:
        fake_clock.advance(0.1)
        blk = src.read()
        assert blk.n_samples == 11
        assert "source_events" not in blk.events
    assert source_status_line(src) is None


def test_synthetic_options(fake_clock) -> None:
    src = build_source({"motion": "elbow-curls", "imu_rate": 200.0, "seed": 4, "speed": 2.0, "amplitude": 0.5,
                        "layout": "not a source option"}, clock=fake_clock)
    s = src.settings
    assert (s.motion, s.fs, s.seed, s.speed, s.amplitude) == ("elbow-curls", 200.0, 4, 2.0, 0.5)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"motion": "juggling"}, r"'--motion'.*must be one of .*random-reaches.*'juggling' is invalid"),
        ({"imu_rate": 5000.0}, r"'--imu-rate'.*within \[50, 1000\] Hz"),
        ({"imu_rate": -1.0}, r"'--imu-rate'.*positive"),
        ({"speed": 0.0}, r"'--speed'.*\(0, 10\]"),
        ({"amplitude": 3.0}, r"'--amplitude'.*\[0, 1.5\]"),
        ({"seed": -2}, r"'--seed'.*non-negative"),
        ({"source": "bluetooth"}, r"'--source'.*synthetic, serial, lsl, replay"),
    ],
)
def test_bad_values_name_the_option(options: dict, pattern: str) -> None:
    with pytest.raises(click.BadParameter) as err:
        build_source(options)
    message = err.value.format_message()
    assert re.search(pattern, message), message


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"source": "serial"}, click.UsageError, r"--source serial needs --port .*list-ports"),
        ({"source": "serial", "port": "/dev/x", "baud": 0}, click.BadParameter, r"'--baud'.*positive integer"),
        ({"source": "serial", "port": "/dev/x", "csv_columns": "ax,ay"}, click.BadParameter, r"'--csv-columns'"),
        ({"source": "serial", "port": "/dev/x", "csv_delimiter": "|"}, click.BadParameter, r"'--csv-delimiter'"),
        ({"source": "serial", "port": "/dev/x", "csv_acc_scale": "lots"}, click.BadParameter,
         r"'--csv-acc-scale'.*m/s2, si, g, mg"),
        ({"port": "/dev/ttyUSB0"}, click.UsageError, r"--port is only used with --source serial.*Add --source serial"),
        ({"stream_name": "x"}, click.UsageError, r"--stream-name is only used with --source lsl"),
        ({"file": "x.csv"}, click.UsageError, r"--file is only used with --source replay"),
        ({"source": "lsl"}, click.UsageError, r"needs --stream-name NAME and/or --stream-type TYPE"),
        ({"source": "replay"}, click.UsageError, r"--source replay needs --file"),
        ({"source": "replay", "file": "/nonexistent.csv"}, click.BadParameter, r"'--file'.*'/nonexistent.csv' does not exist"),
    ],
)
def test_missing_and_contradictory_options(options: dict, error: type, pattern: str) -> None:
    with pytest.raises(error) as err:
        build_source(options)
    assert re.search(pattern, err.value.format_message()), err.value.format_message()


def test_replay_source(tmp_path: Path, fake_clock) -> None:
    path = tmp_path / "r.csv"
    path.write_text("acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "0,0,9.8,0,0,0\n" * 20)
    src = build_source({"source": "replay", "file": str(path), "imu_rate": 50.0, "replay_speed": 2.0, "loop": True},
                       clock=fake_clock)
    assert isinstance(src, ReplaySource)
    assert src.fs == 100.0
    assert src.settings.loop


def test_source_options_on_a_click_command(tmp_path: Path) -> None:
    seen = {}

    @click.command()
    @source_options
    @click.option("--fs", type=float, default=2000.0)
    def cmd(fs: float, **kwargs) -> None:
        seen.update(kwargs)
        build_source(kwargs)

    runner = CliRunner()
    result = runner.invoke(cmd, ["--motion", "pronation", "--imu-rate", "120", "--fs", "1000"])
    assert result.exit_code == 0, result.output
    assert set(seen) == set(SOURCE_DEFAULTS)
    assert seen["motion"] == "pronation"
    assert seen["imu_rate"] == 120.0
    result = runner.invoke(cmd, ["--source", "serial"])
    assert result.exit_code == 2
    assert "--source serial needs --port" in result.output
    result = runner.invoke(cmd, ["--format", "nmea"])
    assert result.exit_code == 2
    assert "'nmea' is not one of 'csv', 'binary', 'witmotion'" in result.output
    help_text = runner.invoke(cmd, ["--help"]).output
    for flag in ("--source", "--port", "--baud", "--format", "--csv-columns", "--stream-name", "--imu-channels",
                 "--file", "--replay-speed", "--loop / --no-loop"):
        assert flag in help_text

