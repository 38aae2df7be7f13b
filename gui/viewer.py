"""The viewer's main window and the presenter loop that feeds it.

A ``QTimer`` (default 30 Hz) calls :meth:`Viewer.tick`: every
:class:`~gui.streams.StreamSlot` pulls what its inlet holds into its ring
buffer (``pull_chunk(timeout=0.0, dest_obj=...)``), then the panels redraw from
the ring buffers when new data arrived, and the status bar reports the measured
rate, timestamp gaps, the simulator's late ticks and latency, and lost streams.
The window never calls the producer: it is a plain LSL consumer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pylsl
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from gui import theme
from gui.heatmap import make_rms_panel
from gui.intent import GestureKeys
from gui.panels import ActivationBars, ImuTraces
from gui.streams import LIVE, LOST, ROLE_SUFFIXES, WAITING, StreamSlot
from gui.traces import MAX_WINDOW_S, MIN_WINDOW_S, EmgTraces, format_amount
from realtime.core.checks import check_number, check_vector, ensure_path
from realtime.core.logs import logger
from realtime.core.schemas import STATUS_CHANNELS

if TYPE_CHECKING:
    from gui.streams import Discovery


@dataclass(frozen=True)
class ViewerOptions:
    """Settings of the viewer window.

    Parameters
    ----------
    window_s : float
        Initial time window of the traces, 1 to 10 s.
    fps : float
        Refresh rate of the presenter timer, 1 to 120 Hz.
    lost_after_s : float
        A regular stream silent for this long (at least 3 sample periods) is reported lost.
    rms_window_s : float
        Length of the window the RMS map is computed on.
    side_fps : float
        Refresh rate of the side panels (RMS map, activations, IMU), at most ``fps``.
    size : tuple of int
        Initial window size in pixels.
    screenshot_dir : str
        Folder the screenshot button writes to.
    """

    window_s: float = 4.0
    fps: float = 30.0
    lost_after_s: float = 1.0
    rms_window_s: float = 0.25
    side_fps: float = 10.0
    size: tuple[int, int] = (1600, 900)
    screenshot_dir: str = "."

    def __post_init__(self) -> None:
        check_number("window_s", self.window_s, MIN_WINDOW_S, MAX_WINDOW_S, "s")
        check_number("fps", self.fps, 1.0, 120.0, "Hz")
        check_number("lost_after_s", self.lost_after_s, 0.0, unit="s", lo_open=True)
        check_number("rms_window_s", self.rms_window_s, 0.01, MAX_WINDOW_S, "s")
        check_number("side_fps", self.side_fps, 0.5, 120.0, "Hz")
        check_vector("size", self.size, 2, 200.0, unit="px (width, height)")


class ChannelDialog(QtWidgets.QDialog):
    """A checkable list of channels with All/None buttons (non-modal)."""

    def __init__(self, labels: tuple[str, ...], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Channels")
        self.list = QtWidgets.QListWidget()
        for label in labels:
            item = QtWidgets.QListWidgetItem(label)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Checked)
            self.list.addItem(item)
        all_btn = QtWidgets.QPushButton("All")
        none_btn = QtWidgets.QPushButton("None")
        all_btn.clicked.connect(lambda: self._set_all(True))
        none_btn.clicked.connect(lambda: self._set_all(False))
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(all_btn)
        buttons.addWidget(none_btn)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.resize(220, 480)

    def _set_all(self, on: bool) -> None:
        state = QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            self.list.item(i).setCheckState(state)
        self.list.blockSignals(False)
        self.list.itemChanged.emit(self.list.item(0))

    def selected(self) -> list[int]:
        """Indices of the checked channels."""
        return [
            i
            for i in range(self.list.count())
            if self.list.item(i).checkState() == QtCore.Qt.CheckState.Checked
        ]

    def set_selected(self, channels: list[int]) -> None:
        """Check exactly ``channels``."""
        wanted = set(channels)
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            on = i in wanted
            self.list.item(i).setCheckState(
                QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked
            )
        self.list.blockSignals(False)


def _status_label() -> QtWidgets.QLabel:
    label = QtWidgets.QLabel("")
    font = label.font()
    font.setPointSize(theme.STATUS_FONT_PT)
    label.setFont(font)
    label.setTextFormat(QtCore.Qt.TextFormat.RichText)
    label.setContentsMargins(8, 0, 8, 0)  # keep neighbouring status texts apart
    return label


class Viewer(QtWidgets.QMainWindow):
    """The live viewer window.

    Parameters
    ----------
    discovery : Discovery
        The streams to show (from :func:`gui.streams.discover`).
    options : ViewerOptions
        Window settings.
    start : bool
        Start the refresh timer now (benchmarks drive :meth:`tick` themselves).
    """

    def __init__(
        self, discovery: Discovery, options: ViewerOptions | None = None, start: bool = True
    ) -> None:
        super().__init__()
        self.options = options if options is not None else ViewerOptions()
        opts = self.options
        self.paused = False
        self.emg = StreamSlot(
            discovery.emg, buffer_s=MAX_WINDOW_S + 0.5, lost_after_s=opts.lost_after_s
        )
        if self.emg.ring is None:
            self.emg.close()
            raise ValueError(
                f"The stream {self.emg.name!r} carries strings; the viewer draws numeric streams. "
                "Pass a numeric stream with --stream NAME."
            )
        self.companions: dict[str, StreamSlot] = {}
        for role, info in discovery.companions.items():
            try:
                self.companions[role] = StreamSlot(
                    info, buffer_s=MAX_WINDOW_S + 1.0, lost_after_s=opts.lost_after_s
                )
            except Exception:  # a broken companion must not prevent the EMG view
                logger.exception("Viewer: cannot open %s", info.name())
        self._drawn_at: dict[str, int] = {}
        self._prefix = discovery.prefix
        self._companion_due = 0.0
        self._companion_resolver = None
        if discovery.prefix is not None:
            quoted = discovery.prefix.replace("'", "")
            self._companion_resolver = pylsl.ContinuousResolver(
                pred=f"starts-with(name,'{quoted}-')", forget_after=5.0
            )
        self.fit_activations = True
        self._build_panels()
        self._build_toolbar()
        self.gesture_keys: GestureKeys | None = None
        if discovery.prefix is not None:  # intent for the simulator's gesture layer (run --gestures)
            self.gesture_keys = GestureKeys(self, discovery.prefix)
            self.toolbar.addSeparator()
            self.toolbar.addWidget(self.gesture_keys.label)
            # Digits belong to the gesture keys unless a spin box was clicked to type in it.
            for spin in (self.window_spin, self.spacing_spin):
                spin.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
                spin.editingFinished.connect(self.traces.widget.setFocus)
            self.traces.widget.setFocus()
        self._build_status_bar()
        prefix = discovery.prefix or "LSL"
        self.setWindowTitle(f"myostream viewer · {prefix} · {self.emg.meta.describe()}")
        self.resize(*opts.size)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.ticks = 0
        self.redraws = 0
        self._dirty = True
        self._status_cache: dict[str, str] = {}
        self._side_due = 0.0
        self._status_due = 0.0
        self._status_state = ""
        if start:
            self.timer.start(int(round(1000.0 / opts.fps)))

    # ------------------------------------------------------------------ building
    def _build_panels(self) -> None:
        meta = self.emg.meta
        ring = self.emg.ring
        self.traces = EmgTraces(meta, dtype=ring.dtype, window_s=self.options.window_s)
        self.traces.plot.setTitle(
            f"EMG &nbsp;·&nbsp; {meta.name} &nbsp;·&nbsp; {meta.n_channels} ch @ "
            + (f"{meta.fs:g} Hz" if meta.fs > 0 else "irregular rate")
            + (f" &nbsp;·&nbsp; {meta.layout_name}" if meta.layout_name else ""),
            size=f"{theme.TITLE_FONT_PT}pt",
            color=theme.FOREGROUND,
        )
        self.rms = make_rms_panel(meta) if meta.n_channels >= 2 else None
        self.activations: ActivationBars | None = None
        self.imu: ImuTraces | None = None
        self._main = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self._main.addWidget(self.traces.widget)
        self._side: QtWidgets.QSplitter | None = None
        self._build_side()
        self.setCentralWidget(self._main)

    def _build_side(self) -> None:
        """(Re)build the side column from the companion streams present now."""
        truth = self.companions.get("activation")
        model = self.companions.get("activation_model")
        self.activations = None
        if truth is not None or model is not None:
            self.activations = ActivationBars(
                truth.meta if truth is not None else None,
                model.meta if model is not None else None,
                fit=self.fit_activations,
            )
        imu = self.companions.get("imu")
        self.imu = None
        if imu is not None and imu.ring is not None and imu.meta.n_channels >= 6:
            self.imu = ImuTraces(imu.meta, imu.ring.capacity)
            self.imu.link_x(self.traces.plot)
        # (widget, relative height) of the side panels that exist
        panels: list[tuple[QtWidgets.QWidget, int]] = []
        if self.rms is not None:
            panels.append((self.rms.widget, 5))
        if self.activations is not None:
            panels.append((self.activations.widget, 4))
        if self.imu is not None:
            panels.extend((w, 3) for w in self.imu.widgets)
        if not panels:
            return
        side = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        for widget, _ in panels:
            side.addWidget(widget)  # reparents the RMS panel out of an old column
        side.setSizes([100 * weight for _, weight in panels])
        if self._side is None:
            self._main.addWidget(side)
            width = self.options.size[0]
            self._main.setSizes([int(width * 0.62), int(width * 0.38)])
        else:
            sizes = self._main.sizes()
            old = self._main.replaceWidget(1, side)
            old.deleteLater()  # with the old activation/IMU plots
            self._main.setSizes(sizes)
        self._side = side
        for key in ("activation", "activation_model", "imu"):
            self._drawn_at.pop(key, None)

    def _watch_companions(self) -> None:
        """Open companion streams that appear after start-up (e.g. ``run --view``)."""
        if self._companion_resolver is None:
            return
        now = time.monotonic()
        if now < self._companion_due:
            return
        self._companion_due = now + 1.0
        rebuild = False
        names = {f"{self._prefix}-{suffix}": role for role, suffix in ROLE_SUFFIXES.items()}
        for info in self._companion_resolver.results():
            role = names.get(info.name())
            if role is None or role == "emg" or role in self.companions:
                continue
            try:
                self.companions[role] = StreamSlot(
                    info, buffer_s=MAX_WINDOW_S + 1.0, lost_after_s=self.options.lost_after_s
                )
            except Exception:  # a broken companion must not stop the viewer
                logger.exception("Viewer: cannot open %s", info.name())
                continue
            logger.info("Viewer: %s appeared; showing it", info.name())
            rebuild = rebuild or role in ("activation", "activation_model", "imu")
        if rebuild:
            self._build_side()

    def _build_toolbar(self) -> None:
        bar = QtWidgets.QToolBar("View")
        bar.setMovable(False)
        font = bar.font()
        font.setPointSize(theme.STATUS_FONT_PT)
        bar.setFont(font)
        self.addToolBar(bar)
        bar.addWidget(QtWidgets.QLabel(" Window "))
        self.window_spin = QtWidgets.QDoubleSpinBox()
        self.window_spin.setRange(MIN_WINDOW_S, MAX_WINDOW_S)
        self.window_spin.setSingleStep(1.0)
        self.window_spin.setDecimals(1)
        self.window_spin.setSuffix(" s")
        self.window_spin.setValue(self.options.window_s)
        self.window_spin.valueChanged.connect(self.set_window)
        bar.addWidget(self.window_spin)
        bar.addSeparator()
        self.auto_check = QtWidgets.QCheckBox("Auto-scale")
        self.auto_check.setChecked(True)
        self.auto_check.toggled.connect(self._on_autoscale)
        bar.addWidget(self.auto_check)
        bar.addWidget(QtWidgets.QLabel("  Spacing "))
        self.spacing_spin = QtWidgets.QDoubleSpinBox()
        self.spacing_spin.setRange(0.001, 1e7)
        self.spacing_spin.setDecimals(1)
        self.spacing_spin.setSuffix(f" {self.traces.unit}")
        self.spacing_spin.setValue(self.traces.spacing)
        self.spacing_spin.setEnabled(False)
        self.spacing_spin.valueChanged.connect(self._on_spacing)
        bar.addWidget(self.spacing_spin)
        self.gain_down = QtGui.QAction("Gain −", self)
        self.gain_down.setToolTip("Halve the gain (double the spacing)")
        self.gain_down.triggered.connect(lambda: self.set_spacing(self.traces.spacing * 2))
        self.gain_up = QtGui.QAction("Gain +", self)
        self.gain_up.setToolTip("Double the gain (halve the spacing)")
        self.gain_up.triggered.connect(lambda: self.set_spacing(self.traces.spacing / 2))
        bar.addAction(self.gain_down)
        bar.addAction(self.gain_up)
        bar.addSeparator()
        self.fit_activations_check = QtWidgets.QCheckBox("Fit activations")
        self.fit_activations_check.setToolTip(
            "Zoom the activation axis to the largest bar (off: always 0 to 1)"
        )
        self.fit_activations_check.setChecked(self.fit_activations)
        self.fit_activations_check.toggled.connect(self.set_fit_activations)
        bar.addWidget(self.fit_activations_check)
        bar.addSeparator()
        self.channel_dialog = ChannelDialog(self.emg.meta.labels, self)
        self.channel_dialog.list.itemChanged.connect(
            lambda _item: self.set_channels(self.channel_dialog.selected())
        )
        channels_action = QtGui.QAction("Channels…", self)
        channels_action.triggered.connect(self.channel_dialog.show)
        bar.addAction(channels_action)
        self.pause_action = QtGui.QAction("Pause", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.pause_action.toggled.connect(self.set_paused)
        bar.addAction(self.pause_action)
        bar.addSeparator()
        shot = QtGui.QAction("Screenshot", self)
        shot.setShortcut(QtGui.QKeySequence("Ctrl+S"))
        shot.triggered.connect(lambda: self.screenshot())
        bar.addAction(shot)
        self.toolbar = bar

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_emg = _status_label()
        self.status_sim = _status_label()
        self.status_event = _status_label()
        bar.addWidget(self.status_emg, 3)
        bar.addWidget(self.status_sim, 2)
        bar.addPermanentWidget(self.status_event)
        bar.setStyleSheet(
            f"QStatusBar {{ background: {theme.PANEL_BACKGROUND}; color: {theme.FOREGROUND}; }}"
        )

    # ------------------------------------------------------------------ user actions
    def set_window(self, window_s: float) -> None:
        """Show the last ``window_s`` seconds (1 to 10)."""
        self.traces.set_window(window_s)
        if abs(self.window_spin.value() - window_s) > 1e-9:
            self.window_spin.setValue(window_s)
        self._dirty = True

    def set_channels(self, channels: list[int]) -> None:
        """Draw only these channel indices (top to bottom)."""
        self.traces.set_channels(channels)
        if self.channel_dialog.selected() != list(channels):
            self.channel_dialog.set_selected(list(channels))
        self._dirty = True

    def set_spacing(self, spacing: float) -> None:
        """Fixed channel spacing in data units (µV); turns auto-scale off."""
        self.traces.set_spacing(spacing)
        self.auto_check.setChecked(False)
        self.spacing_spin.blockSignals(True)
        self.spacing_spin.setValue(spacing)
        self.spacing_spin.blockSignals(False)
        self._dirty = True

    def _on_spacing(self, value: float) -> None:
        if not self.traces.autoscale:
            self.traces.set_spacing(value)
            self._dirty = True

    def _on_autoscale(self, on: bool) -> None:
        self.traces.set_autoscale(on)
        self.spacing_spin.setEnabled(not on)
        self._dirty = True

    def set_fit_activations(self, fit: bool) -> None:
        """Zoom the activation axis to the data (``True``) or keep it at 0 to 1."""
        self.fit_activations = bool(fit)
        if self.fit_activations_check.isChecked() != self.fit_activations:
            self.fit_activations_check.setChecked(self.fit_activations)
        if self.activations is not None:
            self.activations.set_fit(self.fit_activations)

    def set_paused(self, paused: bool) -> None:
        """Freeze the drawing (data keeps being received and counted)."""
        self.paused = bool(paused)
        if self.pause_action.isChecked() != self.paused:
            self.pause_action.setChecked(self.paused)
        self._dirty = True
        self._status_due = 0.0

    def screenshot(self, path: str | Path | None = None) -> Path:
        """Save the window as a PNG and return its path.

        Parameters
        ----------
        path : str | Path | None
            Target ``.png`` file; default ``<screenshot_dir>/myostream-YYYYmmdd-HHMMSS.png``.
        """
        if path is None:
            path = Path(self.options.screenshot_dir) / time.strftime("myostream-%Y%m%d-%H%M%S.png")
        path = Path(path)
        ensure_path("path", path, must_exist=False, suffixes=(".png",))
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.grab().save(str(path), "PNG"):
            raise OSError(
                f"Could not write the screenshot to {str(path)!r}; check that the folder is writable."
            )
        self.statusBar().showMessage(f"Screenshot saved: {path}", 4000)
        logger.info("Viewer: screenshot saved to %s", path)
        return path

    # ------------------------------------------------------------------ presenter loop
    def tick(self) -> None:
        """Pull every stream, redraw what changed, update the status bar."""
        self.ticks += 1
        self._watch_companions()
        new = self.emg.poll()
        for slot in self.companions.values():
            slot.poll()
        lost = self.emg.state == LOST
        self.traces.set_lost_message("STREAM LOST · waiting for it to return" if lost else "")
        if self.isMinimized():  # nothing on screen: keep pulling, draw once restored
            self._dirty = self._dirty or new > 0
        elif not self.paused:
            if new > 0 or self._dirty:
                self._redraw_traces()
            now = time.monotonic()
            if now >= self._side_due:
                self._side_due = now + 1.0 / self.options.side_fps
                self._redraw_side()
        now = time.monotonic()
        if self.emg.state != self._status_state:  # a state change shows at once
            self._status_state = self.emg.state
            self._status_due = 0.0
        if now >= self._status_due:  # rich-text labels: 5 Hz is plenty and saves layout work
            self._status_due = now + 0.2
            self._update_status()

    def _redraw_traces(self) -> None:
        ring = self.emg.ring
        t_ref = ring.last_timestamp()
        if t_ref is None:
            return
        self._dirty = False
        self.redraws += 1
        self.traces.update(ring, t_ref)
        markers = self.companions.get("markers")
        if markers is not None:
            self.traces.set_markers([(t - t_ref, text) for t, text in markers.markers])
        if self.traces.autoscale and self.spacing_spin.value() != self.traces.spacing:
            self.spacing_spin.blockSignals(True)
            self.spacing_spin.setValue(self.traces.spacing)
            self.spacing_spin.blockSignals(False)

    def _changed(self, key: str, slot: StreamSlot, *widgets: QtWidgets.QWidget) -> bool:
        """Whether ``slot`` received data since the side panel ``key`` was last drawn, and it shows.

        A panel folded away in its splitter (no visible pixels) is not redrawn;
        it is drawn again when it is unfolded and has new data.
        """
        if self._drawn_at.get(key) == slot.received:
            return False
        if not any(w.isVisible() and w.width() > 0 and w.height() > 0 for w in widgets):
            return False
        self._drawn_at[key] = slot.received
        return True

    def _redraw_side(self) -> None:
        ring = self.emg.ring
        if self.rms is not None and self._changed("rms", self.emg, self.rms.widget):
            fs = self.emg.meta.fs
            n = int(self.options.rms_window_s * fs) if fs > 0 else 64
            self.rms.update(ring.latest(max(n, 2))[0])
        if self.activations is not None:
            for key, role in (("truth", "activation"), ("model", "activation_model")):
                slot = self.companions.get(role)
                if (
                    slot is not None
                    and slot.ring is not None
                    and self._changed(role, slot, self.activations.widget)
                ):
                    self.activations.update(key, slot.ring)
        imu = self.companions.get("imu")
        if (
            self.imu is not None
            and imu is not None
            and imu.ring is not None
            and self._changed("imu", imu, *self.imu.widgets)
        ):
            t_ref = ring.last_timestamp()
            if t_ref is None:
                t_ref = imu.ring.last_timestamp()
            if t_ref is not None:
                self.imu.update(imu.ring, t_ref, self.traces.window_s)

    def _set_status(self, label: QtWidgets.QLabel, key: str, text: str) -> None:
        if self._status_cache.get(key) != text:
            self._status_cache[key] = text
            label.setText(text)

    def _update_status(self) -> None:
        slot = self.emg
        meta = slot.meta
        if slot.state == LOST:
            dot = f'<span style="color:{theme.LOST}">●</span>'
            state = f'<b style="color:{theme.LOST}">LOST</b> ({slot.full_reason}; view frozen)'
        elif slot.state == WAITING:
            dot = f'<span style="color:{theme.WARN}">●</span>'
            state = f'<span style="color:{theme.WARN}">waiting for data</span>'
        else:
            dot = f'<span style="color:{theme.OK}">●</span>'
            state = "live"
        parts = [f"{dot} <b>{meta.name}</b> {state}"]
        if not math.isnan(slot.rate_hz):
            nominal = f" (nominal {meta.fs:g})" if meta.fs > 0 else ""
            parts.append(f"{slot.rate_hz:.1f} Hz{nominal}")
        gap_color = theme.WARN if slot.n_gaps else theme.FOREGROUND
        parts.append(f'<span style="color:{gap_color}">gaps {slot.n_gaps}</span>')
        if slot.state == LIVE and not math.isnan(slot.lag_s):
            parts.append(f"age {slot.lag_s * 1e3:.0f} ms")
        if self.paused:
            parts.append(f'<b style="color:{theme.WARN}">PAUSED</b>')
        self._set_status(self.status_emg, "emg", " &nbsp;·&nbsp; ".join(parts))
        self._set_status(self.status_sim, "sim", self._simulator_text())
        self._set_status(self.status_event, "event", self._event_text())

    def _simulator_text(self) -> str:
        slot = self.companions.get("status")
        if slot is None or slot.ring is None:
            return ""
        if slot.state == LOST:
            return f'simulator status: <span style="color:{theme.LOST}">lost</span>'
        if slot.ring.n_filled == 0:
            return "simulator status: waiting"
        values = slot.ring.latest(1)[0][0]
        labels = slot.meta.labels
        index = {lab: i for i, lab in enumerate(labels)}
        if not all(name in index for name in STATUS_CHANNELS):
            index = {name: i for i, name in enumerate(STATUS_CHANNELS) if i < len(values)}

        def get(name: str) -> float:
            i = index.get(name)
            return float(values[i]) if i is not None else math.nan

        late = get("late_ticks")
        latency = get("latency_ms")
        load = get("loop_load")
        rate = get("effective_rate_hz")
        late_color = theme.WARN if late > 0 else theme.FOREGROUND
        parts = ["<b>simulator</b>"]
        if not math.isnan(rate):
            parts.append(f"{rate:.1f} Hz")
        if not math.isnan(late):
            parts.append(f'<span style="color:{late_color}">late ticks {late:.0f}</span>')
        if not math.isnan(latency):
            parts.append(f"latency {format_amount(latency, 'ms')}")
        if not math.isnan(load):
            parts.append(f"load {load:.2f}")
        return " &nbsp;·&nbsp; ".join(parts)

    def _event_text(self) -> str:
        slot = self.companions.get("markers")
        if slot is None or not slot.markers:
            return ""
        t, text = slot.markers[-1]
        t_ref = self.emg.ring.last_timestamp()
        ago = f" ({t_ref - t:.0f} s ago)" if t_ref is not None and t_ref >= t else ""
        return f"event: <b>{text}</b>{ago}"

    # ------------------------------------------------------------------ state for tests
    @property
    def emg_state(self) -> str:
        """``live``, ``waiting`` or ``lost``."""
        return self.emg.state

    def status_text(self) -> str:
        """The status bar's text without markup."""
        doc = QtGui.QTextDocument()
        doc.setHtml(
            " | ".join(lab.text() for lab in (self.status_emg, self.status_sim, self.status_event))
        )
        return doc.toPlainText()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt API name
        """Stop the timer and close every inlet."""
        self.timer.stop()
        self._companion_resolver = None
        if self.gesture_keys is not None:
            self.gesture_keys.close()
        self.channel_dialog.close()
        self.emg.close()
        for slot in self.companions.values():
            slot.close()
        super().closeEvent(event)


