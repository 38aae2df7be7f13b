"""The viewer's companion streams (status, activations, IMU, markers) against real LSL outlets."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pylsl
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from devices.lsl_outlet import to_stream_info  # noqa: E402
from gui.streams import discover  # noqa: E402
from gui.viewer import Viewer, ViewerOptions, make_app  # noqa: E402
from realtime.app.demo_outlet import emg_info  # noqa: E402
from realtime.core.schemas import status_stream_spec  # noqa: E402
from tests.helpers import unique_name


def test_companion_panels_and_simulator_status(qtbot) -> None:
    make_app()
    prefix = unique_name("pfx")
    emg = pylsl.StreamOutlet(emg_info(f"{prefix}-EMG", "armband8", 500.0, source_id=f"{prefix}-e"))
    status = pylsl.StreamOutlet(to_stream_info(status_stream_spec(prefix)))  # as the simulator declares it
    act_info = pylsl.StreamInfo(
        f"{prefix}-activation", "Activation", 2, 50.0, "float32", f"{prefix}-a"
    )
    chans = act_info.desc().append_child("channels")
    for label in ("biceps", "triceps"):
        chans.append_child("channel").append_child_value("label", label)
    act = pylsl.StreamOutlet(act_info)
    markers = pylsl.StreamOutlet(
        pylsl.StreamInfo(f"{prefix}-markers", "Markers", 1, 0.0, "string", f"{prefix}-m")
    )
    found = discover(prefix=prefix, timeout=5.0)
    assert set(found.companions) == {"status", "activation", "markers"}
    win = Viewer(found, ViewerOptions())
    qtbot.addWidget(win)
    win.show()
    try:
        status.push_sample([1000.0, 1999.5, 3.0, 0.25, 4.5])
        act.push_chunk(np.array([[0.2, 0.9]], np.float32))
        emg.push_chunk(np.zeros((10, 8), np.float32))
        markers.push_sample(["fault_on electrode_pop"])
        qtbot.waitUntil(lambda: "late ticks 3" in win.status_text(), timeout=5000)
        qtbot.waitUntil(lambda: "event: fault_on electrode_pop" in win.status_text(), timeout=5000)
        assert "latency 4.5 ms" in win.status_text()
        qtbot.waitUntil(lambda: win.activations.values["truth"][1] > 0.8, timeout=5000)
        np.testing.assert_allclose(win.activations.values["truth"], [0.2, 0.9], rtol=1e-6)
        # streams that appear after start-up (run --view starts both at once) get their panels
        assert win.imu is None
        imu = pylsl.StreamOutlet(
            pylsl.StreamInfo(f"{prefix}-IMU", "IMU", 6, 50.0, "float32", f"{prefix}-i")
        )
        model_info = pylsl.StreamInfo(
            f"{prefix}-activation-model", "Activation", 2, 50.0, "float32", f"{prefix}-am"
        )
        chans = model_info.desc().append_child("channels")
        for label in ("biceps", "triceps"):
            chans.append_child("channel").append_child_value("label", label)
        model = pylsl.StreamOutlet(model_info)
        qtbot.waitUntil(
            lambda: win.imu is not None and "activation_model" in win.companions, timeout=8000
        )
        model.push_chunk(np.array([[0.6, 0.1]], np.float32))
        imu.push_chunk(np.ones((5, 6), np.float32))
        qtbot.waitUntil(lambda: win.activations.values["model"][0] > 0.5, timeout=5000)
        np.testing.assert_allclose(win.activations.values["truth"], [0.2, 0.9], rtol=1e-6)
        assert set(win.activations.bars) == {"truth", "model"}
        # an event inside the window is drawn as a labelled line at its time
        t_event = pylsl.local_clock()
        markers.push_sample(["fault start: dropout ch=EMG3 id=2"], timestamp=t_event)
        qtbot.waitUntil(lambda: len(win.companions["markers"].markers) == 2, timeout=5000)
        emg.push_chunk(np.zeros((100, 8), np.float32), timestamp=t_event + 0.1)
        lines = win.traces._marker_lines
        # Drawn relative to the newest EMG sample, once the chunk stamped t_event + 0.1 has arrived.
        qtbot.waitUntil(lambda: lines[0].isVisible() and abs(lines[0].value() + 0.1) < 1e-3, timeout=5000)
        assert lines[0].value() == pytest.approx(-0.1, abs=1e-3)
        assert lines[0].label.toPlainText() == "fault start: dropout ch=EMG3 id=2"
        assert not lines[1].isVisible()  # the first event lies after the newest EMG sample
    finally:
        win.close()
