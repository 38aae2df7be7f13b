"""Device profiles (devices/profiles): the files, the loader's errors, counts and saturation, packets, stamps,
the output resampler and the orientation (no LSL: the writers push into lists)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from devices.profiles import ProfileError, builtin_profiles, load_profile
from devices.profiles.orientation import OrientationTracker
from devices.profiles.render import (
    DeviceClock,
    DeviceEmgWriter,
    DeviceImuWriter,
    emg_spec,
    imu_spec,
)
from realtime.app.simulator import SimulatorConfig
from realtime.core.block import Block, regular_timestamps
from realtime.core.launcher import PACKAGE_ROOT
from realtime.stages.engine import get_layout
from realtime.stages.output_resample import OutputResampler
from tests.helpers.docs import markdown_table

DOC = PACKAGE_ROOT / "docs" / "profiles.md"


def doc_table() -> dict[str, dict[str, str]]:
    """The table of docs/profiles.md: profile -> cells by column (also used by the LSL test)."""
    return {re.fullmatch(r"`(\w+)`", cells["profile"]).group(1): cells
            for cells in markdown_table(DOC, "profile")}


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def test_the_five_profiles_exist_and_the_table_lists_each() -> None:
    assert {"myostream", "myo", "trigno", "quattrocento", "muovi"} <= set(builtin_profiles())
    assert set(doc_table()) == set(builtin_profiles())


@pytest.mark.parametrize("name", [n for n in builtin_profiles() if n != "myostream"])
def test_each_profile_matches_its_row_and_cites_sources(name: str) -> None:
    profile, row = load_profile(name), doc_table()[name]
    emg = profile.emg
    assert profile.sources
    assert all("/" in s or "Guide" in s for s in profile.sources)
    assert _ticked(row["EMG stream"]) == [emg.name]
    assert _ticked(row["type"]) == [emg.type]
    assert int(row["channels"]) == emg.slots + len(emg.extras)
    labels = list(emg.labels) + [e.label for e in emg.extras]
    ticked = _ticked(row["labels"])
    assert ticked[0] == labels[0]
    assert set(ticked[1:]) <= set(labels)
    assert _ticked(row["format"]) == [emg.channel_format]
    assert float(row["rate (Hz)"]) == pytest.approx(emg.fs, abs=1e-3)
    assert int(row["packet"]) == emg.packet
    units = []
    for group, times in re.findall(r"`([^`]*)`(?:\s*×(\d+))?", row["units"]):
        units += [group] * (int(times) if times else 1)
    published = [emg.unit] * emg.slots + [e.unit for e in emg.extras]
    assert published == units if len(units) > 1 else set(published[:emg.slots]) == set(units)
    assert (profile.imu is None) == (row["IMU stream"] == "none")
    if profile.imu is not None:
        assert _ticked(row["IMU stream"])[0] == profile.imu.name
    assert len(get_layout(emg.layout).channels) <= emg.slots  # the default layout fits


def test_the_default_profile_is_native() -> None:
    profile = load_profile("myostream")
    assert profile.native
    assert profile.emg is None
    assert profile.imu is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """name = "x"
