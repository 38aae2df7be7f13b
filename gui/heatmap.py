"""Live RMS map of the electrodes.

:func:`grid_layout` places channels on a grid from the stream metadata:

1. electrode ``location`` X/Y/Z (mm): electrodes on a cylinder around X (a grid
   wrapped around the forearm, myostream's frame) are unrolled to (along the
   limb, around the limb); otherwise the two coordinates with the largest
   spread are used. Their distinct values give the columns (first) and rows
   (second); used when every channel gets its own cell;
2. otherwise ``desc/layout`` ``rows`` x ``cols`` = channel count, channels in
   row-major order.

A grid is drawn as an image (:class:`RmsHeatmap`); other layouts (an armband,
no metadata) get one bar per channel (:class:`RmsBars`). Both show the RMS of
the newest ``rms_window_s`` seconds with the mean removed, and mark the channel
with the largest RMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from gui import theme
from gui.traces import format_amount, nice_ceil

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gui.streams import StreamMeta

_AXES = ("X", "Y", "Z")
LEVEL_DECAY = 0.93
"""Per update (10 Hz), the remembered RMS peak that sets the scale decays by this factor
(half-life about 1 s): after an artefact at the rail the scale comes back within seconds."""
FIT_MARGIN = 0.04
"""Margin around the electrode grid on the heatmap's axes, as a fraction of its larger side."""


@dataclass(frozen=True)
class GridLayout:
    """Where each channel sits on a ``rows`` x ``cols`` grid.

    Parameters
    ----------
    rows, cols : int
        Grid shape.
    row, col : ndarray of int, shape (n_channels,)
        Cell of each channel; row 0 is drawn at the bottom.
    x_label, y_label : str
        Axis titles (with the unit when positions are in mm).
    rect : tuple of float | None
        ``(x0, y0, width, height)`` of the image in axis units (mm), or
        ``None`` to use cell indices.
    row_names : tuple of str
        Tick label of each row index when ``rect`` is ``None`` (default ``1..rows``
        from the bottom).
    """

    rows: int
    cols: int
    row: np.ndarray
    col: np.ndarray
    x_label: str = "column"
    y_label: str = "row"
    rect: tuple[float, float, float, float] | None = None
    row_names: tuple[str, ...] = ()


def _uniform_step(values: NDArray[np.float64]) -> float | None:
    if values.size < 2:
        return None
    steps = np.diff(values)
    if np.allclose(steps, steps[0], rtol=0.02, atol=0.01):
        return float(steps[0])
    return None


def _surface_coordinates(loc: NDArray[np.float64]) -> tuple[NDArray[np.float64], tuple[str, str]]:
    """Two coordinates on the skin and their axis names.

    Electrodes on a cylinder around X (``Y² + Z²`` constant, myostream's frame:
    X along the limb, Y volar, Z radial) are unrolled to ``(X, r * angle)``, so a
    grid wrapped around the forearm keeps its spacing. Otherwise the two
    coordinates with the largest spread are used as they are.
    """
    radius = np.hypot(loc[:, 1], loc[:, 2])
    mean_r = float(radius.mean())
    if mean_r > 0 and float(np.ptp(radius)) <= 1e-3 * mean_r and np.ptp(loc[:, 0]) > 0:
        angle = np.unwrap(np.arctan2(loc[:, 2], loc[:, 1]))
        return np.column_stack([loc[:, 0], mean_r * angle]), (
            "X, along the limb",
            "around the limb",
        )
    spread = np.ptp(loc, axis=0)
    axes = sorted(
        int(a) for a in np.argsort(spread)[::-1][:2]
    )  # the two widest, X before Y before Z
    return loc[:, axes], (_AXES[axes[0]], _AXES[axes[1]])


