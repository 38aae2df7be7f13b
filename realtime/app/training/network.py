"""The PyTorch form of the activation network, used for training and offline passes.

Imports torch: import this module only where training or offline evaluation
happens. Run-time streaming uses :mod:`realtime.stages.model.streaming` instead, which
computes exactly the same function from the same weights without torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from realtime.stages.model.checkpoint import Checkpoint
from realtime.stages.model.config import NetConfig


class _ResidualBlock(nn.Module):
    """``h + W_mix · relu(causal_conv(h))`` with a dilated causal convolution."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = F.relu(self.conv(F.pad(h, (self.pad, 0))))
        return h + self.mix(z)


class ActivationNet(nn.Module):
    """Causal dilated-convolution network: IMU → (activations, joint angles).

    Parameters
    ----------
    config : NetConfig
        Shape of the network.
    mean, std : array-like, shape (n_inputs,) | None
        Input normaliser (``(x - mean) / std``), stored as buffers so that it
        travels with the weights. Defaults: 0 and 1.
    """

    def __init__(self, config: NetConfig, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        mean = np.zeros(config.n_inputs) if mean is None else np.asarray(mean, np.float64)
        std = np.ones(config.n_inputs) if std is None else np.asarray(std, np.float64)
        if mean.shape != (config.n_inputs,) or std.shape != (config.n_inputs,):
            raise ValueError(
                f"The normaliser 'mean' and 'std' should have shape ({config.n_inputs},), "
                f"got {mean.shape} and {std.shape}."
            )
        if not np.all(np.isfinite(std)) or np.any(std <= 0):
            raise ValueError(f"The normaliser 'std' must be finite and > 0. {std} is invalid.")
        self.register_buffer("norm_mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("norm_std", torch.tensor(std, dtype=torch.float32))
        self.inp = nn.Conv1d(config.n_inputs, c, 1)
        self.blocks = nn.ModuleList(_ResidualBlock(c, config.kernel, d) for d in config.dilations)
        self.head = nn.Conv1d(c, c, 1)
        self.act = nn.Conv1d(c, config.n_outputs, 1)
        self.pos = nn.Conv1d(c, config.n_posture, 1) if config.n_posture else None
        # Small residual branches at start keep the deep residual stream well conditioned.
        for block in self.blocks:
            nn.init.normal_(block.mix.weight, std=0.3 / np.sqrt(c * config.layers))
            nn.init.zeros_(block.mix.bias)

    def forward(self, x: torch.Tensor, pad: str = "zeros") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the network over whole sequences.

        Parameters
        ----------
        x : Tensor, shape (batch, time, n_inputs)
            Raw (unnormalised) input samples.
        pad : {"zeros", "replicate"}
            What the network assumes before the first sample. ``"zeros"``: the
            usual causal zero padding of each convolution. ``"replicate"``: the
            first sample held forever in the past, which is what the streaming
            path does after ``reset()`` (:class:`~realtime.stages.model.streaming.StreamingNet`).

        Returns
        -------
        activation : Tensor, shape (batch, time, n_outputs)
            In [0, 1].
        angles : Tensor, shape (batch, time, n_posture) | None
            Joint angles in radians (``None`` when ``n_posture == 0``).
        """
        if x.ndim != 3 or x.shape[2] != self.config.n_inputs:
            raise ValueError(
                f"The input should have shape (batch, time, {self.config.n_inputs}), {tuple(x.shape)} is invalid."
            )
        if pad not in ("zeros", "replicate"):
            raise ValueError(f"The argument 'pad' must be 'zeros' or 'replicate'. {pad!r} is invalid.")
        n_pad = 0
        if pad == "replicate" and x.shape[1] > 0:
            n_pad = self.config.receptive_field - 1
            x = torch.cat([x[:, :1].expand(-1, n_pad, -1), x], dim=1)
        h = (x - self.norm_mean) / self.norm_std
        h = self.inp(h.transpose(1, 2))
        for block in self.blocks:
            h = block(h)
        u = F.relu(self.head(F.relu(h)))
        act = torch.sigmoid(self.act(u)).transpose(1, 2)[:, n_pad:]
        ang = self.pos(u).transpose(1, 2)[:, n_pad:] if self.pos is not None else None
        return act, ang

    def numpy_state(self) -> dict[str, np.ndarray]:
        """The weights as float32 numpy arrays (the torch layout), normaliser included."""
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.state_dict().items()}

    @classmethod
    def from_numpy_state(cls, config: NetConfig, state: dict[str, np.ndarray]) -> ActivationNet:
        """Build a network from :meth:`numpy_state` output (shapes are checked)."""
        net = cls(config)
        expected = net.state_dict()
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing or extra:
            raise ValueError(
                f"The weights do not fit the network configuration: missing {missing}, unexpected {extra}."
            )
        tensors = {}
        for k, ref in expected.items():
            arr = np.asarray(state[k])
            if tuple(arr.shape) != tuple(ref.shape):
                raise ValueError(
                    f"The weight '{k}' should have shape {tuple(ref.shape)}, {arr.shape} is invalid."
                )
            tensors[k] = torch.tensor(arr, dtype=ref.dtype)
        net.load_state_dict(tensors)
        return net


def net_from_checkpoint(ckpt: Checkpoint) -> ActivationNet:
    """A fresh torch :class:`ActivationNet` with the weights of ``ckpt`` (to fine-tune or to compare)."""
    return ActivationNet.from_numpy_state(ckpt.config, dict(ckpt.state))
