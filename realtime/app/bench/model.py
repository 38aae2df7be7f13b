"""Speed of the streaming network: cached-state streaming versus sliding-window recompute.

For each net, on one thread, in the same run:

- **stream**: one sample at a time through :class:`~realtime.stages.model.streaming.StreamingNet`
  (preallocated input/output, ``process_into``), timing each call;
- **window**: the sliding-window way — for each new sample, the PyTorch
  network recomputes its whole receptive-field window (``receptive_field``
  samples) and keeps the last output.

``speedup`` = window p50 / stream p50.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numba
import numpy as np
import torch

from realtime.app.training.network import ActivationNet
from realtime.stages.model.checkpoint import load_checkpoint
from realtime.stages.model.config import REFERENCE_NET, NetConfig
from realtime.stages.model.streaming import StreamingNet


def _percentiles(us: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(us, 50)), float(np.percentile(us, 99))


def bench_net(
    name: str,
    config: NetConfig,
    state: dict[str, np.ndarray] | None = None,
    n_stream: int = 5000,
    n_window: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure one net (random weights when ``state`` is None).

    Parameters
    ----------
    name : str
        Label in the result.
    config : NetConfig
        Network shape.
    state : dict | None
        Weights (torch layout); ``None`` draws PyTorch's default initialisation.
    n_stream : int
        Samples streamed one at a time (after 200 warm-up samples).
    n_window : int
        Window recomputations timed (after 2 warm-up).
    seed : int
        Seed of weights and inputs.
    """
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    net = ActivationNet(config) if state is None else ActivationNet.from_numpy_state(config, state)
    net.eval()
    weights = net.numpy_state()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_stream + 200, config.n_inputs)).astype(np.float32)
    stream = StreamingNet(config, weights)
    out = np.empty((1, config.n_outputs + config.n_posture), np.float32)
    times = np.empty(n_stream)
    clock = time.perf_counter_ns
    for t in range(200):
        stream.process_into(x[t : t + 1], out)
    for t in range(n_stream):
        xt = x[200 + t : 201 + t]
        t0 = clock()
        stream.process_into(xt, out)
        times[t] = clock() - t0
    s50, s99 = _percentiles(times / 1e3)
    rf = config.receptive_field
    xw = torch.from_numpy(rng.normal(size=(1, rf + n_window + 2, config.n_inputs)).astype(np.float32))
    wtimes = np.empty(n_window)
    with torch.inference_mode():
        for t in range(n_window + 2):
            t0 = clock()
            net(xw[:, t : t + rf])
            if t >= 2:
                wtimes[t - 2] = clock() - t0
    w50, w99 = _percentiles(wtimes / 1e3)
    return {
        "name": name,
        "layers": config.layers,
        "channels": config.channels,
        "kernel": config.kernel,
        "receptive_field": rf,
        "n_inputs": config.n_inputs,
        "n_outputs": config.n_outputs + config.n_posture,
        "stream_us_p50": s50,
        "stream_us_p99": s99,
        "window_us_p50": w50,
        "window_us_p99": w99,
        "speedup": w50 / s50,
        "state_bytes": stream.state_bytes,
        "n_stream": n_stream,
        "n_window": n_window,
    }


def bench_model(ckpt_path: str | None = None, n_stream: int = 5000, n_window: int = 30) -> dict[str, Any]:
    """Benchmark the default (shipped) net and the reference net; return the JSON-ready result."""
    ckpt = load_checkpoint(ckpt_path)
    nets = [
        bench_net("default", ckpt.config, dict(ckpt.state), n_stream, n_window),
        bench_net("reference", REFERENCE_NET, None, n_stream, max(5, n_window // 2)),
    ]

    return {
        "nets": nets,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "checkpoint": str(ckpt_path or "default"),
    }