def _ranks(values: NDArray[np.float64], tol: float) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Distinct values (within ``tol``) and the index of each value among them."""
    keys = np.round(values / tol).astype(np.int64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return values[first], inverse.astype(np.intp)


def _grid_from_locations(loc: NDArray[np.float64]) -> GridLayout | None:
    n = loc.shape[0]
    coords, (x_label, y_label) = _surface_coordinates(loc)
    spread = np.ptp(coords, axis=0)
    if spread[0] <= 0 or spread[1] <= 0:
        return None
    tol = 1e-3 * float(spread.max())
    ux, col = _ranks(coords[:, 0], tol)
    uy, row = _ranks(coords[:, 1], tol)
    cells = row * ux.size + col
    if ux.size < 2 or uy.size < 2 or np.unique(cells).size != n or ux.size * uy.size > 2 * n:
        return None
    dx, dy = _uniform_step(ux), _uniform_step(uy)
    rect = None
    unit = " (electrode index)"  # unevenly spaced: cell indices on the axes
    if dx is not None and dy is not None:
        rect = (float(ux[0] - dx / 2), float(uy[0] - dy / 2), dx * ux.size, dy * uy.size)
        unit = " (mm)"
    x_label, y_label = x_label + unit, y_label + unit
    return GridLayout(
        rows=int(uy.size),
        cols=int(ux.size),
        row=row,
        col=col,
        x_label=x_label,
        y_label=y_label,
        rect=rect,
    )


def grid_layout(meta: StreamMeta) -> GridLayout | None:
    """The grid the channels of ``meta`` form, or ``None`` when they do not form one."""
    n = meta.n_channels
    if n < 4:
        return None
    if meta.locations is not None:
        grid = _grid_from_locations(np.asarray(meta.locations, dtype=np.float64))
        if grid is not None:
            return grid
    rows, cols = meta.layout_rows, meta.layout_cols
    if rows > 1 and cols > 1 and rows * cols == n:
        idx = np.arange(n)
        # row-major, first row at the top: row index counted from the bottom
        return GridLayout(
            rows=rows,
            cols=cols,
            row=(rows - 1 - idx // cols).astype(np.intp),
            col=(idx % cols).astype(np.intp),
            row_names=tuple(str(rows - r) for r in range(rows)),
        )
    return None


def window_rms(data: NDArray[Any]) -> NDArray[np.float64]:
    """RMS of each column of ``data`` (n_samples, n_channels) with the column mean removed."""
    n = data.shape[0]
    if n == 0:
        return np.zeros(data.shape[1])
    x = data if data.dtype.kind == "f" else data.astype(np.float64)
    mean = x.mean(axis=0, dtype=np.float64)
    power = np.einsum("ij,ij->j", x, x, dtype=np.float64) / n - mean * mean
    np.maximum(power, 0.0, out=power)
    return np.sqrt(power)


class _RmsPanel:
    """Shared state of the RMS panels: levels with fast attack and slow decay."""

    def __init__(self, meta: StreamMeta) -> None:
        self.meta = meta
        self.unit = meta.unit or "a.u."
        self.rms = np.zeros(meta.n_channels)
        self.max_index = -1
        self.level = 0.0
        self.top = 0.0  # top of the colour/bar scale (0 before data)
        self._title_text = "RMS"

    @property
    def max_channel(self) -> str | None:
        """Label of the channel with the largest RMS (``None`` before data)."""
        return self.meta.labels[self.max_index] if self.max_index >= 0 else None

    def _update_level(self, peak: float) -> None:
        self.level = max(peak, LEVEL_DECAY * self.level) if self.level > 0 else peak

    def _scale_top(self, current: float) -> float:
        """Top of the colour/bar scale: ``level`` rounded up to 1-2-5, kept while it fits.

        It changes only when the level exceeds it or falls below 40 % of it, so
        the scale's labels are redrawn seldom (and stay readable) instead of at
        every update as the level decays.
        """
        if not self.level > 0:
            return current if current > 0 else 1.0
        if current > 0 and 0.4 * current <= self.level <= current:
            return current
        return nice_ceil(1.05 * self.level)  # a little headroom above the largest value

    @property
    def title_text(self) -> str:
        """The title shown now (HTML), e.g. ``RMS · max <b>EMG3</b> 16.7 µV``."""
        return self._title_text

    def _set_title(self) -> None:
        """Retitle with the values just drawn (only when the text changes)."""
        text = self._title()
        if text != self._title_text:
            self._title_text = text
            self._show_title(text)

    def _show_title(self, html: str) -> None:
        self.plot.setTitle(html, size=f"{theme.TITLE_FONT_PT}pt", color=theme.FOREGROUND)

    def _title(self) -> str:
        if self.max_index < 0:
            return "RMS"
        return (
            f"RMS &nbsp;·&nbsp; max <b>{self.max_channel}</b> "
            f"{format_amount(float(self.rms[self.max_index]), self.unit)}"
        )


class AspectFit(QtWidgets.QWidget):
    """A container that sizes its plot so the plot's view box has a fixed aspect ratio, centred.

    An aspect-locked plot in a panel of another shape shows empty axis range
    beside the data (a grid 65 mm wide drawn on an axis running to 160 mm);
    here the plot itself takes the data's shape and the rest of the panel stays
    blank. The space the axes, title and colour bar take is measured from the
    last layout, so the fit settles after one extra pass.

    Parameters
    ----------
    plot_widget : pyqtgraph.PlotWidget
        The plot to place (reparented into this container).
    aspect : float
        Width / height of the view box (data units, drawn 1:1).
    """

    def __init__(self, plot_widget: pg.PlotWidget, aspect: float) -> None:
        super().__init__()
        self.plot_widget = plot_widget
        self.aspect = float(aspect)
        # The title sits above the plot, across the whole panel: inside the plot it would set
        # the plot's minimum width and with it the axis range.
        self.title = QtWidgets.QLabel("", self)
        self.title.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.title.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSize(theme.TITLE_FONT_PT)
        self.title.setFont(font)
        self.title.setStyleSheet(f"color: {theme.FOREGROUND}; background: transparent;")
        plot_widget.setParent(self)
        self.setSizePolicy(plot_widget.sizePolicy())  # behave in a splitter as the plot did
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor(theme.BACKGROUND))
        self.setPalette(palette)
        self._view_box = plot_widget.getPlotItem().getViewBox()
        # refit after the plot's own layout pass (not inside it: a resize there is overwritten)
        self._refit = QtCore.QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.timeout.connect(self.fit)
        self._view_box.sigResized.connect(lambda _vb: self._refit.start(0))

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt API name
        """Refit the plot into the new size."""
        super().resizeEvent(event)
        self.fit()

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt API name
        """The plot's: below it a splitter folds the panel away, as it would fold the plot."""
        return self.plot_widget.minimumSizeHint()

    def set_title(self, html: str) -> None:
        """Show ``html`` (rich text) above the plot."""
        self.title.setText(html)

    def fit(self) -> None:
        """Place the title on top and the plot below it: the largest view box of ``aspect``, centred."""
        width, height = self.width(), self.height()
        if width <= 0 or height <= 0:
            return
        top = self.title.sizeHint().height() + 4
        self.title.setGeometry(0, 2, width, top - 2)
        height -= top
        # room taken by the axes, title and colour bar: the plot item minus its view box, both
        # from the same layout pass (a first guess before the first layout)
        item = self.plot_widget.getPlotItem().geometry()
        view = self._view_box.geometry()
        extra_w = item.width() - view.width() if view.width() > 1 else 130.0
        extra_h = item.height() - view.height() if view.height() > 1 else 70.0
        room_w, room_h = width - extra_w, height - extra_h
        if room_w < 10 or room_h < 10:
            geometry = QtCore.QRect(0, top, width, max(height, 0))
        else:
            view_w = min(room_w, room_h * self.aspect)
            view_h = view_w / self.aspect
            w = min(width, int(round(view_w + extra_w)))
            h = min(height, int(round(view_h + extra_h)))
            geometry = QtCore.QRect((width - w) // 2, top + (height - h) // 2, w, h)
        current = self.plot_widget.geometry()
        if (
            max(
                abs(current.x() - geometry.x()),
                abs(current.y() - geometry.y()),
                abs(current.width() - geometry.width()),
                abs(current.height() - geometry.height()),
            )
            > 1
        ):
            self.plot_widget.setGeometry(geometry)


class RmsHeatmap(_RmsPanel):
    """RMS of every electrode drawn on its grid position.

    Parameters
    ----------
    meta : StreamMeta
        EMG stream metadata.
    layout : GridLayout
        Where the channels sit.
    """

    def __init__(self, meta: StreamMeta, layout: GridLayout) -> None:
        super().__init__(meta)
        self.layout = layout
        self.plot_widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setAspectLocked(True)
        theme.style_plot(self.plot, left=layout.y_label, bottom=layout.x_label)
        self.plot.showGrid(x=False, y=False)
        self.image = np.zeros((layout.rows, layout.cols), dtype=np.float32)
        self.image_item = pg.ImageItem(self.image)
        self.plot.addItem(self.image_item)
        if layout.rect is not None:
            x0, y0, w, h = layout.rect
            self.cell_w, self.cell_h = w / layout.cols, h / layout.rows
        else:
            x0, y0, w, h = -0.5, -0.5, float(layout.cols), float(layout.rows)
            self.cell_w = self.cell_h = 1.0
            self._index_ticks()
        self.image_item.setRect(QtCore.QRectF(x0, y0, w, h))
        self._origin = (x0, y0)
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 1.0),
            colorMap=pg.colormap.get(theme.COLORMAP),
            interactive=False,
            width=14,
            label=f"RMS ({self.unit})",
        )
        self.colorbar.setImageItem(self.image_item, insert_in=self.plot)
        self.colorbar.getAxis("right").setTextPen(theme.FOREGROUND)
        tick_font = QtGui.QFont()
        tick_font.setPointSize(theme.TICK_FONT_PT)
        self.colorbar.getAxis("right").setStyle(tickFont=tick_font)
        self.colorbar.getAxis("right").setCacheMode(
            QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
        )
        self.marker = QtWidgets.QGraphicsRectItem(0.0, 0.0, self.cell_w, self.cell_h)
        pen = pg.mkPen(theme.HIGHLIGHT, width=2)
        pen.setCosmetic(True)
        self.marker.setPen(pen)
        self.marker.setVisible(False)
        self.plot.addItem(self.marker)
        # the axes run over the electrodes plus a margin, whatever the panel's shape
        margin = FIT_MARGIN * max(w, h)
        self.extent = (x0 - margin, y0 - margin, w + 2 * margin, h + 2 * margin)
        self.plot.disableAutoRange()
        self.plot.setRange(
            xRange=(self.extent[0], self.extent[0] + self.extent[2]),
            yRange=(self.extent[1], self.extent[1] + self.extent[3]),
            padding=0.0,
        )
        self.widget = AspectFit(self.plot_widget, self.extent[2] / self.extent[3])
        self._show_title(self._title_text)

    def _show_title(self, html: str) -> None:
        self.widget.set_title(html)

    def _index_ticks(self) -> None:
        lay = self.layout
        self.plot.getAxis("bottom").setTicks([[(c, str(c + 1)) for c in range(lay.cols)], []])
        names = (
            lay.row_names
            if len(lay.row_names) == lay.rows
            else tuple(str(r + 1) for r in range(lay.rows))
        )
        self.plot.getAxis("left").setTicks([[(r, names[r]) for r in range(lay.rows)], []])

    def cell_of(self, channel: int) -> tuple[int, int]:
        """``(row, col)`` image cell of ``channel``."""
        return int(self.layout.row[channel]), int(self.layout.col[channel])

    def update(self, data: NDArray[Any]) -> None:
        """Recompute the map from ``data`` (n_samples, n_channels), the newest RMS window."""
        if data.shape[0] < 2:
            return
        self.rms = window_rms(data)
        self.image[self.layout.row, self.layout.col] = self.rms
        self.max_index = int(np.argmax(self.rms))
        self._update_level(float(self.rms[self.max_index]))
        top = self._scale_top(self.top)
        self.image_item.setImage(self.image, autoLevels=False, levels=(0.0, top))
        if top != self.top:  # the colour bar's axis is text: redraw it only when it changes
            self.top = top
            self.colorbar.setLevels((0.0, top))
        r, c = self.cell_of(self.max_index)
        self.marker.setRect(
            self._origin[0] + c * self.cell_w,
            self._origin[1] + r * self.cell_h,
            self.cell_w,
            self.cell_h,
        )
        self.marker.setVisible(True)
        self._set_title()


