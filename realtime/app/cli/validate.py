"""``launch.py validate``: physiological checks of the engine's output, written as JSON; non-zero exit on failure."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from realtime.app.validation import ValidationSettings, fast_settings, run_validation
from realtime.stages.engine import EngineSettings


@click.command()
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Write {"checks": [{"name", "value", "low", "high", "passed"}], ...} to this file.',
)
@click.option(
    "--layout",
    default="armband8",
    show_default=True,
    help="Differential layout for the surface checks (built-in name or .toml/.json file).",
)
@click.option(
    "--grid-layout",
    default="grid64",
    show_default=True,
    help="Monopolar grid for the propagation check.",
)
@click.option(
    "--muaps",
    type=click.Choice(["static", "dynamic"]),
    default="static",
    show_default=True,
    help="MUAP mode of the engine (dynamic runs at the neutral posture).",
)
@click.option(
    "--units-per-muscle",
    type=click.IntRange(1, 2000),
    default=None,
    help="Motor units in each muscle [default: the published count of each muscle].",
)
@click.option(
    "--last-recruitment",
    type=click.FloatRange(0.05, 1.0),
    default=None,
    help="Drive at which every muscle's last unit is recruited [default: per-muscle values].",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Engine seed."
)
@click.option("--fast", is_flag=True, help="Shorter simulations (the same checks and ranges).")
def validate(
    json_path: Path | None,
    layout: str,
    grid_layout: str,
    muaps: str,
    units_per_muscle: int | None,
    last_recruitment: float | None,
    seed: int,
    fast: bool,
) -> None:
    """Check discharge statistics, MUAPs, spectrum, amplitude and propagation against the literature.

    The engine alone (no noise, no artefacts). Every check prints its value and
    range; the exit status is 1 if any fails. Sources: docs/validation.md.
    """
    try:
        engine = EngineSettings(
            layout=layout,
            muaps=muaps,
            units_per_muscle=units_per_muscle,
            seed=seed,
            last_recruitment=last_recruitment,
        )
        base = fast_settings(engine) if fast else ValidationSettings(engine=engine)
        settings = dataclasses.replace(base, grid_layout=grid_layout)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    report = run_validation(settings)
    for check in report.checks:
        mark = "ok  " if check.passed else "FAIL"
        click.echo(f"{mark} {check.name:<40} {check.value:10.4g}   [{check.low:g}, {check.high:g}]")
    n_failed = len(report.failed)
    click.echo(f"{len(report.checks) - n_failed}/{len(report.checks)} checks passed")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_dict(), indent=2))
        click.echo(f"wrote {json_path}")
    if n_failed:
        sys.exit(1)
