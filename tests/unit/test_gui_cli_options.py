"""The view command's option checks and the viewer process's command line (nothing started)."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from realtime.app.cli.view import start_viewer_process, view, viewer_command


def test_view_rejects_bad_options() -> None:
    result = CliRunner().invoke(view, ["--screenshot", "out.jpg"])
    assert result.exit_code == 2
    assert "must end in .png" in result.output
    result = CliRunner().invoke(view, ["--window", "20"])
    assert result.exit_code == 2
    assert "--window" in result.output


def test_viewer_command_and_process_helper_arguments() -> None:
    argv = viewer_command("P1", timeout=10, screenshot_after=2.5, stream=None)
    assert argv[0] == sys.executable
    assert argv[1].endswith("launch.py")
    assert argv[2:] == ["view", "--prefix", "P1", "--timeout", "10", "--screenshot-after", "2.5"]
    with pytest.raises(TypeError, match=r"Unknown viewer option\(s\) \['colour'\]"):
        viewer_command("P1", colour="red")
    with pytest.raises(ValueError, match="'prefix' must be a non-empty string"):
        start_viewer_process("")