class RmsBars(_RmsPanel):
    """RMS of every channel as bars (layouts that are not grids).

    Parameters
    ----------
    meta : StreamMeta
        EMG stream metadata.
    """

    def __init__(self, meta: StreamMeta) -> None:
        super().__init__(meta)
        n = meta.n_channels
        self.widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        theme.style_plot(self.plot, left=f"RMS ({self.unit})", title="RMS")
        self.plot.showGrid(x=False, y=True, alpha=theme.GRID_ALPHA)
        self.x = np.arange(n, dtype=np.float64)
        self.bars = pg.BarGraphItem(
            x=self.x, height=np.zeros(n), width=0.7, brush=theme.EMG_TRACE, pen=None
        )
        self.top_bar = pg.BarGraphItem(
            x=[0.0], height=[0.0], width=0.7, brush=theme.GROUND_TRUTH, pen=None
        )
        self.top_bar.setVisible(False)
        self.plot.addItem(self.bars)
        self.plot.addItem(self.top_bar)
        stride = max(1, int(np.ceil(n / 16)))
        self.plot.getAxis("bottom").setTicks(
            [[(i, meta.labels[i]) for i in range(0, n, stride)], []]
        )
        self.plot.setXRange(-0.6, n - 0.4, padding=0.0)
        self.plot.setYRange(0.0, 1.0, padding=0.0)
        self.plot.disableAutoRange()

    def update(self, data: NDArray[Any]) -> None:
        """Recompute the bars from ``data`` (n_samples, n_channels), the newest RMS window."""
        if data.shape[0] < 2:
            return
        self.rms = window_rms(data)
        self.max_index = int(np.argmax(self.rms))
        self._update_level(float(self.rms[self.max_index]))
        self.bars.setOpts(height=self.rms)
        self.top_bar.setOpts(x=[float(self.max_index)], height=[float(self.rms[self.max_index])])
        self.top_bar.setVisible(True)
        top = self._scale_top(self.top)
        if top != self.top:  # the axis is text: rescale only when the rounded top changes
            self.top = top
            self.plot.setYRange(0.0, top, padding=0.0)
        self._set_title()


def make_rms_panel(meta: StreamMeta) -> RmsHeatmap | RmsBars:
    """A heatmap when the channels form a grid, bars otherwise."""
    layout = grid_layout(meta)
    return RmsHeatmap(meta, layout) if layout is not None else RmsBars(meta)
