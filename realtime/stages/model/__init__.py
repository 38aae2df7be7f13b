"""The IMU → muscle-activation network.

A causal dilated-convolution network (WaveNet/TCN family) maps 6-axis IMU
samples, resampled to the model's own rate, to one activation in [0, 1] per
muscle plus the three joint angles of the arm.

Modules, one role each:

- :mod:`realtime.stages.model.config`: the network's hyper-parameters (:class:`NetConfig`).
- :mod:`realtime.app.training.network`: the PyTorch module used for training (imports torch).
- :mod:`realtime.stages.model.streaming`: cached-state inference in numba, no torch.
- :mod:`realtime.stages.model.resample`: causal IMU-rate → model-rate resampling.
- :mod:`realtime.stages.model.checkpoint`: save and load checkpoints.
- :mod:`realtime.app.training.data`: teacher data, CSV and XDF recordings, EMG envelopes.
- :mod:`realtime.app.training.train`, :mod:`realtime.app.training.evaluate`, :mod:`realtime.app.bench.model`.
- :mod:`realtime.stages.model.stage`: the pipeline stage :class:`ModelActivationStage`.

Only the training package (:mod:`realtime.app.training`) and ``.pt`` checkpoint files
need torch; importing this package, or running with a ``.npz`` checkpoint, does not import it.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CHECKPOINT: Path = Path(__file__).resolve().parent / "default.pt"
"""The shipped default checkpoint (trained on the physics teacher; see docs/model.md)."""

DEFAULT_RUNTIME_CHECKPOINT: Path = DEFAULT_CHECKPOINT.with_suffix(".npz")
"""The same weights without torch (what a run loads): written beside ``default.pt`` by ``launch.py train``."""

__all__ = ["DEFAULT_CHECKPOINT", "DEFAULT_RUNTIME_CHECKPOINT"]
