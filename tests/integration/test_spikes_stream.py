"""The ``<prefix>-spikes`` stream: an LSL consumer receives exactly the engine's discharges."""

from __future__ import annotations

import numpy as np
import pylsl
from numpy.testing import assert_allclose

from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.core.anatomy import MUSCLES
from realtime.core.schemas import SPIKE_CHANNELS
from tests.helpers import wait_until
from tests.helpers.lsl import open_inlet
from tests.helpers.scripted import ScriptedImu, Tap


def _ramp_to_half(t: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Every muscle ramps from 0.1 to 0.5 over 2 s."""
    level = 0.1 + 0.4 * np.clip(t / 2.0, 0.0, 1.0)
    return np.repeat(level[:, None], len(MUSCLES), axis=1)


def _discharges(tap: Tap) -> list:
    return [b.events["discharges"] for b in tap.blocks if "discharges" in b.events]


def test_lsl_consumer_receives_exactly_the_engine_discharges(lsl_prefix: str, fake_clock) -> None:
    fs, duration = 2000.0, 2.5
    config = SimulatorConfig(prefix=lsl_prefix, fs=fs, block_size=4, duration=duration, activation="teacher",
                             units_per_muscle=12)
    sim = Simulator(config, ScriptedImu(fake_clock, _ramp_to_half, muscles=MUSCLES), clock=fake_clock, sleep=fake_clock.sleep)
    recorder = Tap(sim.engine)
    sim.pipeline.stages = (recorder, *sim.pipeline.stages[1:])
    for outlet in sim.outlets:
        outlet.start()
    try:
        inlet = open_inlet(f"{lsl_prefix}-spikes")
        info = inlet.info(10.0)
        sim.pipeline.start()
        assert sim.wait(timeout=60.0)
        expected_n = sum(len(d) for d in _discharges(recorder))
        rows, stamps = [], []

        def all_of_them() -> bool:
            chunk, ts = inlet.pull_chunk(timeout=0.2, max_samples=4096)
            rows.extend(chunk)
            stamps.extend(ts)
            return len(stamps) >= expected_n

        wait_until(all_of_them, 30.0, 0.0, f"{expected_n} discharges on the spikes stream")
    finally:
        sim.stop()

    # The stream's description.
    assert info.type() == "Spikes"
    assert info.channel_format() == pylsl.cf_double64
    assert info.nominal_srate() == pylsl.IRREGULAR_RATE
    labels, ch = [], info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    assert tuple(labels) == SPIKE_CHANNELS == ("muscle", "unit", "sample")
    assert info.desc().child("spikes").child_value("muscles") == ",".join(MUSCLES)

    # Exactly the engine's discharges, in order, none lost, none twice.
    sample = np.concatenate([d.sample for d in _discharges(recorder)])
    muscle = np.concatenate([d.muscle for d in _discharges(recorder)])
    unit = np.concatenate([d.unit for d in _discharges(recorder)])
    assert sample.size > 300  # 8 muscles × a few units at 10-25 Hz for 2.5 s
    got = np.asarray(rows)
    assert got.shape == (sample.size, 3)
    assert np.array_equal(got[:, 0], muscle)
    assert np.array_equal(got[:, 1], unit)
    assert np.array_equal(got[:, 2], sample)
    assert set(np.unique(muscle)) == set(range(len(MUSCLES)))
    assert sample.min() >= 0
    assert sample.max() < duration * fs
    # The LSL time of each discharge is the timestamp of its EMG sample: t0 + sample / fs.
    t0 = sim.pipeline.stats.t0
    assert_allclose(np.asarray(stamps), t0 + sample / fs, rtol=0, atol=1e-9)
