"""The device commands' option checks and port listing (nothing opened)."""

from __future__ import annotations

from click.testing import CliRunner

from realtime.app.cli.devices import fake_imu, list_ports


def test_fake_imu_refuses_a_rate_the_baud_cannot_carry() -> None:
    result = CliRunner().invoke(fake_imu, ["--format", "csv", "--rate", "1000", "--duration", "0.1"])
    assert result.exit_code == 2
    assert "needs about" in result.output
    assert "--baud 921600" in result.output


def test_list_ports_runs() -> None:
    result = CliRunner().invoke(list_ports)
    assert result.exit_code == 0
    assert result.output.strip()

