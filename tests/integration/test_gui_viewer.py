"""The viewer window against real LSL outlets (pytest-qt, offscreen)."""

from __future__ import annotations

import gc
import os
import threading
from typing import TYPE_CHECKING

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pylsl
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from gui.streams import discover  # noqa: E402
from gui.viewer import Viewer, ViewerOptions, make_app  # noqa: E402
from realtime.app.demo_outlet import emg_info  # noqa: E402
from tests.helpers import unique_name

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def open_viewer(qtbot):
    """Factory: a shown viewer for a stream name, closed at teardown."""
    make_app()
    made: list[Viewer] = []

    def _make(stream: str, **opts) -> Viewer:
        found = discover(stream=stream, timeout=5.0)
        win = Viewer(found, ViewerOptions(**opts))
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield _make
    for win in made:
        win.close()


class Pusher:
    """Pushes a known signal in real time from a thread (a live producer)."""

    def __init__(
        self, outlet: pylsl.StreamOutlet, n_channels: int, fs: float, amplitude: np.ndarray
    ) -> None:
        self.outlet, self.fs = outlet, fs
        self.amplitude = amplitude.astype(np.float32)
        self.n_channels = n_channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sent = 0

    def _run(self) -> None:
        rng = np.random.default_rng(0)
        t0 = pylsl.local_clock()
        chunk = max(1, int(self.fs / 100))
        while not self._stop.is_set():
            data = rng.standard_normal((chunk, self.n_channels)).astype(np.float32) * self.amplitude
            self.outlet.push_chunk(data, timestamp=t0 + (self.sent + chunk - 1) / self.fs)
            self.sent += chunk
            delay = t0 + self.sent / self.fs - pylsl.local_clock()
            if delay > 0:
                self._stop.wait(delay)

    def start(self) -> Pusher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)


