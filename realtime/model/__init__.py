"""The IMU → muscle-activation network.

A causal dilated-convolution network (WaveNet/TCN family) maps 6-axis IMU
samples, resampled to the model's own rate, to one activation in [0, 1] per
muscle plus the three joint angles of the arm.

Modules, one role each:

- :mod:`realtime.model.config`: the network's hyper-parameters (:class:`NetConfig`).
- :mod:`realtime.model.network`: the PyTorch module used for training (imports torch).
- :mod:`realtime.model.streaming`: cached-state inference in numba, no torch.
- :mod:`realtime.model.resample`: causal IMU-rate → model-rate resampling.
- :mod:`realtime.model.checkpoint`: save and load checkpoints.
- :mod:`realtime.model.data`: teacher data, CSV and XDF recordings, EMG envelopes.
- :mod:`realtime.model.train`, :mod:`realtime.model.evaluate`, :mod:`realtime.model.bench`.
- :mod:`realtime.model.stage`: the pipeline stage :class:`ModelActivationStage`.

Only :mod:`network`, :mod:`train` (and checkpoint loading) need torch; importing
this package does not import it.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CHECKPOINT: Path = Path(__file__).resolve().parent / "default.pt"
"""The shipped default checkpoint (trained on the physics teacher; see docs/model.md)."""

__all__ = ["DEFAULT_CHECKPOINT"]
