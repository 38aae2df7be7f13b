"""The status line of ``launch.py run``: within 100 columns, only the counters that apply to the source."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from devices.formats.csv_text import CsvSettings, parse_columns
from devices.lsl_imu import LslImu
from devices.serial_imu import SerialImu, SerialSettings
from devices.threaded_source import SourceStatus
from realtime.app.cli.main import cli
from realtime.app.runner import StatusReport
from realtime.app.status import (
    STATUS_LEGEND,
    STATUS_WIDTH,
    _source_text,
    source_fields,
    status_line,
)

BIG = StatusReport(elapsed=864_000.0, samples_sent=1_728_000_000, effective_rate=10_000.0, late_ticks=9_999_999,
                   loop_load=1.0)


def _serial(fmt: str, columns: str = "ax,ay,az,gx,gy,gz") -> SerialImu:
    return SerialImu(SerialSettings(port="/dev/myostream-test", format=fmt, csv=CsvSettings(columns=parse_columns(columns))))


def _status(connected: bool = True, error: str = "") -> SourceStatus:
    n = 9_999_999
    return SourceStatus(name="x", connected=connected, samples=n, frames_ok=n, crc_errors=n, malformed=n, text_lines=n,
                        bytes_skipped=n, seq_gaps=n, samples_lost=n, reconnects=n, rate_hz=1000.0, last_error=error)


def test_synthetic_source_line_has_only_the_runner_fields() -> None:
    line = status_line(BIG, object())
    assert "|" not in line
    assert len(line) <= STATUS_WIDTH
    for field in ("t=", "sent=", "rate=", "late=", "load="):
        assert field in line


@pytest.mark.parametrize(
    ("fmt", "columns", "crc", "gaps"),
    [("csv", "ax,ay,az,gx,gy,gz", False, False), ("csv", "seq,ax,ay,az,gx,gy,gz", False, True),
     ("binary", "ax,ay,az,gx,gy,gz", True, True), ("witmotion", "ax,ay,az,gx,gy,gz", True, False)],
)
def test_serial_counters_that_apply_to_the_format(fmt: str, columns: str, crc: bool, gaps: bool) -> None:
    fields = source_fields(_serial(fmt, columns))
    assert ("crc" in fields) is crc
    assert ("gaps" in fields) is gaps
    assert {"state", "imu", "bad", "reconn"} <= set(fields)


def test_lsl_has_no_decoder_counters() -> None:
    fields = source_fields(LslImu.__new__(LslImu))
    assert fields == ("state", "imu", "reconn")
    text = _source_text("lsl", fields, _status())
    assert "crc" not in text
    assert "bad" not in text


@pytest.mark.parametrize("source", ["serial-binary", "lsl"])
def test_worst_case_lines_stay_within_the_width(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _serial("binary") if source == "serial-binary" else LslImu.__new__(LslImu)
    monkeypatch.setattr(type(src), "status", property(lambda self: _status(False, "device lost: " + "x" * 300)))
    line = status_line(BIG, src)
    assert len(line) <= STATUS_WIDTH
    assert line.endswith("...")
    assert "LOST" in line


def test_run_help_explains_every_field() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"], terminal_width=120)
    assert result.exit_code == 0
    for field in ("t ", "sent", "rate", "late", "load", "ok/LOST", "imu", "crc", "bad", "gaps", "reconn", "done"):
        assert f"  {field}" in result.output, field
    assert STATUS_LEGEND.splitlines()[0] in result.output
