"""Training of the activation network (imports torch).

The loss covers **every** sample of every training sequence, exactly as the
streaming model produces it: after ``reset()`` the cached stream holds the
first sample forever in the past, so the inputs before a recording's start are
that first sample repeated (causal left-padding by replication, the same as
``ActivationNet(..., pad="replicate")``). Each training window is ``window``
loss samples plus the ``receptive_field - 1`` samples before them (indices
before 0 read sample 0); window starts have a random phase per epoch, the first
window of a sequence starts at its first sample and the last one ends at its
last, so a recording's first seconds count as much as the rest (short clips
included) and nothing crosses two recordings. The loss is the mean squared error of
the activations plus ``posture_weight`` times the mean squared error of the
joint angles divided by their variance (when the data has angles). Adam with
gradient clipping; the learning rate halves when the validation loss stalls
for two epochs; training stops early after ``patience`` epochs without
improvement and keeps the best weights. Everything is seeded: the same
command and seed give the same checkpoint (single thread).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from realtime.app.training.data import DataError, Dataset, Sequence
from realtime.app.training.network import ActivationNet, net_from_checkpoint
from realtime.core.checks import check_number, check_optional_number, ensure_int
from realtime.core.logs import logger
from realtime.core.units import IMU_CHANNELS
from realtime.stages.model.checkpoint import Checkpoint
from realtime.stages.model.config import NetConfig


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings.

    Parameters
    ----------
    epochs : int
        Maximum passes over the training windows.
    batch_size : int
        Windows per step.
    window : int
        Loss samples per window (model samples).
    lr : float
        Initial Adam learning rate.
    patience : int
        Stop after this many epochs without a better validation loss.
    posture_weight : float
        Weight of the (variance-normalised) joint-angle loss.
    seed : int
        Seed of weights initialisation and window order.
    threads : int
        torch intra-op threads (1 keeps a shared machine usable).
    max_minutes : float | None
        Stop after this much training time (the result then depends on machine speed).
    """

    epochs: int = 40
    batch_size: int = 32
    window: int = 256
    lr: float = 3e-3
    patience: int = 6
    posture_weight: float = 0.3
    seed: int = 0
    threads: int = 1
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        # Named by the option of `launch.py train` that sets each one.
        for name in ("epochs", "batch_size", "window", "patience", "threads"):
            ensure_int(f"--{name.replace('_', '-')}", getattr(self, name), lo=1)
        check_number("--lr", self.lr, 0.0, 1.0, lo_open=True, hi_open=True)
        check_number("posture_weight", self.posture_weight, 0.0)
        check_optional_number("--max-minutes", self.max_minutes, 0.0, unit="minutes", lo_open=True)


