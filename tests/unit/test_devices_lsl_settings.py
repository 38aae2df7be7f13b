"""The LSL IMU source's settings and channel specs (no stream opened)."""

from __future__ import annotations

import pytest

from devices.channel_map import parse_channel_spec, select_channels
from devices.lsl_imu import LslSettings


def test_settings_and_channel_specs() -> None:
    with pytest.raises(ValueError, match="needs a stream name or type"):
        LslSettings()
    assert parse_channel_spec("auto") is None
    assert parse_channel_spec("ax,ay,az,gx,gy,gz") == ("ax", "ay", "az", "gx", "gy", "gz")
    with pytest.raises(ValueError, match="must name 6 channels"):
        parse_channel_spec("ax,ay")
    assert select_channels(["t", "gx", "gy", "gz", "ax", "ay", "az"]) == [4, 5, 6, 1, 2, 3]
    assert select_channels(["a", "b", "c", "d", "e", "f"]) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="'zz' is not among"):
        select_channels(["ax", "ay"], ("zz", "ay", "ax", "ax", "ax", "ax"))

