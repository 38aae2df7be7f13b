"""Command-line errors: one line, naming the option and the file, without click's usage lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from realtime.app.cli.main import cli


def _error(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output  # no "Usage:" / "Try ... --help" lines above it
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_a_missing_replay_file_names_the_option_and_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.csv"
    line = _error(["run", "--source", "replay", "--file", str(missing)])
    assert "'--file'" in line
    assert str(missing) in line


def test_a_replay_file_with_bad_content_names_the_option_and_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    line = _error(["run", "--source", "replay", "--file", str(bad)])
    assert "'--file'" in line
    assert str(bad) in line


def test_a_fault_on_a_channel_the_layout_lacks_names_the_file_and_the_channel(tmp_path: Path) -> None:
    script = tmp_path / "faults.toml"
    script.write_text('[[fault]]\nonset = 1.0\nchannels = ["EMG12"]\nkind = "dropout"\n')
    line = _error(["run", "--faults", str(script), "--layout", "armband8", "--duration", "0"])
    assert "'--faults'" in line
    assert str(script) in line
    assert "EMG12" in line


@pytest.mark.parametrize(
    ("args", "option"),
    [(["run", "--name", "a b"], "'--name'"), (["run", "--block", "100000"], "'--block'"),
     (["run", "--fs", "300"], "'--fs'"), (["run", "--bogus"], "'--bogus'"), (["runn"], "'runn'")],
)
def test_settings_errors_name_the_command_line_option(args: list[str], option: str) -> None:
    line = _error([*args, "--duration", "0"] if args[0] == "run" and args[1] != "--bogus" else args)
    assert option in line
    assert "The argument '" not in line
