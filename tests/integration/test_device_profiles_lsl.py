"""Device profiles over real LSL: what a plain pylsl inlet (and mne-lsl) sees of each profile's streams."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time

import numpy as np
import pylsl
import pylsl.lib
import pytest

from devices.profiles import Profile, builtin_profiles, load_profile
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source
from realtime.core.launcher import PACKAGE_ROOT
from realtime.core.schemas import DEVICE_PROVENANCE_CHANNELS, PROVENANCE_CHANNELS
from realtime.stages.engine import get_layout
from tests.helpers.docs import markdown_table

# mne-lsl must use the liblsl this process already runs (pylsl's): with two copies of liblsl in one process, one
# copy's resolver sees only some of the other copy's outlets.
os.environ.setdefault("MNE_LSL_LIB", pylsl.lib.libpath)

FORMATS = {"float32": pylsl.cf_float32, "double64": pylsl.cf_double64, "int8": pylsl.cf_int8,
           "int16": pylsl.cf_int16, "int32": pylsl.cf_int32}
DTYPES = {"float32": np.float32, "double64": np.float64, "int8": np.int8, "int16": np.int16, "int32": np.int32}


def _doc_rows() -> dict[str, dict[str, str]]:
    return {re.fullmatch(r"`(\w+)`", cells["profile"]).group(1): cells
            for cells in markdown_table(PACKAGE_ROOT / "docs" / "profiles.md", "profile")}


def _renamed(profile: Profile, tag: str) -> Profile:
    """The profile with its stream names and source ids made unique to this test (``<tag>-<documented name>``)."""
    emg = dataclasses.replace(profile.emg, name=f"{tag}-{profile.emg.name}", source_id=f"{tag}-{profile.emg.source_id}")
    imu = None if profile.imu is None else dataclasses.replace(
        profile.imu, name=f"{tag}-{profile.imu.name}", source_id=f"{tag}-{profile.imu.source_id}")
    return dataclasses.replace(profile, emg=emg, imu=imu)


def _inlet(name: str) -> pylsl.StreamInlet:
    deadline = time.monotonic() + 60.0
    found = []
    while not found and time.monotonic() < deadline:
        found = pylsl.resolve_byprop("name", name, 1, 0.5)
    assert found, f"stream {name!r} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=10.0)
    return inlet


def _channels(info: pylsl.StreamInfo) -> tuple[list[str], list[str]]:
    labels, units, ch = [], [], info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label"))
        units.append(ch.child_value("unit"))
        ch = ch.next_sibling()
    return labels, units


def _drain(inlet: pylsl.StreamInlet, n_ch: int, dtype: type, into: tuple[list, list]) -> None:
    buf = np.empty((4096, n_ch), dtype)
    while True:
        _, ts = inlet.pull_chunk(timeout=0.0, max_samples=4096, dest_obj=buf)
        if not ts:
            return
        into[0].append(buf[: len(ts)].copy())
        into[1].append(np.asarray(ts))


def _run(profile: Profile, prefix: str, duration: float, device_clock: bool) -> tuple[dict, Simulator]:
    """Run the simulator with ``profile`` and read its EMG, device IMU and provenance streams from the start."""
    config = SimulatorConfig(prefix=prefix, layout=profile.emg.layout, fs=profile.emg.engine_fs, duration=duration,
                             activation="teacher", units_per_muscle=20, profile=profile, device_clock=device_clock)
    sim = Simulator(config, build_source({"source": "synthetic", "imu_rate": 200.0}))
    starter = threading.Thread(target=sim.start, kwargs={"wait_for_consumer": 60.0})
    starter.start()
    streams = {}
    try:
        inlets = {"prov": _inlet(f"{prefix}-provenance")}
        if profile.imu is not None:
            inlets["imu"] = _inlet(profile.imu.name)
        inlets["emg"] = _inlet(profile.emg.name)  # last: the clock starts once the EMG stream has a consumer
        starter.join(60.0)
        dims = {"emg": (sim.emg_outlet.spec, DTYPES[profile.emg.channel_format]),
                "prov": (sim.provenance_outlet.spec, np.float64)}
        if profile.imu is not None:
            dims["imu"] = (sim.device.imu_outlet.spec, np.float32)
        got = {k: ([], []) for k in inlets}
        deadline = time.monotonic() + duration + 60.0
        while not sim.wait(timeout=0.0) and time.monotonic() < deadline:
            for k, inlet in inlets.items():
                _drain(inlet, len(dims[k][0].channels), dims[k][1], got[k])
            time.sleep(0.002)
        time.sleep(0.5)
        for k, inlet in inlets.items():
            _drain(inlet, len(dims[k][0].channels), dims[k][1], got[k])
            streams[k] = (inlet.info(timeout=5.0), np.concatenate(got[k][0]), np.concatenate(got[k][1]))
    finally:
        starter.join(60.0)
        sim.stop()
    return streams, sim


def _packets_from_stamps(ts: np.ndarray, fs: float, stamping: str) -> np.ndarray:
    """Lengths of the runs the app's stamps reveal: within a packet they step by 1/fs (chunk_last) or repeat."""
    step = 0.0 if stamping == "sample_arrival" else 1.0 / fs
    inside = np.abs(np.diff(ts) - step) < 1e-6
    edges = np.flatnonzero(~inside) + 1
    return np.diff(np.concatenate([[0], edges, [ts.size]]))


