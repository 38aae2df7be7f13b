"""``record``: which streams are chosen, and the one-line errors (no LSL: the resolver is injected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.app.recorder import FoundStream, RecordError, XdfRecorder, find_streams


class Info:
    def __init__(self, name: str, kind: str = "EMG", sid: str = "") -> None:
        self._n, self._k, self._s = name, kind, sid or f"{name}-id"

    def name(self) -> str:
        return self._n

    def type(self) -> str:
        return self._k

    def source_id(self) -> str:
        return self._s

    def channel_count(self) -> int:
        return 8

    def nominal_srate(self) -> float:
        return 1000.0

    def hostname(self) -> str:
        return "here"


def resolver(*names: str):  # noqa: ANN201
    return lambda timeout: [Info(n) for n in names]


def test_every_prefix_stream_and_the_named_ones_are_chosen() -> None:
    res = resolver("lab-EMG", "lab-IMU", "other-EMG", "Amp", "IMU9")
    got = find_streams("lab", ["Amp"], 2.0, res)
    assert [s.name for s in got] == ["lab-EMG", "lab-IMU", "Amp"]
    assert got[0].predicate == {"name": "lab-EMG", "source_id": "lab-EMG-id"}
    only = find_streams(None, ["Amp", "IMU9"], 2.0, res)
    assert [s.name for s in only] == ["Amp", "IMU9"]


def test_missing_streams_fail_in_one_line_listing_what_is_there() -> None:
    with pytest.raises(RecordError) as err:
        find_streams("lab", ["Amp"], 0.2, resolver("lab-EMG"))
    assert "['Amp']" in str(err.value)
    assert "visible: lab-EMG" in str(err.value)
    with pytest.raises(RecordError, match="launch.py run --name lab"):
        find_streams("lab", [], 0.2, resolver("x-EMG"))


def test_recorder_refuses_to_replace_a_file_or_write_other_formats(tmp_path: Path) -> None:
    s = [FoundStream("a", "EMG", "id", 8, 1000.0, "here")]
    (tmp_path / "r.xdf").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="--force"):
        XdfRecorder(tmp_path / "r.xdf", s)
    with pytest.raises(RecordError, match=".xdf"):
        XdfRecorder(tmp_path / "r.csv", s)
    assert XdfRecorder(tmp_path / "r.xdf", s, overwrite=True).streams == tuple(s)
