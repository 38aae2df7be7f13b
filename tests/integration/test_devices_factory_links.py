"""The source factory on real links: a serial pty and an LSL IMU stream."""

from __future__ import annotations

import os
import tty

import click
import pylsl
import pytest

from devices.lsl_imu import LslImu
from devices.serial_imu import SerialImu
from realtime.app.sources import (
    build_source,
    source_status_line,
)


@pytest.fixture
def pty_path():
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_options(pty_path: str) -> None:
    src = build_source({"source": "serial", "port": pty_path, "baud": 921600, "serial_format": "csv",
                        "csv_columns": "t,ax,ay,az,gx,gy,gz", "csv_acc_scale": "g", "csv_gyro_scale": "deg/s",
                        "csv_time_scale": "us", "imu_rate": 250.0, "no_frame_timeout": 2.0})
    assert isinstance(src, SerialImu)
    s = src.settings
    assert (s.port, s.baud, s.format, s.fs, s.no_frame_timeout_s) == (pty_path, 921600, "csv", 250.0, 2.0)
    assert s.csv.columns == ("t", "ax", "ay", "az", "gx", "gy", "gz")
    assert s.csv.acc_scale == pytest.approx(9.80665)
    assert s.csv.time_scale == 1e-6
    with src:
        assert "serial" in source_status_line(src)
        assert "source_events" not in src.read().events


def test_lsl_source_is_resolved_at_build_time(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_imu"
    info = pylsl.StreamInfo(name, "IMU", 6, 250.0, pylsl.cf_float32, f"{name}_src")
    outlet = pylsl.StreamOutlet(info)
    src = build_source({"source": "lsl", "stream_name": name, "resolve_timeout": 5.0})
    assert isinstance(src, LslImu)
    assert src.fs == 250.0
    del outlet
    with pytest.raises(click.UsageError, match="No LSL stream with name .* found within 0.2 s"):
        build_source({"source": "lsl", "stream_name": f"{lsl_prefix}_absent", "resolve_timeout": 0.2})

