"""Physics in the loop: channel envelopes predicted by a network → muscle activations for the engine.

A network trained on recordings predicts each EMG channel's normalised
envelope ``y_c`` (``envelope / target_scale``). To keep the engine (motor
units, discharges, dynamic MUAPs, artefacts, faults) in the loop, each
predicted row is inverted to one activation per muscle with a **gain model
calibrated from the engine itself** for the recording's layout:

* ``P[l, c, k]``: the squared mean envelope of channel ``c`` when muscle ``k``
  alone is held at activation ``levels[l]`` (same envelope filters as the
  training targets; :func:`realtime.app.physics.calibrate_gains`).
* Independent motor-unit trains add in power, and a channel's mean rectified
  value is proportional to its RMS for a Gaussian-like signal, so the squared
  envelope is modelled as ``e_c² ≈ Σ_k G[c, k] · u_k`` with
  ``G = P[levels == 1]`` and ``u_k = g_k(a_k)``, ``g_k`` being muscle ``k``'s
  normalised power-vs-activation curve (monotone, tabulated at ``levels``).
* Per row: ``u = argmin_{u >= 0} ||G u - e²||² + λ ||u||²`` (non-negative least
  squares, Lawson & Hanson 1974, on the matrix stacked with ``√λ·I``;
  ``λ = ridge · trace(GᵀG) / K`` keeps muscles with near-identical channel
  patterns from trading off wildly), then ``a_k = g_k⁻¹(u_k)`` by linear
  interpolation, clipped to [0, 1].

This is the simplest honest inversion: it is exact for the engine's own
static MUAPs up to the additivity approximation, needs no training, and
states its assumption — the recording's channels are the engine layout's
channels in µV (a myostream recording, or an amplifier placed like the
layout). It cannot separate muscles whose channel patterns are identical
(they then share the envelope); ``docs/model.md`` discusses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.core.block import Block
from realtime.core.contract import StreamFormat


@dataclass(frozen=True)
class GainModel:
    """Per-muscle, per-channel envelope power vs activation, calibrated from the engine.

    Parameters
    ----------
    layout : str
        The engine layout it was calibrated for.
    channels : tuple of str
        The layout's EMG channels (rows of ``power``'s second axis).
    muscles : tuple of str
        The engine's muscles.
    levels : ndarray, shape (L,)
        Activation levels, increasing, starting at 0 and ending at 1.
    power : ndarray, shape (L, C, K)
        Squared mean envelope (µV²) of channel ``c`` with muscle ``k`` alone at ``levels[l]``.
    """

    layout: str
    channels: tuple[str, ...]
    muscles: tuple[str, ...]
    levels: np.ndarray
    power: np.ndarray

    def __post_init__(self) -> None:
        lv = np.asarray(self.levels, np.float64)
        p = np.asarray(self.power, np.float64)
        if lv.ndim != 1 or lv.size < 2 or lv[0] != 0.0 or lv[-1] != 1.0 or np.any(np.diff(lv) <= 0):
            raise ValueError(f"The gain model's levels must increase from 0 to 1. {lv} is invalid.")
        if p.shape != (lv.size, len(self.channels), len(self.muscles)):
            raise ValueError(
                f"The gain model's power should be (levels, channels, muscles) = "
                f"({lv.size}, {len(self.channels)}, {len(self.muscles)}), {p.shape} is invalid."
            )
        object.__setattr__(self, "levels", lv)
        object.__setattr__(self, "power", p)

    @property
    def gains(self) -> np.ndarray:
        """``G`` (C, K): envelope power of each channel at full activation of each muscle (µV²)."""
        return self.power[-1] - self.power[0]

    @property
    def curves(self) -> np.ndarray:
        """``g_k(levels)`` (L, K): each muscle's normalised power-vs-activation curve, monotone, 0 → 1."""
        p = (self.power - self.power[0]).sum(axis=1)  # (L, K), summed over channels
        top = np.where(p[-1] > 0, p[-1], 1.0)
        g = np.maximum.accumulate(np.clip(p / top, 0.0, None), axis=0)
        g[0], g[-1] = 0.0, 1.0
        return g


