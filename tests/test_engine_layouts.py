"""Electrode layouts: channel counts, labels, positions, montage, errors, dict round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime.engine.layouts import FOREARM_LENGTH, FOREARM_RADIUS, LAYOUTS, Layout, get_layout


def test_known_layouts_and_default_first() -> None:
    assert LAYOUTS[0] == "armband8"
    assert set(LAYOUTS) >= {"armband8", "grid64"}


def test_armband8_geometry() -> None:
    lay = get_layout("armband8")
    assert lay.name == "armband8"
    assert lay.kind == "bipolar"
    assert lay.channels == tuple(f"EMG{k}" for k in range(1, 9))
    assert lay.n_channels == 8
    assert lay.n_electrodes == 16
    assert "Myo" in lay.model
    for c in range(8):
        row = lay.montage[c]
        plus, minus = np.flatnonzero(row > 0), np.flatnonzero(row < 0)
        assert plus.size == 1
        assert minus.size == 1
        assert row[plus[0]] == 1.0
        assert row[minus[0]] == -1.0
        # The pair lies along the forearm: same angle, 2 cm apart, the + electrode distal.
        assert lay.electrode_angle[plus[0]] == pytest.approx(lay.electrode_angle[minus[0]])
        assert lay.electrode_x[plus[0]] - lay.electrode_x[minus[0]] == pytest.approx(0.02)
        mid = 0.5 * (lay.electrode_x[plus[0]] + lay.electrode_x[minus[0]])
        assert mid == pytest.approx(FOREARM_LENGTH / 3.0)
        assert lay.electrode_angle[plus[0]] == pytest.approx(c * math.pi / 4)
    loc = lay.channel_locations
    assert loc.shape == (8, 3)
    np.testing.assert_allclose(np.hypot(loc[:, 1], loc[:, 2]), FOREARM_RADIUS)
    np.testing.assert_allclose(loc[:, 0], FOREARM_LENGTH / 3.0)
    # EMG1 volar (+y), EMG3 radial (+z), EMG5 dorsal (-y).
    np.testing.assert_allclose(loc[0], [FOREARM_LENGTH / 3.0, FOREARM_RADIUS, 0.0], atol=1e-12)
    np.testing.assert_allclose(loc[2, 1:], [0.0, FOREARM_RADIUS], atol=1e-12)
    np.testing.assert_allclose(loc[4, 1:], [-FOREARM_RADIUS, 0.0], atol=1e-12)


def test_grid64_geometry() -> None:
    lay = get_layout("grid64")
    assert lay.kind == "monopolar"
    assert lay.n_channels == 64
    assert lay.n_electrodes == 64
    assert lay.channels[0] == "R1C1"
    assert lay.channels[7] == "R1C8"
    assert lay.channels[63] == "R8C8"
    np.testing.assert_array_equal(lay.montage, np.eye(64))
    x = lay.electrode_x.reshape(8, 8)
    arc = lay.electrode_angle.reshape(8, 8) * lay.radius
    np.testing.assert_allclose(np.diff(x, axis=0), 0.008)  # rows along the forearm
    np.testing.assert_allclose(np.diff(arc, axis=1), 0.008)  # columns around it
    np.testing.assert_allclose(np.diff(x, axis=1), 0.0, atol=1e-15)
    # Centred over the flexors (volar side, slightly ulnar) at a third of the forearm.
    assert x.mean() == pytest.approx(FOREARM_LENGTH / 3.0)
    assert -math.pi / 2 < lay.electrode_angle.mean() < 0.0
    np.testing.assert_allclose(lay.channel_locations, lay.electrode_locations)


def test_unknown_layout_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="armband8, armband16") as info:
        get_layout("armband16x")
    assert "'armband16x'" in str(info.value)


@pytest.mark.parametrize("name", ["armband8", "grid64"])
def test_dict_round_trip(name: str) -> None:
    lay = get_layout(name)
    again = Layout.from_dict(lay.to_dict())
    assert again.to_dict() == lay.to_dict()
    np.testing.assert_array_equal(again.channel_locations, lay.channel_locations)


def test_layout_arrays_are_read_only() -> None:
    lay = get_layout("armband8")
    with pytest.raises(ValueError, match="read-only"):
        lay.montage[0, 0] = 3.0


def test_bad_layouts_raise_named_errors() -> None:
    good = get_layout("armband8").to_dict()
    with pytest.raises(ValueError, match="montage"):
        Layout.from_dict({**good, "montage": np.eye(8).tolist()})
    with pytest.raises(ValueError, match="missing"):
        Layout.from_dict({k: v for k, v in good.items() if k != "channels"})
    with pytest.raises(ValueError, match="Unknown layout keys"):
        Layout.from_dict({**good, "colour": "red"})
    with pytest.raises(ValueError, match="unique"):
        Layout.from_dict({**good, "channels": ["EMG1"] * 8})
    with pytest.raises(ValueError, match="kind"):
        Layout.from_dict({**good, "kind": "tripolar"})
    with pytest.raises(ValueError, match="electrode_x"):
        Layout.from_dict({**good, "electrode_x": good["electrode_x"][:-1]})
