"""``launch.py run`` rejects bad values with one line naming the option (nothing started)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--motion", "juggling"], "--motion"),
        (["--layout", "grid99"], "--layout"),
        (["--fs", "0"], "--fs"),
        (["--duration", "-1"], "--duration"),
    ],
)
def test_run_rejects_bad_values_with_one_line_naming_the_option(args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from launch import cli

    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 2, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    assert message in error_lines[0], result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

