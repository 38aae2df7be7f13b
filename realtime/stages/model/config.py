"""Hyper-parameters of the activation network (no torch needed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from realtime.core.checks import ensure_int


@dataclass(frozen=True)
class NetConfig:
    """Shape of the causal dilated-convolution network.

    The network is: per-channel input normalisation; a 1×1 input convolution
    to ``channels``; ``layers`` residual blocks, block ``l`` being
    ``h ← h + W_mix · relu(conv_k,d(h))`` with a causal convolution of kernel
    ``kernel`` and dilation ``d = dilation_base ** l``; a shared 1×1 hidden
    layer ``u = relu(W_head · relu(h))``; and two heads, ``sigmoid(W_act · u)``
    (one activation per output) and ``W_pos · u`` (joint angles in radians).

    Parameters
    ----------
    n_inputs : int
        Input channels (6 for an accelerometer + gyroscope).
    n_outputs : int
        Activation outputs (muscles or EMG channels).
    n_posture : int
        Posture outputs (joint angles); 0 for none.
    channels : int
        Width of the residual stream.
    layers : int
        Number of residual blocks.
    kernel : int
        Kernel size of the dilated convolutions (>= 2).
    dilation_base : int
        Dilation of block ``l`` is ``dilation_base ** l`` (>= 1).
    """

    n_inputs: int = 6
    n_outputs: int = 8
    n_posture: int = 3
    channels: int = 32
    layers: int = 6
    kernel: int = 3
    dilation_base: int = 2

    def __post_init__(self) -> None:
        rules = {
            "n_inputs": (1, 256),
            "n_outputs": (1, 256),
            "n_posture": (0, 64),
            "channels": (1, 1024),
            "layers": (1, 24),
            "kernel": (2, 16),
            "dilation_base": (1, 8),
        }
        for name, (lo, hi) in rules.items():
            ensure_int(name, getattr(self, name), lo, hi)
        if self.dilation_base ** (self.layers - 1) > 1 << 20:
            raise ValueError(
                f"The network settings layers={self.layers}, dilation_base={self.dilation_base} give a "
                "largest dilation above 2**20 samples. Use fewer layers or a smaller base."
            )

    @property
    def dilations(self) -> tuple[int, ...]:
        """Dilation of each residual block."""
        return tuple(self.dilation_base**i for i in range(self.layers))

    @property
    def receptive_field(self) -> int:
        """Number of input samples (including the current one) that one output depends on."""
        return 1 + (self.kernel - 1) * sum(self.dilations)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise a ``ValueError`` naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"Unknown network settings {unknown}; the known ones are {sorted(known)}. "
                "The checkpoint was written by a newer myostream: upgrade, or retrain."
            )
        return cls(**{k: int(v) for k, v in d.items()})


REFERENCE_NET = NetConfig(n_inputs=6, n_outputs=8, n_posture=0, channels=64, layers=10, kernel=3)
"""The benchmark's reference net: 10 layers, 64 channels, kernel 3, dilations 1…512, 6 → 8."""