def _windows(seqs: list[Sequence], window: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """(sequence index, first loss sample, loss length) of each window; together they cover every sample.

    Windows are ``window`` samples long (a sequence shorter than that is one
    window); a random phase per sequence and epoch, plus one window at each end.
    """
    out = []
    for i, s in enumerate(seqs):
        n = len(s)
        if n <= window:
            out.append((i, 0, n))
            continue
        phase = int(rng.integers(0, window))
        starts = list(range(phase, n - window + 1, window))
        if phase > 0:
            starts.insert(0, 0)
        if starts[-1] + window < n:
            starts.append(n - window)
        out += [(i, a, window) for a in starts]
    return out


def window_input(x: np.ndarray, start: int, length: int, rf: int) -> np.ndarray:
    """Input samples ``start - (rf - 1)`` ... ``start + length - 1`` of ``x``, indices before 0 reading sample 0.

    This is the streaming model's past after ``reset()`` (the first sample held
    forever), so the network's last ``length`` outputs over it equal the
    streaming outputs at ``start`` ... ``start + length - 1``.
    """
    idx = np.arange(start - (rf - 1), start + length)
    return x[np.maximum(idx, 0)]


def _batches(wins: list[tuple[int, int, int]], batch: int, rng: np.random.Generator) -> list[list[tuple[int, int, int]]]:
    """Shuffle windows and group equal lengths into batches."""
    order = rng.permutation(len(wins))
    by_len: dict[int, list] = {}
    for j in order:
        by_len.setdefault(wins[j][2], []).append(wins[j])
    batches = []
    for group in by_len.values():
        batches += [group[k : k + batch] for k in range(0, len(group), batch)]
    return [batches[j] for j in rng.permutation(len(batches))]


class _Loss:
    """Variance-normalised MSE of the activations plus weighted, variance-normalised MSE of the angles.

    Dividing each output's squared error by its variance in the training
    targets gives every muscle the same weight, whatever its range.
    """

    def __init__(self, act_var: np.ndarray, posture_weight: float, angle_var: np.ndarray | None) -> None:
        self.inv_act = torch.tensor(1.0 / np.maximum(act_var, 1e-6), dtype=torch.float32)
        self.w = posture_weight
        self.inv_ang = None if angle_var is None else torch.tensor(1.0 / np.maximum(angle_var, 1e-4), dtype=torch.float32)

    def __call__(self, act, ang, y, angles) -> torch.Tensor:  # noqa: ANN001
        loss = (((act - y) ** 2) * self.inv_act).mean()
        if self.w > 0 and ang is not None and angles is not None and self.inv_ang is not None:
            loss = loss + self.w * (((ang - angles) ** 2) * self.inv_ang).mean()
        return loss


def _map_head_by_name(net: ActivationNet, init: Checkpoint, outputs: tuple[str, ...], config: NetConfig) -> list[int]:
    """Give ``net`` one activation output per name in ``outputs``, kept from ``init`` where the name matches.

    Outputs are matched by name, never by position: an output ``init`` already
    has keeps its head row (weights and bias); any other output gets a fresh row.

    Returns
    -------
    list of int
        Indices (in ``outputs``) of the fresh outputs.
    """
    old_w = net.act.weight.detach().clone()
    old_b = net.act.bias.detach().clone()
    head = torch.nn.Conv1d(config.channels, len(outputs), 1)
    fresh = []
    with torch.no_grad():
        for j, name in enumerate(outputs):
            if name in init.outputs:
                k = init.outputs.index(name)
                head.weight[j] = old_w[k]
                head.bias[j] = old_b[k]
            else:
                fresh.append(j)
    net.act = head
    net.config = config
    kept = [n for n in outputs if n in init.outputs]
    logger.info("train: --init maps outputs by name: kept %s, fresh head for %s", kept or "none",
                [outputs[j] for j in fresh] or "none")
    return fresh


def validation_loss(net: ActivationNet, seqs: list[Sequence], loss: _Loss) -> float:
    """Sample-weighted loss over whole sequences, streamed from rest (replicate padding)."""
    total, count = 0.0, 0
    with torch.no_grad():
        for s in seqs:
            act, ang = net(torch.from_numpy(s.x)[None], pad="replicate")
            angles = None if s.angles is None else torch.from_numpy(s.angles)[None]
            total += float(loss(act, ang, torch.from_numpy(s.y)[None], angles)) * len(s)
            count += len(s)
    return total / max(count, 1)


def train_network(
    dataset: Dataset,
    config: NetConfig,
    fs: float,
    cutoff_hz: float,
    settings: TrainSettings,
    init: Checkpoint | None = None,
    training_record: dict[str, Any] | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> Checkpoint:
    """Train (or fine-tune) a network on ``dataset`` and return the best checkpoint.

    Parameters
    ----------
    dataset : Dataset
        Training and validation sequences on the model grid at ``fs``.
    config : NetConfig
        Network shape (its ``n_outputs`` must equal ``len(dataset.outputs)``).
    fs : float
        Model rate (Hz).
    cutoff_hz : float
        Anti-alias corner used to make the data (stored in the checkpoint).
    settings : TrainSettings
        Optimisation settings.
    init : Checkpoint | None
        Start from these weights (fine-tuning): same shape; activation outputs
        are matched to ``dataset.outputs`` by name (a matching output keeps its
        head row, a new one gets a fresh row); its normaliser is kept.
    training_record : dict | None
        Extra facts for the checkpoint's ``training`` record (command line ...).
    progress : bool
        Show a progress bar (tqdm, on stderr).
    on_epoch : callable(epoch, train_loss, val_loss) | None
        Called after each epoch.

    Returns
    -------
    Checkpoint
    """
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    rf = config.receptive_field
    if config.n_outputs != len(dataset.outputs):
        raise ValueError(f"The network has {config.n_outputs} outputs, the data has {len(dataset.outputs)} targets.")
    if not dataset.train:
        raise DataError("No training recordings: give more data or a smaller --val-fraction.")
    for s in dataset.train + dataset.val:
        if len(s) < 2:
            raise DataError(f"The recording {s.name!r} has {len(s)} model samples; it needs at least 2.")
    x_all = np.concatenate([s.x for s in dataset.train])
    has_angles = bool(dataset.posture) and all(s.angles is not None for s in dataset.train)
    angle_var = np.concatenate([s.angles for s in dataset.train]).var(axis=0) if has_angles else None
    fresh = list(range(config.n_outputs))
    if init is not None:
        net = net_from_checkpoint(init)
        fresh = _map_head_by_name(net, init, dataset.outputs, config)
        posture = init.posture if not has_angles else dataset.posture
    else:
        mean, std = x_all.mean(axis=0), x_all.std(axis=0)
        net = ActivationNet(config, mean=mean, std=np.maximum(std, 1e-3))
        posture = dataset.posture if config.n_posture else ()
    if config.n_posture and len(posture) != config.n_posture:
        raise ValueError(f"The network has {config.n_posture} posture outputs, the data names {len(posture)}.")
    y_all = np.concatenate([s.y for s in dataset.train]).astype(np.float64)
    if fresh:
        # Start each fresh output of the sigmoid head at its mean target so early steps fit shapes, not offsets.
        p = np.clip(y_all.mean(axis=0), 1e-3, 1 - 1e-3)
        with torch.no_grad():
            for j in fresh:
                net.act.bias[j] = float(np.log(p[j] / (1 - p[j])))
                net.act.weight[j].mul_(0.1)
    loss_fn = _Loss(y_all.var(axis=0), settings.posture_weight if has_angles else 0.0, angle_var)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    val_seqs = dataset.val or dataset.train
    best = (math.inf, None, 0)
    history: list[dict[str, float]] = []
    t_start = time.perf_counter()
    bar = None
    if progress:
        bar = tqdm(total=settings.epochs, desc="train", unit="epoch", dynamic_ncols=True, leave=True)
    net.eval()
    v0 = validation_loss(net, val_seqs, loss_fn)
    logger.info("train: initial validation loss %.5f", v0)
    stale = 0
    stopped = "epochs"
    for epoch in range(1, settings.epochs + 1):
        net.train()
        tot, n_tot = 0.0, 0
        for batch in _batches(_windows(dataset.train, settings.window, rng), settings.batch_size, rng):
            n = batch[0][2]
            xb = torch.from_numpy(np.stack([window_input(dataset.train[i].x, a, n, rf) for i, a, _ in batch]))
            yb = torch.from_numpy(np.stack([dataset.train[i].y[a : a + n] for i, a, _ in batch]))
            ab = torch.from_numpy(np.stack([dataset.train[i].angles[a : a + n] for i, a, _ in batch])) if has_angles else None
            act, ang = net(xb)
            k = rf - 1  # the outputs of the padding samples carry no loss
            loss = loss_fn(act[:, k:], None if ang is None else ang[:, k:], yb, ab)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            tot += loss.detach().item() * len(batch)
            n_tot += len(batch)
        net.eval()
        v = validation_loss(net, val_seqs, loss_fn)
        train_loss = tot / max(n_tot, 1)
        sched.step(v)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": v, "lr": opt.param_groups[0]["lr"]})
        if v < best[0] - 1e-7:
            best = (v, {k: t.detach().clone() for k, t in net.state_dict().items()}, epoch)
            stale = 0
        else:
            stale += 1
        if bar is not None:
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{v:.4f}", best=best[2])
            bar.update(1)
        if on_epoch is not None:
            on_epoch(epoch, train_loss, v)
        if stale >= settings.patience:
            stopped = "early stopping"
            break
        if settings.max_minutes is not None and time.perf_counter() - t_start > 60 * settings.max_minutes:
            stopped = "time limit"
            break
    if bar is not None:
        bar.close()
    if best[1] is not None:
        net.load_state_dict(best[1])
    elapsed = time.perf_counter() - t_start
    record = {
        "settings": asdict(settings),
        "data": dataset.description,
        "n_train": len(dataset.train),
        "n_val": len(dataset.val),
        "train_samples": int(sum(len(s) for s in dataset.train)),
        "seconds": round(elapsed, 1),
        "init": None if init is None else dict(init.training).get("out", "checkpoint"),
        **(training_record or {}),
    }
    metrics = {
        "initial_val_loss": v0,
        "best_val_loss": best[0],
        "best_epoch": best[2],
        "epochs_run": len(history),
        "stopped_by": stopped,
        "history": history,
    }
    return Checkpoint(
        config=config,
        state=net.numpy_state(),
        inputs=tuple(IMU_CHANNELS),
        outputs=dataset.outputs,
        posture=tuple(posture) if config.n_posture else (),
        fs=float(fs),
        input_fs_range=dataset.input_fs_range,
        cutoff_hz=float(cutoff_hz),
        target=dataset.target,
        target_scale=dataset.target_scale,
        metrics=metrics,
        training=record,
    )
