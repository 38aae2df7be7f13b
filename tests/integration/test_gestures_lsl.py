"""The gesture layer over LSL: scripted truth on the EMG clock, intent from any program, the viewer's keys."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pylsl
import pytest

from devices.lsl_intent import LslIntent
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source
from realtime.body.gestures import GestureCommand, GestureSynthesizer
from realtime.core.anatomy import GESTURES
from tests.helpers import REPO_ROOT

FS = 1000.0


def _inlet(name: str, timeout: float = 60.0) -> pylsl.StreamInlet:
    found, deadline = [], time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        found = pylsl.resolve_byprop("name", name, 1, 0.5)
    assert found, f"no stream {name}"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


class Collector:
    """Pulls a numeric stream in a thread until stopped."""

    def __init__(self, inlet: pylsl.StreamInlet) -> None:
        self.inlet, self.rows, self.stamps = inlet, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            data, ts = self.inlet.pull_chunk(timeout=0.05)
            if ts:
                self.rows += data
                self.stamps += ts

    def array(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.rows[: len(self.stamps)]), np.array(self.stamps)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def _simulator(prefix: str, gestures: tuple) -> Simulator:
    config = SimulatorConfig(prefix=prefix, fs=FS, block_size=4, duration=30.0, activation="teacher",
                             units_per_muscle=30, gestures=gestures)
    return Simulator(config, build_source({"source": "synthetic", "motion": "rest", "imu_rate": 100.0}))


def _wait(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_scripted_gestures_are_published_on_the_emg_clock(lsl_prefix: str) -> None:
    sched = (GestureCommand(0.5, 1.0, "pinch", 0.4), GestureCommand(2.0, 0.5, "supination", 0.7))
    sim = _simulator(lsl_prefix, sched)
    starter = threading.Thread(target=sim.start, kwargs={"wait_for_consumer": 60.0}, daemon=True)
    starter.start()
    gesture = Collector(_inlet(f"{lsl_prefix}-gesture"))
    emg = Collector(_inlet(f"{lsl_prefix}-EMG"))
    try:
        assert _wait(lambda: len(gesture.stamps) > 3000 and len(emg.stamps) > 3000)
    finally:
        starter.join(20.0)
        sim.stop()
        gesture.stop()
        emg.stop()
    rows, ts = gesture.array()
    _, emg_ts = emg.array()
    n = min(len(ts), len(emg_ts))
    np.testing.assert_array_equal(ts[:n], emg_ts[:n])  # one truth row per EMG sample, on its timestamps
    t0 = sim.pipeline.stats.t0
    k = np.round((ts - t0) * FS).astype(int)
    assert k[0] == 0  # the recorder waited: from EMG sample 0
    expected = np.zeros(len(k))
    expected[(k >= 500) & (k < 1500)] = GESTURES.index("pinch")
    expected[(k >= 2000) & (k < 2500)] = GESTURES.index("supination")
    np.testing.assert_array_equal(rows[:, 0], expected)
    np.testing.assert_allclose(rows[(k >= 500) & (k < 1500), 1], 0.4, rtol=1e-6)


def test_an_intent_stream_from_any_program_moves_the_gesture_truth(lsl_prefix: str) -> None:
    sim = _simulator(lsl_prefix, ())  # live: no schedule
    commands = pylsl.StreamOutlet(pylsl.StreamInfo(f"{lsl_prefix}-intent", "Markers", 1, 0, "string", "cmd"))
    info = pylsl.StreamInfo(f"{lsl_prefix}-intent", "Gesture", 2, 0, "float32", "levels")
    chans = info.desc().append_child("channels")
    for label in ("wrist_flexion", "pronation"):
        chans.append_child("channel").append_child_value("label", label)
    levels = pylsl.StreamOutlet(info)
    sim.start()
    gesture = Collector(_inlet(f"{lsl_prefix}-gesture"))
    try:
        def last() -> tuple[float, float] | None:
            rows, _ = gesture.array()
            return tuple(rows[-1]) if len(rows) else None

        assert _wait(lambda: sim.intent.received == 0 and last() == (0.0, 0.0))
        for text, expected in (("hand_close 0.7", (1.0, 0.7)), ("pinch 30%", (3.0, 0.3)), ("rest", (0.0, 0.0))):
            assert _wait(lambda e=expected, t=text: commands.push_sample([t]) or last() == pytest.approx(e)), text
        # A levels stream is continuous (a controller sends its state at its own rate): keep sending.
        assert _wait(lambda: levels.push_sample([0.2, 0.6]) or last() == pytest.approx((GESTURES.index("pronation"),
                                                                                       0.6)))
        assert sim.gestures.rejected_intents == 0
    finally:
        sim.stop()
        gesture.stop()


def test_the_viewers_keys_send_intent_that_a_listener_turns_into_gestures(lsl_prefix: str, qtbot) -> None:
    pytest.importorskip("pyqtgraph")
    from pyqtgraph.Qt import QtCore  # deferred: Qt only for this test

    from gui.streams import discover
    from gui.viewer import Viewer, ViewerOptions, make_app
    from realtime.app.demo_outlet import emg_info

    emg = pylsl.StreamOutlet(emg_info(f"{lsl_prefix}-EMG", "armband8", 500.0, source_id=lsl_prefix))
    make_app()
    win = Viewer(discover(prefix=lsl_prefix, timeout=10.0), ViewerOptions())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    listener = LslIntent(f"{lsl_prefix}-intent")
    listener.start()
    synth = GestureSynthesizer(FS, (), listener)
    synth.reset(max_block=4)
    try:
        assert _wait(lambda: win.gesture_keys.outlet.have_consumers(), 20.0)
        win.activateWindow()  # the keys are window shortcuts: they act in the active window
        qtbot.waitUntil(win.isActiveWindow, timeout=5000)
        qtbot.keyClick(win, "3")
        qtbot.keyClick(win, "+")
        qtbot.keyClick(win, "0")
        qtbot.keyClick(win, "7")
        assert win.gesture_keys.sent == ["pinch 0.50", "pinch 0.60", "rest", "pronation 0.60"]
        truths = []

        def seen() -> bool:
            _, truth = synth.generate(4)
            truths.append(tuple(truth[0]))
            return truths[-1] == pytest.approx((GESTURES.index("pronation"), 0.6))

        assert _wait(seen)
        assert listener.received == 4
        assert "pronation 60%" in win.gesture_keys.label.text()
        qtbot.keyClick(win, QtCore.Qt.Key.Key_Escape)
        assert win.gesture_keys.sent[-1] == "rest"
    finally:
        listener.stop()
        win.close()
        del emg


def test_run_refuses_a_bad_schedule_with_one_line(tmp_path) -> None:
    path = tmp_path / "g.txt"
    path.write_text("1 2 hand_close 50%\n3 1 fist 0.3\n")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "launch.py"), "run", "--gestures", str(path),
                             "--duration", "1"], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert result.returncode == 2
    assert f"Invalid value for '--gestures': {path}:2: unknown gesture 'fist'" in result.stderr
