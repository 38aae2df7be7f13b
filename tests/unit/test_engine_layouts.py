"""Electrode layouts: channel counts, labels, positions, montage, errors, dict round trip."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from devices.lsl_outlet import to_stream_info
from realtime.app.simulator import layout_emg_spec
from realtime.stages.engine.layout import FOREARM_LENGTH, FOREARM_RADIUS, Layout
from realtime.stages.engine.layout_files import save_layout
from realtime.stages.engine.layouts import LAYOUTS, builtin_layout_path, get_layout
from realtime.stages.engine.muscles import MUSCLE_GEOMETRY


def test_known_layouts_and_default_first() -> None:
    assert LAYOUTS[0] == "armband8"
    assert set(LAYOUTS) >= {"armband8", "armband16", "muscle_pairs", "grid64", "grid13x5"}


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


# ---------------------------------------------------------------------------- built-in files
@pytest.mark.parametrize(
    ("name", "kind", "n_channels", "n_electrodes", "grid"),
    [
        ("armband8", "bipolar", 8, 16, None),
        ("armband16", "bipolar", 16, 32, None),
        ("muscle_pairs", "bipolar", 6, 12, None),
        ("grid64", "monopolar", 64, 64, (8, 8)),
        ("grid64_sd", "single_differential", 56, 64, (7, 8)),
        ("grid64_dd", "double_differential", 48, 64, (6, 8)),
        ("grid13x5", "monopolar", 64, 64, (13, 5)),
        ("grid13x5_sd", "single_differential", 59, 64, (12, 5)),
    ],
)
def test_builtin_layouts_are_shipped_files(
    name: str, kind: str, n_channels: int, n_electrodes: int, grid: tuple | None
) -> None:
    path = builtin_layout_path(name)
    assert path.suffix == ".toml"
    assert path.is_file()
    lay = get_layout(name)
    assert get_layout(path).to_dict() == lay.to_dict()
    assert (lay.name, lay.kind, lay.n_channels, lay.n_electrodes, lay.grid) == (
        name,
        kind,
        n_channels,
        n_electrodes,
        grid,
    )
    assert lay.differential == (kind != "monopolar")
    # Every differential channel sums to zero: the common-mode reference cancels.
    if lay.differential:
        np.testing.assert_allclose(lay.montage.sum(axis=1), 0.0)
    np.testing.assert_allclose(np.hypot(*lay.channel_locations[:, 1:].T), lay.radius)
    assert tuple(LAYOUTS) == tuple(dict.fromkeys(LAYOUTS))


def test_grid_montages_run_along_the_fibres() -> None:
    mono, sd, dd = get_layout("grid64"), get_layout("grid64_sd"), get_layout("grid64_dd")
    ch = sd.channels.index("R3C5")
    plus, minus = np.flatnonzero(sd.montage[ch] > 0), np.flatnonzero(sd.montage[ch] < 0)
    # Single differential: the next electrode along the limb minus this one.
    assert mono.channels[plus[0]] == "R4C5"
    assert mono.channels[minus[0]] == "R3C5"
    row = dd.montage[dd.channels.index("R2C1")]
    assert {mono.channels[i]: row[i] for i in np.flatnonzero(row)} == {
        "R2C1": 1.0,
        "R3C1": -2.0,
        "R4C1": 1.0,
    }
    # Channel locations: midpoint of the pair, the middle electrode of the triplet.
    np.testing.assert_allclose(
        sd.channel_locations[ch, 0], mono.electrode_x[[plus[0], minus[0]]].mean()
    )
    np.testing.assert_allclose(
        dd.channel_locations[dd.channels.index("R2C1")],
        mono.electrode_locations[mono.channels.index("R3C1")],
    )


def test_grid13x5_misses_its_corner() -> None:
    lay = get_layout("grid13x5")
    assert "R1C1" not in lay.channels
    assert {"R1C2", "R13C5", "R13C1"} <= set(lay.channels)
    sd = get_layout("grid13x5_sd")
    assert "R1C1" not in sd.channels  # needs the missing electrode
    assert "R2C1" in sd.channels
    # Over the extensors, on the dorsal side.
    assert np.all(np.cos(lay.electrode_angle) < -0.8)


def test_muscle_pairs_sit_over_their_muscles() -> None:
    lay = get_layout("muscle_pairs")
    for c, name in enumerate(lay.channels):
        g = MUSCLE_GEOMETRY[name]
        x, ang = lay.channel_locations[c, 0], np.arctan2(*lay.channel_locations[c, [2, 1]])
        assert g.x_iz < x < g.x_distal  # between the innervation zone and the distal tendon
        assert np.cos(ang - g.angle) == pytest.approx(1.0)
        pair = np.flatnonzero(lay.montage[c])
        assert abs(np.diff(lay.electrode_x[pair])[0]) == pytest.approx(0.01)


# ---------------------------------------------------------------------------- layout files
RING = """
name = "ring4"
model = "test ring"
electrode_radius_m = 0.002
[ring]
n = 4
x_m = 0.1
first_angle_deg = 45.0
ied_m = 0.015
montage = "{montage}"
"""


@pytest.mark.parametrize(
    ("montage", "n_e", "weights"),
    [("bipolar", 8, {1, -1}), ("monopolar", 4, {1}), ("double_differential", 12, {1, -2})],
)
def test_ring_file(tmp_path: Path, montage: str, n_e: int, weights: set) -> None:
    path = tmp_path / "ring4.toml"
    path.write_text(RING.format(montage=montage))
    lay = get_layout(str(path))
    assert lay.n_channels == 4
    assert lay.n_electrodes == n_e
    assert lay.kind == montage
    assert set(np.unique(lay.montage[lay.montage != 0]).astype(int)) == weights
    np.testing.assert_allclose(
        np.degrees(np.arctan2(*lay.channel_locations[:, [2, 1]].T)), [45, 135, -135, -45]
    )
    np.testing.assert_allclose(lay.channel_locations[:, 0], 0.1)


def test_pair_and_explicit_files_json_and_toml(tmp_path: Path) -> None:
    pairs = {
        "name": "two_pairs",
        "model": "two sensors",
        "pair": [
            {"label": "A", "muscle": "biceps"},
            {"label": "B", "x_m": 0.05, "angle_deg": 90, "ied_m": 0.02},
        ],
    }
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(pairs))
    lay = get_layout(path)
    assert lay.channels == ("A", "B")
    assert lay.electrode_x[1] - lay.electrode_x[3] == pytest.approx(0.02)
    np.testing.assert_allclose(lay.channel_locations[1], [0.05, 0.0, FOREARM_RADIUS], atol=1e-12)
    explicit = tmp_path / "tri.toml"
    explicit.write_text(
        'name = "tri"\nmodel = "a tripole"\nkind = "double_differential"\n'
        '[[electrode]]\nname = "p"\nx_m = 0.08\nangle_deg = 10\n'
        '[[electrode]]\nname = "c"\nx_m = 0.09\nangle_deg = 10\n'
        '[[electrode]]\nname = "d"\nx_m = 0.10\nangle_deg = 10\n'
        '[[channel]]\nlabel = "T1"\nelectrodes = ["p", "c", "d"]\nweights = [1, -2, 1]\n'
    )
    tri = get_layout(explicit)
    np.testing.assert_array_equal(tri.montage, [[1.0, -2.0, 1.0]])
    assert tri.differential
    np.testing.assert_allclose(tri.channel_locations[0, 0], 0.09)


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_save_and_load_round_trip(tmp_path: Path, name: str, suffix: str) -> None:
    lay = get_layout(name)
    path = save_layout(lay, tmp_path / f"copy{suffix}")
    again = get_layout(path)
    a, b = lay.to_dict(), again.to_dict()
    for key in ("electrode_x", "electrode_angle", "montage"):
        np.testing.assert_allclose(b.pop(key), a.pop(key), rtol=0, atol=1e-12)
    assert a == b


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ('name = "x"\nmodel = "m"\n', "exactly one of the sections"),
        (
            'name = "x"\nmodel = "m"\ncolour = 1\n[ring]\nn = 2\nx_m = 0.1\n',
            "unknown keys \\['colour'\\]",
        ),
        ('model = "m"\n[ring]\nn = 2\nx_m = 0.1\n', "'name' is required"),
        ('name = "x"\nmodel = "m"\n[ring]\nn = 0\nx_m = 0.1\n', "'ring.n' must be an integer"),
        ('name = "x"\nmodel = "m"\n[ring]\nn = 4\n', "'ring.x_m' is required"),
        (
            'name = "x"\nmodel = "m"\n[ring]\nn = 4\nx_m = 0.1\nmontage = "tripolar"\n',
            "'ring.montage' must be one of",
        ),
        (
            'name = "x"\nmodel = "m"\n[grid]\nrows = 2\ncols = 2\ncentre_x_m = 0.1\nmissing = [[3, 1]]\n',
            "outside the 2x2 grid",
        ),
        (
            'name = "x"\nmodel = "m"\n[grid]\nrows = 1\ncols = 4\ncentre_x_m = 0.1\nmontage = "double_differential"\n',
            "no double_differential channel",
        ),
        (
            'name = "x"\nmodel = "m"\n[[pair]]\nlabel = "a"\nmuscle = "deltoid"\n',
            "'pair\\[0\\].muscle' must be one of",
        ),
        ('name = "x"\nmodel = "m"\n[[pair]]\nlabel = "a"\n', "'pair\\[0\\].x_m' is required"),
        (
            'name = "x"\nmodel = "m"\n[[electrode]]\nx_m = 0.1\nangle_deg = 0\n',
            "needs 'channel' entries",
        ),
        (
            'name = "x"\nmodel = "m"\n[[electrode]]\nx_m = 0.1\nangle_deg = 0\n[[channel]]\nlabel = "c"\nelectrodes = ["E9"]\nweights = [1]\n',
            "unknown electrode 'E9'",
        ),
        (
            'name = "x"\nmodel = "m"\n[ring]\nn = 2\nx_m = 0.1\n[[channel]]\nlabel = "c"\n',
            "'channel' entries go with",
        ),
        ('name = "x y"\nmodel = "m"\n[ring]\nn = 2\nx_m = 0.1\n', "without spaces"),
        ("not toml = = 1", "not valid TOML"),
    ],
)
def test_bad_layout_files_name_the_problem(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=pattern) as info:
        get_layout(path)
    assert "bad.toml" in str(info.value)


def test_layout_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        get_layout(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match=r"\.toml/\.json"):
        get_layout(tmp_path / "layout.yaml")
    with pytest.raises(ValueError, match="must end in .toml or .json"):
        save_layout(get_layout("armband8"), tmp_path / "x.yaml")


# ---------------------------------------------------------------------------- LSL metadata
def _parse_stream_xml(xml: str) -> dict:
    root = ET.fromstring(xml)
    desc = root.find("desc")
    chans = desc.find("channels").findall("channel")
    out = {
        "labels": [c.findtext("label") for c in chans],
        "units": {c.findtext("unit") for c in chans},
        "locations_mm": np.array(
            [[float(c.find("location").findtext(a)) for a in "XYZ"] for c in chans]
        ),
        "layout": {child.tag: child.text for child in desc.find("layout")},
        "reference": {child.tag: child.text for child in desc.find("reference")},
    }
    return out


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_files_round_trip_into_lsl_metadata(tmp_path: Path, name: str) -> None:
    # File -> Layout -> LSL stream description -> parsed back.
    path = save_layout(get_layout(name), tmp_path / f"{name}.json")
    lay = get_layout(path)
    info = to_stream_info(layout_emg_spec("T_layout", lay, 2000.0))
    meta = _parse_stream_xml(info.as_xml())
    assert meta["labels"] == list(lay.channels)
    assert meta["units"] == {"microvolts"}
    np.testing.assert_allclose(meta["locations_mm"], lay.channel_locations * 1000.0, atol=6e-4)
    assert meta["layout"]["name"] == name
    assert meta["layout"]["montage"] == lay.kind
    assert meta["reference"]["label"] == lay.reference
    if "rows" in meta["layout"]:  # the grid shape, when the stream publishes it
        assert (int(meta["layout"]["rows"]), int(meta["layout"]["cols"])) == lay.grid
