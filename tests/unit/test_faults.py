"""Fault injection: file format, every kind exactly where the script says, streaming == offline, run-time API."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from realtime.core.block import Block
from realtime.stages.faults import (
    FAULT_KINDS,
    Fault,
    FaultStage,
    apply_faults,
    load_faults,
    parse_faults,
)
from tests.helpers import REPO_ROOT

FS = 1000.0
LABELS = tuple(f"EMG{k}" for k in range(1, 9))
EXAMPLES = REPO_ROOT / "examples" / "faults"


def _emg(n: int = 6000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 50, (n, len(LABELS))).astype(np.float32)


def _stream(faults, emg: np.ndarray, block: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list]:
    stage = FaultStage(faults, FS, LABELS, seed)
    stage.reset(max_block=block)
    data, samples, markers, seq = [], [], [], 0
    while seq < emg.shape[0]:
        n = min(block, emg.shape[0] - seq)
        out = stage.process(Block(emg[seq : seq + n].copy(), np.arange(seq, seq + n, dtype=float), FS, seq, LABELS))
        data.append(out.data)
        samples.append(out.timestamps)
        markers += [(text, int(ts)) for text, ts in out.events.get("markers", ())]
        seq += n
    return np.concatenate(data), np.concatenate(samples).astype(np.int64), markers


SCRIPT = (
    Fault("gain", 0.2, 0.1, ["EMG1"], {"factor": 3.0}),
    Fault("liftoff", 0.5, 2.0, ["EMG3", "EMG4"], {"swing_s": 1.0}),
    Fault("dropout", 1.0, 0.5, ["EMG2"], {"value": 7.0}),
    Fault("clipping", 2.0, 0.3, "all", {"range_uv": 20.0}),
    Fault("sample_loss", 3.0, 1.0, None, {"loss": 0.5, "burst_ms": 30.0}),
    Fault("crosstalk", 4.2, 0.5, ["EMG1"], {"amount": 0.5}),
    Fault("dropout", 5.0, None, ["EMG8"]),
)


@pytest.mark.parametrize("block", [1, 7, 40, 2500])
def test_streaming_equals_offline_for_any_block_size(block: int) -> None:
    emg = _emg()
    ref = apply_faults(emg, SCRIPT, FS, LABELS, seed=3)
    data, samples, markers = _stream(SCRIPT, emg, block, seed=3)
    assert np.array_equal(samples, ref.samples)
    assert_allclose(data, ref.data, rtol=0, atol=1e-3)
    assert markers == ref.markers


def test_each_kind_shows_exactly_where_the_script_says() -> None:
    emg = _emg()
    ref = apply_faults(emg, SCRIPT, FS, LABELS, seed=3)
    # Survivors: every sample outside the sample-loss window [3000, 4000), about half inside it, in bursts.
    lost = np.setdiff1d(np.arange(6000), ref.samples)
    assert lost.min() >= 3000
    assert lost.max() < 4000
    assert lost[0] == 3000  # a loss burst starts at the onset sample
    assert 0.35 < lost.size / 1000 < 0.65
    runs = np.split(lost, np.flatnonzero(np.diff(lost) > 1) + 1)
    assert 5 <= len(runs) <= 40
    assert np.mean([r.size for r in runs]) > 10
    full = np.full_like(emg, np.nan)
    full[ref.samples] = ref.data
    col = {label: i for i, label in enumerate(LABELS)}
    untouched = np.ones(emg.shape, bool)

    # gain ×3 on EMG1 over samples [200, 300)
    assert_allclose(full[200:300, 0], 3 * emg[200:300, 0], rtol=1e-6)
    assert_allclose(full[[199, 300], 0], emg[[199, 300], 0])
    untouched[200:300, 0] = False
    # dropout on EMG2 [1000, 1500): the flat value 7 µV
    assert np.all(full[1000:1500, col["EMG2"]] == 7.0)
    assert full[999, col["EMG2"]] == emg[999, col["EMG2"]]
    assert full[1500, col["EMG2"]] == emg[1500, col["EMG2"]]
    untouched[1000:1500, col["EMG2"]] = False
    # lift-off on EMG3, EMG4 [500, 2500): swings for 1 s, then the rail, exactly from sample 1500
    for c in (col["EMG3"], col["EMG4"]):
        swing = full[500:1500, c] - emg[500:1500, c]
        assert np.max(np.abs(swing[500:])) > 500.0  # large swings in the second half of the swing phase
        assert np.max(np.abs(swing[:5])) < 50.0  # they grow from zero at the onset
        rail = np.r_[full[1500:2000, c], full[2300:2500, c]]  # the clipping fault [2000, 2300) clips the rail
        assert np.all(np.abs(rail) == 5000.0)
        assert np.unique(rail).size == 1
        assert np.all(full[2000:2300, c] == np.sign(rail[0]) * 20.0)
        assert full[499, c] == emg[499, c]
        assert full[2500, c] == emg[2500, c]
        untouched[500:2500, c] = False
    # clipping at ±20 µV on every channel [2000, 2300) (the lift-off rail too)
    assert np.max(np.abs(full[2000:2300])) == 20.0
    assert np.sum(np.abs(full[2000:2300]) == 20.0) > 1000  # 50 µV RMS input: most samples clip
    assert np.max(np.abs(full[[1999, 2300]][:, [0, 1, 4, 5, 6, 7]])) > 20.0  # not before, not after
    untouched[2000:2300] = False
    # crosstalk into EMG1 [4200, 4700): EMG1 + 0.5 × mean(EMG8, EMG2)
    expected = emg[4200:4700, 0] + 0.5 * (emg[4200:4700, 7] + emg[4200:4700, 1]) / 2
    assert_allclose(full[4200:4700, 0], expected, rtol=1e-5, atol=1e-4)
    untouched[4200:4700, 0] = False
    # dropout of EMG8 from sample 5000 to the end (no duration)
    assert np.all(full[5000:, 7] == 0.0)
    assert full[4999, 7] == emg[4999, 7]
    untouched[5000:, 7] = False
    # Everything else is unchanged.
    untouched[lost] = False
    assert np.array_equal(full[untouched], emg[untouched])

    assert ref.markers == [
        ("fault start: gain ch=EMG1 id=1", 200),
        ("fault end: gain ch=EMG1 id=1", 300),
        ("fault start: liftoff ch=EMG3,EMG4 id=2", 500),
        ("fault start: dropout ch=EMG2 id=3", 1000),
        ("fault end: dropout ch=EMG2 id=3", 1500),
        ("fault start: clipping ch=all id=4", 2000),
        ("fault end: clipping ch=all id=4", 2300),
        ("fault end: liftoff ch=EMG3,EMG4 id=2", 2500),
        ("fault start: sample_loss ch=all id=5", 3000),
        ("fault end: sample_loss ch=all id=5", 4000),
        ("fault start: crosstalk ch=EMG1 id=6", 4200),
        ("fault end: crosstalk ch=EMG1 id=6", 4700),
        ("fault start: dropout ch=EMG8 id=7", 5000),
    ]


def test_onset_and_duration_are_rounded_to_the_sample_grid() -> None:
    fs = 2000.0
    # onset 0.10024 s -> sample 200.48 -> 200; 0.1 s = 200 samples.
    ref = apply_faults(np.ones((1000, 1), np.float32), [Fault("dropout", 0.10024, 0.1)], fs, ("EMG1",))
    flat = np.flatnonzero(ref.data[:, 0] == 0.0)
    assert flat[0] == 200
    assert flat[-1] == 399
    assert flat.size == 200
    assert ref.markers == [("fault start: dropout ch=all id=1", 200), ("fault end: dropout ch=all id=1", 400)]


def test_total_loss_removes_exactly_the_window() -> None:
    ref = apply_faults(_emg(2000), [Fault("sample_loss", 0.5, 0.25, params={"loss": 1.0})], FS, LABELS)
    assert np.array_equal(ref.samples, np.r_[0:500, 750:2000])


def test_loss_bursts_are_seeded() -> None:
    faults = [Fault("sample_loss", 0.0, 2.0)]
    a = apply_faults(_emg(2000), faults, FS, LABELS, seed=1).samples
    assert np.array_equal(a, apply_faults(_emg(2000), faults, FS, LABELS, seed=1).samples)
    assert not np.array_equal(a, apply_faults(_emg(2000), faults, FS, LABELS, seed=2).samples)


def test_inject_and_end_at_run_time_act_at_the_next_block() -> None:
    stage = FaultStage((), FS, LABELS)
    stage.reset(max_block=10)

    def block(seq: int) -> Block:
        return Block(np.ones((10, 8), np.float32), np.arange(seq, seq + 10, dtype=float), FS, seq, LABELS)

    assert np.all(stage.process(block(0)).data == 1.0)
    # From another thread, as a controller test script would.
    ids = []
    worker = threading.Thread(target=lambda: ids.append(stage.inject("gain", ["EMG4"], factor=2.0)))
    worker.start()
    worker.join()
    out = stage.process(block(10))
    assert ids == [1]
    assert np.all(out.data[:, 3] == 2.0)
    assert np.all(np.delete(out.data, 3, axis=1) == 1.0)
    assert out.events["markers"] == (("fault start: gain ch=EMG4 id=1", 10.0),)
    out = stage.process(block(20))
    assert np.all(out.data[:, 3] == 2.0)  # no duration: it lasts
    assert "markers" not in out.events
    stage.end(1)
    out = stage.process(block(30))
    assert np.all(out.data == 1.0)
    assert out.events["markers"] == (("fault end: gain ch=EMG4 id=1", 30.0),)
    # A timed injection with an onset in the future starts exactly there.
    fid = stage.inject("dropout", "all", duration=0.005, onset=0.045)
    out = stage.process(block(40))
    assert np.all(out.data[:5] == 1.0)
    assert np.all(out.data[5:] == 0.0)
    assert out.events["markers"] == ((f"fault start: dropout ch=all id={fid}", 45.0),)
    out = stage.process(block(50))
    assert np.all(out.data == 1.0)  # 5 samples long: [45, 50)
    assert out.events["markers"] == ((f"fault end: dropout ch=all id={fid}", 50.0),)
    # Cancelling a fault that has not started: no effect, no marker.
    fid = stage.inject("dropout", onset=10.0)
    stage.end(fid)
    out = stage.process(block(60))
    assert np.all(out.data == 1.0)
    assert "markers" not in out.events
    assert [sf.id for sf in stage.schedule] == [1, 2]
    assert stage.schedule[0].offset == 30
    with pytest.raises(ValueError, match="'fault_id'"):
        stage.end(99)
    with pytest.raises(ValueError, match="layout does not have"):
        stage.inject("gain", ["EMG9"])


def test_toml_and_json_files_give_the_same_faults(tmp_path: Path) -> None:
    toml = tmp_path / "f.toml"
    toml.write_text(
        '[[fault]]\nonset = 1.5\nduration = 0.5\nchannels = ["EMG3"]\nkind = "dropout"\n\n'
        '[[fault]]\nonset = 2\nkind = "clipping"\nchannels = "all"\nparams = { range_uv = 50 }\n'
    )
    js = tmp_path / "f.json"
    js.write_text(json.dumps({"faults": [
        {"onset": 1.5, "duration": 0.5, "channels": ["EMG3"], "kind": "dropout"},
        {"onset": 2, "kind": "clipping", "channels": "all", "params": {"range_uv": 50}},
    ]}))
    a, b = load_faults(toml), load_faults(js)
    assert a == b
    assert a[0] == Fault("dropout", 1.5, 0.5, ("EMG3",), {"value": 0.0})
    assert a[1].param("range_uv") == 50.0
    assert a[1].channels is None
    assert a[1].duration is None
    assert parse_faults([{"onset": 0, "kind": "gain"}])[0].param("factor") == 0.5  # a bare JSON list works


def test_shipped_examples_load_and_fit_the_default_layout() -> None:
    files = sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.json"))
    assert len(files) >= 2
    kinds = set()
    for path in files:
        faults = load_faults(path)
        FaultStage(faults, 2000.0, LABELS)  # channels exist in armband8
        kinds |= {f.kind for f in faults}
    assert kinds == set(FAULT_KINDS)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"onset": 1, "kind": "melt"}, "'kind' must be one of"),
        ({"kind": "gain"}, "needs 'onset'"),
        ({"onset": -1, "kind": "gain"}, "'onset'"),
        ({"onset": 1, "duration": 0, "kind": "gain"}, "'duration'"),
        ({"onset": 1, "kind": "gain", "params": {"gain": 2}}, "takes the parameters factor"),
        ({"onset": 1, "kind": "clipping", "params": {"range_uv": 0}}, "'range_uv'"),
        ({"onset": 1, "kind": "sample_loss", "params": {"loss": 1.5}}, "'loss'"),
        ({"onset": 1, "kind": "sample_loss", "channels": ["EMG1"]}, "every channel"),
        ({"onset": 1, "kind": "gain", "channel": ["EMG1"]}, "unknown keys"),
        ({"onset": 1, "kind": "gain", "channels": []}, "'channels'"),
    ],
)
def test_bad_entries_name_the_fault_and_the_rule(entry: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_faults({"faults": [{"onset": 0, "kind": "gain"}, entry]}, "my.json")
    assert "my.json: fault 2" in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_faults(tmp_path / "none.json")
    bad = tmp_path / "f.yaml"
    bad.write_text("x")
    with pytest.raises(ValueError, match=r"\.json or \.toml"):
        load_faults(bad)
    broken = tmp_path / "f.toml"
    broken.write_text("[[fault]\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_faults(broken)
    with pytest.raises(ValueError, match="layout does not have"):
        FaultStage([Fault("dropout", 0.0, 1.0, ["EMG12"])], FS, LABELS)
    with pytest.raises(ValueError, match="at least one sample"):
        FaultStage([Fault("dropout", 0.0, 1e-5)], FS, LABELS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[fault]]\nonset = 1\nkind = "drop"\n', "'kind' must be one of"),
        ('[[fault]]\nonset = 1\nkind = "dropout"\nchannels = ["EMG12"]\n', "layout does not have"),
    ],
)
def test_run_rejects_a_bad_fault_file_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    from click.testing import CliRunner

    from launch import cli

    path = tmp_path / "faults.toml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["run", "--faults", str(path), "--units", "2", "--duration", "0"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert message in errors[0]
