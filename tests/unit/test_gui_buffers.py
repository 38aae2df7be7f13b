"""Viewer data path without Qt: ring buffer, decimation, metadata, grid layout, discovery."""

from __future__ import annotations

import numpy as np
import pylsl
import pytest

from gui.decimate import StackedDecimator, block_size
from gui.ring_buffer import RingBuffer
from gui.streams import (
    StreamMeta,
    parse_metadata,
)
from realtime.app.demo_outlet import emg_info
from tests.helpers import unique_name


# --------------------------------------------------------------------------- ring buffer
def test_ring_buffer_keeps_newest_samples_in_order_across_wraps() -> None:
    ring = RingBuffer(3, 10)
    sent = np.arange(37 * 3, dtype=np.float32).reshape(37, 3)
    ts = np.arange(37, dtype=np.float64) * 0.5
    for start in range(0, 37, 7):  # chunks of 7 do not divide the capacity
        ring.write(sent[start : start + 7], ts[start : start + 7])
    data, t = ring.latest(10)
    np.testing.assert_array_equal(data, sent[-10:])
    np.testing.assert_array_equal(t, ts[-10:])
    assert ring.n_filled == 10
    assert ring.total_written == 37
    assert ring.last_timestamp() == ts[-1]
    d4, t4 = ring.latest(4)
    np.testing.assert_array_equal(d4, sent[-4:])
    assert d4.flags["C_CONTIGUOUS"]  # a view, no reordering copy needed


