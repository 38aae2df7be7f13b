"""The device commands: fake-imu, list-ports, list-streams."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pylsl
from click.testing import CliRunner

from devices.serial_imu import SerialImu, SerialSettings
from realtime.app.cli.devices import fake_imu, list_streams
from tests.helpers import wait_until


def test_fake_imu_prints_the_port_and_the_command_to_connect(tmp_path: Path) -> None:
    link = tmp_path / "imu"
    got: dict[str, int] = {}

    def read_it() -> None:  # a reader connecting to the printed (linked) port while fake-imu runs
        wait_until(link.exists, 5.0, 0.01, f"the link {link}")
        got["n"] = 0
        with SerialImu(SerialSettings(str(link), 921600, "binary", fs=200.0)) as src:

            def hundred() -> bool:
                got["n"] += src.read().n_samples
                return got["n"] >= 100

            wait_until(hundred, 5.0, 0.01, "100 IMU samples")

    reader = threading.Thread(target=read_it)
    reader.start()
    result = CliRunner().invoke(fake_imu, ["--format", "binary", "--rate", "200", "--link", str(link),
                                           "--duration", "1.5"])
    reader.join()
    assert result.exit_code == 0, result.output
    assert f"streaming binary at 200 Hz (random-reaches) on {link}" in result.output
    assert (f"connect with: python launch.py run --source serial --port {link} --format binary "
            f"--imu-rate 200 --baud 921600") in result.output
    assert re.search(r"stopped after \d+ samples", result.output)
    assert got["n"] >= 100
    assert not link.exists()  # the link goes away with the virtual port


def test_list_streams_shows_an_outlet(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_imu"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "IMU", 6, 100.0, pylsl.cf_float32, f"{name}_src"))
    result = CliRunner().invoke(list_streams, ["--timeout", "1.0"])
    del outlet
    assert result.exit_code == 0
    assert re.search(rf"{name}  type=IMU  channels=6  100 Hz  source_id={name}_src", result.output), result.output

