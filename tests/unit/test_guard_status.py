"""The input guard in the status line and on the command line (issue 12 item 1): a short summary of the
rejections and the invalid state; ``run``'s range options reach the guard and are checked."""

from __future__ import annotations

import math

import numpy as np
from click.testing import CliRunner

from realtime.app.cli.run import run
from realtime.core.block import Block
from realtime.core.units import IMU_CHANNELS
from realtime.stages.guard import GuardSettings, InputGuard


def _block(fake_clock, x: np.ndarray, seq: int = 0) -> Block:
    t = fake_clock() - 0.5 + 0.01 * np.arange(x.shape[0])
    return Block(np.ascontiguousarray(x, np.float32), t, 100.0, seq, IMU_CHANNELS)


def test_status_text_is_empty_until_a_rejection_then_short(fake_clock) -> None:
    guard = InputGuard(clock=fake_clock)
    x = np.zeros((20, 6))
    x[:, 2] = 9.81
    guard.process(_block(fake_clock, x))
    assert guard.status_text() == ""
    x[:10, 4] = 1e38
    x[10:12, 0] = np.nan
    x[12, 1] = 1e30
    fake_clock.advance(1.0)
    guard.process(_block(fake_clock, x, seq=20))
    assert guard.status_text() == "input 13 rejected (gyro range 10, nan/inf 2)"
    bad = np.full((20, 6), np.nan)
    for k in range(3):  # 1 s of nothing but rejected samples: invalid
        fake_clock.advance(0.6)
        guard.process(_block(fake_clock, bad, seq=40 + 20 * k))
    assert guard.invalid
    text = guard.status_text()
    assert text.startswith("input INVALID, 73 rejected (nan/inf 62, gyro range 10)")
    assert len(text) <= 60


def test_run_range_options_are_checked() -> None:
    result = CliRunner().invoke(run, ["--imu-gyro-range", "0"])
    assert result.exit_code == 2
    assert "--imu-gyro-range" in result.output
    result = CliRunner().invoke(run, ["--imu-acc-range", "-3"])
    assert result.exit_code == 2
    assert "--imu-acc-range" in result.output
    result = CliRunner().invoke(run, ["--linger", "100"])
    assert result.exit_code == 2
    assert "--linger" in result.output


def test_the_default_limits_are_the_largest_common_full_scale() -> None:
    s = GuardSettings()
    assert math.isclose(s.acc_limit, 16 * 9.80665)
    assert math.isclose(s.gyro_limit, math.radians(2000))


def test_run_passes_the_ranges_and_linger_to_the_simulator(monkeypatch) -> None:
    seen = {}

    def capture(config, source, **kwargs):
        seen["config"] = config
        raise ValueError("captured")  # stop before anything starts

    monkeypatch.setattr("realtime.app.cli.run.Simulator", capture)
    result = CliRunner().invoke(run, ["--imu-acc-range", "8", "--imu-gyro-range", "500", "--linger", "2.5"])
    assert result.exit_code == 2
    assert "captured" in result.output
    config = seen["config"]
    assert math.isclose(config.guard.acc_limit, 8 * 9.80665)
    assert math.isclose(config.guard.gyro_limit, math.radians(500))
    assert config.linger_s == 2.5
