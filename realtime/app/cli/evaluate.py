"""``launch.py evaluate``: score a checkpoint on held-out data against a ridge baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from realtime.app.training.data import DataError
from realtime.app.training.evaluate import evaluate_checkpoint
from realtime.app.training.options import build_dataset, data_options, uses_recordings
from realtime.stages.model.checkpoint import CheckpointError, load_checkpoint


@click.command()
@data_options
@click.option("--model", "--ckpt", "ckpt_path", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint to evaluate [default: the shipped model].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the scores to this JSON file.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the held-out split (recordings) and of teacher data without a record.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(ckpt_path: str | None, json_path: str | None, seed: int, quiet: bool, **data_kw: object) -> None:
    """Per-output Pearson r, RMSE and lag of the network and of a ridge baseline on held-out data.

    Teacher data by default: the same training and held-out subjects as the
    checkpoint's own training run (from its record); the data options
    override. The baseline is fitted on the training part of the same data.
    """
    try:
        ckpt = load_checkpoint(ckpt_path)
        base = dict(ckpt.training.get("data", {})) if ckpt.training.get("data", {}).get("kind") == "teacher" else {}
        scale = ckpt.target_scale if (uses_recordings(data_kw) and ckpt.target == "emg-envelope") else None
        dataset = build_dataset(data_kw, ckpt.fs, ckpt.cutoff_hz, ckpt.receptive_field, seed,
                                teacher_base=base, target_scale=scale, progress=not quiet)
        res = evaluate_checkpoint(ckpt, dataset)
    except (DataError, CheckpointError, TypeError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    res["checkpoint"] = str(ckpt_path or "default")
    width = max(len(n) for n in ckpt.outputs)
    click.echo(f"{'output':<{width}}  {'r':>6} {'r_in':>6} {'rmse':>7} {'lag ms':>6} | "
               f"{'ridge r':>7} {'r_in':>6} {'rmse':>7} {'lag ms':>6}")
    for name in ckpt.outputs:
        a, b = res["network"][name], res["baseline"][name]
        click.echo(f"{name:<{width}}  {a['r']:6.3f} {a['r_within']:6.3f} {a['rmse']:7.4f} {a['lag_ms']:6.0f} | "
                   f"{b['r']:7.3f} {b['r_within']:6.3f} {b['rmse']:7.4f} {b['lag_ms']:6.0f}")
    s = res["summary"]
    click.echo(f"median r {s['median_r']:.3f} (ridge {s['baseline_median_r']:.3f}), within recordings "
               f"{s['median_r_within']:.3f} (ridge {s['baseline_median_r_within']:.3f}); better than ridge on every "
               f"output: {s['beats_baseline_on_every_output']}; constant targets: {s['constant_outputs'] or 'none'}")
    for joint, v in res.get("angles", {}).items():
        click.echo(f"angle {joint}: r {v['r']:.3f}, RMSE {v['rmse_deg']:.1f} deg")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(res, indent=2, allow_nan=True))
        click.echo(f"wrote {json_path}")
