"""Synthetic arm: scripted forearm motion, the IMU it would produce, and physics ground truth.

- :func:`simulate` — offline recordings (training data for the activation model).
- :class:`SyntheticArm` — the live IMU source (``realtime.core.contract.Source``).
- ``MOTIONS`` — motion programs; :class:`SyntheticSettings` — every option.

See ``docs/teacher.md``.
"""

from __future__ import annotations

from realtime.body.synthetic.imu import ImuNoise, SensorMount, imu_signals
from realtime.body.synthetic.motions import MOTIONS, motion_program
from realtime.body.synthetic.settings import SyntheticSettings
from realtime.body.synthetic.source import AUX_SHAPES, SimulatedRecording, SyntheticArm, simulate
from realtime.body.synthetic.trajectory import Segment, Trajectory, minimum_jerk

__all__ = [
    "AUX_SHAPES",
    "MOTIONS",
    "ImuNoise",
    "Segment",
    "SensorMount",
    "SimulatedRecording",
    "SyntheticArm",
    "SyntheticSettings",
    "Trajectory",
    "imu_signals",
    "minimum_jerk",
    "motion_program",
    "simulate",
]
