"""The LSL IMU inlet against real outlets: channel selection, units, time correction, stop/restart."""

from __future__ import annotations

import math
import time

import numpy as np
import pylsl
import pytest

from devices.lsl_imu import LslImu, LslSettings, resolve_stream
from devices.threaded_source import DeviceError
from realtime.core.block import Block
from tests.helpers import wait_until
from tests.helpers.scripted import EventTap, read_samples

LABELS = ("index", "AccX", "AccY", "AccZ", "GyrX", "GyrY", "GyrZ", "temperature")
UNITS = ("", "g", "g", "g", "deg/s", "deg/s", "deg/s", "C")


def _outlet(name: str, fs: float = 200.0, labels=LABELS, units=UNITS, source_id: str | None = None):
    info = pylsl.StreamInfo(name, "IMU", len(labels), fs, pylsl.cf_float32, source_id or f"{name}_src")
    chans = info.desc().append_child("channels")
    for label, unit in zip(labels, units):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info, chunk_size=1)


def _sample(k: int) -> list[float]:
    return [float(k), 0.5, -1.0, 1.0, 90.0, 0.0, -180.0, 25.0]


def _push(outlet, k0: int, n: int, fs: float) -> None:
    for k in range(k0, k0 + n):
        outlet.push_sample(_sample(k))
        time.sleep(1.0 / fs)


def _drain(src: LslImu, n: int, timeout: float = 5.0) -> list[Block]:
    return read_samples(src, n, timeout, poll=0.005)


def _wait(predicate, timeout: float = 8.0) -> None:
    wait_until(predicate, timeout, 0.01)


def test_labels_units_and_timestamps(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_imu"
    outlet = _outlet(name)
    settings = LslSettings(name=name, resolve_timeout_s=5.0)
    info = resolve_stream(settings)
    src = LslImu(settings, info=info)
    assert src.fs == 200.0  # known before start() when built from a resolved stream
    with src:
        _wait(lambda: outlet.have_consumers())
        t_before = pylsl.local_clock()
        _push(outlet, 0, 50, 200.0)
        blocks = _drain(src, 50)
    data = np.concatenate([b.data for b in blocks])
    ts = np.concatenate([b.timestamps for b in blocks])
    assert data.shape == (50, 6)
    # AccX..GyrZ picked by label (not the index or temperature columns), g -> m/s², deg/s -> rad/s
    np.testing.assert_allclose(data[0], [0.5 * 9.80665, -9.80665, 9.80665, math.pi / 2, 0.0, -math.pi], rtol=1e-6)
    assert np.all(np.diff(ts) > 0)
    assert t_before - 0.05 < ts[0] < pylsl.local_clock()  # time-corrected onto this machine's LSL clock
    assert [b.seq for b in blocks] == list(np.cumsum([0] + [b.n_samples for b in blocks[:-1]]))


def test_outlet_stops_and_restarts(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_imu"
    outlet = _outlet(name, fs=100.0)
    src = EventTap(LslImu(LslSettings(name=name, lost_after_s=0.3)))
    src.start()
    try:
        _wait(lambda: outlet.have_consumers())
        _push(outlet, 0, 30, 100.0)
        blocks = _drain(src, 30)
        del outlet  # the outlet's app quits
        _wait(lambda: not src.status.connected)
        assert src.read().n_samples == 0  # never raises while the stream is gone
        assert src.pop_events()[0].startswith("device lost: lsl")
        outlet = _outlet(name, fs=100.0)  # the app starts again (same name and source_id)
        _wait(lambda: outlet.have_consumers())
        _push(outlet, 1000, 60, 100.0)
        _wait(lambda: src.status.connected)
        blocks += _drain(src, 30)
        events = src.pop_events()
    finally:
        src.stop()
    assert any(e.startswith("device back: lsl") for e in events)
    assert sum(b.n_samples for b in blocks) >= 60
    first_after = next(b for b in blocks if b.timestamps[0] > blocks[0].timestamps[-1] + 0.2)
    assert first_after.seq > 30  # the running index jumps over the gap
    assert src.status.reconnects == 1


def test_new_outlet_with_another_source_id_is_picked_up(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_imu"
    outlet = _outlet(name, fs=100.0, source_id=f"{name}_a")
    src = EventTap(LslImu(LslSettings(name=name, lost_after_s=0.3)))
    src.start()
    try:
        _wait(lambda: outlet.have_consumers())
        _push(outlet, 0, 10, 100.0)
        _drain(src, 10)
        del outlet
        _wait(lambda: not src.status.connected)
        outlet = _outlet(name, fs=100.0, source_id=f"{name}_b")  # liblsl cannot recover this one by itself
        _wait(lambda: outlet.have_consumers())
        _push(outlet, 0, 20, 100.0)
        blocks = _drain(src, 10)
    finally:
        src.stop()
    assert sum(b.n_samples for b in blocks) >= 10
    assert src.status.reconnects == 1


def test_explicit_channels_and_errors(lsl_prefix: str) -> None:
    name = f"{lsl_prefix}_raw"
    outlet = _outlet(name, labels=tuple(f"ch{i}" for i in range(8)), units=("",) * 8)
    with pytest.raises(DeviceError, match=r"Cannot tell which channels .*--imu-channels"):
        LslImu(LslSettings(name=name)).start()
    src = LslImu(LslSettings(name=name, channels=("1", "2", "3", "ch4", "ch5", "ch6")))
    with src:
        _wait(lambda: outlet.have_consumers())
        _push(outlet, 7, 5, 200.0)
        blocks = _drain(src, 5)
    np.testing.assert_allclose(np.concatenate([b.data for b in blocks])[0], [0.5, -1.0, 1.0, 90.0, 0.0, -180.0])


def test_missing_stream_error_lists_what_is_visible(lsl_prefix: str) -> None:
    with pytest.raises(DeviceError, match=r"No LSL stream with name '.*_none' found within 0.3 s .*list-streams"):
        resolve_stream(LslSettings(name=f"{lsl_prefix}_none", resolve_timeout_s=0.3))

