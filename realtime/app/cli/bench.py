"""``launch.py bench``: benchmarks that write JSON.

Each benchmark is a subcommand defined next to the code it measures and only
registered here. Speed is measured here, never in timed unit tests.
"""

from __future__ import annotations

import importlib

import click

# (module, attribute) of every `bench` subcommand.
_BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("realtime.app.cli.bench_engine", "engine"),
    ("realtime.app.cli.bench_model", "model"),
    ("realtime.app.cli.view", "bench_viewer"),
    ("realtime.app.bench.serial_formats", "serial_formats"),
    ("realtime.app.cli.bench_latency", "latency"),
    ("realtime.app.cli.bench_latency", "soak"),
)


@click.group()
def bench() -> None:
    """Benchmarks (each writes a JSON file with --json PATH)."""


for _module_name, _attr in _BENCHMARKS:
    bench.add_command(getattr(importlib.import_module(_module_name), _attr))
