"""``launch.py bench``: benchmarks that write JSON.

Each benchmark is a subcommand defined next to the code it measures and only
registered here. Speed is measured here, never in timed unit tests.
"""

from __future__ import annotations

import importlib

import click

# (module, attribute) of every `bench` subcommand.
_BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("realtime.commands.bench_engine", "engine"),
    ("realtime.commands.bench_model", "model"),
    ("gui.commands", "bench_viewer"),
    ("devices.bench_formats", "serial_formats"),
    ("realtime.commands.bench_latency", "latency"),
    ("realtime.commands.bench_latency", "soak"),
)


@click.group()
def bench() -> None:
    """Benchmarks (each writes a JSON file with --json PATH)."""


for _module_name, _attr in _BENCHMARKS:
    bench.add_command(getattr(importlib.import_module(_module_name), _attr))
