"""An honest start of ``launch.py run``: progress while it prepares, "publishing" only once it publishes."""

from __future__ import annotations

import os
import subprocess
import sys

from realtime.core.launcher import cli_command, cli_environment


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``launch.py run ARGS`` in a real process, stdout and stderr merged in the order they were written."""
    env = cli_environment(dict(os.environ, PYTHONUNBUFFERED="1"))
    return subprocess.run(cli_command("run", *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=env, check=False)


def _index(lines: list[str], text: str) -> int:
    hits = [i for i, line in enumerate(lines) if text in line]
    assert hits, f"no line with {text!r} in:\n" + "\n".join(lines)
    return hits[0]


def test_progress_lines_come_before_publishing_and_publishing_before_the_end(lsl_prefix: str) -> None:
    proc = _run("--duration", "0.5", "--quiet", "--name", lsl_prefix)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout
    setup = _index(lines, "setting up the model activation stage")
    tables = _index(lines, "MUAP tables for armband8")
    kernels = _index(lines, "compiling the kernels")
    publishing = _index(lines, f"publishing {lsl_prefix}-EMG")
    stopped = _index(lines, "myostream: stopped after")
    assert setup < tables < kernels < publishing < stopped
    for i in (setup, tables, kernels):  # one line per phase, each with its time
        assert lines[i].rstrip().endswith(" s"), lines[i]
    assert sum("publishing" in line for line in lines) == 1


def test_no_publishing_when_the_run_fails_before_the_outlets_are_live(lsl_prefix: str) -> None:
    proc = _run("--source", "serial", "--port", "/dev/myostream-no-such-port", "--duration", "1", "--quiet",
                "--name", lsl_prefix)
    assert proc.returncode == 1, proc.stdout
    assert "publishing" not in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("myostream: error:")
    assert "/dev/myostream-no-such-port" in last
    assert "--port" in last
    assert "Traceback" not in proc.stdout


def test_a_run_does_not_import_torch(lsl_prefix: str) -> None:
    """Streaming needs no torch: the shipped model loads from its .npz copy with numpy."""
    code = (
        "import sys\n"
        "from realtime.app.cli.main import cli\n"
        f"try:\n    cli(['run', '--duration', '1', '--quiet', '--name', {lsl_prefix!r}], prog_name='myostream')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print('exit', code, 'torch loaded', 'torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, env=cli_environment(), check=False)
    assert proc.stdout.strip().splitlines()[-1] == "exit 0 torch loaded False", proc.stdout
