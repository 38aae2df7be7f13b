"""``launch.py bench``: benchmarks that write JSON.

Speed is measured here, never in timed unit tests. Each benchmark is a command
of its own module, imported only when it runs (:mod:`realtime.app.cli.lazy`).
"""

from __future__ import annotations

import click

from realtime.app.cli.lazy import LazyCommand, LazyGroup

BENCHMARKS: dict[str, LazyCommand] = {
    "engine": LazyCommand(
        "realtime.app.cli.bench_engine:engine",
        "Engine speed (signal seconds per CPU second, one thread), table build and start-up times, pass/fail vs minimums.",
    ),
    "model": LazyCommand(
        "realtime.app.cli.bench_model:model",
        "Cached-state streaming (one sample at a time) vs recomputing the receptive field, one thread.",
    ),
    "provisional": LazyCommand(
        "realtime.app.cli.bench_model:provisional",
        "Model stage cost per IMU sample with provisional rows (docs/model.md) and without; their accuracy.",
    ),
    "viewer": LazyCommand(
        "realtime.app.cli.bench_viewer:viewer",
        "Viewer frame rate (offscreen, 4 s window, 2 kHz) and its effect on the simulator's late ticks.",
    ),
    "serial-formats": LazyCommand(
        "realtime.app.cli.bench_serial:serial_formats",
        "Decode throughput of each serial format and pty -> read() latency (writes JSON).",
    ),
    "latency": LazyCommand(
        "realtime.app.cli.bench_latency:latency",
        "End-to-end latency: IMU process -> simulator process -> consumer process, per configuration.",
    ),
    "soak": LazyCommand(
        "realtime.app.cli.bench_latency:soak",
        "Long run: rate drift, lost samples, late ticks and simulator memory over time.",
    ),
    "worker": LazyCommand(
        "realtime.app.cli.bench_workers:worker",
        "The processes of a latency session (started by bench latency and bench soak).",
        hidden=True,
    ),
}
"""Every benchmark: name -> where it lives and its line in ``bench --help``."""


@click.group(cls=LazyGroup, lazy_commands=BENCHMARKS)
def bench() -> None:
    """Benchmarks (each writes a JSON file with --json PATH)."""
