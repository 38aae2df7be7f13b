"""Cost and accuracy of the network stage's provisional rows (``launch.py bench provisional``).

A provisional row is the network's output at the newest IMU sample's time,
computed between two model-grid points without committing anything
(:meth:`realtime.stages.model.streaming.StreamingNet.peek_into`; ``docs/model.md``).
This benchmark measures, on one thread:

- **cost**: one committed sample (``process_into``) against one peek, for the
  shipped net and the reference net, and the whole stage
  (:class:`~realtime.stages.model.stage.ModelActivationStage`) fed one 1 kHz IMU sample
  per call with and without provisional rows (what a 1 ms runner tick costs);
- **accuracy**: the reference for a row at time ``t`` is the same network run on
  a 100 Hz grid that ends at ``t`` (the anti-aliased input sampled at ``t``,
  ``t - 10 ms``, ...). Between grid points, four estimates are compared with it
  over the synthetic arm's motion programs at a 1 kHz IMU: holding the newest
  committed row (what the engine saw without provisional rows), the peek at
  phase 1 (the input put in the next grid slot, older taps on the grid), the
  peek at the sample's phase (older taps read at their true distance in time:
  what the stage does) and a linear blend of the newest committed row and the
  phase-1 peek.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numba
import numpy as np

from realtime.body.synthetic import MOTIONS, SyntheticSettings, simulate
from realtime.core.block import Block
from realtime.core.units import IMU_CHANNELS
from realtime.stages.model.checkpoint import Checkpoint, load_checkpoint
from realtime.stages.model.config import REFERENCE_NET
from realtime.stages.model.resample import ImuResampler
from realtime.stages.model.stage import ModelActivationStage
from realtime.stages.model.streaming import StreamingNet

ESTIMATES: tuple[str, ...] = ("hold", "peek_next", "peek_phase", "blend")
"""Names of the estimates compared by :func:`provisional_accuracy` (``peek_phase`` is the stage's)."""


def _us(ns: np.ndarray) -> dict[str, float]:
    us = ns / 1e3
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99)),
            "mean_us": float(us.mean())}


def bench_peek(config: Any, state: Any, n: int = 5000, seed: int = 0) -> dict[str, Any]:
    """Time one committed sample and one peek (phase 1 and a fractional phase) of a net.

    Parameters
    ----------
    config : NetConfig
        Network shape.
    state : Mapping[str, ndarray] | None
        Weights in the torch layout; ``None`` draws random ones (no torch needed).
    n : int
        Calls timed per kind (after 200 warm-up samples).
    seed : int
        Seed of the inputs (and of the random weights).
    """
    rng = np.random.default_rng(seed)
    if state is None:
        state = _random_state(config, rng)
    net = StreamingNet(config, state)
    x = rng.normal(size=(n + 200, config.n_inputs)).astype(np.float32)
    out = np.empty((1, config.n_outputs + config.n_posture), np.float32)
    row = out[0]
    net.process_into(x[:200], np.empty((200, out.shape[1]), np.float32))
    clock = time.perf_counter_ns
    t_proc, t_next, t_phase = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        xi = x[200 + i]
        t0 = clock()
        net.peek_into(xi, row, 1.0)
        t1 = clock()
        net.peek_into(xi, row, 0.37)
        t2 = clock()
        net.process_into(x[200 + i : 201 + i], out)
        t3 = clock()
        t_next[i], t_phase[i], t_proc[i] = t1 - t0, t2 - t1, t3 - t2
    return {"layers": config.layers, "channels": config.channels, "kernel": config.kernel,
            "receptive_field": config.receptive_field, "process_one": _us(t_proc), "peek_phase_1": _us(t_next),
            "peek_fractional": _us(t_phase), "n": n}


