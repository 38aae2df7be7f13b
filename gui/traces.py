"""Scrolling multichannel EMG: every channel in ONE curve.

All selected channels are stacked in a single ``PlotCurveItem`` with a
``connect`` array (one break per channel), min/max-decimated to the plot's pixel
width (:mod:`gui.decimate`) and drawn with ``setSkipFiniteCheck(True)`` (the
slot replaces non-finite samples by 0 when they arrive). Channel ``k`` (top to
bottom) sits at ``y = n_selected - 1 - k``; one unit of ``y`` is ``spacing``
data units (µV for myostream), so the y axis labels are channel names and the
axis title states the spacing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore

from gui import theme
from gui.decimate import StackedDecimator
from realtime.core.checks import check_number

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gui.ring_buffer import RingBuffer
    from gui.streams import StreamMeta

MIN_WINDOW_S = 1.0
MAX_WINDOW_S = 10.0
_MIN_LABEL_PX = 20.0  # vertical pixels per channel label (11 pt font + margin)
# auto-scale: spacing = AUTOSCALE_FRACTION x this percentile of the channels' peak-to-peak,
# rounded up to 1-2-5; it grows when the target exceeds it and shrinks when the target falls
# below 0.4 x spacing (hysteresis keeps the label stable)
MAX_MARKERS = 6  # event lines shown at once
AUTOSCALE_PERCENTILE = 90.0
AUTOSCALE_FRACTION = 0.5


def nice_ceil(value: float) -> float:
    """Smallest number of the form {1, 2, 5} x 10^k that is >= ``value`` (> 0)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    exp = math.floor(math.log10(value))
    for mant in (1.0, 2.0, 5.0, 10.0):
        candidate = mant * 10.0**exp
        if candidate >= value * (1 - 1e-9):
            return candidate
    return 10.0 ** (exp + 1)


def format_amount(value: float, unit: str) -> str:
    """``value`` with a sensible number of digits and its unit, e.g. ``"200 µV"``."""
    text = f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