def _expected_curve(data, ts, channels, spacing, width):
    """The decimation rule of gui/decimate.py, written as plain loops."""
    n = len(data)
    s = len(channels)
    xs, ys = [], []
    for k, c in enumerate(channels):
        off = s - 1 - k
        if n <= 2 * width:
            xs.append(ts - ts[-1])
            ys.append(data[:, c] / spacing + off)
        else:
            b = -(-n // width)
            nb = n // b
            start = n - nb * b
            for j in range(nb):
                first = start + j * b  # the block and the sample before it (when in the window)
                seg = data[max(first - 1, 0) : first + b, c]
                xs.append(np.repeat(ts[first] - ts[-1], 2))
                ys.append(np.array([seg.min(), seg.max()]) / spacing + off)
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize(("fs", "n_samples"), [(100.0, 300), (2000.0, 7000)])
def test_curve_equals_the_samples_sent(open_viewer, qtbot, fs: float, n_samples: int) -> None:
    name = unique_name("curve")
    n_ch = 8
    outlet = pylsl.StreamOutlet(emg_info(name, "armband8", fs, source_id=name))
    win = open_viewer(name, window_s=4.0)
    win.set_spacing(250.0)
    win.set_channels([5, 0, 3])
    rng = np.random.default_rng(7)
    sent = (rng.standard_normal((n_samples, n_ch)) * 100).astype(np.float32)
    t0 = pylsl.local_clock()
    ts = t0 + np.arange(n_samples) / fs
    outlet.push_chunk(sent, timestamp=float(ts[-1]))
    qtbot.waitUntil(lambda: win.emg.received >= n_samples, timeout=5000)
    win.tick()  # one more redraw after the last pull
    x, y = win.traces.curve_data()
    width = win.traces._decimator.width
    xe, ye = _expected_curve(sent, ts, [5, 0, 3], 250.0, width)
    decimated = n_samples > 2 * width
    assert decimated == (fs == 2000.0)
    np.testing.assert_allclose(x, xe, atol=1e-6)
    np.testing.assert_allclose(y, ye, rtol=1e-5, atol=1e-5)
    assert win.emg.n_gaps == 0
    assert "gaps 0" in win.status_text()


def test_heatmap_shows_the_channel_with_the_largest_signal(open_viewer, qtbot) -> None:
    name = unique_name("heat")
    fs = 1000.0
    outlet = pylsl.StreamOutlet(emg_info(name, "grid64", fs, source_id=name))
    win = open_viewer(name, window_s=2.0)
    hot = 42  # R6C3
    amplitude = np.full(64, 5.0)
    amplitude[hot] = 200.0
    amplitude[hot + 1] = 60.0
    pusher = Pusher(outlet, 64, fs, amplitude).start()
    try:
        qtbot.waitUntil(lambda: win.emg.received > 400 and win.rms.max_index >= 0, timeout=5000)
        rms = win.rms
        assert rms.max_channel == "R6C3"
        r, c = rms.cell_of(hot)
        assert np.unravel_index(np.argmax(rms.image), rms.image.shape) == (r, c)
        assert rms.image[r, c] == pytest.approx(200.0, rel=0.25)
        assert "R6C3" in rms.title_text
        # the colour scale tops out at a 1-2-5 value above the largest RMS, kept while it fits
        top = rms.top
        mantissa = top / 10 ** np.floor(np.log10(top))
        assert mantissa == pytest.approx(1.0) or mantissa in (
            pytest.approx(2.0),
            pytest.approx(5.0),
        )
        assert top >= rms.image.max()
        assert rms.colorbar.levels() == pytest.approx((0.0, top))
        # the grid comes from the electrode locations: R6C3 is X = 20 mm, Y = (8 - 6) * 10 mm
        assert (r, c) == (2, 2)
    finally:
        pusher.stop()


@pytest.mark.parametrize("with_source_id", [True, False], ids=["source_id", "no_source_id"])
def test_stream_loss_and_return_are_shown(open_viewer, qtbot, with_source_id: bool) -> None:
    name = unique_name("lost")
    fs = 500.0
    sid = name if with_source_id else ""

    def make_outlet() -> pylsl.StreamOutlet:
        return pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 4, fs, "float32", sid))

    outlet = make_outlet()
    win = open_viewer(name, lost_after_s=1.0)  # a loaded machine can stall a pusher 0.3 s
    pusher = Pusher(outlet, 4, fs, np.full(4, 50.0)).start()
    qtbot.waitUntil(lambda: win.emg_state == "live", timeout=5000)
    assert win.emg.meta.labels == ("Ch1", "Ch2", "Ch3", "Ch4")
    pusher.stop()
    del pusher, outlet
    gc.collect()
    qtbot.waitUntil(lambda: win.emg_state == "lost", timeout=5000)
    assert "LOST" in win.status_text()
    assert win.traces.lost_text.toPlainText().startswith("STREAM LOST")
    frozen = win.traces.curve_data()[1].copy()
    win.tick()
    np.testing.assert_array_equal(win.traces.curve_data()[1], frozen)  # the view is frozen
    outlet = make_outlet()
    pusher = Pusher(outlet, 4, fs, np.full(4, 50.0)).start()
    try:
        qtbot.waitUntil(lambda: win.emg_state == "live", timeout=10000)
        assert win.emg.n_losses == 1
        assert win.emg.n_returns == 1
        qtbot.waitUntil(lambda: "LOST" not in win.status_text(), timeout=2000)
        assert win.traces.lost_text.toPlainText() == ""
    finally:
        pusher.stop()


def test_foreign_emg_stream_without_metadata(open_viewer, qtbot) -> None:
    name = unique_name("foreign")
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", 5, 250.0, "float32", ""))
    win = open_viewer(name)
    pusher = Pusher(outlet, 5, 250.0, np.array([1.0, 1.0, 1.0, 30.0, 1.0])).start()
    try:
        qtbot.waitUntil(lambda: win.emg.received > 100 and win.rms.max_index >= 0, timeout=5000)
        assert win.emg.meta.labels == ("Ch1", "Ch2", "Ch3", "Ch4", "Ch5")
        assert type(win.rms).__name__ == "RmsBars"  # no layout: bars instead of a map
        assert win.rms.max_channel == "Ch4"
        assert win.traces.unit == "a.u."
        assert win.companions == {}
    finally:
        pusher.stop()


