"""``launch.py bench tick``: what one runner tick costs, per stage, in-process (no sleeping, no consumer)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from realtime.app.bench.tick import format_rows, run_tick_bench


@click.command()
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the results (JSON).")
@click.option("--layout", "layouts", multiple=True, default=("armband8", "grid64"), show_default=True,
              help="Layout to measure (repeat the option for several).")
@click.option("--fs", type=click.FloatRange(500, 10000), default=2000.0, show_default=True, help="EMG rate in Hz.")
@click.option("--block-size", type=click.IntRange(min=1), default=2, show_default=True, help="EMG samples per tick.")
@click.option("--imu-rate", type=click.FloatRange(50, 1000), default=1000.0, show_default=True,
              help="Rate of the synthetic arm in Hz.")
@click.option("--ticks", type=click.IntRange(min=100), default=20000, show_default=True,
              help="Ticks per pass (medians are reported).")
@click.option("--units-per-muscle", type=click.IntRange(min=1), default=100, show_default=True,
              help="Motor units in each muscle's pool.")
def tick(json_path: Path, layouts: tuple[str, ...], fs: float, block_size: int, imu_rate: float, ticks: int,
         units_per_muscle: int) -> None:
    """Cost of one runner tick (median µs), whole and per stage, on a synthetic arm with live outlets."""
    results = []
    for layout in layouts:
        result = run_tick_bench(layout=layout, fs=fs, block_size=block_size, imu_rate=imu_rate, ticks=ticks,
                                units_per_muscle=units_per_muscle)
        results.append(result)
        for line in format_rows(result):
            click.echo(line)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"configs": results}, indent=2))
    click.echo(f"wrote {json_path}")
