"""``launch.py bench model`` (streaming network speed versus sliding-window recompute) and
``launch.py bench provisional`` (cost and accuracy of the network stage's provisional rows)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from realtime.app.bench import provisional as provisional_bench
from realtime.app.bench.model import bench_model
from realtime.stages.model.checkpoint import CheckpointError


@click.command("model")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), required=True, help="Write results here.")
@click.option("--model", "--ckpt", "ckpt_path", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint of the 'default' net [default: the shipped model].")
@click.option("--samples", type=click.IntRange(100, 1_000_000), default=5000, show_default=True,
              help="Samples streamed one at a time per net.")
@click.option("--windows", type=click.IntRange(5, 10_000), default=30, show_default=True,
              help="Window recomputations timed per net.")
def model(json_path: str, ckpt_path: str | None, samples: int, windows: int) -> None:
    """Cached-state streaming (one sample at a time) vs recomputing the receptive field, one thread."""
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


@click.command("provisional")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the results.")
@click.option("--model", "--ckpt", "ckpt", default=None, help="Checkpoint (default: the shipped model).")
@click.option("--samples", type=click.IntRange(100, 10**6), default=5000, show_default=True,
              help="Calls timed per kind.")
@click.option("--seconds", type=click.FloatRange(4.0, 600.0), default=10.0, show_default=True,
              help="Seconds of each motion program for the accuracy comparison.")
def provisional(json_path: Path, ckpt: str | None, samples: int, seconds: float) -> None:
    """Model stage cost per IMU sample with provisional rows (docs/model.md) and without; their accuracy."""
    try:
        res = provisional_bench.run(ckpt, samples, seconds)
    except CheckpointError as err:
        raise click.ClickException(str(err)) from None
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(res, indent=2))
    for name, r in res["nets"].items():
        click.echo(f"{name:9s} {r['layers']} x {r['channels']}: process one {r['process_one']['p50_us']:.1f} us, "
                   f"peek {r['peek_fractional']['p50_us']:.1f} us (p99 {r['peek_fractional']['p99_us']:.1f})")
    for name in ("grid_only", "provisional"):
        r = res["stage"][name]
        click.echo(f"stage {name:11s}: {r['p50_us']:.1f} us p50, {r['p99_us']:.1f} us p99 per 1-sample call, "
                   f"{r['rows_per_call']:.2f} rows per call")
    for name, r in res["accuracy"]["estimates"].items():
        click.echo(f"{name:10s} activation RMS {r['activation_rms']:.5f} (x std {r['activation_rms_over_std']:.3f}), "
                   f"angles {r['angles_rms_deg']:.3f} deg")
    click.echo(f"wrote {json_path}")
