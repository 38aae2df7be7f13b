"""Evaluation of a checkpoint on held-out data, against a ridge-regression baseline.

Per output (muscle or EMG channel), over all held-out sequences:

- ``r``: Pearson correlation of prediction and target (all samples pooled);
- ``r_within``: median over held-out recordings of the Pearson correlation
  within each recording (only recordings where the target varies, standard
  deviation > ``MIN_STD``): timing and shape, insensitive to a wrong overall
  level of a whole recording (e.g. a hand load the IMU cannot see);
- ``rmse``: root-mean-square error (activation units, 0-1);
- ``lag_ms``: the lag that maximises the cross-correlation, summed over
  sequences, within ±500 ms; positive means the prediction comes *later* than
  the target.

The network is run exactly as at run time: the numba streaming path, reset at
the start of each sequence. Two baselines, both causal and both fitted on the
training sequences only, use the same simple causal IMU features (the 6
normalised channels, their exponential moving averages with time constants
50 ms, 200 ms and 1 s, and the moving average of the gyroscope magnitude):

- ``ridge``: ridge regression, clipped to [0, 1];
- ``hgb``: scikit-learn's histogram gradient-boosted trees
  (``HistGradientBoostingRegressor``, one per output; Ke et al. 2017, LightGBM,
  the algorithm it follows), a strong non-linear tabular learner, clipped to [0, 1].
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any

import numpy as np

from realtime.app.training.data import Dataset, Sequence
from realtime.stages.model.checkpoint import Checkpoint

EMA_TAUS_S: tuple[float, ...] = (0.05, 0.2, 1.0)
MAX_LAG_S = 0.5
MIN_STD = 1e-3
"""Targets whose standard deviation is below this are treated as constant (r undefined)."""


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays (``nan`` if either is constant)."""
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else float("nan")


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square difference."""
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def xcorr_lag(preds: list[np.ndarray], targets: list[np.ndarray], fs: float, max_lag_s: float = MAX_LAG_S) -> float:
    """Lag (s) maximising the summed cross-correlation; > 0 when ``preds`` trail ``targets``.

    Parameters
    ----------
    preds, targets : list of 1-D arrays
        Pairs of equally long sequences.
    fs : float
        Their rate (Hz).
    max_lag_s : float
        Search range (±).
    """
    m = int(round(max_lag_s * fs))
    acc = np.zeros(2 * m + 1)
    for p, t in zip(preds, targets):
        p = np.asarray(p, np.float64) - np.mean(p)
        t = np.asarray(t, np.float64) - np.mean(t)
        n = len(p)
        nfft = 1 << int(math.ceil(math.log2(2 * n + 1)))
        c = np.fft.irfft(np.fft.rfft(p, nfft) * np.conj(np.fft.rfft(t, nfft)), nfft)
        # c[k] = sum_i p[i + k] t[i]: a peak at k > 0 means p trails t by k samples.
        lags = np.arange(-m, m + 1)
        acc += c[lags % nfft]
    return float((np.argmax(acc) - m) / fs) if np.any(acc) else 0.0


def _ema(x: np.ndarray, alpha: float) -> np.ndarray:
    from scipy.signal import lfilter  # deferred: scipy.signal (~1 s) only for the ridge baseline

    zi = (1 - alpha) * x[:1]
    return lfilter([alpha], [1.0, -(1 - alpha)], x, axis=0, zi=zi)[0]


def ridge_features(x: np.ndarray, fs: float, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Causal features of one sequence for the baseline (see module docs), with a bias column."""
    xn = (np.asarray(x, np.float64) - mean) / std
    cols = [xn]
    for tau in EMA_TAUS_S:
        cols.append(_ema(xn, 1.0 - math.exp(-1.0 / (tau * fs))))
    gyro_mag = np.linalg.norm(np.asarray(x, np.float64)[:, 3:6], axis=1, keepdims=True)
    cols.append(_ema(gyro_mag, 1.0 - math.exp(-1.0 / (0.2 * fs))))
    cols.append(np.ones((len(x), 1)))
    return np.concatenate(cols, axis=1)