class StackedCurve(pg.PlotCurveItem):
    """A ``PlotCurveItem`` whose data bounds are given with the data.

    pyqtgraph finds a curve's bounds with ``nanmin``/``nanmax`` over every
    point after each ``setData``; the stacked EMG curve has ~10^5 points and its
    x bounds are known (the first and last timestamps), so
    :meth:`set_stacked_data` takes them and finds the y bounds with plain
    ``min``/``max`` (the samples are finite: the slot replaced non-finite ones).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bounds: tuple[tuple[float, float], tuple[float, float]] | None = None

    def set_stacked_data(
        self, x: NDArray[np.float64], y: NDArray[Any], connect: Any, m: int
    ) -> None:
        """``setData(x=x, y=y, connect=connect)`` with ``x`` repeating one ascending row of ``m`` points."""
        if m > 0 and x.size:
            x0, x1 = sorted((float(x[0]), float(x[m - 1])))
            self._bounds = ((x0, x1), (float(y.min()), float(y.max())))
        else:
            self._bounds = None
        self.setData(x=x, y=y, connect=connect)

    def dataBounds(  # noqa: N802 - pyqtgraph API
        self,
        ax: int,
        frac: float = 1.0,
        orthoRange: Any = None,  # noqa: N803
    ) -> tuple[float | None, float | None]:
        """Bounds of the data along ``ax`` (0: x, 1: y); see ``PlotCurveItem.dataBounds``."""
        if self._bounds is None or frac < 1.0 or orthoRange is not None:
            return super().dataBounds(ax, frac, orthoRange)
        return self._bounds[ax]


class EmgTraces:
    """The EMG trace panel.

    Parameters
    ----------
    meta : StreamMeta
        The EMG stream's metadata (labels, unit, rate).
    dtype : dtype
        dtype of the ring buffer that feeds the panel.
    window_s : float
        Visible time window in seconds, in [1, 10].
    """

    def __init__(self, meta: StreamMeta, dtype: Any = np.float32, window_s: float = 4.0) -> None:
        self.meta = meta
        self.unit = meta.unit or "a.u."
        self.widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.disableAutoRange()
        theme.style_plot(self.plot, bottom="time (s)")
        self.curve = StackedCurve(pen=pg.mkPen(theme.EMG_TRACE, width=1))
        self.curve.setSkipFiniteCheck(True)
        # draw the connect-array curve as line segments: building them is ~15x cheaper
        # than a QPainterPath with a connect array (measured: 1 ms vs 18 ms for 64 x 1800 points)
        self.curve.setSegmentedLineMode("on")
        self.plot.addItem(self.curve)
        self.lost_text = pg.TextItem(
            "",
            color=theme.LOST,
            anchor=(0.5, 0.0),
            fill=pg.mkBrush(15, 19, 24, 220),
            border=pg.mkPen(theme.LOST),
        )
        font = self.lost_text.textItem.font()
        font.setPointSize(16)
        font.setBold(True)
        self.lost_text.setFont(font)
        self.lost_text.setZValue(10)
        self.lost_text.setVisible(False)
        self.plot.addItem(self.lost_text)
        self._marker_lines: list[pg.InfiniteLine] = []
        for k in range(MAX_MARKERS):  # a fixed pool: markers move, nothing is created per tick
            line = pg.InfiniteLine(
                angle=90,
                movable=False,
                pen=pg.mkPen(theme.WARN, width=1, style=QtCore.Qt.PenStyle.DashLine),
                label="",
                labelOpts={
                    "position": 0.97 - 0.06 * (k % 3),
                    "color": theme.WARN,
                    "fill": pg.mkBrush(15, 19, 24, 200),
                    # the label goes on the side of the line toward the middle of the plot, so a
                    # line near the left edge keeps its text inside the plot
                    "anchors": [(0, 0), (1, 0)],
                },
            )
            label_font = line.label.textItem.font()
            label_font.setPointSize(theme.TICK_FONT_PT)
            line.label.setFont(label_font)
            line.setZValue(5)
            line.setVisible(False)
            self.plot.addItem(line)
            self._marker_lines.append(line)
        self._marker_key: tuple = ()
        self._decimator = StackedDecimator(meta.n_channels, 800, dtype=dtype)
        self.window_s = MIN_WINDOW_S
        self.autoscale = True
        self.spacing = 100.0
        self.channels: NDArray[np.intp] = np.arange(meta.n_channels, dtype=np.intp)
        self._offsets = np.zeros(meta.n_channels, dtype=np.float32)
        self._tick_key: tuple[int, int] | None = None
        self.points_per_channel = 0
        self.frames = 0
        self.set_window(window_s)
        self.set_channels(self.channels)
        self._update_left_label()

    # ------------------------------------------------------------------ settings
    def set_window(self, window_s: float) -> None:
        """Show the last ``window_s`` seconds (1 to 10)."""
        check_number("window_s", window_s, MIN_WINDOW_S, MAX_WINDOW_S, "s")
        self.window_s = float(window_s)
        self.plot.setXRange(-self.window_s, 0.0, padding=0.0)
        self.lost_text.setPos(-self.window_s / 2, self._top())

    def set_channels(self, channels: Any) -> None:
        """Draw only ``channels`` (indices into the stream's channels), top to bottom."""
        sel = np.asarray(channels, dtype=np.intp).ravel()
        if sel.size and (sel.min() < 0 or sel.max() >= self.meta.n_channels):
            raise ValueError(
                f"The argument 'channels' must hold indices in [0, {self.meta.n_channels - 1}]. "
                f"{sel.tolist()} is invalid."
            )
        self.channels = sel
        s = sel.size
        self._offsets = np.arange(s - 1, -1, -1, dtype=np.float32)
        self.plot.setYRange(-0.75, max(s, 1) - 0.25, padding=0.0)
        self._tick_key = None
        self.lost_text.setPos(-self.window_s / 2, self._top())

    def set_spacing(self, spacing: float) -> None:
        """Fixed vertical distance between channels in data units (turns auto-scale off)."""
        check_number("spacing", spacing, 0.0, lo_open=True)
        self.autoscale = False
        self.spacing = float(spacing)
        self._update_left_label()

    def set_autoscale(self, on: bool) -> None:
        """Choose the spacing from the data (a fraction of a high percentile of the channels' peak-to-peak)."""
        self.autoscale = bool(on)

    def set_markers(self, markers: list[tuple[float, str]]) -> None:
        """Show events as dashed vertical lines: ``(x in s relative to the newest sample, text)``.

        At most :data:`MAX_MARKERS` (the newest) are shown; others are hidden.
        """
        shown = [(x, text) for x, text in markers if -self.window_s <= x <= 0.0][-MAX_MARKERS:]
        key = tuple(shown)
        if key == self._marker_key:
            return
        self._marker_key = key
        for k, line in enumerate(self._marker_lines):
            if k < len(shown):
                x, text = shown[k]
                short = text if len(text) <= 40 else text[:39] + "…"
                template = short.replace("{", "{{").replace("}", "}}")  # a str.format template
                line.setVisible(True)  # first: a hidden label ignores text updates
                line.label.setVisible(True)
                line.label.setFormat(template)
                line.setPos(x)
                line.label.valueChanged()  # re-render the text even when the position is unchanged
            else:
                line.setVisible(False)

    def set_lost_message(self, text: str) -> None:
        """Show (or clear with ``""``) a large warning over the traces."""
        if self.lost_text.toPlainText() != text:
            self.lost_text.setText(text)
            self.lost_text.setVisible(bool(text))

    def _top(self) -> float:
        return max(self.channels.size, 1) - 0.3

    def _update_left_label(self) -> None:
        self.plot.setLabel(
            "left",
            f"channel   (spacing {format_amount(self.spacing, self.unit)})",
            **{"font-size": f"{theme.LABEL_FONT_PT}pt", "color": theme.FOREGROUND},
        )

    def _update_ticks(self) -> None:
        vb = self.plot.getViewBox()
        height = int(vb.height())
        key = (int(self.channels.size), height)
        if key == self._tick_key:
            return
        self._tick_key = key
        s = self.channels.size
        stride = 1
        if s and height > 0:
            px = height / s
            while stride < s and px * stride < _MIN_LABEL_PX:
                stride *= 2
        labels = self.meta.labels
        ticks = [
            (float(s - 1 - k), labels[int(c)])
            for k, c in enumerate(self.channels)
            if k % stride == 0
        ]
        self.plot.getAxis("left").setTicks([ticks, []])

    def _pixel_width(self) -> int:
        vb = self.plot.getViewBox()
        ratio = (
            self.widget.devicePixelRatioF() if hasattr(self.widget, "devicePixelRatioF") else 1.0
        )
        return max(100, int(vb.width() * ratio))

    def _units_per_pixel(self) -> float:
        """Plot units (channel spacings) per vertical device pixel."""
        vb = self.plot.getViewBox()
        y0, y1 = vb.viewRange()[1]
        height = vb.height()
        return (y1 - y0) / height if height > 0 else 0.0

    # ------------------------------------------------------------------ drawing
    def update(self, ring: RingBuffer, t_ref: float | None = None) -> None:
        """Redraw from the newest ``window_s`` seconds of ``ring``.

        Parameters
        ----------
        ring : RingBuffer
            The EMG ring buffer.
        t_ref : float | None
            Time shown as 0 s (default: the newest timestamp in ``ring``).
        """
        self._update_ticks()
        width = self._pixel_width()
        if width != self._decimator.width:
            self._decimator.resize(width)
        if t_ref is None:
            t_ref = ring.last_timestamp()
        if t_ref is None:
            return
        data, ts = ring.latest(ring.n_filled)
        start = int(np.searchsorted(ts, t_ref - self.window_s, side="right"))
        data, ts = data[start:], ts[start:]
        ptp = self._decimator.reduce(data, ts)
        if self.autoscale and self.channels.size and data.shape[0] > 1:
            target = AUTOSCALE_FRACTION * float(
                np.percentile(ptp[self.channels], AUTOSCALE_PERCENTILE)
            )
            if target > 0 and (target > self.spacing or target < 0.4 * self.spacing):
                self.spacing = nice_ceil(target)
                self._update_left_label()
        x, y, connect, m = self._decimator.stack(
            self.channels,
            1.0 / self.spacing,
            self._offsets[: self.channels.size],
            t_ref,
            min_span=self._units_per_pixel() / 32.0,
        )
        self.points_per_channel = m
        self.curve.set_stacked_data(x, y, connect, m)
        self.frames += 1

    def curve_data(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The ``(x, y)`` arrays the curve currently draws (for tests and screenshots)."""
        x, y = self.curve.getData()
        return np.asarray(x), np.asarray(y)


__all__ = ["MAX_WINDOW_S", "MIN_WINDOW_S", "EmgTraces", "format_amount", "nice_ceil"]
