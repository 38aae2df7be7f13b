"""Side panels: muscle activations (ground truth vs model) and IMU traces."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from gui import theme
from gui.traces import nice_ceil

if TYPE_CHECKING:
    from gui.ring_buffer import RingBuffer
    from gui.streams import StreamMeta


MIN_ACTIVATION_SCALE = 0.05
"""Smallest full scale of the activation axis when it fits the data (rest tone is about 0.03)."""
LEVEL_DECAY = 0.93
"""Per update (10 Hz) the remembered largest activation decays by this factor (half-life about 1 s)."""


class ActivationBars:
    """Latest activation of every muscle as horizontal bars, ground truth and model side by side.

    Parameters
    ----------
    truth : StreamMeta | None
        The ground-truth activation stream (``<prefix>-activation``).
    model : StreamMeta | None
        The model's activation stream (``<prefix>-activation-model``).
    fit : bool
        Fit the axis to the activations (full scale 0.05, 0.1, 0.2, 0.5 or 1,
        following the largest bar, shown in the axis title) instead of 0 to 1:
        during ordinary movements activations are a few percent, which on a 0-1
        axis look like nothing.

    Rows are the union of both streams' channel labels (muscle names), in the
    order of ``truth`` then new labels of ``model``.
    """

    def __init__(
        self, truth: StreamMeta | None, model: StreamMeta | None, fit: bool = True
    ) -> None:
        if truth is None and model is None:
            raise ValueError(
                "ActivationBars needs at least one of 'truth' and 'model'; both are None."
            )
        labels: list[str] = []
        for meta in (truth, model):
            if meta is not None:
                labels.extend(lab for lab in meta.labels if lab not in labels)
        self.labels = labels
        n = len(labels)
        self.rows = {"truth": self._rows(truth), "model": self._rows(model)}
        self.values = {"truth": np.zeros(n), "model": np.zeros(n)}
        self.widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        parts = []
        if truth is not None:
            parts.append(f'<span style="color:{theme.GROUND_TRUTH}">■ ground truth</span>')
        if model is not None:
            parts.append(f'<span style="color:{theme.MODEL}">■ model</span>')
        theme.style_plot(self.plot, title="Activation &nbsp; " + " &nbsp; ".join(parts))
        self.plot.showGrid(x=True, y=False, alpha=theme.GRID_ALPHA)
        y = np.arange(n, dtype=np.float64)[::-1]  # first muscle on top
        self.y = y
        both = truth is not None and model is not None
        h = 0.38 if both else 0.7
        self.bars: dict[str, pg.BarGraphItem] = {}
        for key, color, shift in (("truth", theme.GROUND_TRUTH, 0.2), ("model", theme.MODEL, -0.2)):
            if self.rows[key] is None:
                continue
            bar = pg.BarGraphItem(
                x0=np.zeros(n),
                y=y + (shift if both else 0.0),
                height=h,
                width=np.zeros(n),
                brush=color,
                pen=None,
            )
            self.plot.addItem(bar)
            self.bars[key] = bar
        self.plot.getAxis("left").setTicks(
            [[(float(y[i]), lab.replace("_", " ")) for i, lab in enumerate(labels)], []]
        )
        self.plot.setYRange(-0.6, n - 0.4, padding=0.0)
        self.plot.disableAutoRange()
        self.fit = bool(fit)
        self.level = 0.0  # largest recent activation: fast attack, slow decay
        self.scale = 0.0  # full scale of the axis
        self._set_scale(1.0)

    def _rows(self, meta: StreamMeta | None) -> np.ndarray | None:
        if meta is None:
            return None
        return np.array([self.labels.index(lab) for lab in meta.labels], dtype=np.intp)

    def update(self, key: str, ring: RingBuffer) -> None:
        """Show the newest sample of ``ring`` as the ``key`` (``truth``/``model``) bars."""
        rows = self.rows.get(key)
        if rows is None or ring.n_filled == 0:
            return
        data, _ = ring.latest(1)
        vals = self.values[key]
        vals[rows] = np.clip(data[0], 0.0, 1.0)
        self.bars[key].setOpts(width=vals)
        peak = max(float(v.max()) for v in self.values.values()) if len(self.labels) else 0.0
        self.level = max(peak, LEVEL_DECAY * self.level)
        if self.fit:
            self._set_scale(self._fitted_scale())

    def set_fit(self, fit: bool) -> None:
        """Fit the axis to the activations (``True``) or show 0 to 1."""
        self.fit = bool(fit)
        self._set_scale(self._fitted_scale() if self.fit else 1.0)

    def _fitted_scale(self) -> float:
        """1-2-5 full scale above the level, kept while the level uses 40-100 % of it."""
        current = self.scale
        if current > 0 and 0.4 * current <= self.level <= current:
            return current
        return min(1.0, max(MIN_ACTIVATION_SCALE, nice_ceil(1.05 * self.level)))

    def _set_scale(self, scale: float) -> None:
        if scale == self.scale:
            return
        self.scale = scale
        self.plot.setXRange(0.0, 1.06 * scale, padding=0.0)  # room for the last tick label
        label = (
            "activation (0–1)" if scale >= 1.0 else f"activation (0–1, axis zoomed to 0–{scale:g})"
        )
        self.plot.setLabel(
            "bottom", label, **{"font-size": f"{theme.LABEL_FONT_PT}pt", "color": theme.FOREGROUND}
        )


class ImuTraces:
    """Accelerometer and gyroscope traces (two plots, three axes each).

    Parameters
    ----------
    meta : StreamMeta
        The IMU stream (6 channels: acc x/y/z in m/s², gyro x/y/z in rad/s).
    capacity : int
        Size of the preallocated time-axis buffer (the IMU ring capacity).
    """

    def __init__(self, meta: StreamMeta, capacity: int) -> None:
        if meta.n_channels < 6:
            raise ValueError(
                f"The IMU stream must have 6 channels (acc xyz, gyro xyz). {meta.n_channels} is invalid."
            )
        self.meta = meta
        self._x = np.zeros(capacity, dtype=np.float64)
        self._yrange = [(0.0, 0.0), (0.0, 0.0)]
        self.widgets: list[pg.PlotWidget] = []
        self.curves: list[tuple[pg.PlotCurveItem, int]] = []
        for title, unit, cols in (
            ("Accelerometer", "m/s²", (0, 1, 2)),
            ("Gyroscope", "rad/s", (3, 4, 5)),
        ):
            w = pg.PlotWidget()
            p: pg.PlotItem = w.getPlotItem()
            p.setMenuEnabled(False)
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            legend = " &nbsp;".join(
                f'<span style="color:{theme.IMU_AXES[i]}">{ax}</span>' for i, ax in enumerate("xyz")
            )
            theme.style_plot(p, left=unit, title=f"{title} &nbsp;{legend}")
            p.showGrid(x=True, y=True, alpha=theme.GRID_ALPHA)
            p.disableAutoRange(
                axis="y"
            )  # sticky range (see _fit_y): axes redraw only when it changes
            for i, col in enumerate(cols):
                # a bare PlotCurveItem: an IMU window is at most a few thousand points, so
                # PlotDataItem's downsampling and clipping machinery costs more than it saves
                curve = pg.PlotCurveItem(pen=pg.mkPen(theme.IMU_AXES[i], width=2))
                curve.setSkipFiniteCheck(True)
                p.addItem(curve)
                self.curves.append((curve, col))
            self.widgets.append(w)
        self.widgets[1].getPlotItem().setLabel(
            "bottom",
            "time (s)",
            **{"font-size": f"{theme.LABEL_FONT_PT}pt", "color": theme.FOREGROUND},
        )

    def link_x(self, plot: pg.PlotItem) -> None:
        """Share the time axis with ``plot`` (the EMG traces)."""
        for w in self.widgets:
            w.getPlotItem().setXLink(plot)

    def update(self, ring: RingBuffer, t_ref: float, window_s: float) -> None:
        """Redraw the newest ``window_s`` seconds, with time 0 at ``t_ref``."""
        if ring.n_filled == 0:
            return
        data, ts = ring.latest(ring.n_filled)
        start = int(np.searchsorted(ts, t_ref - window_s - 0.5, side="right"))
        data, ts = data[start:], ts[start:]
        n = ts.shape[0]
        x = self._x[:n]
        np.subtract(ts, t_ref, out=x)
        for curve, col in self.curves:
            curve.setData(x=x, y=data[:, col])
        for k, widget in enumerate(self.widgets):
            if n:
                block = data[:, 3 * k : 3 * k + 3]
                self._fit_y(k, widget.getPlotItem(), float(block.min()), float(block.max()))

    def _fit_y(self, k: int, plot: pg.PlotItem, lo: float, hi: float) -> None:
        """Widen the y range at once when data leaves it; shrink only when data uses < 40 % of it."""
        cur_lo, cur_hi = self._yrange[k]
        span = max(hi - lo, 1e-3)
        inside = cur_lo <= lo and hi <= cur_hi
        if inside and span >= 0.4 * (cur_hi - cur_lo):
            return
        pad = 0.15 * span
        self._yrange[k] = (lo - pad, hi + pad)
        plot.setYRange(lo - pad, hi + pad, padding=0.0)