@pytest.mark.parametrize("name", [n for n in builtin_profiles() if n != "myostream"])
def test_a_plain_inlet_sees_the_documented_device_stream(name: str, lsl_prefix: str) -> None:
    documented = load_profile(name)
    profile = _renamed(documented, lsl_prefix)
    row = _doc_rows()[name]
    streams, sim = _run(profile, lsl_prefix, 3.0, device_clock=True)
    emg = documented.emg
    info, data, ts = streams["emg"]
    labels, units = _channels(info)
    assert info.name() == f"{lsl_prefix}-{emg.name}"
    assert re.findall(r"`([^`]*)`", row["EMG stream"]) == [emg.name]
    assert [info.type()] == re.findall(r"`([^`]*)`", row["type"])
    assert info.channel_count() == int(row["channels"]) == len(labels)
    assert labels == list(emg.labels) + [e.label for e in emg.extras]
    assert labels[0] == re.findall(r"`([^`]*)`", row["labels"])[0]
    assert units == [emg.unit] * emg.slots + [e.unit for e in emg.extras]
    assert info.channel_format() == FORMATS[emg.channel_format]
    assert re.findall(r"`([^`]*)`", row["format"]) == [emg.channel_format]
    assert info.nominal_srate() == pytest.approx(float(row["rate (Hz)"]), abs=1e-3)
    # Everything published, in packets of the documented size (the app's stamps show them).
    assert data.shape[0] >= 0.9 * 3.0 * emg.fs
    assert data.shape[0] % (emg.packet * documented.clock.burst) == 0
    runs = _packets_from_stamps(ts, emg.fs, documented.clock.stamping)
    assert set(runs) == {int(row["packet"])}
    limits = emg.count_limits
    scale = 1.0 if emg.channel_format.startswith("int") else emg.resolution_uv * emg.scale
    assert data[:, :emg.slots].min() >= limits[0] * scale - 1e-9
    assert data[:, :emg.slots].max() <= limits[1] * scale + 1e-9
    n_layout = len(get_layout(emg.layout).channels)
    assert np.any(data[:, :n_layout] != 0)
    # The ground truth: true sample times and the stamps given, newest device sample per provenance row.
    _, prov, _ = streams["prov"]
    width = len(PROVENANCE_CHANNELS)
    assert prov.shape[1] == width + len(DEVICE_PROVENANCE_CHANNELS)
    done = prov[prov[:, width] >= 0]
    index, true_time, stamp = done[-1, width:]
    assert stamp == pytest.approx(ts[int(index)], abs=1e-9)
    assert stamp - true_time >= documented.clock.latency_ms * 1e-3 - 1e-9
    if profile.imu is not None:
        imu_info, imu, imu_ts = streams["imu"]
        imu_labels, imu_units = _channels(imu_info)
        assert re.findall(r"`([^`]*)`", row["IMU stream"])[0] == documented.imu.name
        assert imu_info.name() == f"{lsl_prefix}-{documented.imu.name}"
        assert imu_labels == list(documented.imu.labels)
        assert imu_units == list(documented.imu.units)
        assert imu_info.nominal_srate() == pytest.approx(documented.imu.fs)
        assert imu.shape[0] >= 0.8 * 3.0 * documented.imu.fs
        acc_z = [i for i, label in enumerate(imu_labels) if label.endswith("acc_z")][0]
        assert np.all(np.abs(imu[:, acc_z]) < 4.0)  # g, not m/s²