def make_app() -> QtWidgets.QApplication:
    """The QApplication (created once) with the viewer theme applied."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication([])
    theme.apply_global_options()
    app.setStyle("Fusion")
    palette = QtGui.QPalette()
    for role, color in (
        (QtGui.QPalette.ColorRole.Window, theme.PANEL_BACKGROUND),
        (QtGui.QPalette.ColorRole.WindowText, theme.FOREGROUND),
        (QtGui.QPalette.ColorRole.Base, theme.BACKGROUND),
        (QtGui.QPalette.ColorRole.AlternateBase, theme.PANEL_BACKGROUND),
        (QtGui.QPalette.ColorRole.Text, theme.FOREGROUND),
        (QtGui.QPalette.ColorRole.Button, "#1f2630"),
        (QtGui.QPalette.ColorRole.ButtonText, theme.FOREGROUND),
        (QtGui.QPalette.ColorRole.ToolTipBase, theme.PANEL_BACKGROUND),
        (QtGui.QPalette.ColorRole.ToolTipText, theme.FOREGROUND),
        (QtGui.QPalette.ColorRole.Highlight, "#2f6fa3"),
        (QtGui.QPalette.ColorRole.HighlightedText, "#ffffff"),
    ):
        palette.setColor(role, QtGui.QColor(color))
    app.setPalette(palette)
    return app


__all__ = ["ChannelDialog", "Viewer", "ViewerOptions", "make_app"]
