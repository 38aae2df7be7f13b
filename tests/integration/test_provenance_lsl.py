"""The ``<prefix>-provenance`` stream of a real simulator, read over LSL next to the EMG and IMU streams."""

from __future__ import annotations

import threading

import numpy as np
import pylsl

from realtime.app.provenance import (
    EMG_INDEX,
    EMG_PUSH_TIME,
    EMG_SAMPLES,
    IMU_READ_TIME,
    IMU_SEQ,
    IMU_TIME,
    PROVENANCE_CHANNELS,
)
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.app.sources import build_source
from tests.helpers import wait_until
from tests.helpers.lsl import open_inlet


def _inlet(name: str) -> pylsl.StreamInlet:
    return open_inlet(name, timeout=30.0, max_buflen=30)


def _drain(inlet: pylsl.StreamInlet, n_ch: int, dtype, into: tuple[list, list]) -> None:
    buf = np.empty((1024, n_ch), dtype)
    while True:
        _, ts = inlet.pull_chunk(timeout=0.0, max_samples=1024, dest_obj=buf)
        if not ts:
            return
        into[0].append(buf[: len(ts)].copy())
        into[1].append(np.asarray(ts))


def test_every_emg_block_has_a_provenance_row_naming_an_imu_sample_seen_on_the_imu_stream(lsl_prefix: str) -> None:
    fs, block, duration = 1000.0, 4, 2.0
    config = SimulatorConfig(prefix=lsl_prefix, fs=fs, block_size=block, duration=duration, activation="teacher",
                             units_per_muscle=20)
    sim = Simulator(config, build_source({"source": "synthetic", "imu_rate": 200.0}))
    starter = threading.Thread(target=sim.start, kwargs={"wait_for_consumer": 30.0})
    starter.start()
    try:
        prov_in = _inlet(f"{lsl_prefix}-provenance")
        info = prov_in.info(timeout=5.0)
        labels, ch = [], info.desc().child("channels").child("channel")
        while not ch.empty():
            labels.append(ch.child_value("label"))
            ch = ch.next_sibling()
        assert labels == list(PROVENANCE_CHANNELS)
        assert info.channel_format() == pylsl.cf_double64
        assert info.nominal_srate() == fs / block
        imu_in = _inlet(f"{lsl_prefix}-IMU")
        emg_in = _inlet(f"{lsl_prefix}-EMG")  # last: the runner starts once the EMG stream has a consumer
        starter.join(30.0)
        prov, imu, emg = ([], []), ([], []), ([], [])
        arrivals: list[tuple[float, float]] = []  # (timestamp of the newest EMG sample, arrival)
        n_total = int(duration * fs)

        def every_emg_sample() -> bool:
            before = len(emg[1])
            _drain(emg_in, 8, np.float32, emg)
            if len(emg[1]) > before:
                arrivals.append((float(emg[1][-1][-1]), pylsl.local_clock()))
            _drain(prov_in, len(PROVENANCE_CHANNELS), np.float64, prov)
            _drain(imu_in, 6, np.float32, imu)
            return sum(len(t) for t in emg[1]) >= n_total

        wait_until(every_emg_sample, 60.0, 0.0005, f"{n_total} EMG samples")
        assert sim.wait(timeout=30.0)

        def the_last_rows_and_imu_samples() -> bool:
            _drain(prov_in, len(PROVENANCE_CHANNELS), np.float64, prov)
            _drain(imu_in, 6, np.float32, imu)
            if sum(len(t) for t in prov[1]) < n_total // block:
                return False
            newest = int(np.concatenate(prov[0])[:, IMU_SEQ].max())
            return sum(len(t) for t in imu[1]) > newest  # the IMU sample the last row names arrived

        wait_until(the_last_rows_and_imu_samples, 10.0, 0.01, "a provenance row per EMG block and their IMU samples")
    finally:
        sim.stop()

    emg_t = np.concatenate(emg[1])
    rows, row_t = np.concatenate(prov[0]), np.concatenate(prov[1])
    imu_t = np.concatenate(imu[1])
    assert emg_t.size == n_total
    # One row per EMG block, in order, stamped with the block's last-sample timestamp.
    assert np.array_equal(rows[:, EMG_INDEX], np.arange(0, n_total, block))
    assert np.all(rows[:, EMG_SAMPLES] == block)
    np.testing.assert_allclose(row_t, emg_t[block - 1::block], rtol=0, atol=1e-9)
    seq = rows[:, IMU_SEQ].astype(np.int64)
    have = seq >= 0
    assert have.mean() > 0.9  # only the first blocks, before the first IMU sample, have none
    assert np.all(np.diff(seq[have]) >= 0)
    assert seq[have][-1] > 0.9 * duration * 200.0
    # The named sample is sample number `seq` of the IMU stream, with the same timestamp.
    np.testing.assert_array_equal(rows[have, IMU_TIME], imu_t[seq[have]])
    # Causality: read before pushed, pushed once due; the IMU sample is older than the EMG it shaped.
    assert np.all(rows[have, IMU_READ_TIME] <= rows[have, EMG_PUSH_TIME])
    assert np.all(rows[:, EMG_PUSH_TIME] >= row_t)
    assert np.all(rows[have, IMU_TIME] <= rows[have, IMU_READ_TIME])
    # What a consumer computes: IMU sample time -> EMG arrival, always positive.
    arr_t, arr = np.array(arrivals).T
    first_with = np.searchsorted(row_t, arr_t, side="right") - 1
    ok = (first_with >= 0) & have[np.maximum(first_with, 0)]
    latency = arr[ok] - rows[first_with[ok], IMU_TIME]
    assert latency.size > 100
    assert np.all(latency > 0)
