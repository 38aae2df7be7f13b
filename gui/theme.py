"""Colours and fonts of the viewer: a dark, projector-friendly theme.

Colours follow the Okabe-Ito colour-blind-safe palette where series must be
told apart (ground truth vs model, IMU axes).
"""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.Qt import QtGui, QtWidgets

BACKGROUND = "#0f1318"
PANEL_BACKGROUND = "#151a21"
FOREGROUND = "#d8dee6"
MUTED = "#8a96a3"
GRID_ALPHA = 0.18

EMG_TRACE = "#7fd4ff"
GROUND_TRUTH = "#E69F00"  # orange
MODEL = "#56B4E9"  # sky blue
IMU_AXES = ("#ff6b6b", "#69db7c", "#4dabf7")  # x, y, z
LOST = "#ff5252"
OK = "#69db7c"
WARN = "#ffd43b"
HIGHLIGHT = "#ffffff"
COLORMAP = "inferno"

TICK_FONT_PT = 11
LABEL_FONT_PT = 12
TITLE_FONT_PT = 13
STATUS_FONT_PT = 11


def apply_global_options() -> None:
    """Set pyqtgraph's global options (call once before creating widgets)."""

    pg.setConfigOptions(
        background=BACKGROUND,
        foreground=FOREGROUND,
        antialias=False,
        imageAxisOrder="row-major",
    )


def style_plot(
    plot: pg.PlotItem, left: str | None = None, bottom: str | None = None, title: str | None = None
) -> None:
    """Fonts, grid and labels for one plot.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        The plot to style.
    left, bottom : str | None
        Axis labels including the unit, e.g. ``"time (s)"``.
    title : str | None
        Plot title (HTML allowed).
    """

    tick_font = QtGui.QFont()
    tick_font.setPointSize(TICK_FONT_PT)
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setStyle(tickFont=tick_font, tickTextOffset=6)
        ax.setTextPen(FOREGROUND)
        ax.setPen(MUTED)
        ax.enableAutoSIPrefix(False)
        # replaying an axis' QPicture (text) every frame costs more than the traces; cache it as
        # a pixmap that is redrawn only when the ticks change
        ax.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    if left is not None:
        plot.setLabel("left", left, **{"font-size": f"{LABEL_FONT_PT}pt", "color": FOREGROUND})
    if bottom is not None:
        plot.setLabel("bottom", bottom, **{"font-size": f"{LABEL_FONT_PT}pt", "color": FOREGROUND})
    if title is not None:
        plot.setTitle(title, size=f"{TITLE_FONT_PT}pt", color=FOREGROUND)
    plot.showGrid(x=True, y=False, alpha=GRID_ALPHA)
