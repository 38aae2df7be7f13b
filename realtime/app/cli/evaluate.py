"""``launch.py evaluate``: score a checkpoint on held-out data against a ridge baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from realtime.app.training.data import DataError
from realtime.app.training.evaluate import evaluate_checkpoint
from realtime.app.training.options import GreedyOption, build_dataset, data_options, uses_recordings
from realtime.app.training.stream_eval import stream_scores
from realtime.stages.model.checkpoint import CheckpointError, load_checkpoint


def _names(files: list[str], most: int = 6) -> str:
    shown = ", ".join(files[:most])
    return f"[{shown}{', ...' if len(files) > most else ''}]"


@click.command()
@data_options
@click.option("--model", "--ckpt", "ckpt_path", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint to evaluate [default: the shipped model].")
@click.option("--train-csv", "train_csv", cls=GreedyOption, type=click.Path(dir_okay=False),
              help="CSV recordings to fit the baselines on; --csv then names only the files to score (no random split).")
@click.option("--train-xdf", "train_xdf", cls=GreedyOption, type=click.Path(dir_okay=False),
              help="XDF recordings to fit the baselines on; --xdf then names only the files to score.")
@click.option("--stream/--no-stream", "stream", default=True, show_default=True,
              help="Recordings: also replay each held-out file's IMU through the simulator (run --model) and "
                   "score its EMG envelopes against the recording's (stream_r).")
@click.option("--layout", default=None,
              help="Engine layout of the recordings' EMG channels, for stream_r [default: the checkpoint's].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the scores to this JSON file.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the held-out split (recordings) and of teacher data without a record.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(ckpt_path: str | None, stream: bool, layout: str | None, json_path: str | None, seed: int, quiet: bool,
             **data_kw: object) -> None:
    """Per-output Pearson r, RMSE and lag of the network and of two baselines on held-out data.

    Teacher data by default: the same training and held-out subjects as the
    checkpoint's own training run (from its record); the data options
    override. The baselines (ridge and gradient-boosted trees on causal IMU
    features) are fitted on the training part of the same data; with
    --train-csv/--train-xdf A --csv/--xdf B they are fitted on A and every
    file of B is scored. The split used is printed.
    """
    try:
        ckpt = load_checkpoint(ckpt_path)
        base = dict(ckpt.training.get("data", {})) if ckpt.training.get("data", {}).get("kind") == "teacher" else {}
        scale = ckpt.target_scale if (uses_recordings(data_kw) and ckpt.target == "emg-envelope") else None
        dataset = build_dataset(data_kw, ckpt.fs, ckpt.cutoff_hz, ckpt.receptive_field, seed,
                                teacher_base=base, target_scale=scale, progress=not quiet)
        res = evaluate_checkpoint(ckpt, dataset)
        lay = layout or ckpt.layout or str(dataset.description.get("layout", ""))
        if stream and dataset.held_out_recordings and lay:
            res["stream"] = stream_scores(ckpt, dataset.held_out_recordings, lay, seed)
        elif stream and uses_recordings(data_kw):
            res["stream"] = {"skipped": "needs whole held-out files (--train-csv/--train-xdf, or >= 3 files) "
                                        "and a layout (--layout)"}
    except (DataError, CheckpointError, TypeError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    res["checkpoint"] = str(ckpt_path or "default")
    d = res["data"]
    click.echo(f"split: baselines fitted on {len(d['fit_on'])} recordings {_names(d['fit_on'])}; "
               f"scored on {len(d['scored'])} held-out recordings {_names(d['scored'])}")
    width = max(len(n) for n in ckpt.outputs)
    click.echo(f"{'output':<{width}}  {'r':>6} {'r_in':>6} {'rmse':>7} {'lag ms':>6} | "
               f"{'ridge r':>7} {'r_in':>6} | {'hgb r':>6} {'r_in':>6}")
    streamed = res.get("stream", {}).get("channels", {})
    if streamed:
        click.echo(f"stream_r: {len(res['stream']['recordings'])} held-out recordings replayed through run --model "
                   f"(layout {res['stream']['layout']}), EMG envelopes vs the recordings'")
    for name in ckpt.outputs:
        a, b, c = res["network"][name], res["baseline"][name], res["baselines"]["hgb"][name]
        line = (f"{name:<{width}}  {a['r']:6.3f} {a['r_within']:6.3f} {a['rmse']:7.4f} {a['lag_ms']:6.0f} | "
                f"{b['r']:7.3f} {b['r_within']:6.3f} | {c['r']:6.3f} {c['r_within']:6.3f}")
        if name in streamed:
            line += f" | stream_r {streamed[name]['stream_r']:6.3f} {streamed[name]['stream_r_within']:6.3f}"
        click.echo(line)
    s = res["summary"]
    click.echo(f"median r {s['median_r']:.3f} (ridge {s['baseline_median_r']:.3f}, hgb {s['hgb_median_r']:.3f}), "
               f"within recordings {s['median_r_within']:.3f} (ridge {s['baseline_median_r_within']:.3f}, "
               f"hgb {s['hgb_median_r_within']:.3f}); better than both baselines on every output, pooled and "
               f"within: {s['beats_both_baselines_everywhere']}; constant targets: {s['constant_outputs'] or 'none'}")
    if streamed:
        click.echo(f"median stream_r {res['stream']['median_stream_r']:.3f} (offline r {s['median_r']:.3f}), "
                   f"within recordings {res['stream']['median_stream_r_within']:.3f}")
    elif "skipped" in res.get("stream", {}):
        click.echo(f"stream_r: not computed ({res['stream']['skipped']})")
    for joint, v in res.get("angles", {}).items():
        click.echo(f"angle {joint}: r {v['r']:.3f}, RMSE {v['rmse_deg']:.1f} deg")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(res, indent=2, allow_nan=True))
        click.echo(f"wrote {json_path}")
