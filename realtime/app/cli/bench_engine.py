"""``launch.py bench engine``: engine speed (static and dynamic MUAPs) against the per-unit ``np.convolve`` method."""

from __future__ import annotations

import json
from pathlib import Path

import click

from realtime.app.bench.engine import format_rows, run_engine_bench


@click.command()
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the results (JSON).")
@click.option("--duration", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds of signal per timed streaming run.")
@click.option("--baseline-duration", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds of signal for the np.convolve baseline.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs of each method (medians are reported).")
@click.option("--units-per-muscle", type=click.IntRange(min=1), default=None,
              help="Motor units in each of the 6 muscles [default: each muscle's published count].")
@click.option("--layout", "layouts", multiple=True, default=("armband8", "grid64"), show_default=True,
              help="Layout to measure (repeat the option for several).")
@click.option("--muaps", "muaps", multiple=True, type=click.Choice(["static", "dynamic"]),
              default=("static", "dynamic"), show_default=True, help="MUAP mode to measure (repeatable).")
@click.option("--no-startup", is_flag=True, help="Skip the cold/warm start-up measurement (fresh processes).")
def engine(json_path: Path, duration: float, baseline_duration: float, repeats: int, units_per_muscle: int | None,
           layouts: tuple[str, ...], muaps: tuple[str, ...], no_startup: bool) -> None:
    """Engine speed (signal seconds per CPU second, one thread), table build and start-up times, pass/fail vs minimums."""
    result = run_engine_bench(layouts=layouts, muaps=muaps, duration=duration, baseline_duration=baseline_duration,
                              repeats=repeats, baseline_repeats=repeats, units_per_muscle=units_per_muscle,
                              startup=not no_startup)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2))
    for line in format_rows(result):
        click.echo(line)
    click.echo(f"wrote {json_path}")