def test_ring_buffer_write_longer_than_capacity_and_bad_shapes() -> None:
    ring = RingBuffer(2, 5)
    sent = np.arange(24, dtype=np.float32).reshape(12, 2)
    ring.write(sent, np.arange(12.0))
    np.testing.assert_array_equal(ring.latest(99)[0], sent[-5:])
    assert ring.total_written == 12
    with pytest.raises(ValueError, match=r"'samples' should be \(n_samples, 2\)"):
        ring.write(np.zeros((3, 3), np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="'timestamps' should be"):
        ring.write(np.zeros((3, 2), np.float32), np.zeros(4))
    with pytest.raises(ValueError, match="'capacity' must be an integer >= 1"):
        RingBuffer(2, 0)


# --------------------------------------------------------------------------- decimation
def _reference_stack(data, ts, channels, gain, offsets, t_ref, width):
    """Independent, loop-based statement of the decimation rule in gui/decimate.py."""
    n = len(data)
    xs, ys = [], []
    for k, c in enumerate(channels):
        if n <= 2 * width:
            x = list(ts - t_ref)
            y = list(data[:, c] * gain + offsets[k])
        else:
            b = -(-n // width)
            nb = n // b
            start = n - nb * b
            x, y = [], []
            for j in range(nb):
                first = start + j * b  # the block and the sample before it (when in the window)
                seg = data[max(first - 1, 0) : first + b, c]
                x += [ts[first] - t_ref] * 2
                y += [seg.min() * gain + offsets[k], seg.max() * gain + offsets[k]]
        xs += x
        ys += y
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize(
    ("n", "width"), [(150, 100), (200, 100), (201, 100), (1999, 100), (8000, 333)]
)
def test_decimation_matches_reference_rule(n: int, width: int) -> None:
    rng = np.random.default_rng(n)
    data = rng.standard_normal((n, 6)).astype(np.float32) * 50
    ts = 10.0 + np.arange(n) / 2000.0
    dec = StackedDecimator(6, width)
    channels = np.array([4, 0, 2], dtype=np.intp)
    offsets = np.array([2.0, 1.0, 0.0], dtype=np.float32)
    x, y, connect, m = dec.run(data, ts, channels, 0.01, offsets, ts[-1])
    xr, yr = _reference_stack(data, ts, channels, 0.01, offsets, ts[-1], width)
    np.testing.assert_allclose(x, xr, atol=1e-9)
    np.testing.assert_allclose(y, yr, rtol=1e-5, atol=1e-5)
    assert m == len(xr) // 3
    assert m <= 2 * width
    if n <= 2 * width:  # one polyline per channel: the line breaks exactly between channels
        np.testing.assert_array_equal(np.flatnonzero(connect == 0), [m - 1, 2 * m - 1, 3 * m - 1])
    else:  # one vertical segment per block
        assert connect == "pairs"
    assert block_size(n, width) == (1 if n <= 2 * width else -(-n // width))


def test_decimation_keeps_peaks_and_reuses_memory() -> None:
    n, width = 8000, 400
    data = np.zeros((n, 2), dtype=np.float32)
    data[5003, 1] = 900.0  # one-sample spike must survive decimation
    data[77, 0] = -700.0
    dec = StackedDecimator(2, width)
    x, y, _, m = dec.run(data, np.arange(n) / 2000.0, np.arange(2), 1.0, np.zeros(2, np.float32))
    assert y[:m].min() == -700.0
    assert y[m:].max() == 900.0
    x2, y2, _, _ = dec.run(data, np.arange(n) / 2000.0, np.arange(2), 1.0, np.zeros(2, np.float32))
    assert np.shares_memory(y, y2)
    assert np.shares_memory(x, x2)


def test_decimated_segments_join_neighbours_and_flat_stretches_stay_visible() -> None:
    n, width = 4000, 100  # b = 40 samples per block, 100 blocks
    data = np.zeros((n, 1), dtype=np.float32)
    data[:2000, 0] = np.linspace(0.0, 1.0, 2000)  # a slow ramp, then a step down and flat
    data[2000:, 0] = 0.25
    ts = np.arange(n) / 1000.0
    dec = StackedDecimator(1, width)
    x, y, connect, m = dec.run(data, ts, np.arange(1), 1.0, np.zeros(1, np.float32))
    assert connect == "pairs"
    lo, hi = y[0::2], y[1::2]
    # every segment touches the next one: an unbroken trace without connecting lines
    assert np.all(hi[:-1] >= lo[1:])
    assert np.all(lo[:-1] <= hi[1:])
    assert lo[50] == pytest.approx(0.25)
    assert hi[50] == pytest.approx(1.0)
    # the flat part: zero-length segments (Qt draws a pixel for those, nothing for tiny ones)
    data[2100:, 0] += (np.arange(n - 2100) % 2) * 1e-6
    x, y, _, _ = dec.run(data, ts, np.arange(1), 1.0, np.zeros(1, np.float32), min_span=1e-3)
    np.testing.assert_array_equal(y[0::2][60:], 0.25)
    np.testing.assert_array_equal(y[1::2][60:], 0.25)
    assert y[1::2][10] > y[0::2][10]  # the ramp's segments keep their length


# --------------------------------------------------------------------------- metadata
def test_parse_metadata_reads_labels_units_locations_and_layout() -> None:
    meta = parse_metadata(emg_info(unique_name("meta"), "grid64", 2000.0))
    assert meta.n_channels == 64
    assert meta.fs == 2000.0
    assert meta.labels[0] == "R1C1"
    assert meta.labels[63] == "R8C8"
    assert meta.unit == "µV"
    assert meta.locations is not None
    assert meta.locations.shape == (64, 3)
    assert (meta.layout_rows, meta.layout_cols, meta.layout_name) == (8, 8, "grid64")


def test_parse_metadata_without_desc_gives_default_labels() -> None:
    info = pylsl.StreamInfo(unique_name("bare"), "EMG", 5, 500.0, "float32", "")
    meta = parse_metadata(info)
    assert meta.labels == ("Ch1", "Ch2", "Ch3", "Ch4", "Ch5")
    assert meta.unit == ""
    assert meta.locations is None
    assert meta.layout_rows == 0


def test_stream_meta_rejects_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="'labels' and 'units' must have n_channels=2"):
        StreamMeta("a", "EMG", "", "", "", 100.0, 2, ("a",), ("µV", "µV"))


# --------------------------------------------------------------------------- grid layout
def test_grid_layout_from_locations_rows_cols_and_none() -> None:
    pytest.importorskip("pyqtgraph")
    from gui.heatmap import grid_layout

    grid = grid_layout(parse_metadata(emg_info(unique_name("grid"), "grid64", 2000.0)))
    assert grid is not None
    assert (grid.rows, grid.cols) == (8, 8)
    # R1C1 is at the top-left: X = 0 mm (column 0), Y = 70 mm (top row)
    assert (grid.row[0], grid.col[0]) == (7, 0)
    assert (grid.row[63], grid.col[63]) == (0, 7)
    assert len({(r, c) for r, c in zip(grid.row, grid.col)}) == 64
    assert grid.rect == (-5.0, -5.0, 80.0, 80.0)
    # an armband (electrodes on a ring) is not a grid
    assert grid_layout(parse_metadata(emg_info(unique_name("band"), "armband8", 2000.0))) is None
    # rows/cols without locations: row-major, first row on top
    info = pylsl.StreamInfo(unique_name("rc"), "EMG", 12, 1000.0, "float32", "")
    lay = info.desc().append_child("layout")
    lay.append_child_value("rows", "3")
    lay.append_child_value("cols", "4")
    grid = grid_layout(parse_metadata(info))
    assert grid is not None
    assert (grid.rows, grid.cols) == (3, 4)
    assert (grid.row[0], grid.col[0]) == (2, 0)
    assert (grid.row[11], grid.col[11]) == (0, 3)


def _info_with_locations(labels, locations_mm, rows: int = 0, cols: int = 0) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo(unique_name("loc"), "EMG", len(labels), 2000.0, "float32", "")
    chans = info.desc().append_child("channels")
    for label, loc in zip(labels, locations_mm):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", "microvolts")
        node = ch.append_child("location")
        for axis, value in zip("XYZ", loc):
            node.append_child_value(axis, f"{value:.4f}")
    if rows:
        lay = info.desc().append_child("layout")
        lay.append_child_value("rows", str(rows))
        lay.append_child_value("cols", str(cols))
    return info


def test_grid_layout_unrolls_the_simulators_grid_wrapped_around_the_forearm() -> None:
    pytest.importorskip("pyqtgraph")
    from gui.heatmap import grid_layout
    from realtime.stages.engine.layouts import armband8, grid64

    layout = grid64()  # the simulator publishes channel_locations in mm (realtime/app/simulator.py)
    meta = parse_metadata(
        _info_with_locations(layout.channels, layout.channel_locations * 1000.0, 8, 8)
    )
    grid = grid_layout(meta)
    assert grid is not None
    assert (grid.rows, grid.cols) == (8, 8)
    # rows R1..R8 run along the limb (X, horizontal), columns C1..C8 around it (vertical)
    labels = list(layout.channels)
    assert grid.col[labels.index("R1C1")] == 0
    assert grid.col[labels.index("R8C1")] == 7
    assert grid.row[labels.index("R1C1")] == 0
    assert grid.row[labels.index("R1C8")] == 7
    # unrolled around the limb, the 8 mm pitch is uniform: the map is in mm
    assert grid.rect is not None
    assert grid.rect[2] == pytest.approx(64.0, abs=0.1)
    assert grid.rect[3] == pytest.approx(64.0, abs=0.1)
    assert grid.x_label == "X, along the limb (mm)"
    assert grid.y_label == "around the limb (mm)"
    band = armband8()
    meta = parse_metadata(_info_with_locations(band.channels, band.channel_locations * 1000.0))
    assert grid_layout(meta) is None  # a ring of electrodes: bars, not a map

