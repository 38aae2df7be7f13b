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

from realtime.core.schemas import PROVENANCE_CHANNELS, provenance_stream_spec

IMU_TIME, IMU_SEQ, EMG_INDEX, EMG_SAMPLES, IMU_READ_TIME, EMG_PUSH_TIME = range(len(PROVENANCE_CHANNELS))
"""Column indices of a provenance row."""

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
