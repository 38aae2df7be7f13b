"""Recording loaders (CSV, XDF written per the XDF spec), EMG envelopes and dataset splits."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from realtime.app.training.data import (
    DataError,
    emg_envelope,
    envelope_corners,
    load_csv,
    load_xdf,
    recordings_dataset,
)

IMU_NAMES = ["ax", "ay", "az", "gx", "gy", "gz"]


def _fake_session(fs_imu: float, fs_emg: float, seconds: float, seed: int = 0):  # noqa: ANN202
    """IMU (g, deg/s) and 2-channel EMG whose amplitude follows a slow known envelope."""
    rng = np.random.default_rng(seed)
    t_imu = np.arange(int(seconds * fs_imu)) / fs_imu
    imu = np.stack([np.sin(t_imu), np.cos(t_imu), np.full_like(t_imu, 1.0),
                    30 * np.sin(2 * t_imu), np.zeros_like(t_imu), 90 * np.cos(t_imu)], axis=1)
    t_emg = np.arange(int(seconds * fs_emg)) / fs_emg
    amp = np.stack([1 + np.sin(2 * np.pi * 0.5 * t_emg), 1 + np.cos(2 * np.pi * 0.3 * t_emg)], axis=1)
    emg = amp * rng.normal(size=amp.shape) * 50.0 + 3.0  # an offset the high-pass removes
    return t_imu, imu, t_emg, emg, amp


# --------------------------------------------------------------------------- CSV
def _write_csv(path: Path, fs: float, seconds: float, seed: int = 0, delim: str = ",", header: bool = True) -> np.ndarray:
    t, imu, _, emg, amp = _fake_session(fs, fs, seconds, seed)
    rows = np.concatenate([t[:, None], imu, emg], axis=1)
    with path.open("w") as f:
        if header:
            f.write(delim.join(["time", *IMU_NAMES, "emg1", "emg2"]) + "\n")
        for r in rows:
            f.write(delim.join(f"{v:.6f}" for v in r) + "\n")
    return amp


def test_csv_by_names_and_units(tmp_path: Path) -> None:
    _write_csv(tmp_path / "a.csv", 200.0, 4.0)
    rec = load_csv(tmp_path / "a.csv", IMU_NAMES, ["emg1", "emg2"], 200.0, acc_unit="g", gyro_unit="deg/s")
    assert rec.imu.shape == (800, 6)
    assert rec.emg.shape == (800, 2)
    assert rec.emg_names == ("emg1", "emg2")
    assert rec.imu[0, 2] == pytest.approx(9.80665)  # 1 g
    assert rec.imu[0, 5] == pytest.approx(math.radians(90.0), rel=1e-5)
    np.testing.assert_allclose(np.diff(rec.t_imu), 1 / 200.0)
    assert rec.emg_fs == rec.imu_fs == pytest.approx(200.0)  # from the time column, as replay times it


def test_csv_by_indices_semicolons_no_header(tmp_path: Path) -> None:
    _write_csv(tmp_path / "b.csv", 100.0, 3.0, delim=";", header=False)
    rec = load_csv(tmp_path / "b.csv", [str(i) for i in range(1, 7)], ["7"], 100.0)
    assert rec.imu.shape == (300, 6)
    assert rec.emg.shape == (300, 1)
    assert rec.imu[0, 2] == pytest.approx(1.0)  # m/s2 by default: unchanged


def test_csv_errors(tmp_path: Path) -> None:
    _write_csv(tmp_path / "c.csv", 100.0, 1.0)
    with pytest.raises(DataError, match=r"--emg-cols column 'emg9' does not exist; the columns are \['time'"):
        load_csv(tmp_path / "c.csv", IMU_NAMES, ["emg9"], 100.0)
    with pytest.raises(DataError, match="needs 6 columns"):
        load_csv(tmp_path / "c.csv", IMU_NAMES[:5], ["emg1"], 100.0)
    with pytest.raises(DataError, match="'--fs'"):
        load_csv(tmp_path / "c.csv", IMU_NAMES, ["emg1"], 0.0)
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "missing.csv", IMU_NAMES, ["emg1"], 100.0)
    lines = (tmp_path / "c.csv").read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "nan", 1)
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"NaN/inf values \(first at sample 4, column 'az'\)"):
        load_csv(tmp_path / "d.csv", IMU_NAMES, ["emg1"], 100.0)
    lines[6] = "1,2,3"
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 7: cannot read"):
        load_csv(tmp_path / "e.csv", IMU_NAMES, ["emg1"], 100.0)


# --------------------------------------------------------------------------- XDF
def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    """An XDF chunk: [NumLengthBytes][Length][Tag uint16][Content]; Length counts tag + content."""
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def write_xdf(path: Path, streams: list[dict]) -> None:
    """Write an XDF 1.0 file (FileHeader, StreamHeader, Samples, ClockOffset, StreamFooter chunks).

    Each stream: ``name``, ``type``, ``fs``, ``labels``, ``t`` (n,), ``x`` (n, c) float32.
    """
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, start=1):
        chans = "".join(f"<channel><label>{lab}</label></channel>" for lab in s["labels"])
        header = (
            f'<?xml version="1.0"?><info><name>{s["name"]}</name><type>{s["type"]}</type>'
            f"<channel_count>{len(s['labels'])}</channel_count><nominal_srate>{s['fs']}</nominal_srate>"
            f"<channel_format>float32</channel_format><source_id>src{sid}</source_id><created_at>0</created_at>"
            f"<desc><channels>{chans}</channels></desc></info>"
        )
        out += _chunk(2, struct.pack("<I", sid) + header.encode())
    for sid, s in enumerate(streams, start=1):
        t, x = s["t"], np.asarray(s["x"], "<f4")
        for a in range(0, len(t), 100):  # several Samples chunks per stream
            body = bytearray(struct.pack("<I", sid) + _varlen(len(t[a : a + 100])))
            for ti, xi in zip(t[a : a + 100], x[a : a + 100]):
                body += struct.pack("<Bd", 8, ti) + xi.tobytes()
            out += _chunk(3, bytes(body))
        out += _chunk(4, struct.pack("<Idd", sid, t[-1], 0.0))  # ClockOffset: collection time, offset
    for sid, s in enumerate(streams, start=1):
        footer = (
            f'<?xml version="1.0"?><info><first_timestamp>{s["t"][0]}</first_timestamp>'
            f"<last_timestamp>{s['t'][-1]}</last_timestamp><sample_count>{len(s['t'])}</sample_count></info>"
        )
        out += _chunk(6, struct.pack("<I", sid) + footer.encode())
    path.write_bytes(bytes(out))


def _xdf_session(path: Path, seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    t_imu, imu, t_emg, emg, amp = _fake_session(50.0, 200.0, seconds, seed)
    write_xdf(path, [
        {"name": "MyIMU", "type": "IMU", "fs": 50.0, "labels": ["q", *IMU_NAMES], "t": 100.0 + t_imu,
         "x": np.concatenate([np.zeros((len(t_imu), 1)), imu], axis=1)},
        {"name": "MyEMG", "type": "EMG", "fs": 200.0, "labels": ["emg1", "emg2"], "t": 100.25 + t_emg, "x": emg},
    ])
    return amp


def test_xdf_two_rates_aligned_by_time(tmp_path: Path) -> None:
    _xdf_session(tmp_path / "s.xdf")
    rec = load_xdf(tmp_path / "s.xdf", "MyIMU", "MyEMG", imu_cols=IMU_NAMES, acc_unit="g", gyro_unit="deg/s")
    assert rec.imu.shape == (300, 6)
    assert rec.emg.shape == (1200, 2)
    assert rec.emg_names == ("emg1", "emg2")
    assert rec.emg_fs == 200.0
    assert rec.imu_fs == 50.0
    assert rec.imu[0, 2] == pytest.approx(9.80665, rel=1e-6)
    assert rec.t_emg[0] - rec.t_imu[0] == pytest.approx(0.25, abs=1e-6)
    ds = recordings_dataset([rec], 100.0, 25.0, receptive_field=20, val_fraction=0.25)
    # IMU and EMG overlap from t=100.25 to the end of the IMU: (6 - 0.02 - 0.25) s at 100 Hz.
    n = sum(len(s) for s in ds.train + ds.val)
    assert abs(n - 573) <= 2
    assert [s.name for s in ds.train + ds.val] == ["s.xdf[train]", "s.xdf[val]"]


def test_xdf_errors(tmp_path: Path) -> None:
    _xdf_session(tmp_path / "s.xdf")
    with pytest.raises(DataError, match=r"no stream named 'Nope'.*the file has \['MyEMG', 'MyIMU'\]"):
        load_xdf(tmp_path / "s.xdf", "Nope", "MyEMG")
    with pytest.raises(DataError, match="--imu-cols column 'zz' does not exist"):
        load_xdf(tmp_path / "s.xdf", "MyIMU", "MyEMG", imu_cols=["zz", *IMU_NAMES[1:]])
    (tmp_path / "bad.xdf").write_bytes(b"XDF:garbage")
    with pytest.raises(DataError, match="could not be read as XDF|holds no streams"):
        load_xdf(tmp_path / "bad.xdf", "MyIMU", "MyEMG")


# --------------------------------------------------------------------------- envelopes and splits
def test_envelope_corners_adapt_to_rate() -> None:
    assert envelope_corners(2000.0) == (20.0, 5.0)
    assert envelope_corners(200.0) == (20.0, 5.0)
    assert envelope_corners(100.0) == (10.0, 2.5)


@pytest.mark.parametrize("fs", [200.0, 2000.0])
def test_envelope_follows_amplitude(fs: float) -> None:
    _, _, _, emg, amp = _fake_session(fs, fs, 20.0, seed=1)
    env = emg_envelope(emg, fs)
    for j in range(2):
        core = slice(int(2 * fs), int(18 * fs))
        assert np.corrcoef(env[core, j], amp[core, j])[0, 1] > 0.95
    with pytest.raises(DataError, match="envelope needs at least"):
        emg_envelope(emg[:20], fs)


def test_recordings_split_whole_files_and_scale(tmp_path: Path) -> None:
    recs = []
    for i in range(4):
        _write_csv(tmp_path / f"r{i}.csv", 200.0, 5.0, seed=i)
        recs.append(load_csv(tmp_path / f"r{i}.csv", IMU_NAMES, ["emg1", "emg2"], 200.0))
    ds = recordings_dataset(recs, 100.0, 25.0, receptive_field=30, val_fraction=0.25, seed=1)
    assert len(ds.train) == 3
    assert len(ds.val) == 1
    assert {s.group for s in ds.train}.isdisjoint({s.group for s in ds.val})
    assert all(len(s) == len(s.y) and s.angles is None for s in ds.train + ds.val)
    assert ds.target == "emg-envelope"
    assert len(ds.target_scale) == 2
    assert ds.outputs == ("emg1", "emg2")
    y = np.concatenate([s.y for s in ds.train])
    assert y.min() >= 0
    assert y.max() <= 1
    assert np.mean(y >= 1) < 0.02
    again = recordings_dataset(recs, 100.0, 25.0, 30, 0.25, seed=1, target_scale=ds.target_scale)
    np.testing.assert_array_equal(again.val[0].y, ds.val[0].y)


def test_short_recording_is_accepted_and_no_recordings_refused(tmp_path: Path) -> None:
    _write_csv(tmp_path / "s.csv", 200.0, 2.0)
    rec = load_csv(tmp_path / "s.csv", IMU_NAMES, ["emg1"], 200.0)
    # Shorter than the receptive field is fine now (training primes with the first sample, as streaming does).
    ds = recordings_dataset([rec], 100.0, 25.0, receptive_field=400)
    assert all(len(s) < 400 for s in ds.train + ds.val)
    with pytest.raises(DataError, match="No recordings"):
        recordings_dataset([], 100.0, 25.0, receptive_field=10)
