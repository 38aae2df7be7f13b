"""The pipeline's activation stage: IMU blocks in, network activations out at the model rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime.core.anatomy import JOINTS
from realtime.core.block import Block, regular_timestamps
from realtime.core.checks import check_bool
from realtime.core.contract import StreamFormat
from realtime.core.logs import logger
from realtime.stages.model.checkpoint import Checkpoint, load_checkpoint
from realtime.stages.model.resample import ImuResampler


class ModelActivationStage:
    """Map IMU blocks to muscle activations with the causal dilated-convolution network.

    Each IMU block (any rate 50-1000 Hz, jitter allowed) is resampled causally
    to the model rate (:class:`~realtime.stages.model.resample.ImuResampler`), then
    pushed through the cached-state network
    (:class:`~realtime.stages.model.streaming.StreamingNet`). Torch is only used to
    read the checkpoint file.

    Every model-grid point that the block completes gives one **committed**
    row (the network's state advances by it; these rows equal the offline
    network over the resampled input). With ``provisional=True`` the stage
    also returns, after them, one **provisional** row stamped with the newest
    IMU sample's time whenever that sample lies after the newest grid point:
    the network's output for the anti-aliased input at that time, computed
    with :meth:`StreamingNet.peek_into <realtime.stages.model.streaming.StreamingNet.peek_into>`
    at its phase within the grid step (older taps read at their true distance
    in time, interpolated between cached grid rows). It never changes the
    network's state, so committed rows are the same with or without it; it
    lets an IMU sample reach the engine without waiting up to one model period
    for the next grid point (``docs/latency.md``).

    Parameters
    ----------
    checkpoint : str | Path | Checkpoint | None
        Checkpoint file (or an already loaded one); ``None`` uses the shipped
        default ``realtime/stages/model/default.pt``.
    provisional : bool
        Emit a provisional row for the newest IMU sample of each block that
        does not fall on a grid point (default). ``False`` emits grid rows only.

    Raises
    ------
    CheckpointError
        The checkpoint is missing, corrupt or inconsistent (one-line message with the fix).

    Notes
    -----
    A checkpoint without a posture head (e.g. one trained from scratch on
    recordings) still gives ``aux["angles"]`` with the three joints, all NaN:
    the engine then uses its neutral posture, i.e. dynamic MUAPs behave like
    static ones (:attr:`has_posture` tells; ``launch.py run`` says so in one line).
    """

    name = "activation network"

    def __init__(self, checkpoint: str | Path | Checkpoint | None = None, provisional: bool = True) -> None:
        check_bool("provisional", provisional)
        self.checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        self.provisional = provisional
        ck = self.checkpoint
        self._n_out = len(ck.outputs)
        self._n_cols = self._n_out + len(ck.posture)
        self._n_angles = len(ck.posture) if ck.posture else len(JOINTS)
        self._net = None
        self._resampler: ImuResampler | None = None
        self._checked_fs: float | None = None
        self._dropped_reported = 0
        self._t_row = -np.inf

    @property
    def fs(self) -> float:
        """Rate of the model grid (the nominal rate of the output blocks) in Hz."""
        return self.checkpoint.fs

    @property
    def channels(self) -> tuple[str, ...]:
        """Labels of the output columns (muscle names for the teacher-trained default)."""
        return self.checkpoint.outputs

    @property
    def posture_channels(self) -> tuple[str, ...]:
        """Labels of the columns of ``aux["angles"]`` (joint names; NaN columns without a posture head)."""
        return self.checkpoint.posture or JOINTS

    @property
    def has_posture(self) -> bool:
        """Whether the network estimates the posture (else ``aux["angles"]`` is NaN: neutral posture)."""
        return bool(self.checkpoint.posture)

    @property
    def input_format(self) -> StreamFormat:
        """The IMU channels the network was trained on, at any rate (resampled to the model's)."""
        return StreamFormat(fs=None, channels=self.checkpoint.inputs)

    @property
    def output_format(self) -> StreamFormat:
        """One column per network output at the model rate, with posture, provisional flags and provenance."""
        aux = {"provisional": 0, "imu_seq": 0, "imu_time": 0, "angles": self._n_angles}
        return StreamFormat(fs=self.checkpoint.fs, channels=self.checkpoint.outputs, aux=aux)

    @property
    def receptive_field_s(self) -> float:
        """How far back in time one output looks (s)."""
        return self.checkpoint.receptive_field_s

    @property
    def resampler_delay_s(self) -> float:
        """Low-frequency group delay of the input anti-alias filter (s)."""
        return 2.0 / (2.0 * np.pi * self.checkpoint.cutoff_hz) if self.checkpoint.cutoff_hz > 0 else 0.0

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Allocate (or clear) the resampler and the network caches for a new stream.

        Parameters
        ----------
        fmt : StreamFormat | None
            The IMU source's format (its rate and channels are checked against the checkpoint);
            ``None`` checks them on the first block.
        max_block : int
            Unused: the stage takes IMU reads of any length.
        """
        ck = self.checkpoint
        if fmt is not None and fmt.channels is not None:
            ck.check_source(fmt.channels, fmt.fs or 0.0)
        if self._net is None:
            n_in = ck.config.n_inputs
            self._net = ck.streaming_net()
            self._resampler = ImuResampler(ck.fs, n_in, ck.cutoff_hz)
            self._x_peek = np.zeros(n_in, np.float32)
        self._net.reset()
        self._resampler.reset()
        self._checked_fs = None
        self._dropped_reported = 0
        self._t_row = -np.inf

    def process(self, block: Block) -> Block:
        """Return the committed grid rows that ``block`` completes, then its provisional row if any.

        Parameters
        ----------
        block : Block
            IMU samples, channels ``realtime.core.units.IMU_CHANNELS`` (m/s², rad/s).

        Returns
        -------
        Block
            ``data`` (n_out, n_outputs) in [0, 1] at strictly increasing times:
            committed rows on the grid ``t0 + k / fs`` (``t0`` = first IMU
            sample after ``reset``), then at most one provisional row at the
            time of the newest IMU sample. ``seq`` = grid index of the first
            row (a provisional row carries the index of the grid point it
            stands in for, so row ``i`` has index ``seq + i``);
            ``aux["angles"]`` (n_out, 3) joint angles in radians (same rows);
            ``aux["provisional"]`` (n_out,) bool, ``True`` for the provisional
            row; ``aux["imu_seq"]`` (int64) and ``aux["imu_time"]`` the IMU
            sample whose arrival produced each row (for a committed row, the
            first valid sample at or after its grid time; for a provisional
            row, the newest sample). ``n_out`` may be 0.
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
        if rs.n_dropped != self._dropped_reported:  # the input guard before this stage counts and reports them
            logger.debug(
                "ModelActivationStage: dropped %s IMU samples so far (NaN/inf values or timestamps "
                "that do not advance)",
                rs.n_dropped,
            )
            self._dropped_reported = rs.n_dropped
        n = x.shape[0]
        if n:
            self._t_row = rs.t0 + (rs.seq - 1) / ck.fs  # the same expression as regular_timestamps
        t_new = rs.newest_time
        extra = self.provisional and rs.started and t_new > self._t_row
        m = n + extra
        if m == 0:
            return Block(
                np.zeros((0, self._n_out), np.float32), np.zeros(0), ck.fs, rs.seq, ck.outputs,
                {"angles": np.zeros((0, self._n_angles), np.float32), "provisional": np.zeros(0, bool),
                 "imu_seq": np.zeros(0, np.int64), "imu_time": np.zeros(0)},
            )
        out = np.empty((m, self._n_cols), np.float32)
        stamps = np.empty(m)
        flags = np.zeros(m, bool)
        src = np.empty(m, np.int64)
        if n:
            self._net.process_into(x, out[:n])
            stamps[:n] = regular_timestamps(rs.t0, ck.fs, seq, n)
            src[:n] = rs.sources
        if extra:
            # Phase of the newest sample within the grid step after the newest committed row (< 1:
            # a sample at or after the next grid point would have completed it).
            t_grid = rs.t0 + (rs.seq - 1) / ck.fs
            phase = min(max((t_new - t_grid) * ck.fs, 0.0), 1.0)
            self._x_peek[:] = rs.newest_filtered
            self._net.peek_into(self._x_peek, out[n], phase)
            stamps[n] = t_new
            flags[n] = True
            src[n] = self._newest_valid_index(block, t_new)
            self._t_row = t_new
        return Block(
            np.ascontiguousarray(out[:, : self._n_out]),
            stamps,
            ck.fs,
            seq,
            ck.outputs,
            {"angles": self._angles(out), "provisional": flags,
             "imu_seq": self._source_index(block, src), "imu_time": block.timestamps[src]},
        )

    def _angles(self, out: np.ndarray) -> np.ndarray:
        """The posture columns of ``out``, or NaN joint angles (neutral posture) without a posture head."""
        if self._n_cols > self._n_out:
            return np.ascontiguousarray(out[:, self._n_out :])
        return np.full((out.shape[0], self._n_angles), np.nan, np.float32)

    @staticmethod
    def _source_index(block: Block, rows: np.ndarray) -> np.ndarray:
        """Source sample index of ``rows`` of ``block`` (aux ``"imu_seq"`` when its rows are not consecutive)."""
        index = block.aux.get("imu_seq")
        return block.seq + rows if index is None else index[rows]

    @staticmethod
    def _newest_valid_index(block: Block, t_new: float) -> int:
        """Index in ``block`` of the newest sample the resampler accepted (stamped ``t_new``)."""
        last = block.n_samples - 1
        if block.timestamps[last] == t_new and np.isfinite(block.data[last]).all():
            return last
        hits = np.flatnonzero((block.timestamps == t_new) & np.isfinite(block.data).all(axis=1))
        return int(hits[-1]) if hits.size else last


__all__ = ["ModelActivationStage"]
