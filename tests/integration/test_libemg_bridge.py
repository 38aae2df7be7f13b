"""The libemg bridge (examples/libemg_bridge.py): libemg's shared-memory layout, clean-up, prefixes that coexist."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import numpy as np
import pylsl
import pytest

from tests.helpers import REPO_ROOT, unique_name

BRIDGE = REPO_ROOT / "examples" / "libemg_bridge.py"
CHANNELS, FS = 8, 1000.0


def _outlet(name: str) -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, "EMG", CHANNELS, FS, "float32", name)
    return pylsl.StreamOutlet(info)


def _samples(start: int, n: int, offset: float = 0.0) -> np.ndarray:
    """Rows whose values say which sample and channel they are: 10 * index + channel + offset."""
    k = np.arange(start, start + n, dtype=np.float64)[:, None]
    return (10.0 * k + np.arange(CHANNELS)[None, :] + offset).astype(np.float32)


def _attach(name: str, shape: tuple[int, ...], dtype: type) -> tuple[SharedMemory, np.ndarray]:
    """Attach to a bridge's shared memory as libemg's reader does (without adopting it for clean-up)."""
    shm = SharedMemory(name, create=False)
    resource_tracker.unregister(shm._name, "shared_memory")  # the bridge owns it, not this process
    return shm, np.ndarray(shape, dtype, buffer=shm.buf)


def _exists(name: str) -> bool:
    try:
        shm = SharedMemory(name, create=False)
    except FileNotFoundError:
        return False
    resource_tracker.unregister(shm._name, "shared_memory")
    shm.close()
    return True


def _start_bridge(stream: str, prefix: str, seconds: float = 2.0) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(BRIDGE), "--stream", stream, "--prefix", prefix, "--seconds", str(seconds),
         "--resolve-timeout", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    line = proc.stdout.readline()  # the bridge announces its shared memory once it exists
    assert f"'{prefix}emg'" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def _push_until_counted(outlet: pylsl.StreamOutlet, count: np.ndarray, rows: np.ndarray, chunk: int = 25) -> None:
    """Push ``rows`` in chunks, then wait (deadline loop) until the bridge has counted them all."""
    time.sleep(0.2)  # the inlet's subscription reaches the outlet
    for start in range(0, len(rows), chunk):
        outlet.push_chunk(rows[start:start + chunk])
        time.sleep(chunk / FS)
    deadline = time.monotonic() + 20.0
    while int(count[0, 0]) < len(rows) and time.monotonic() < deadline:
        time.sleep(0.01)


def _stop(proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out + err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_bridge_delivers_every_sample_newest_first_and_cleans_up(sig: int) -> None:
    stream, prefix = unique_name("libemg"), unique_name("p") + "_"
    outlet = _outlet(stream)
    proc = _start_bridge(stream, prefix, seconds=2.0)
    try:
        rows = int(2.0 * FS)
        data_shm, data = _attach(prefix + "emg", (rows, CHANNELS), np.double)
        count_shm, count = _attach(prefix + "emg_count", (1, 1), np.int32)
        sent = _samples(0, 2600)  # more than the buffer holds: the oldest fall off the end
        _push_until_counted(outlet, count, sent)
        assert int(count[0, 0]) == len(sent)  # every sample counted, none twice
        # libemg's layout: row 0 is the newest sample, row k the k-th before it; float64.
        np.testing.assert_array_equal(data, sent[::-1][:rows].astype(np.float64))
        del data, count
        data_shm.close()
        count_shm.close()
    finally:
        code, text = _stop(proc, sig)
    assert code == 0, text
    assert "2600 samples bridged" in text
    assert not _exists(prefix + "emg")
    assert not _exists(prefix + "emg_count")


def test_two_bridges_with_different_prefixes_coexist_and_a_taken_prefix_is_refused() -> None:
    streams = [unique_name("libemgA"), unique_name("libemgB")]
    prefixes = [unique_name("a") + "_", unique_name("b") + "_"]
    outlets = [_outlet(s) for s in streams]
    procs = [_start_bridge(s, p) for s, p in zip(streams, prefixes)]
    try:
        views = []
        for p in prefixes:
            views.append((_attach(p + "emg", (2000, CHANNELS), np.double), _attach(p + "emg_count", (1, 1), np.int32)))
        sent = [_samples(0, 300, offset=0.25), _samples(0, 500, offset=0.5)]
        for outlet, ((_, _), (_, count)), rows in zip(outlets, views, sent):
            _push_until_counted(outlet, count, rows)
        for ((_, data), (_, count)), rows in zip(views, sent):
            assert int(count[0, 0]) == len(rows)
            np.testing.assert_array_equal(data[: len(rows)], rows[::-1].astype(np.float64))
            assert not data[len(rows):].any()  # nothing from the other bridge's stream
        # A third bridge on a prefix in use refuses, naming the shared memory, and leaves it alone.
        clash = subprocess.run(
            [sys.executable, str(BRIDGE), "--stream", streams[0], "--prefix", prefixes[0], "--resolve-timeout", "20"],
            capture_output=True, text=True, timeout=60, env=os.environ.copy(),
        )
        assert clash.returncode == 1
        assert f"'{prefixes[0]}emg'" in clash.stderr
        assert "--prefix" in clash.stderr
        assert len(clash.stderr.strip().splitlines()) == 1
        (_, data0), (_, count0) = views[0]
        assert int(count0[0, 0]) == len(sent[0])
        del data0, count0
        for (shm_d, _), (shm_c, _) in views:
            shm_d.close()
            shm_c.close()
        views.clear()
    finally:
        results = [_stop(p, signal.SIGINT) for p in procs]
    assert all(code == 0 for code, _ in results), results
    for p in prefixes:
        assert not _exists(p + "emg")


def test_lsl_streamer_runs_like_a_libemg_streamer_and_shares_its_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BRIDGE.parent))  # the bridge process imports this file as libemg_bridge
    bridge = importlib.import_module("libemg_bridge")
    stream, prefix = unique_name("libemgP"), unique_name("q") + "_"
    outlet = _outlet(stream)
    process, items = bridge.lsl_streamer(stream, prefix=prefix, seconds=1.0, resolve_timeout=20.0)
    try:
        assert [i[0] for i in items] == [prefix + "emg", prefix + "emg_count"]
        assert items[0][1:3] == [(1000, CHANNELS), np.double]
        assert items[1][1:3] == [(1, 1), np.int32]
        data_shm, data = _attach(prefix + "emg", items[0][1], np.double)
        count_shm, count = _attach(prefix + "emg_count", (1, 1), np.int32)
        sent = _samples(0, 400)
        _push_until_counted(outlet, count, sent)
        with items[0][3]:  # the reader's lock: what libemg's SharedMemoryManager.get_variable takes
            snapshot = data[:400].copy()
        np.testing.assert_array_equal(snapshot, sent[::-1].astype(np.float64))
        del data, count
        data_shm.close()
        count_shm.close()
    finally:
        process.stop()
    assert process.exitcode == 0
    assert not _exists(prefix + "emg")


def test_bad_prefix_is_one_clear_line() -> None:
    result = subprocess.run([sys.executable, str(BRIDGE), "--prefix", "a/b", "--resolve-timeout", "0.1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "libemg_bridge: The tag prefix must be at most 40 letters, digits, '_', '.' or '-' (e.g. 'left_'). "
        "'a/b' is invalid."
    )


@pytest.mark.skipif(not os.environ.get("MYOSTREAM_LIBEMG_PYTHON"),
                    reason="set MYOSTREAM_LIBEMG_PYTHON to a Python with libemg installed (it pins numpy<2)")
def test_libemg_online_data_handler_reads_the_bridge(tmp_path: Path) -> None:
    """libemg's own reader (OnlineDataHandler) sees every sample, newest first."""
    script = tmp_path / "check.py"
    body = (
        f"name = {unique_name('libemgO')!r}\n"
        f"out = pylsl.StreamOutlet(pylsl.StreamInfo(name, 'EMG', {CHANNELS}, {FS}, 'float32', name))\n"
        "proc, smi = lb.lsl_streamer(name, prefix=name + '_', seconds=2.0, resolve_timeout=20)\n"
        "odh = OnlineDataHandler(smi)\n"
        "time.sleep(0.3)\n"
        f"rows = (np.arange(900)[:, None] * 10 + np.arange({CHANNELS})[None, :]).astype(np.float32)\n"
        "for s in range(0, 900, 30):\n"
        "    out.push_chunk(rows[s:s + 30]); time.sleep(0.03)\n"
        "deadline = time.monotonic() + 20\n"
        "while time.monotonic() < deadline:\n"
        "    val, count = odh.get_data()\n"
        "    if count[name + '_emg'][0, 0] >= 900: break\n"
        "    time.sleep(0.05)\n"
        "assert count[name + '_emg'][0, 0] == 900, count\n"
        "assert np.array_equal(val[name + '_emg'][:900], rows[::-1]), val\n"
        "proc.stop(); print('ok')\n"
    )
    script.write_text(  # the bridge process is spawned: the script needs the __main__ guard
        "import sys, time, numpy as np, pylsl\n"
        f"sys.path.insert(0, {str(BRIDGE.parent)!r})\n"
        "import libemg_bridge as lb\n"
        "from libemg.data_handler import OnlineDataHandler\n"
        "if __name__ == '__main__':\n" + "".join(f"    {line}\n" for line in body.splitlines())
    )
    result = subprocess.run([os.environ["MYOSTREAM_LIBEMG_PYTHON"], str(script)], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip().endswith("ok"), result.stdout + result.stderr


@pytest.mark.skipif(not os.environ.get("MYOSTREAM_LIBEMG_PYTHON"),
                    reason="set MYOSTREAM_LIBEMG_PYTHON to a Python with libemg installed (it pins numpy<2)")
def test_libemg_trains_on_a_gesture_protocol_and_classifies_online(lsl_prefix: str, tmp_path: Path) -> None:
    """examples/libemg_gestures.py end to end: collect a protocol, fit libemg's LDA, run its online classifier."""
    import json
    import threading

    from realtime.app.simulator import Simulator, SimulatorConfig
    from realtime.app.sources import build_source
    from realtime.body.gestures import protocol

    python, example = os.environ["MYOSTREAM_LIBEMG_PYTHON"], str(REPO_ROOT / "examples" / "libemg_gestures.py")
    spec = protocol(reps=1, hold=1.5, rest=0.5, start=1.0)

    def session(seed: int, tag: str, *step: str) -> str:
        config = SimulatorConfig(prefix=f"{lsl_prefix}{tag}", fs=1000.0, block_size=4, duration=18.0, seed=seed,
                                 activation="teacher", units_per_muscle=40, gestures=spec)
        sim = Simulator(config, build_source({"source": "synthetic", "motion": "rest", "seed": seed}))
        starter = threading.Thread(target=sim.start, kwargs={"wait_for_consumer": 60.0}, daemon=True)
        starter.start()
        try:
            result = subprocess.run([python, example, *step], capture_output=True, text=True, timeout=180)
        finally:
            starter.join(60.0)
            sim.wait(60.0)
            sim.stop()
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    session(1, "a", "collect", "--prefix", f"{lsl_prefix}a", "--out", str(tmp_path / "a.npz"))
    session(2, "b", "collect", "--prefix", f"{lsl_prefix}b", "--out", str(tmp_path / "b.npz"))
    trained = subprocess.run([python, example, "train", "--data", str(tmp_path / "a.npz"), "--test",
                              str(tmp_path / "b.npz"), "--model", str(tmp_path / "lda.pkl")],
                             capture_output=True, text=True, timeout=180)
    line = next(x for x in trained.stdout.splitlines() if x.startswith("train: "))
    result = json.loads(line[len("train: "):])
    assert set(result["test_accuracy_per_class"]) == {str(c) for c in range(len(spec) + 1)}
    assert result["test_accuracy"] > 1.0 / 9  # far above chance; the realistic figure is a benchmark's job
    online = session(3, "c", "online", "--prefix", f"{lsl_prefix}c", "--model", str(tmp_path / "lda.pkl"),
                     "--seconds", "12", "--bridge-prefix", unique_name("o") + "_", "--port", "12399")
    scored = json.loads(next(x for x in online.splitlines() if x.startswith("online: "))[len("online: "):])
    assert scored["decisions"] > 50
