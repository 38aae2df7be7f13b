"""The command line in one place (realtime/app/cli): lazy commands, one registry, one way to spawn it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from realtime.app.cli.bench import BENCHMARKS
from realtime.app.cli.lazy import LazyCommand, LazyGroup
from realtime.app.cli.main import COMMANDS, cli
from realtime.core.launcher import CLI_MODULE, PACKAGE_ROOT, cli_command, cli_environment

HEAVY = ("torch", "numba", "scipy", "matplotlib", "pyqtgraph", "PySide6", "serial", "tqdm")


def _modules_after(argv: list[str]) -> dict:
    """Run the CLI in a fresh interpreter with ``argv``; return its output and the modules it imported."""
    code = (
        "import json, sys\n"
        "from realtime.app.cli.main import cli\n"
        f"try:\n    cli({argv!r}, prog_name='myostream')\nexcept SystemExit as e:\n    code = e.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=cli_environment(), check=True)
    *help_lines, last = proc.stdout.strip().splitlines()
    return {**json.loads(last), "output": "\n".join(help_lines)}


def test_help_imports_no_command_module_and_no_heavy_library() -> None:
    out = _modules_after(["--help"])
    assert out["code"] == 0
    for name in COMMANDS:
        assert f"  {name}" in out["output"]
    loaded = set(out["modules"])
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    command_modules = {c.target.partition(":")[0] for c in (*COMMANDS.values(), *BENCHMARKS.values())}
    assert not command_modules & loaded


def test_bench_help_lists_benchmarks_without_importing_them() -> None:
    out = _modules_after(["bench", "--help"])
    assert out["code"] == 0
    for name, entry in BENCHMARKS.items():
        assert (f"  {name}" in out["output"]) is not entry.hidden
    assert "realtime.app.cli.bench_latency" not in out["modules"]
    assert not {m for m in out["modules"] if m.split(".")[0] in HEAVY}


@pytest.mark.parametrize(
    ("group", "registry"), [((), COMMANDS), (("bench",), BENCHMARKS)], ids=["top", "bench"]
)
def test_the_registry_says_what_each_command_says_of_itself(group: tuple[str, ...], registry: dict) -> None:
    ctx = click.Context(cli)
    owner = cli if not group else cli.get_command(ctx, group[0])
    for name, entry in registry.items():
        command = owner.get_command(ctx, name)
        assert isinstance(command, click.Command)
        assert command.name == name
        assert command.hidden == entry.hidden
        first_line = (command.help or "").strip().splitlines()[0]
        assert first_line == entry.short_help, name


def test_a_running_command_is_imported_then_and_errors_are_one_line() -> None:
    result = CliRunner().invoke(cli, ["run", "--fs", "300", "--duration", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--fs': must be a rate in Hz within [500, 10000]" in result.output
    assert "Traceback" not in result.output


def test_lazy_group_refuses_a_registry_entry_that_is_not_a_command() -> None:
    group = LazyGroup(name="g", lazy_commands={"x": LazyCommand("realtime.core.units:EMG_FS_MIN", "not a command")})
    with pytest.raises(TypeError, match="not a click command"):
        group.get_command(click.Context(group), "x")


def test_cli_command_runs_from_any_folder_with_the_package_on_the_path(tmp_path: Path) -> None:
    argv = cli_command("--version")
    assert argv[:3] == [sys.executable, "-m", CLI_MODULE]
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env = cli_environment(base)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(PACKAGE_ROOT)
    assert (PACKAGE_ROOT / "realtime" / "app" / "cli" / "__main__.py").is_file()
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "myostream, version 0.1.0"
    assert cli_command("view", "--fps", 30.0)[3:] == ["view", "--fps", "30.0"]


def test_launch_py_is_the_same_cli() -> None:
    a = subprocess.run([sys.executable, str(PACKAGE_ROOT / "launch.py"), "--help"], capture_output=True, text=True,
                       timeout=120, check=True).stdout
    b = subprocess.run(cli_command("--help"), capture_output=True, text=True, timeout=120, env=cli_environment(),
                       check=True).stdout
    assert a.split("\n", 1)[1] == b.split("\n", 1)[1]  # all but the usage line (the program name differs)