class EnvelopeInversion:
    """Invert rows of predicted channel envelopes (µV) to muscle activations (see module docs).

    Parameters
    ----------
    gains : GainModel
        Calibrated for the recording's layout.
    channel_order : sequence of int
        For each gain-model channel, the column of the predicted rows that holds it.
    ridge : float
        Relative Tikhonov weight ``λ`` (toward zero activation).
    """

    def __init__(self, gains: GainModel, channel_order: list[int], ridge: float = 1e-3) -> None:
        g = gains.gains
        k = g.shape[1]
        lam = ridge * float(np.trace(g.T @ g)) / k
        self._a = np.vstack([g, np.sqrt(lam) * np.eye(k)])
        self._b = np.zeros(self._a.shape[0])
        self._order = np.asarray(channel_order, np.int64)
        self._curves = gains.curves
        self._levels = gains.levels
        self._base = gains.power[0].sum(axis=1)  # rest power per channel (noise floor of the calibration)
        self.n_muscles = k

    def activations(self, envelopes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Activations (n, K) in [0, 1] for predicted envelope rows ``envelopes`` (n, C_pred) in µV."""
        from scipy.optimize import nnls  # deferred: scipy.optimize only for envelope checkpoints

        env = np.asarray(envelopes, np.float64)[:, self._order]
        n = env.shape[0]
        if out is None:
            out = np.empty((n, self.n_muscles), np.float32)
        c = self._order.size
        for i in range(n):
            self._b[:c] = np.maximum(env[i] ** 2 - self._base, 0.0)
            u, _ = nnls(self._a, self._b)
            for k in range(self.n_muscles):
                out[i, k] = np.interp(min(u[k], 1.0), self._curves[:, k], self._levels)
        return out


class EnvelopeInversionStage:
    """An activation stage for a checkpoint that predicts channel envelopes: network, then inversion.

    Parameters
    ----------
    model : ModelActivationStage
        The network stage (its outputs: normalised envelopes of the recording's channels).
    gains : GainModel
        Calibrated from the engine for the checkpoint's layout.
    ridge : float
        See :class:`EnvelopeInversion`.

    Raises
    ------
    ValueError
        The checkpoint's output names are not the layout's channels (one line naming both).
    """

    name = "activation network + envelope inversion"

    def __init__(self, model: object, gains: GainModel, ridge: float = 1e-3) -> None:
        ck = model.checkpoint
        missing = [c for c in gains.channels if c not in ck.outputs]
        if missing:
            raise ValueError(
                f"The checkpoint's outputs {list(ck.outputs)} are not the channels of layout {gains.layout!r} "
                f"{list(gains.channels)} (missing {missing}); train on a recording of that layout or pass its "
                "layout with train --layout."
            )
        if not ck.target_scale:
            raise ValueError("The checkpoint has no envelope scales (target_scale): it was not trained on recordings.")
        self.model = model
        self.gains = gains
        self.inversion = EnvelopeInversion(gains, [ck.outputs.index(c) for c in gains.channels], ridge)
        self._scale = np.asarray(ck.target_scale, np.float64)

    @property
    def fs(self) -> float:
        """The model rate (Hz)."""
        return self.model.fs

    @property
    def checkpoint(self) -> object:
        """The network's checkpoint."""
        return self.model.checkpoint

    @property
    def has_posture(self) -> bool:
        """Whether the network estimates the posture."""
        return self.model.has_posture

    @property
    def input_format(self) -> StreamFormat:
        """The network's input."""
        return self.model.input_format

    @property
    def output_format(self) -> StreamFormat:
        """One activation per engine muscle at the model rate; the network's aux."""
        fmt = self.model.output_format
        return StreamFormat(fs=fmt.fs, channels=self.gains.muscles, aux=fmt.aux)

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Reset the network stage."""
        self.model.reset(fmt, max_block=max_block)

    def process(self, block: Block) -> Block:
        """Network rows (normalised envelopes) → envelopes in µV → activations by NNLS."""
        rows = self.model.process(block)
        act = self.inversion.activations(rows.data * self._scale)
        return Block(act, rows.timestamps, rows.fs, rows.seq, self.gains.muscles, rows.aux, rows.events)


__all__ = ["EnvelopeInversion", "EnvelopeInversionStage", "GainModel"]