def test_mne_lsl_reads_the_default_profile_montage_filters_and_gets_no_gaps(lsl_prefix: str) -> None:
    stream_mod = pytest.importorskip("mne_lsl.stream", reason="mne-lsl is not installed (pip install mne-lsl)")
    config = SimulatorConfig(prefix=lsl_prefix, duration=None, activation="teacher", units_per_muscle=20)
    sim = Simulator(config, build_source({"source": "synthetic"}))
    sim.start()
    stream = None
    try:
        spec = sim.emg_outlet.spec
        stream = stream_mod.StreamLSL(bufsize=12.0, name=spec.name, source_id=spec.source_id).connect(timeout=30.0)
        montage = stream.get_montage()
        assert montage is not None
        expected = np.asarray(sim.layout.channel_locations, float)
        assert np.allclose(montage.get_positions()["hsp"], expected, atol=1e-6)
        assert np.allclose([ch["loc"][:3] for ch in stream.info["chs"]], expected, atol=1e-6)
        assert stream.info["highpass"] == float(spec.desc["filters"]["highpass"]) == 0.0
        assert stream.info["lowpass"] == float(spec.desc["filters"]["lowpass"]) == 1000.0
        assert stream.ch_names == list(spec.labels)
        deadline = time.monotonic() + 60.0
        while stream.n_new_samples < 10.5 * spec.fs and time.monotonic() < deadline:  # deadline loop, not a sleep
            time.sleep(0.1)
        data, ts = stream.get_data(winsize=10.0)
        assert data.shape == (len(spec.channels), int(10.0 * spec.fs))
        assert np.allclose(np.diff(ts), 1.0 / spec.fs, atol=1e-6)  # no gaps
        assert np.all(np.isfinite(data))
    finally:
        if stream is not None:
            stream.disconnect()
        sim.stop()


def test_mne_lsl_reads_a_device_band(lsl_prefix: str) -> None:
    stream_mod = pytest.importorskip("mne_lsl.stream", reason="mne-lsl is not installed (pip install mne-lsl)")
    profile = _renamed(load_profile("trigno"), lsl_prefix)
    config = SimulatorConfig(prefix=lsl_prefix, layout=profile.emg.layout, fs=profile.emg.engine_fs, duration=None,
                             activation="teacher", units_per_muscle=20, profile=profile)
    sim = Simulator(config, build_source({"source": "synthetic"}))
    sim.start()
    stream = None
    try:
        stream = stream_mod.StreamLSL(bufsize=2.0, name=profile.emg.name).connect(timeout=30.0)
        assert (stream.info["highpass"], stream.info["lowpass"]) == (20.0, 450.0)
        assert stream.get_channel_units()[0][1] == 0  # volts
    finally:
        if stream is not None:
            stream.disconnect()
        sim.stop()
