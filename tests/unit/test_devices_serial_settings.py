"""The serial IMU source's settings and the missing-port error (no pty opened)."""

from __future__ import annotations

import pytest

from devices.serial_imu import SerialImu, SerialSettings
from devices.threaded_source import DeviceError


def test_missing_port_error_names_the_fix() -> None:
    src = SerialImu(SerialSettings("/dev/does-not-exist-myostream", 115200, "csv", fs=100.0))
    with pytest.raises(DeviceError, match=r"'/dev/does-not-exist-myostream' does not exist .*list-ports"):
        src.start()
    assert not src.running


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="'format' must be one of csv, binary, witmotion"):
        SerialSettings("/dev/x", format="nmea")
    with pytest.raises(ValueError, match="'baud' must be an integer >= 1"):
        SerialSettings("/dev/x", baud=0)
    with pytest.raises(ValueError, match="'port'"):
        SerialSettings("")


