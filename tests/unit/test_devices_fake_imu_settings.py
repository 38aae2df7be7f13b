"""The fake IMU's settings: what the baud rate can carry (no pty opened)."""

from __future__ import annotations

import pytest

from devices.fake_imu import FakeImuSettings


def test_settings_check_what_the_baud_rate_can_carry() -> None:
    with pytest.raises(ValueError, match=r"csv at 1000 Hz needs about \d+ baud, more than --baud 115200"):
        FakeImuSettings(format="csv", rate=1000.0, baud=115200)
    FakeImuSettings(format="binary", rate=1000.0, baud=921600)
    FakeImuSettings(format="csv", rate=1000.0, baud=115200, check_baud=False)
    with pytest.raises(ValueError, match=r"'garbage' must be a number within \[0, 1\] \(a probability per frame\)"):
        FakeImuSettings(garbage=2.0)
    with pytest.raises(ValueError, match="'format' must be one of"):
        FakeImuSettings(format="nmea")


