"""The view command's option checks and the viewer process's command line (nothing started)."""

from __future__ import annotations

from click.testing import CliRunner

from realtime.app.cli.view import view


def test_view_rejects_bad_options() -> None:
    result = CliRunner().invoke(view, ["--screenshot", "out.jpg"])
    assert result.exit_code == 2
    assert "must end in .png" in result.output
    result = CliRunner().invoke(view, ["--window", "20"])
    assert result.exit_code == 2
    assert "--window" in result.output


