"""The pipeline's activation stage: IMU blocks in, network activations out at the model rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime.block import Block, empty_block, regular_timestamps
from realtime.logs import logger
from realtime.model.checkpoint import Checkpoint, load_checkpoint
from realtime.model.resample import ImuResampler


class ModelActivationStage:
    """Map IMU blocks to muscle activations with the causal dilated-convolution network.

    Each IMU block (any rate 50-1000 Hz, jitter allowed) is resampled causally
    to the model rate (:class:`~realtime.model.resample.ImuResampler`), then
    pushed through the cached-state network
    (:class:`~realtime.model.streaming.StreamingNet`). Torch is only used to
    read the checkpoint file.

    Parameters
    ----------
    checkpoint : str | Path | Checkpoint | None
        Checkpoint file (or an already loaded one); ``None`` uses the shipped
        default ``realtime/model/default.pt``.

    Raises
    ------
    CheckpointError
        The checkpoint is missing, corrupt or inconsistent (one-line message with the fix).
    """

    def __init__(self, checkpoint: str | Path | Checkpoint | None = None) -> None:
        self.checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        ck = self.checkpoint
        self._aux_shapes = {"angles": (len(ck.posture),)}
        self._net = None
        self._resampler: ImuResampler | None = None
        self._checked_fs: float | None = None
        self._dropped_reported = 0

    @property
    def fs(self) -> float:
        """Rate of the output blocks (the model rate) in Hz."""
        return self.checkpoint.fs

    @property
    def channels(self) -> tuple[str, ...]:
        """Labels of the output columns (muscle names for the teacher-trained default)."""
        return self.checkpoint.outputs

    @property
    def posture_channels(self) -> tuple[str, ...]:
        """Labels of the columns of ``aux["angles"]`` (joint names)."""
        return self.checkpoint.posture

    @property
    def receptive_field_s(self) -> float:
        """How far back in time one output looks (s)."""
        return self.checkpoint.receptive_field_s

    @property
    def resampler_delay_s(self) -> float:
        """Low-frequency group delay of the input anti-alias filter (s)."""
        return 2.0 / (2.0 * np.pi * self.checkpoint.cutoff_hz) if self.checkpoint.cutoff_hz > 0 else 0.0

    def reset(self) -> None:
        """Allocate (or clear) the resampler and the network caches for a new stream."""
        ck = self.checkpoint
        if self._net is None:
            self._net = ck.streaming_net()
            self._resampler = ImuResampler(ck.fs, ck.config.n_inputs, ck.cutoff_hz)
        self._net.reset()
        self._resampler.reset()
        self._checked_fs = None
        self._dropped_reported = 0

    def process(self, block: Block) -> Block:
        """Return the activations for the model-grid samples that ``block`` completes.

        Parameters
        ----------
        block : Block
            IMU samples, channels ``realtime.block.IMU_CHANNELS`` (m/s², rad/s).

        Returns
        -------
        Block
            ``data`` (n_out, n_outputs) in [0, 1] on the grid ``t0 + k / fs``
            (``t0`` = first IMU sample after ``reset``), ``seq`` = grid index of
            the first row, ``aux["angles"]`` (n_out, 3) joint angles in radians.
            ``n_out`` may be 0.
        """
        if self._net is None:
            self.reset()
        ck = self.checkpoint
        if block.channels != ck.inputs:
            ck.check_source(block.channels, block.fs)
        if self._checked_fs != block.fs:
            ck.check_source(block.channels, block.fs)
            self._checked_fs = block.fs
        rs = self._resampler
        x, seq = rs.process(block.timestamps, block.data)
        if rs.n_dropped != self._dropped_reported:
            logger.warning(
                "ModelActivationStage: dropped %s IMU samples so far (NaN/inf values or timestamps "
                "that do not advance)",
                rs.n_dropped,
            )
            self._dropped_reported = rs.n_dropped
        n = x.shape[0]
        if n == 0:
            return empty_block(ck.outputs, ck.fs, rs.seq, self._aux_shapes)
        act, ang = self._net.process(x)
        return Block(
            np.ascontiguousarray(act),
            regular_timestamps(rs.t0, ck.fs, seq, n),
            ck.fs,
            seq,
            ck.outputs,
            {"angles": np.ascontiguousarray(ang)},
        )


__all__ = ["ModelActivationStage"]
