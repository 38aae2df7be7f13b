"""The stream schemas (realtime/core/schemas.py): the table of docs/streams.md, the LSL metadata, their users."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pylsl
import pytest

from devices.lsl_outlet import MarkerOutlet, to_stream_info
from realtime.app.demo_outlet import emg_info, emg_spec
from realtime.app.simulator import layout_emg_spec
from realtime.core.anatomy import GESTURES, MUSCLES
from realtime.core.launcher import PACKAGE_ROOT
from realtime.core.schemas import (
    STREAM_SUFFIXES,
    STREAM_TYPES,
    StreamSpec,
    activation_stream_spec,
    gesture_stream_spec,
    imu_stream_spec,
    intent_stream_spec,
    markers_stream_spec,
    provenance_stream_spec,
    spikes_stream_spec,
    status_stream_spec,
    stream_name,
)
from realtime.stages.engine import get_layout
from tests.helpers.docs import markdown_table

DOC = PACKAGE_ROOT / "docs" / "streams.md"
PREFIX = "P"


def _specs() -> dict[str, StreamSpec]:
    """Every stream, built by its schema as the simulator builds it (armband8, 2 kHz, blocks of 4, 100 Hz IMU)."""
    return {
        "emg": layout_emg_spec(PREFIX, get_layout("armband8"), 2000.0),
        "activation": activation_stream_spec(PREFIX, MUSCLES, 100.0),
        "activation_model": activation_stream_spec(PREFIX, MUSCLES, 100.0, model=True),
        "imu": imu_stream_spec(PREFIX, 100.0),
        "status": status_stream_spec(PREFIX),
        "markers": markers_stream_spec(PREFIX),
        "spikes": spikes_stream_spec(PREFIX, MUSCLES, 2000.0),
        "provenance": provenance_stream_spec(PREFIX, 2000.0, 4),
        "gesture": gesture_stream_spec(PREFIX, GESTURES, 2000.0),
        "intent": intent_stream_spec(PREFIX),
    }


def _doc_rows() -> dict[str, dict[str, str]]:
    """The first table of docs/streams.md: role -> its cells by column name."""
    rows = {}
    for cells in markdown_table(DOC, "stream name"):
        suffix = re.fullmatch(r"`<prefix>-(.+)`", cells["stream name"]).group(1)
        role = next(r for r, s in STREAM_SUFFIXES.items() if s == suffix)
        rows[role] = cells
    return rows


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def _units(cell: str, n_channels: int) -> list[str]:
    """``m/s^2`` ×3, ``rad/s`` ×3 -> six units; one unit for all channels; ``none`` -> empty units."""
    if cell == "none":
        return [""] * n_channels
    units: list[str] = []
    for group, times in re.findall(r"`([^`]*)`(?:\s*×(\d+))?", cell):
        units += group.split() * (int(times) if times else 1)
    return units * n_channels if len(units) == 1 else units


DOC_ROWS = _doc_rows()
SPECS = _specs()


def test_the_table_lists_every_stream_once() -> None:
    assert set(DOC_ROWS) == set(STREAM_SUFFIXES) == set(SPECS)


@pytest.mark.parametrize("role", sorted(STREAM_SUFFIXES))
def test_the_table_row_matches_the_schema(role: str) -> None:
    row, spec = DOC_ROWS[role], SPECS[role]
    assert spec.name == stream_name(PREFIX, role)
    assert _ticked(row["type"]) == [spec.type] == [STREAM_TYPES[role]]
    assert _ticked(row["format"]) == [spec.channel_format]
    assert ("irregular" in row["rate"]) == (spec.fs == 0)
    assert list(spec.units) == _units(row["units"], len(spec.channels))
    if role == "emg":
        for layout, n in re.findall(r"`(\w+)`: (\d+)", row["channels"]):
            assert len(layout_emg_spec(PREFIX, get_layout(layout), 2000.0).channels) == int(n)
        return
    count = re.match(r"(\d+)", row["channels"])
    assert count is not None, f"the channels cell of {role} must start with the channel count"
    assert int(count.group(1)) == len(spec.channels)
    labels = " ".join(_ticked(row["channels"])).split()
    if ":" in row["channels"]:  # "6: `acc_x ...`": the labels are listed
        assert labels == list(spec.labels)


def test_status_is_one_double64_declaration_with_units() -> None:
    spec = status_stream_spec(PREFIX)
    assert spec.channel_format == "double64"
    assert dict(zip(spec.labels, spec.units)) == {
        "samples_sent": "count", "effective_rate_hz": "Hz", "late_ticks": "count", "loop_load": "fraction",
        "latency_ms": "ms",
    }
    assert spec.fs == 1.0


def _xml(info: pylsl.StreamInfo) -> ET.Element:
    return ET.fromstring(info.as_xml())


def test_the_lsl_metadata_carries_the_schema() -> None:
    for spec in SPECS.values():
        root = _xml(to_stream_info(spec))
        assert root.findtext("name") == spec.name
        assert root.findtext("type") == spec.type
        assert root.findtext("channel_format") == spec.channel_format
        assert int(root.findtext("channel_count")) == len(spec.channels)
        channels = root.findall("./desc/channels/channel")
        assert [c.findtext("label") for c in channels] == list(spec.labels)
        assert [c.findtext("unit") or "" for c in channels] == list(spec.units)
        for section, values in spec.desc.items():
            assert {e.tag: e.text for e in root.find(f"./desc/{section}")} == dict(values)


def test_the_demo_producer_declares_its_streams_with_the_same_schema() -> None:
    spec = emg_spec("demo-EMG", "grid64", 2000.0, source_id="sid")
    assert (spec.name, spec.type, spec.source_id, len(spec.channels)) == ("demo-EMG", "EMG", "sid", 64)
    assert set(spec.units) == {"microvolts"}
    assert spec.desc["layout"] == {"name": "grid64", "montage": "monopolar", "rows": "8", "cols": "8"}
    assert spec.desc["reference"]["subtracted"] == "No"
    assert emg_spec("x", "armband8", 1000.0).desc["reference"]["subtracted"] == "Yes"
    bare = _xml(emg_info("bare", "none", 500.0, n_channels=3))  # a foreign amplifier: no metadata at all
    assert (bare.findtext("type"), int(bare.findtext("channel_count"))) == ("EMG", 3)
    assert bare.find("./desc/channels") is None


def test_schema_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="'prefix' must be a non-empty name without spaces"):
        status_stream_spec("my stream")
    with pytest.raises(TypeError, match="'prefix' must be a string"):
        imu_stream_spec(None, 100.0)
    with pytest.raises(ValueError, match="'role' must be one of emg, activation"):
        stream_name(PREFIX, "eeg")
    with pytest.raises(ValueError, match="'channel_format' must be one of float32, double64, string"):
        StreamSpec("n", "T", SPECS["imu"].channels, 1.0, "s", channel_format="int64")
    with pytest.raises(ValueError, match="'fs' must be a number >= 0 Hz"):
        StreamSpec("n", "T", SPECS["imu"].channels, -1.0, "s")
    with pytest.raises(ValueError, match="one string channel"):
        MarkerOutlet(SPECS["status"])
