"""Physical constants, channel names and units, and the rate ranges myostream supports.

Every other module takes these from here, so a number or a label is written once.
"""

from __future__ import annotations

STANDARD_GRAVITY = 9.80665
"""Standard gravity, m/s² per g (ISO 80000-3)."""

IMU_CHANNELS: tuple[str, ...] = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
"""Channel names of a 6-axis IMU block: accelerometer (m/s²) then gyroscope (rad/s)."""

IMU_UNITS: tuple[str, ...] = ("m/s^2",) * 3 + ("rad/s",) * 3
"""Unit of each of :data:`IMU_CHANNELS` (XDF spelling)."""

IMU_TYPES: tuple[str, ...] = ("Accelerometer",) * 3 + ("Gyroscope",) * 3
"""XDF channel type of each of :data:`IMU_CHANNELS`."""

EMG_FS_MIN = 500.0
"""Lowest EMG rate in Hz the engine simulates: a surface MUAP has content up to about
250 Hz, and a 30 ms MUAP table needs at least 15 samples."""

EMG_FS_MAX = 10_000.0
"""Highest EMG rate in Hz the engine simulates (the validation's propagation check runs there)."""

EMG_FS_HINT = "Use 1000 or 2000 Hz."
"""The usual EMG rates, for error messages."""