def test_screenshot_png_is_written_and_not_blank(open_viewer, qtbot, tmp_path: Path) -> None:
    from pyqtgraph.Qt import QtGui

    name = unique_name("shot")
    fs = 1000.0
    outlet = pylsl.StreamOutlet(emg_info(name, "grid64", fs, source_id=name))
    win = open_viewer(name, window_s=2.0)
    pusher = Pusher(outlet, 64, fs, np.linspace(5, 100, 64)).start()
    try:
        qtbot.waitUntil(lambda: win.emg.received > 1000, timeout=5000)
        path = win.screenshot(tmp_path / "view.png")
    finally:
        pusher.stop()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = QtGui.QImage(str(path))
    assert (img.width(), img.height()) == (win.width(), win.height())
    # not blank: many distinct colours, and trace-coloured pixels in the EMG panel
    ptr = img.convertToFormat(QtGui.QImage.Format.Format_RGB32).constBits()
    pixels = np.frombuffer(ptr, dtype=np.uint32, count=img.width() * img.height())
    assert np.unique(pixels).size > 50
    with pytest.raises(ValueError, match="'path' must be a file ending in .png"):
        win.screenshot(tmp_path / "view.jpg")


def test_window_closes_cleanly_and_controls_work(open_viewer, qtbot) -> None:
    name = unique_name("close")
    outlet = pylsl.StreamOutlet(emg_info(name, "armband8", 500.0, source_id=name))
    win = open_viewer(name, window_s=3.0)
    pusher = Pusher(outlet, 8, 500.0, np.full(8, 20.0)).start()
    try:
        qtbot.waitUntil(lambda: win.emg.received > 200, timeout=5000)
        win.set_window(7.0)
        assert win.traces.plot.getViewBox().viewRange()[0] == pytest.approx([-7.0, 0.0])
        with pytest.raises(ValueError, match=r"'window_s' must be a number within \[1, 10\] s"):
            win.set_window(11.0)
        win.set_paused(True)
        frozen = win.traces.curve_data()[1].copy()
        received = win.emg.received
        qtbot.waitUntil(lambda: win.emg.received > received + 50, timeout=5000)  # still pulling
        np.testing.assert_array_equal(win.traces.curve_data()[1], frozen)  # but not drawing
        assert "PAUSED" in win.status_text()
        win.set_paused(False)
        win.set_channels([1, 2])
        qtbot.waitUntil(
            lambda: win.traces.curve_data()[1].size == 2 * win.traces.points_per_channel,
            timeout=3000,
        )
        win.close()
        assert not win.timer.isActive()
        assert win.emg._inlet is None
    finally:
        pusher.stop()


def test_minimized_window_and_folded_panels_are_not_redrawn(open_viewer, qtbot) -> None:
    name = unique_name("hidden")
    fs = 1000.0
    outlet = pylsl.StreamOutlet(emg_info(name, "grid64", fs, source_id=name))
    win = open_viewer(name, window_s=2.0, side_fps=30.0)
    pusher = Pusher(outlet, 64, fs, np.full(64, 20.0)).start()
    try:
        qtbot.waitUntil(lambda: win.redraws > 0 and win.rms.max_index >= 0, timeout=5000)
        win.showMinimized()
        qtbot.waitUntil(win.isMinimized, timeout=2000)
        redraws, received = win.redraws, win.emg.received
        qtbot.waitUntil(lambda: win.emg.received > received + 200, timeout=5000)  # still pulling
        assert win.redraws == redraws
        win.showNormal()
        qtbot.waitUntil(lambda: not win.isMinimized() and win.redraws > redraws, timeout=5000)
        # fold the RMS map away in its splitter: its data stops being recomputed
        side = win._side
        sizes = side.sizes()
        side.setSizes([0, *sizes[1:]])
        qtbot.waitUntil(lambda: win.rms.widget.height() == 0, timeout=2000)
        win.rms.rms[:] = -1.0  # a value no update can produce
        received = win.emg.received
        qtbot.waitUntil(lambda: win.emg.received > received + 200, timeout=5000)
        assert np.all(win.rms.rms == -1.0)
        side.setSizes(sizes)
        qtbot.waitUntil(lambda: bool(np.all(win.rms.rms >= 0.0)), timeout=5000)
    finally:
        pusher.stop()