class RidgeBaseline:
    """Ridge regression from :func:`ridge_features` to the targets.

    Parameters
    ----------
    fs : float
        Model rate (Hz).
    alpha : float
        L2 penalty (features are standardised, the bias is not penalised).
    """

    def __init__(self, fs: float, alpha: float = 1.0) -> None:
        self.fs = fs
        self.alpha = alpha
        self.coef: np.ndarray | None = None

    def fit(self, seqs: list[Sequence]) -> RidgeBaseline:
        """Fit on training sequences."""
        x_all = np.concatenate([s.x for s in seqs]).astype(np.float64)
        self.mean, self.std = x_all.mean(axis=0), np.maximum(x_all.std(axis=0), 1e-6)
        feats = [ridge_features(s.x, self.fs, self.mean, self.std) for s in seqs]
        f = np.concatenate(feats)
        y = np.concatenate([s.y for s in seqs]).astype(np.float64)
        penalty = self.alpha * len(f) / 1000.0 * np.eye(f.shape[1])
        penalty[-1, -1] = 0.0
        self.coef = np.linalg.solve(f.T @ f + penalty, f.T @ y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for one sequence, clipped to [0, 1]."""
        if self.coef is None:
            raise RuntimeError("The baseline is not fitted. Call RidgeBaseline.fit(train_sequences) first.")
        return np.clip(ridge_features(x, self.fs, self.mean, self.std) @ self.coef, 0.0, 1.0)


class HgbBaseline:
    """Histogram gradient-boosted trees from :func:`ridge_features` (bias column dropped) to each target.

    Parameters
    ----------
    fs : float
        Model rate (Hz).
    max_rows : int
        Training rows used at most (an evenly spaced subset beyond it), to keep the fit short.
    seed : int
        Seed of the trees and of the early-stopping split.
    """

    def __init__(self, fs: float, max_rows: int = 40000, seed: int = 0) -> None:
        self.fs = fs
        self.max_rows = max_rows
        self.seed = seed
        self.models: list | None = None

    def fit(self, seqs: list[Sequence]) -> HgbBaseline:
        """Fit on training sequences."""
        # One thread, like training (--threads 1 on a shared machine); it also spares joblib a subprocess
        # that counts physical cores.
        os.environ.setdefault("LOKY_MAX_CPU_COUNT", "1")
        from sklearn.ensemble import HistGradientBoostingRegressor  # deferred: scikit-learn (~1 s)

        x_all = np.concatenate([s.x for s in seqs]).astype(np.float64)
        self.mean, self.std = x_all.mean(axis=0), np.maximum(x_all.std(axis=0), 1e-6)
        f = np.concatenate([ridge_features(s.x, self.fs, self.mean, self.std)[:, :-1] for s in seqs])
        y = np.concatenate([s.y for s in seqs]).astype(np.float64)
        if len(f) > self.max_rows:
            rows = np.linspace(0, len(f) - 1, self.max_rows).astype(np.int64)
            f, y = f[rows], y[rows]
        self.models = []
        for j in range(y.shape[1]):
            m = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.1, max_leaf_nodes=31,
                                              early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
                                              random_state=self.seed)
            self.models.append(m.fit(f, y[:, j]))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for one sequence, clipped to [0, 1]."""
        if self.models is None:
            raise RuntimeError("The baseline is not fitted. Call HgbBaseline.fit(train_sequences) first.")
        f = ridge_features(x, self.fs, self.mean, self.std)[:, :-1]
        return np.clip(np.stack([m.predict(f) for m in self.models], axis=1), 0.0, 1.0)


BASELINES: tuple[str, ...] = ("ridge", "hgb")
"""The baselines every evaluation scores beside the network."""


def predict_streaming(ckpt: Checkpoint, seqs: list[Sequence]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run the streaming network over each sequence from a reset (as at run time)."""
    net = ckpt.streaming_net()
    out = []
    for s in seqs:
        net.reset()
        act, ang = net.process(s.x)
        out.append((act.copy(), ang.copy()))
    return out


def _scores(names, preds, targets, fs) -> dict[str, dict[str, float]]:  # noqa: ANN001
    res = {}
    for j, name in enumerate(names):
        p = [q[:, j] for q in preds]
        t = [q[:, j] for q in targets]
        pc, tc = np.concatenate(p), np.concatenate(t)
        varying = [(a, b) for a, b in zip(p, t) if np.std(b) > MIN_STD]
        within = [pearson(a, b) for a, b in varying]
        res[name] = {
            "r": pearson(pc, tc) if np.std(tc) > MIN_STD else float("nan"),
            "r_within": float(np.nanmedian(within)) if np.isfinite(within).any() else float("nan"),
            "n_varying": len(varying),
            "rmse": rmse(pc, tc),
            "lag_ms": 1000.0 * xcorr_lag([a for a, _ in varying], [b for _, b in varying], fs) if varying else float("nan"),
        }
    return res


def reorder_targets(dataset: Dataset, names: tuple[str, ...]) -> Dataset:
    """``dataset`` with its target columns put in the order of ``names`` (matched by name)."""
    order = [dataset.outputs.index(n) for n in names]

    def sel(seqs: list[Sequence]) -> list[Sequence]:
        return [replace(s, y=np.ascontiguousarray(s.y[:, order])) for s in seqs]

    scale = tuple(dataset.target_scale[i] for i in order) if dataset.target_scale else ()
    return replace(dataset, train=sel(dataset.train), val=sel(dataset.val), test=sel(dataset.test),
                   outputs=tuple(names), target_scale=scale)


def evaluate_checkpoint(ckpt: Checkpoint, dataset: Dataset, ridge_alpha: float = 1.0) -> dict[str, Any]:
    """Score the network and the ridge baseline on ``dataset.held_out`` (``test``, else ``val``).

    Parameters
    ----------
    ckpt : Checkpoint
        The model.
    dataset : Dataset
        ``train`` fits the baseline; ``test`` (or, without one, ``val``) is scored (must not be empty).
    ridge_alpha : float
        Baseline penalty.

    Returns
    -------
    dict
        ``{"network": {name: {"r", "rmse", "lag_ms"}}, "baseline": {...},
        "angles": {joint: {...}} (when known), "summary": {...}, "data": {...}}``.
        ``summary["median_r"]`` is the issue's figure: one pooled Pearson r per
        output over all held-out samples, then the median over the outputs
        (``scored_outputs``: every output whose pooled target varies; any
        constant one is listed in ``constant_outputs`` and left out because its
        r is undefined). ``median_r_within`` is the same median of ``r_within``.
    """
    held = dataset.held_out
    if not held:
        raise ValueError(
            "There is no held-out data to evaluate on. Name the files to score and to fit on "
            "(--csv B --train-csv A), or give a --val-fraction > 0."
        )
    if tuple(dataset.outputs) != tuple(ckpt.outputs):
        if sorted(dataset.outputs) != sorted(ckpt.outputs):
            raise ValueError(
                f"The checkpoint predicts {list(ckpt.outputs)}, the data has targets {list(dataset.outputs)}: "
                "outputs are matched by name. Select matching --emg-cols."
            )
        dataset = reorder_targets(dataset, ckpt.outputs)
    fs = ckpt.fs
    preds = predict_streaming(ckpt, held)
    targets = [s.y for s in held]
    net_scores = _scores(ckpt.outputs, [p[0] for p in preds], targets, fs)
    fit_on = dataset.train or dataset.val
    base = RidgeBaseline(fs, ridge_alpha).fit(fit_on)
    base_scores = _scores(ckpt.outputs, [base.predict(s.x) for s in held], targets, fs)
    hgb = HgbBaseline(fs).fit(fit_on)
    hgb_scores = _scores(ckpt.outputs, [hgb.predict(s.x) for s in held], targets, fs)
    result: dict[str, Any] = {"network": net_scores, "baseline": base_scores,
                              "baselines": {"ridge": base_scores, "hgb": hgb_scores}}
    if ckpt.posture and all(s.angles is not None for s in held):
        ang = _scores(ckpt.posture, [p[1] for p in preds], [s.angles for s in held], fs)
        for v in ang.values():
            v["rmse_deg"] = math.degrees(v["rmse"])
        result["angles"] = ang
    summary: dict[str, Any] = {}
    names = list(ckpt.outputs)
    constant = [n for n in names if not np.isfinite(net_scores[n]["r"])]
    scored = [n for n in names if n not in constant]
    for key in ("r", "r_within"):
        a = np.array([net_scores[n][key] for n in scored])
        b = np.array([base_scores[n][key] for n in scored])
        summary[f"median_{key}"] = float(np.nanmedian(a)) if a.size else float("nan")
        summary[f"baseline_median_{key}"] = float(np.nanmedian(b)) if b.size else float("nan")
        summary[f"worse_than_baseline_{key}"] = [n for n, x, y in zip(scored, a, b) if not x > y]
        c = np.array([hgb_scores[n][key] for n in scored])
        summary[f"hgb_median_{key}"] = float(np.nanmedian(c)) if c.size else float("nan")
        summary[f"worse_than_hgb_{key}"] = [n for n, x, y in zip(scored, a, c) if not x > y]
    summary["median_rmse"] = float(np.median([v["rmse"] for v in net_scores.values()]))
    summary["baseline_median_rmse"] = float(np.median([v["rmse"] for v in base_scores.values()]))
    summary["beats_baseline_on_every_output"] = not summary["worse_than_baseline_r"] and bool(scored)
    summary["beats_both_baselines_everywhere"] = bool(scored) and not any(
        summary[f"worse_than_{b}_{k}"] for b in ("baseline", "hgb") for k in ("r", "r_within"))
    summary["constant_outputs"] = constant
    summary["scored_outputs"] = scored
    result["summary"] = summary
    result["data"] = {
        "held_out": "test" if dataset.test else "val",
        "n_val_sequences": len(held),
        "val_seconds": float(sum(len(s) for s in held) / fs),
        "n_train_sequences": len(dataset.train),
        "fit_on": sorted({s.name for s in fit_on}),
        "scored": sorted({s.name for s in held}),
        "model_fs": fs,
        "description": dataset.description,
    }
    return result
