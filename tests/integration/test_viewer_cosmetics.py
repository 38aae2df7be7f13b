"""Viewer panels read right: marker labels inside the plot, heatmap axes on the electrodes,
the RMS title with its bars, activation bars that show small activations (real widgets, offscreen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pyqtgraph.Qt import QtWidgets  # noqa: E402

from gui.heatmap import FIT_MARGIN, RmsBars, RmsHeatmap, make_rms_panel  # noqa: E402
from gui.panels import MIN_ACTIVATION_SCALE, ActivationBars  # noqa: E402
from gui.ring_buffer import RingBuffer  # noqa: E402
from gui.streams import StreamMeta  # noqa: E402
from gui.traces import EmgTraces, format_amount  # noqa: E402
from gui.viewer import make_app  # noqa: E402
from realtime.stages.engine import get_layout  # noqa: E402


def _meta(
    labels: tuple[str, ...], locations: np.ndarray | None = None, unit: str = "µV"
) -> StreamMeta:
    n = len(labels)
    return StreamMeta("t", "EMG", "s", "u", "h", 2000.0, n, labels, (unit,) * n, locations)


def _show(qtbot, widget: QtWidgets.QWidget, width: int, height: int) -> QtWidgets.QWidget:
    holder = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    qtbot.addWidget(holder)
    holder.resize(width, height)
    holder.show()
    qtbot.waitExposed(holder)
    return holder


@pytest.fixture(autouse=True)
def _app() -> None:
    make_app()


def test_marker_labels_stay_inside_the_plot_at_both_edges(qtbot) -> None:
    traces = EmgTraces(_meta(tuple(f"EMG{k}" for k in range(1, 9))), window_s=10.0)
    _holder = _show(qtbot, traces.widget, 900, 600)
    text = "fault start: dropout ch=EMG3 id=1"
    traces.set_markers([(-9.8, text), (-5.2, text), (-0.1, "fault end: dropout ch=EMG3 id=1")])
    vb = traces.plot.getViewBox()

    def inside() -> bool:
        view = vb.sceneBoundingRect()
        return all(
            view.left() - 1 <= line.label.sceneBoundingRect().left()
            and line.label.sceneBoundingRect().right() <= view.right() + 1
            for line in traces._marker_lines[:3]
        )

    qtbot.waitUntil(inside, timeout=3000)
    labels = [line.label for line in traces._marker_lines[:3]]
    assert [lab.toPlainText() for lab in labels][0] == text
    left, right = labels[0].sceneBoundingRect(), labels[2].sceneBoundingRect()
    # near the left edge the text runs to the right of its line; near the right edge to the left
    x_left = vb.mapViewToScene(traces._marker_lines[0].pos()).x()
    x_right = vb.mapViewToScene(traces._marker_lines[2].pos()).x()
    assert left.left() >= x_left - 2
    assert right.right() <= x_right + 2


@pytest.mark.parametrize("size", [(620, 260), (330, 640)], ids=["wide", "tall"])
def test_heatmap_axes_cover_the_electrodes_not_the_panel(qtbot, size: tuple[int, int]) -> None:
    layout = get_layout("grid64")
    meta = _meta(tuple(layout.channels), np.asarray(layout.channel_locations) * 1000.0)
    panel = make_rms_panel(meta)
    assert isinstance(panel, RmsHeatmap)
    _holder = _show(qtbot, panel.widget, *size)
    x0, y0, w, h = panel.layout.rect
    assert 60 < w < 75  # the grid: 8 columns along the limb, ~65 mm
    vb = panel.plot.getViewBox()

    def fitted() -> bool:
        (xa, xb), (ya, yb) = vb.viewRange()
        return (xb - xa) <= w * (1 + 2 * FIT_MARGIN) * 1.06 and (yb - ya) <= h * (
            1 + 2 * FIT_MARGIN
        ) * 1.06

    qtbot.waitUntil(fitted, timeout=3000)
    (xa, xb), (ya, yb) = vb.viewRange()
    # every electrode cell is inside the axes
    assert xa <= x0
    assert x0 + w <= xb
    assert ya <= y0
    assert y0 + h <= yb
    # cells stay square (aspect locked): one data unit is as many pixels across as up
    px_x = vb.width() / (xb - xa)
    px_y = vb.height() / (yb - ya)
    assert px_x == pytest.approx(px_y, rel=0.02)
    # the colour bar is on screen, inside the panel
    bar = panel.colorbar.sceneBoundingRect()
    assert bar.width() > 0
    assert bar.right() <= panel.plot_widget.width() + 1


def test_rms_title_names_the_values_just_drawn(qtbot) -> None:
    bars = RmsBars(_meta(tuple(f"EMG{k}" for k in range(1, 9))))
    _holder = _show(qtbot, bars.widget, 500, 300)
    rng = np.random.default_rng(1)
    for scale in ([1, 2, 30, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 55], [9, 2, 3, 4, 5, 6, 7, 8]):
        data = rng.standard_normal((500, 8)) * np.array(scale, float)
        bars.update(data)  # two updates within milliseconds: the title follows each one
        top = int(np.argmax(bars.rms))
        expected = f"max <b>EMG{top + 1}</b> {format_amount(float(bars.rms[top]), 'µV')}"
        assert expected in bars.title_text
        assert expected in bars.plot.titleLabel.text
        assert bars.bars.opts["height"][top] == pytest.approx(bars.rms[top])
    layout = get_layout("grid64")
    heat = make_rms_panel(_meta(tuple(layout.channels), np.asarray(layout.channel_locations) * 1e3))
    _holder = _show(qtbot, heat.widget, 500, 300)
    data = rng.standard_normal((500, 64))
    data[:, 17] *= 40
    heat.update(data)
    assert "max <b>R3C2</b>" in heat.title_text
    assert heat.widget.title.text() == heat.title_text


def _activation_ring(values: list[float]) -> RingBuffer:
    ring = RingBuffer(len(values), 16)
    ring.write(np.array([values], np.float32), np.array([1.0]))
    return ring


def test_activation_axis_fits_small_activations_and_says_so(qtbot) -> None:
    muscles = ("biceps", "triceps", "wrist_flexors")
    truth = StreamMeta("a", "Activation", "s", "u", "h", 100.0, 3, muscles, ("",) * 3)
    bars = ActivationBars(truth, None)
    _holder = _show(qtbot, bars.widget, 400, 300)
    assert bars.scale == 1.0  # before data: the whole 0-1 range
    bars.update("truth", _activation_ring([0.03, 0.045, 0.03]))  # random reaches: a few percent
    assert bars.scale == MIN_ACTIVATION_SCALE == 0.05
    lo, hi = bars.plot.getViewBox().viewRange()[0]
    assert lo == 0.0
    assert hi == pytest.approx(0.05 * 1.06)
    assert "zoomed to 0–0.05" in bars.plot.getAxis("bottom").labelText
    # the largest bar fills most of the axis instead of 4 % of it
    assert bars.values["truth"].max() / hi > 0.8
    bars.update("truth", _activation_ring([0.3, 0.1, 0.03]))  # a strong contraction: grows at once
    assert bars.scale == 0.5
    for _ in range(60):  # it ends: the scale comes back down as the remembered peak decays
        bars.update("truth", _activation_ring([0.03, 0.04, 0.03]))
    assert bars.scale == 0.05
    bars.set_fit(False)  # the fixed 0-1 axis on request
    assert bars.scale == 1.0
    assert bars.plot.getAxis("bottom").labelText == "activation (0–1)"
    bars.update("truth", _activation_ring([0.03, 0.04, 0.03]))
    assert bars.scale == 1.0
