"""``launch.py train``: train the IMU → activation network (teacher data or recordings)."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import torch
from click.core import ParameterSource

from realtime.app.training.data import DataError
from realtime.app.training.evaluate import evaluate_checkpoint
from realtime.app.training.options import build_dataset, data_options
from realtime.app.training.train import TrainSettings, train_network
from realtime.stages.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    runtime_twin,
    save_checkpoint,
)
from realtime.stages.model.config import NetConfig

SHAPE_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("layers", "--layers", "layers"), ("channels", "--channels", "channels"), ("kernel", "--kernel", "kernel"),
)


def _refuse_shape_options(ctx: click.Context, init_path: str, init: object) -> None:
    """Refuse --layers/--channels/--kernel/--model-fs given with --init when they differ from the checkpoint's.

    Fine-tuning keeps the network's shape and rate (its weights only fit that shape).
    """
    given = {p: v for p, v in ctx.params.items() if ctx.get_parameter_source(p) == ParameterSource.COMMANDLINE}
    have = {name: getattr(init.config, attr) for name, _, attr in SHAPE_OPTIONS}
    have["model_fs"] = init.fs
    flags = {name: flag for name, flag, _ in SHAPE_OPTIONS} | {"model_fs": "--model-fs"}
    bad = [f"{flags[n]} {given[n]:g} (the checkpoint has {have[n]:g})" for n in flags
           if n in given and float(given[n]) != float(have[n])]
    if bad:
        raise click.UsageError(
            f"{', '.join(bad)} cannot apply with --init '{init_path}': fine-tuning keeps the network's shape and "
            "rate. Drop these options, or train from scratch without --init."
        )


@click.command()
@data_options
@click.option("--out", type=click.Path(dir_okay=False), default="model.pt", show_default=True,
              help="Checkpoint to write (never replaced without --force).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--layout", "layout", default=None,
              help="Recordings: the electrode layout their EMG channels are (an engine layout name or file, "
                   "for physics in the loop at run time) [default: what the XDF's EMG stream states].")
@click.option("--init", "init_path", type=click.Path(dir_okay=False), default=None,
              help="Fine-tune from this checkpoint (its network shape and rate are kept; outputs are matched by "
                   "name, new outputs get a fresh head).")
@click.option("--model-fs", type=float, default=100.0, show_default=True, help="Model rate (Hz).")
@click.option("--layers", type=int, default=6, show_default=True, help="Residual blocks (dilations 1, 2, 4, ...).")
@click.option("--channels", type=int, default=32, show_default=True, help="Width of the network.")
@click.option("--kernel", type=int, default=3, show_default=True, help="Kernel size of the dilated convolutions.")
@click.option("--epochs", type=int, default=40, show_default=True, help="Maximum epochs.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Windows per step.")
@click.option("--window", type=int, default=256, show_default=True, help="Loss samples per training window.")
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Initial learning rate (Adam).")
@click.option("--patience", type=int, default=6, show_default=True, help="Early stopping patience (epochs).")
@click.option("--max-minutes", type=float, default=None, help="Stop training after this many minutes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of data, initialisation and order.")
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads (1 on a shared machine).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(out: str, force: bool, layout: str | None, init_path: str | None, model_fs: float, layers: int, channels: int, kernel: int,
          epochs: int, batch_size: int, window: int, lr: float, patience: int, max_minutes: float | None,
          seed: int, threads: int, quiet: bool, **data_kw: object) -> None:
    """Train the activation network and write a checkpoint.

    Default data: the physics teacher (randomised subjects, every motion
    program, held-out subjects for validation). With --csv or --xdf: EMG
    envelopes of user recordings (see docs/model.md).
    """
    out_path = Path(out)
    try:
        if out_path.exists() and not force:
            raise FileExistsError(
                f"The checkpoint '{out_path}' already exists and was left untouched. "
                "Choose another --out path or pass --force to replace it."
            )
        settings = TrainSettings(epochs=epochs, batch_size=batch_size, window=window, lr=lr, patience=patience,
                                 seed=seed, threads=threads, max_minutes=max_minutes)
        torch.set_num_threads(threads)
        init = load_checkpoint(init_path) if init_path else None
        if init is not None:
            fs, base = init.fs, init.config
            _refuse_shape_options(click.get_current_context(), init_path, init)
        else:
            if not (50.0 <= model_fs <= 1000.0):
                raise ValueError(f"The option '--model-fs' must be within [50, 1000] Hz. {model_fs!r} is invalid.")
            fs = float(model_fs)
            base = NetConfig(channels=channels, layers=layers, kernel=kernel)
        cutoff = init.cutoff_hz if init is not None else 0.25 * fs
        t0 = time.perf_counter()
        dataset = build_dataset(data_kw, fs, cutoff, base.receptive_field, seed, progress=not quiet)
        n_posture = base.n_posture if init is not None else (len(dataset.posture) if dataset.posture else 0)
        config = NetConfig(n_inputs=6, n_outputs=len(dataset.outputs), n_posture=n_posture,
                           channels=base.channels, layers=base.layers, kernel=base.kernel,
                           dilation_base=base.dilation_base)
        click.echo(
            f"train: {len(dataset.train)} training / {len(dataset.val)} validation / {len(dataset.test)} test recordings "
            f"({sum(len(s) for s in dataset.train) / fs:.0f} s / {sum(len(s) for s in dataset.val) / fs:.0f} s / "
            f"{sum(len(s) for s in dataset.test) / fs:.0f} s at "
            f"{fs:g} Hz), receptive field {config.receptive_field} samples ({config.receptive_field / fs:.2f} s), "
            f"data ready in {time.perf_counter() - t0:.1f} s",
            err=True,
        )
        record = {"command": "python launch.py train " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else "",
                  "out": str(out_path), "torch": torch.__version__}
        ckpt = train_network(dataset, config, fs, cutoff, settings, init=init, training_record=record,
                             progress=not quiet)
        if ckpt.output_kind == "envelope":
            ckpt = replace(ckpt, layout=layout or str(dataset.description.get("layout", "")))
        if dataset.held_out:
            res = evaluate_checkpoint(ckpt, dataset)
            metrics = dict(ckpt.metrics)
            metrics["validation"] = {k: res[k] for k in ("summary", "network", "baseline", "angles") if k in res}
            ckpt = replace(ckpt, metrics=metrics)
            s = res["summary"]
            click.echo(f"train: {res['data']['held_out']} median r {s['median_r']:.3f} (ridge {s['baseline_median_r']:.3f}, "
                       f"hgb {s['hgb_median_r']:.3f}), within recordings {s['median_r_within']:.3f} "
                       f"(ridge {s['baseline_median_r_within']:.3f}, hgb {s['hgb_median_r_within']:.3f})",
                       err=True)
        save_checkpoint(ckpt, out_path, overwrite=force)
        if out_path.suffix == ".pt":  # the torch-free copy a run loads (docs/model.md)
            save_checkpoint(ckpt, runtime_twin(out_path), overwrite=force)
    except (DataError, CheckpointError, FileExistsError, IsADirectoryError, TypeError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    m = ckpt.metrics
    written = f"{out_path} and {runtime_twin(out_path)}" if out_path.suffix == ".pt" else str(out_path)
    click.echo(
        f"train: wrote {written} (best validation loss {m['best_val_loss']:.4f} at epoch {m['best_epoch']}, "
        f"{m['epochs_run']} epochs, {ckpt.training['seconds']:.0f} s, stopped by {m['stopped_by']})"
    )
