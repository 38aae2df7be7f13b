"""The activation stage that passes on the physics teacher's ground truth carried by the synthetic arm."""

from __future__ import annotations

import numpy as np

from realtime.core.block import Block
from realtime.core.contract import StreamFormat


class TeacherActivation:
    """Return the ground-truth activations the synthetic source attaches to each IMU block.

    The synthetic arm attaches the physics teacher's activations to each IMU
    block (aux ``"activation"``, one column per muscle); this stage returns
    them as a block of their own, with the IMU timestamps, the joint angles
    (aux ``"angles"``) when the source gives them, and each row's provenance
    (its own IMU sample: aux ``"imu_seq"``, ``"imu_time"``).

    Parameters
    ----------
    muscles : tuple of str
        Labels of the columns of the source's aux ``"activation"`` (and of the output).
    """

    name = "teacher activation"

    def __init__(self, muscles: tuple[str, ...]) -> None:
        if not muscles or not all(isinstance(m, str) for m in muscles):
            raise ValueError(f"The argument 'muscles' must be a non-empty tuple of names. {muscles!r} is invalid.")
        self.muscles = tuple(muscles)

    @property
    def input_format(self) -> StreamFormat:
        """IMU blocks (any rate) that carry the teacher's activations, one column per muscle."""
        return StreamFormat(fs=None, channels=None, aux={"activation": self.muscles})

    @property
    def output_format(self) -> StreamFormat:
        """One column per muscle, on the IMU's own sample times, with provenance."""
        return StreamFormat(fs=None, channels=self.muscles, aux={"imu_seq": 0, "imu_time": 0})

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Nothing to allocate: the stage is stateless."""

    def process(self, block: Block) -> Block:
        """Return the source's ground-truth activations for ``block``."""
        act = block.aux.get("activation")
        if act is None:
            raise ValueError(
                "The activation source 'teacher' needs ground-truth activations, which only the "
                "synthetic source provides. Use --activation model with this source."
            )
        if act.shape[1] != len(self.muscles):
            raise ValueError(
                f"The source carries {act.shape[1]} activations, the teacher stage expects {len(self.muscles)} "
                f"muscles ({', '.join(self.muscles)})."
            )
        n = block.n_samples
        index = block.aux.get("imu_seq")  # source indices when the rows are not consecutive (input guard)
        aux = {
            "imu_seq": np.arange(block.seq, block.seq + n, dtype=np.int64) if index is None else index,
            "imu_time": block.timestamps,
        }
        angles = block.aux.get("angles")
        if angles is not None:
            aux["angles"] = np.ascontiguousarray(angles, np.float32)
        data = np.ascontiguousarray(act, np.float32)
        return Block(data, block.timestamps, block.fs, block.seq, self.muscles, aux)


__all__ = ["TeacherActivation"]