def _random_state(config: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    c, k = config.channels, config.kernel
    s = 1.0 / np.sqrt(c)
    state = {"norm_mean": np.zeros(config.n_inputs), "norm_std": np.ones(config.n_inputs),
             "inp.weight": rng.normal(0, 0.5, (c, config.n_inputs, 1)), "inp.bias": np.zeros(c),
             "head.weight": rng.normal(0, s, (c, c, 1)), "head.bias": np.zeros(c),
             "act.weight": rng.normal(0, s, (config.n_outputs, c, 1)), "act.bias": np.zeros(config.n_outputs)}
    for i in range(config.layers):
        state[f"blocks.{i}.conv.weight"] = rng.normal(0, s / np.sqrt(k), (c, c, k))
        state[f"blocks.{i}.conv.bias"] = np.zeros(c)
        state[f"blocks.{i}.mix.weight"] = rng.normal(0, 0.3 * s, (c, c, 1))
        state[f"blocks.{i}.mix.bias"] = np.zeros(c)
    if config.n_posture:
        state["pos.weight"] = rng.normal(0, s, (config.n_posture, c, 1))
        state["pos.bias"] = np.zeros(config.n_posture)
    return state


def bench_stage(checkpoint: Any = None, n: int = 5000, imu_rate: float = 1000.0) -> dict[str, Any]:
    """Time ``ModelActivationStage.process`` fed one IMU sample per call, with and without provisional rows.

    Parameters
    ----------
    checkpoint : str | Path | Checkpoint | None
        The network (``None``: the shipped default).
    n : int
        Calls timed (after 2000 warm-up calls, so the receptive field is filled).
    imu_rate : float
        IMU rate in Hz (one sample per call, like a 1 ms runner tick at 1 kHz).
    """
    warm = 2000
    x = simulate(SyntheticSettings(motion="elbow-curls", fs=imu_rate, seed=0), (n + warm) / imu_rate + 0.01).imu
    t = 100.0 + np.arange(n + warm) / imu_rate
    blocks = [Block(x[i : i + 1], t[i : i + 1], imu_rate, i, IMU_CHANNELS) for i in range(n + warm)]
    result: dict[str, Any] = {"imu_rate": imu_rate, "n": n}
    clock = time.perf_counter_ns
    for name, provisional in (("grid_only", False), ("provisional", True)):
        stage = ModelActivationStage(checkpoint, provisional=provisional)
        stage.reset()
        times = np.empty(n)
        rows = 0
        for i, blk in enumerate(blocks):
            t0 = clock()
            out = stage.process(blk)
            t1 = clock()
            if i >= warm:
                times[i - warm] = t1 - t0
                rows += out.n_samples
        result[name] = {**_us(times), "rows_per_call": rows / n}
    return result


def provisional_accuracy(checkpoint: Any = None, seconds: float = 10.0, imu_rate: float = 1000.0,
                         motions: tuple[str, ...] | None = None, warmup_s: float = 3.0) -> dict[str, Any]:
    """Compare the estimates between grid points with the network run on a grid ending at each sample.

    Parameters
    ----------
    checkpoint : str | Path | Checkpoint | None
        The network (``None``: the shipped default).
    seconds : float
        Seconds of each motion program (the synthetic arm, seed = program index).
    imu_rate : float
        IMU rate in Hz; a multiple of the model rate, so that every sample has a whole phase.
    motions : tuple of str | None
        Motion programs (default: all of ``realtime.body.synthetic.MOTIONS``).
    warmup_s : float
        Seconds left out at the start of each program (the receptive field fills).

    Returns
    -------
    dict
        Per estimate (``ESTIMATES``): activation RMS error, 99th percentile and
        largest absolute error, RMS error relative to each muscle's standard
        deviation (mean over muscles), joint-angle RMS error in degrees; the
        same RMS per program; and ``activation_std``.
    """
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    period = int(round(imu_rate / ck.fs))
    if abs(period * ck.fs - imu_rate) > 1e-9 or period < 2:
        raise ValueError(f"The argument 'imu_rate' must be a multiple (>= 2) of the model rate {ck.fs:g} Hz. "
                         f"{imu_rate!r} is invalid.")
    motions = tuple(MOTIONS) if motions is None else tuple(motions)
    n_out = len(ck.outputs)
    errors = {k: ([], []) for k in ESTIMATES}
    targets = []
    per_motion = {}
    for mi, motion in enumerate(motions):
        x = simulate(SyntheticSettings(motion=motion, fs=imu_rate, seed=mi), seconds).imu
        n = len(x)
        t = 100.0 + np.arange(n) / imu_rate
        xf, _ = ImuResampler(imu_rate, x.shape[1], ck.cutoff_hz).process(t, x)  # filtered, at every sample
        xf = xf.copy()
        truth = np.empty((n, len(ck.outputs) + len(ck.posture)))
        for j in range(period):
            a, g = ck.streaming_net().process(xf[j::period])
            truth[j::period] = np.concatenate([a, g], axis=1)
        est = {k: np.empty_like(truth) for k in ESTIMATES}
        net = ck.streaming_net()
        out1 = np.empty(truth.shape[1], np.float32)
        outp = np.empty(truth.shape[1], np.float32)
        last = np.empty(truth.shape[1], np.float32)
        for i in range(n):
            phase = (i % period) / period
            if phase == 0.0:
                net.process_into(xf[i : i + 1], last[None, :])
                for k in ESTIMATES:
                    est[k][i] = last
                continue
            net.peek_into(xf[i], out1, 1.0)
            net.peek_into(xf[i], outp, phase)
            est["hold"][i] = last
            est["peek_next"][i] = out1
            est["peek_phase"][i] = outp
            est["blend"][i] = (1.0 - phase) * last + phase * out1
        keep = (np.arange(n) >= warmup_s * imu_rate) & (np.arange(n) % period != 0)
        targets.append(truth[keep, :n_out])
        per_motion[motion] = {}
        for k in ESTIMATES:
            e = est[k][keep] - truth[keep]
            errors[k][0].append(e[:, :n_out])
            errors[k][1].append(e[:, n_out:])
            per_motion[motion][k] = float(np.sqrt(np.mean(e[:, :n_out] ** 2)))
    sd = np.concatenate(targets).std(axis=0)
    summary = {}
    for k in ESTIMATES:
        ea, eg = np.concatenate(errors[k][0]), np.concatenate(errors[k][1])
        summary[k] = {
            "activation_rms": float(np.sqrt(np.mean(ea**2))),
            "activation_p99_abs": float(np.percentile(np.abs(ea), 99)),
            "activation_max_abs": float(np.abs(ea).max()),
            "activation_rms_over_std": float(np.mean(np.sqrt(np.mean(ea**2, axis=0)) / np.maximum(sd, 1e-12))),
            "angles_rms_deg": float(np.degrees(np.sqrt(np.mean(eg**2)))) if eg.size else float("nan"),
        }
    return {"estimates": summary, "per_motion_activation_rms": per_motion, "activation_std": sd.tolist(),
            "seconds_per_motion": seconds, "imu_rate": imu_rate, "warmup_s": warmup_s, "motions": list(motions)}


def run(ckpt: str | None = None, n: int = 5000, seconds: float = 10.0) -> dict[str, Any]:
    """The whole benchmark: costs of both nets and of the stage, then the accuracy comparison."""
    ck = load_checkpoint(ckpt)
    return {
        "nets": {"default": bench_peek(ck.config, dict(ck.state), n),
                 "reference": bench_peek(REFERENCE_NET, None, n)},
        "stage": bench_stage(ck, n),
        "accuracy": provisional_accuracy(ck, seconds),
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
                    "processor": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M")},
        "checkpoint": str(ckpt or "default"),
    }