description = "d"
sources = ["a/b c.py"]
[emg]
name = "n"
type = "EMG"
source_id = "s"
fs = 1000.0
channels = 8
label = "E{n}"
unit = "counts"
"""


@pytest.mark.parametrize(("change", "field"), [
    (("fs = 1000.0", "fs = -5"), "emg.fs"),
    (("fs = 1000.0", "fs = 1000.0\nrate = 3"), "emg.rate"),
    (('unit = "counts"', 'unit = "counts"\nformat = "int16"'), "emg.resolution_uv"),
    (('unit = "counts"', 'unit = "counts"\nformat = "int8"\nresolution_uv = 1.0\nbits = 12'), "emg.bits"),
    (('label = "E{n}"', 'labels = ["a", "b"]'), "emg.labels"),
    (('label = "E{n}"', 'label = "E"'), "emg.label"),
    (('unit = "counts"', 'unit = "counts"\nband = [400.0, 10.0]'), "emg.band"),
    (('unit = "counts"', 'unit = "counts"\n[[emg.extra]]\nlabel = "T"\nkind = "bell"'), "emg.extra[0].kind"),
    (('unit = "counts"', 'unit = "counts"\n[clock]\nstamping = "never"'), "clock.stamping"),
    (('sources = ["a/b c.py"]', "sources = []"), "sources"),
])
def test_a_profile_error_is_one_line_naming_the_file_and_the_field(tmp_path: Path, change: tuple, field: str) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"field {field!r}" in message


def test_good_file_loads_and_syntax_errors_and_missing_files_are_named(tmp_path: Path) -> None:
    assert load_profile(str(_write(tmp_path, GOOD))).emg.labels[:2] == ("E1", "E2")
    with pytest.raises(ProfileError, match="bad.toml.*not valid TOML"):
        load_profile(str(_write(tmp_path, "name = ")))
    with pytest.raises(ProfileError, match="neither a built-in profile"):
        load_profile("no_such_profile")


def _block(data: np.ndarray, fs: float, seq: int = 0, t0: float = 100.0) -> Block:
    data = np.ascontiguousarray(data, np.float32)
    return Block(data, regular_timestamps(t0, fs, seq, data.shape[0]), fs, seq, tuple(f"c{i}" for i in
                                                                                       range(data.shape[1])))


class _Pushes:
    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.stamps: list[np.ndarray] = []

    def __call__(self, rows: np.ndarray, stamps: np.ndarray) -> None:
        self.rows.append(np.array(rows))
        self.stamps.append(np.array(stamps))


def test_myo_counts_saturate_at_int8_limits_in_packets_of_two() -> None:
    emg = load_profile("myo").emg
    pushes = _Pushes()
    writer = DeviceEmgWriter(emg, 8, pushes, DeviceClock(emg.fs, None))
    uv = np.arange(-3, 4)[:, None] * 100 * emg.resolution_uv * np.ones((1, 8))  # ±300, ±200 counts saturate
    writer.write(_block(uv, emg.fs))
    assert [len(r) for r in pushes.rows] == [2, 2, 2]  # the 7th sample waits for its packet
    counts = np.concatenate(pushes.rows)
    assert counts.dtype == np.int32
    assert counts.min() == -128
    assert counts.max() == 127
    assert counts[2, 0] == -100
    assert writer.saturated == 4 * 8
    assert np.array_equal(np.concatenate(pushes.stamps), regular_timestamps(100.0, emg.fs, 0, 6))


def test_quattrocento_quantises_saturates_and_counts_like_the_app() -> None:
    emg = load_profile("quattrocento").emg
    pushes = _Pushes()
    writer = DeviceEmgWriter(emg, 64, pushes, DeviceClock(emg.fs, None))
    uv = np.zeros((12, 64))
    uv[:, 0] = 1e6
    uv[:, 1] = -1e6
    uv[:, 2] = 10.0
    writer.write(_block(uv, emg.fs, seq=32764))
    rows = np.concatenate(pushes.rows)
    assert rows.shape == (12, 66)
    assert [len(r) for r in pushes.rows] == [6, 6]
    res = emg.resolution_uv
    assert rows[0, 0] == pytest.approx(32767 * res)
    assert rows[0, 1] == pytest.approx(-32768 * res)
    assert rows[0, 2] == pytest.approx(round(10.0 / res) * res)
    assert list(rows[:6, 64]) == [32764, 32765, 32766, 32767, -32768, -32767]  # SampleCounter: int16 word
    assert set(rows[:, 65]) == {0.0}  # Trigger


def test_trigno_publishes_volts_and_fills_unpaired_slots_with_zeros() -> None:
    emg = load_profile("trigno").emg
    pushes = _Pushes()
    writer = DeviceEmgWriter(emg, 8, pushes, DeviceClock(emg.fs, None))
    writer.write(_block(np.full((26, 8), 1000.0), emg.fs))
    rows = pushes.rows[0]
    assert rows.shape == (26, 16)
    assert rows[0, 0] == pytest.approx(1e-3, rel=1e-3)
    assert np.all(rows[:, 8:] == 0)
    writer.write(_block(np.full((26, 8), 20_000.0), emg.fs, seq=26))
    assert pushes.rows[1].max() == pytest.approx(32767 * emg.resolution_uv * 1e-6)  # ±11 mV
    with pytest.raises(ValueError, match="only 16 slots"):
        DeviceEmgWriter(emg, 64, pushes, DeviceClock(emg.fs, None))


def test_device_clock_stamps_bursts_as_the_app_does() -> None:
    profile = load_profile("muovi")
    emg, clock = profile.emg, profile.clock
    pushes = _Pushes()
    writer = DeviceEmgWriter(emg, 32, pushes, DeviceClock(emg.fs, clock, seed=3))
    data = np.zeros((72, 32))
    writer.write(_block(data, emg.fs))
    assert [len(r) for r in pushes.rows] == [18] * 4  # two bursts of two packets
    true = regular_timestamps(100.0, emg.fs, 0, 72)
    for b in range(2):  # both packets of a burst end at one arrival, latency + jitter after the burst's end
        s1, s2 = pushes.stamps[2 * b], pushes.stamps[2 * b + 1]
        assert s1[-1] == s2[-1]
        assert np.allclose(np.diff(s1), 1 / emg.fs)
        assert s2[-1] >= true[36 * b + 35] + clock.latency_ms * 1e-3
    assert writer.newest[0] == 71
    assert writer.newest[1] == true[-1]
    assert writer.newest[2] == pushes.stamps[-1][-1]
    myo = load_profile("myo")
    pushes = _Pushes()
    DeviceEmgWriter(myo.emg, 8, pushes, DeviceClock(myo.emg.fs, myo.clock)).write(_block(np.zeros((4, 8)), 200.0))
    assert all(len(set(s)) == 1 for s in pushes.stamps)  # every sample of a notification: one arrival stamp


def test_the_output_resampler_is_causal_band_limited_and_follows_the_drifting_clock() -> None:
    fs_in, fs_out, n = 1000.0, 200.0, 10_000
    t = np.arange(n) / fs_in
    x = np.stack([np.sin(2 * np.pi * 20 * t), np.sin(2 * np.pi * 300 * t)], axis=1)
    res = OutputResampler(("a", "b"), fs_in, fs_out)
    outs, newest = [], []
    for start in range(0, n, 4):
        blk = _block(x[start:start + 4], fs_in, seq=start, t0=0.0)
        out = res.process(blk)
        assert out.n_samples == 0 or out.timestamps[-1] <= blk.timestamps[-1] + 1e-12  # never ahead of its input
        outs.append(out.data.copy())  # the resampler reuses its arrays
        newest.append(out.timestamps.copy())
    y, ty = np.concatenate(outs), np.concatenate(newest)
    assert len(y) == n // 5
    assert np.allclose(np.diff(ty), 1 / fs_out)
    steady = y[len(y) // 2:]
    assert np.sqrt(2) * steady[:, 0].std() == pytest.approx(1.0, abs=0.05)  # 20 Hz passes
    assert steady[:, 1].std() < 0.01  # 300 Hz would alias to 100 Hz: removed
    drifting = OutputResampler(("a",), 2000.0, 2000.0, drift_ppm=500.0)
    got = sum(drifting.process(_block(np.zeros((40, 1)), 2000.0, seq=k * 40, t0=0.0)).n_samples for k in range(500))
    assert got == pytest.approx(10 * 2000 * (1 + 500e-6), abs=1)
    same = OutputResampler(("a",), 2000.0, 2000.0)
    blk = _block(np.ones((4, 1)), 2000.0)
    assert same.passthrough
    assert same.process(blk) is blk


def test_orientation_follows_a_rotation_and_the_imu_stream_uses_device_units() -> None:
    tracker = OrientationTracker()
    fs, n = 100.0, 100
    ts = np.arange(n) / fs
    gyr = np.tile([0.0, 0.0, np.pi / 2], (n, 1))  # 90 deg/s about z for 1 s, gravity along z
    acc = np.tile([0.0, 0.0, 9.80665], (n, 1))
    tracker.update(ts, acc, gyr)
    angle = 2 * np.degrees(np.arccos(abs(tracker.q[0])))
    assert angle == pytest.approx(90 * (n - 1) / n, abs=1.0)
    assert np.linalg.norm(tracker.magnetometer()) == pytest.approx(np.hypot(20.0, 45.0))
    profile = load_profile("trigno")
    pushes = _Pushes()
    writer = DeviceImuWriter(profile.imu, pushes, DeviceClock(profile.imu.fs, None), tracker, n_active=8)
    writer.write(ts[:4], acc[:4], gyr[:4])
    rows = np.concatenate(pushes.rows)
    assert rows.shape == (4, 144)
    assert [len(r) for r in pushes.rows] == [2, 2]
    assert rows[0, 2] == pytest.approx(1.0)
    assert rows[0, 5] == pytest.approx(90.0)
    assert np.all(rows[:, 8 * 9:] == 0)  # unpaired sensors


def test_specs_carry_names_metadata_and_band() -> None:
    trigno = load_profile("trigno")
    spec = emg_spec(trigno.emg, "p", np.zeros((16, 3)), "armband16")
    assert (spec.name, spec.type, spec.channel_format, spec.fs) == ("TrignoEMG", "EMG", "float32", trigno.emg.fs)
    assert spec.desc["filters"] == {"highpass": "20", "lowpass": "450"}
    assert spec.desc_values == {"manufacturer": "Delsys"}
    assert set(spec.units) == {"volts"}
    assert imu_spec(trigno.imu, "p").labels[:2] == ("S1_acc_x", "S1_acc_y")
    renamed = dataclasses.replace(trigno.emg, name="{prefix}-trigno")
    assert emg_spec(renamed, "me", None, "x").name == "me-trigno"


def test_a_device_profile_needs_its_engine_rate() -> None:
    with pytest.raises(ValueError, match="runs the engine at 1000 Hz"):
        SimulatorConfig(profile="myo", fs=2000.0)
    assert SimulatorConfig(profile="myo", fs=1000.0).profile == "myo"


def test_run_names_the_profile_file_and_field_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from launch import cli

    path = _write(tmp_path, GOOD.replace("fs = 1000.0", 'fs = "fast"'))
    for args, words in (
        (["--profile", str(path)], [str(path), "'emg.fs'"]),
        (["--profile", "nope"], ["'nope'", "neither a built-in profile"]),
        (["--device-clock"], ["--device-clock needs a device profile"]),
        (["--profile", "myo", "--view"], ["--view", "'emg'"]),
        (["--profile", "myo", "--fs", "2000"], ["runs the engine at 1000 Hz"]),
    ):
        result = CliRunner().invoke(cli, ["run", "--duration", "0", *args])
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, result.output
        assert all(w in errors[0] for w in words), result.output
