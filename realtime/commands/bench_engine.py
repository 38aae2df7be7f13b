"""``launch.py bench engine``: engine speed against the per-unit ``np.convolve`` method."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the results (JSON).")
@click.option("--duration", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds of signal per timed streaming run.")
@click.option("--baseline-duration", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds of signal for the np.convolve baseline.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs of each method (medians are reported).")
@click.option("--units-per-muscle", type=click.IntRange(min=1), default=200, show_default=True,
              help="Motor units in each of the 6 muscles.")
@click.option("--no-startup", is_flag=True, help="Skip the cold/warm numba start-up measurement.")
def engine(json_path: Path, duration: float, baseline_duration: float, repeats: int, units_per_muscle: int,
           no_startup: bool) -> None:
    """Engine speed: seconds of signal per CPU second, one thread, armband8 and grid64."""
    from realtime.engine.bench import run_engine_bench

    result = run_engine_bench(duration=duration, baseline_duration=baseline_duration, repeats=repeats,
                              baseline_repeats=repeats, units_per_muscle=units_per_muscle,
                              startup=not no_startup)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2))
    for row in result["configs"]:
        click.echo(
            f"{row['layout']:>9}: {row['n_motor_units']} units, {row['muaps']} MUAPs: "
            f"{row['realtime_factor']:.0f}x real time; np.convolve {row['numpy_realtime_factor']:.2f}x "
            f"(speed-up {row['speedup_vs_numpy']:.0f}x)"
        )
    click.echo(f"wrote {json_path}")
