"""Provenance of each EMG block: which IMU sample it is the newest consequence of.

Every EMG block the runner publishes comes with one row on the
``<prefix>-provenance`` stream (see ``docs/streams.md``) that names the
**newest IMU sample that contributed to the block**, so that any consumer can
compute end-to-end latency itself.

"Contributed" is defined along the two causal steps between the source and the
engine, and each step writes it into the blocks it gives (no one re-derives it
beside the flow):

1. **Activation stage** (IMU blocks in, activation rows out). Each row carries
   the IMU sample whose arrival produced it (``aux["imu_seq"]``,
   ``aux["imu_time"]``). For the
   network stage (:class:`realtime.stages.model.stage.ModelActivationStage`) a row is
   either a **committed** model-grid row, attributed to the input sample whose
   arrival completed grid point ``g`` (the grid value is interpolated between
   the filtered input before ``g`` and this sample, with a non-zero weight on
   the sample), or a **provisional** row, stamped with the newest IMU sample of
   the read that does not complete a grid point and attributed to that very
   sample (the network's output for the filtered input at that time, in which
   the sample has a non-zero weight). With provisional rows (the default) the
   newest sample of every read therefore has a row in the same tick. For the
   teacher stage the row and the IMU sample share the timestamp, so the row is
   attributed to its own sample. Every older IMU sample contributed too,
   through the anti-alias filter and the network's state.
2. **Engine-grid resampler** (:class:`realtime.stages.grid.GridResampler`,
   ``events["provenance"]`` of each grid block). EMG
   sample ``t`` is interpolated between the newest activation row at or before
   ``t`` and the row after it (the latter with a non-zero weight only when the
   former lies strictly before ``t``), or holds the newest row. The block's
   provenance is that of the newest row used by its last sample (later samples
   never use older rows). Rows that the resampler would drop (not newer than
   the newest it holds) are dropped here too. So an IMU sample's row reaches
   the first EMG block computed after it, unless that block's last sample falls
   exactly on an older row (then the next block).

An IMU sample ``i`` is therefore *included* in an EMG block exactly when the
block's provenance sequence number is ``>= i``. Before the first activation row
reaches the engine grid there is no provenance (``imu_seq = -1``, times NaN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.lsl_outlet import StreamSpec

PROVENANCE_CHANNELS: tuple[str, ...] = (
    "imu_time",
    "imu_seq",
    "emg_index",
    "emg_samples",
    "imu_read_time",
    "emg_push_time",
)
"""Columns of a provenance row (all float64; see :class:`ProvenanceTracker`)."""

IMU_TIME, IMU_SEQ, EMG_INDEX, EMG_SAMPLES, IMU_READ_TIME, EMG_PUSH_TIME = range(len(PROVENANCE_CHANNELS))
"""Column indices of a provenance row."""


def provenance_stream_spec(prefix: str, fs: float, block_size: int) -> StreamSpec:
    """The ``<prefix>-provenance`` stream: one double64 row per EMG block.

    Parameters
    ----------
    prefix : str
        Stream-name prefix.
    fs : float
        EMG rate in Hz.
    block_size : int
        EMG samples per block; the stream's nominal rate is ``fs / block_size``.
    """
    from devices.lsl_outlet import ChannelInfo, StreamSpec, stable_source_id

    units = {"imu_time": "seconds", "imu_read_time": "seconds", "emg_push_time": "seconds"}
    channels = tuple(ChannelInfo(name, units.get(name, "count"), "Provenance") for name in PROVENANCE_CHANNELS)
    desc = {
        "provenance": {
            "imu_time": "LSL timestamp of the newest IMU sample that contributed to the EMG block",
            "imu_seq": "source sample index of that IMU sample (-1: none yet)",
            "emg_index": "index of the EMG block's first sample (EMG sample n has timestamp t0 + n / fs)",
            "emg_samples": "samples in the EMG block",
            "imu_read_time": "LSL clock when the runner read that IMU sample from the source",
            "emg_push_time": "LSL clock when the EMG block was handed to its outlet",
            "timestamp": "the EMG block's last-sample timestamp",
        }
    }
    return StreamSpec(
        f"{prefix}-provenance",
        "Provenance",
        channels,
        float(fs) / int(block_size),
        stable_source_id(prefix, "provenance"),
        channel_format="double64",
        desc=desc,
    )


__all__ = [
    "EMG_INDEX",
    "EMG_PUSH_TIME",
    "EMG_SAMPLES",
    "IMU_READ_TIME",
    "IMU_SEQ",
    "IMU_TIME",
    "PROVENANCE_CHANNELS",
    "provenance_stream_spec",
]
