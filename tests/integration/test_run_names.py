"""Names that collide (issue 12 item 5): ``run`` refuses to publish streams whose name or source_id is
already on the network, in one line suggesting ``--name``; ``--allow-duplicate-name`` shares on purpose."""

from __future__ import annotations

import subprocess
import sys

from devices.lsl_outlet import LslOutlet, MarkerOutlet, find_collisions
from realtime.core.schemas import markers_stream_spec, status_stream_spec
from tests.helpers import REPO_ROOT


def _run(prefix: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "launch.py", "run", "--duration", "0.5", "--name", prefix, "--quiet", "--units", "10",
         "--activation", "teacher", *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )


def test_find_collisions_sees_a_second_outlet_with_our_name(lsl_prefix: str) -> None:
    ours = [markers_stream_spec(lsl_prefix), status_stream_spec(lsl_prefix)]
    assert find_collisions(ours, timeout=0.5) == []
    with MarkerOutlet(markers_stream_spec(lsl_prefix)), LslOutlet(status_stream_spec(f"{lsl_prefix}x")):
        found = find_collisions(ours, timeout=1.0)
    assert len(found) == 1
    assert found[0].startswith(f"{lsl_prefix}-markers (source_id {lsl_prefix}-markers-")


def test_run_refuses_a_name_already_published_and_shares_it_on_request(lsl_prefix: str) -> None:
    with MarkerOutlet(markers_stream_spec(lsl_prefix)):  # another simulator's markers, same --name
        refused = _run(lsl_prefix)
        shared = _run(lsl_prefix, "--allow-duplicate-name")
    assert refused.returncode == 2, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.startswith("myostream: error")]
    assert len(lines) == 1, refused.stderr
    assert f"streams named {lsl_prefix}-* are already on the network ({lsl_prefix}-markers" in lines[0]
    assert "choose another --name" in lines[0]
    assert "publishing" not in refused.stdout
    assert shared.returncode == 0, shared.stderr
    assert "stopped after 1000 samples" in shared.stdout


def test_run_starts_when_the_name_is_free(lsl_prefix: str) -> None:
    with MarkerOutlet(markers_stream_spec(f"{lsl_prefix}other")):
        done = _run(lsl_prefix)
    assert done.returncode == 0, done.stderr
    assert "stopped after 1000 samples" in done.stdout
