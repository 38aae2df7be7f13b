"""The controller example's features and velocity mapping (no simulator)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import load_example


def test_sliding_features_and_velocity_mapping() -> None:
    controller = load_example("controller")
    feats = controller.SlidingFeatures(2, 4)
    feats.push(np.array([[1, -2], [3, 4], [-5, 6]], np.float32))
    feats.push(np.array([[7, 8], [9, -10]], np.float32))  # wraps: window is the last 4 rows
    np.testing.assert_allclose(feats.mav(), [(3 + 5 + 7 + 9) / 4, (4 + 6 + 8 + 10) / 4])
    np.testing.assert_allclose(feats.rms(), np.sqrt([(9 + 25 + 49 + 81) / 4, (16 + 36 + 64 + 100) / 4]))
    assert controller.wrist_velocity(1.0, 1.0, 2.0, 0.1, 0.5) == 0.0  # co-contraction: no movement
    assert controller.wrist_velocity(0.2, 0.1, 2.0, 0.1, 0.5) == 0.0  # at rest
    assert controller.wrist_velocity(3.0, 1.0, 2.0, 0.1, 0.5) == pytest.approx(2.0 * 0.5)
    assert controller.wrist_velocity(1.0, 3.0, 2.0, 0.1, 0.5) == pytest.approx(-1.0)
    angles = np.array([0.0, 45.0, 90.0, 135.0, 180.0, -135.0, -90.0, -45.0])
    assert controller.pick_channels(angles, -40.0) == [0, 6, 7]
    assert controller.pick_channels(angles, 180.0) == [3, 4, 5]
    assert controller.parse_channels("1, 8", 8) == [0, 7]
    with pytest.raises(ValueError, match="'9'"):
        controller.parse_channels("1,9", 8)

