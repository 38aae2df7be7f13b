"""``launch.py bench model``: streaming network speed versus sliding-window recompute."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("model")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), required=True, help="Write results here.")
@click.option("--ckpt", "ckpt_path", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint of the 'default' net [default: the shipped model].")
@click.option("--samples", type=click.IntRange(100, 1_000_000), default=5000, show_default=True,
              help="Samples streamed one at a time per net.")
@click.option("--windows", type=click.IntRange(5, 10_000), default=30, show_default=True,
              help="Window recomputations timed per net.")
def model(json_path: str, ckpt_path: str | None, samples: int, windows: int) -> None:
    """Cached-state streaming (one sample at a time) vs recomputing the receptive field, one thread."""
    from realtime.app.bench.model import bench_model
    from realtime.stages.model.checkpoint import CheckpointError

    try:
        res = bench_model(ckpt_path, samples, windows)
    except CheckpointError as err:
        raise click.ClickException(str(err)) from None
    for n in res["nets"]:
        click.echo(
            f"{n['name']:>9}: {n['layers']} layers x {n['channels']} ch, k={n['kernel']}, RF {n['receptive_field']}: "
            f"stream p50 {n['stream_us_p50']:.1f} us p99 {n['stream_us_p99']:.1f} us; "
            f"window p50 {n['window_us_p50'] / 1000:.2f} ms; speedup {n['speedup']:.0f}x"
        )
    Path(json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(json_path).write_text(json.dumps(res, indent=2))
    click.echo(f"wrote {json_path}")
