"""Pick the six IMU channels of a multichannel stream by label, and convert their units.

Used by the LSL inlet and the XDF/CSV replay. Labels are matched
case-insensitively against ``realtime.core.units.IMU_CHANNELS`` and common
spellings (``ax``, ``AccX``, ``accel_x``, ``gyro_x``, ``GyrX`` ...). Units from
the stream metadata convert to SI: ``g`` → m/s², ``deg/s`` (``dps``) → rad/s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from realtime.core.units import IMU_CHANNELS, STANDARD_GRAVITY

_ACC_UNITS: dict[str, float] = {
    "": 1.0, "m/s^2": 1.0, "m/s2": 1.0, "m/s²": 1.0, "m/s/s": 1.0, "meters/second^2": 1.0,
    "g": STANDARD_GRAVITY, "mg": STANDARD_GRAVITY / 1000.0,
}
_GYRO_UNITS: dict[str, float] = {
    "": 1.0, "rad/s": 1.0, "radians/second": 1.0, "rad/sec": 1.0,
    "deg/s": math.pi / 180.0, "dps": math.pi / 180.0, "°/s": math.pi / 180.0, "degrees/second": math.pi / 180.0,
    "deg/sec": math.pi / 180.0,
}


def _canonical(label: str) -> str | None:
    """Return the IMU channel a label denotes (``"acc_x"`` ...), or ``None``."""
    text = re.sub(r"[\s_\-.]", "", label.strip().lower())
    m = re.fullmatch(r"(acc|accel|accelerometer|a|linacc)([xyz])", text) or re.fullmatch(
        r"(gyr|gyro|gyroscope|g|angvel|w)([xyz])", text
    )
    if m is None:
        return None
    kind = "acc" if m.group(1) in ("acc", "accel", "accelerometer", "a", "linacc") else "gyr"
    return f"{kind}_{m.group(2)}"


def parse_channel_spec(spec: str | None) -> tuple[str, ...] | None:
    """Parse ``--imu-channels``: six comma-separated labels or 0-based indices, or ``auto``/empty."""
    if spec is None or spec.strip().lower() in ("", "auto"):
        return None
    parts = tuple(p.strip() for p in spec.split(","))
    if len(parts) != 6 or any(not p for p in parts):
        raise ValueError(
            f"The argument 'imu_channels' must name 6 channels (labels or 0-based indices) in the order "
            f"{','.join(IMU_CHANNELS)}, separated by commas. {spec!r} is invalid."
        )
    return parts


def select_channels(labels: Sequence[str], requested: Sequence[str] | None = None) -> list[int]:
    """Return the indices of the six IMU channels, in ``IMU_CHANNELS`` order.

    Parameters
    ----------
    labels : sequence of str
        Labels of the stream's channels ("" where missing).
    requested : sequence of 6 str | None
        Labels or 0-based indices chosen by the user; ``None`` matches the
        labels automatically, or takes the channels in order when the stream
        has exactly six unlabelled channels.

    Raises
    ------
    ValueError
        The channels cannot be found; the message lists the stream's labels.
    """
    n = len(labels)
    shown = ", ".join(f"{i}:{lab or '?'}" for i, lab in enumerate(labels))
    if requested is not None:
        out = []
        lower = [lab.lower() for lab in labels]
        for item in requested:
            if item.isdigit():
                k = int(item)
                if k >= n:
                    raise ValueError(f"IMU channel index {k} is out of range: the stream has {n} channels ({shown}).")
                out.append(k)
            elif item.lower() in lower:
                out.append(lower.index(item.lower()))
            else:
                raise ValueError(
                    f"IMU channel {item!r} is not among the stream's channels ({shown}). "
                    f"Pass --imu-channels with 6 of these labels or indices."
                )
        return out
    canon = [_canonical(lab) for lab in labels]
    if all(name in canon for name in IMU_CHANNELS):
        return [canon.index(name) for name in IMU_CHANNELS]
    if n == 6:
        return list(range(6))
    raise ValueError(
        f"Cannot tell which channels are the accelerometer and gyroscope among {n} channels ({shown}). "
        f"Pass --imu-channels with 6 labels or indices in the order {','.join(IMU_CHANNELS)}."
    )


def unit_scales(units: Sequence[str], indices: Sequence[int]) -> np.ndarray:
    """Return the factor to SI of each selected channel from its unit (unknown units: 1, with no error).

    Parameters
    ----------
    units : sequence of str
        Unit of every channel of the stream ("" where missing).
    indices : sequence of 6 int
        The selected channels, accelerometer first.
    """
    scales = np.ones(6)
    for j, k in enumerate(indices):
        unit = units[k].strip().lower() if k < len(units) else ""
        table = _ACC_UNITS if j < 3 else _GYRO_UNITS
        scales[j] = table.get(unit, 1.0)
    return scales
