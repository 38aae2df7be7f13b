"""Faults through the simulator and real LSL inlets: markers at the fault samples, lost samples missing
from the EMG stream with the survivors on their true timestamps, run-time injection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pylsl
import pytest
from numpy.testing import assert_allclose

from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.core.anatomy import MUSCLES
from realtime.stages.artefacts import ArtefactSettings
from realtime.stages.faults import apply_faults, load_faults
from tests.helpers import wait_until
from tests.helpers.lsl import open_inlet
from tests.helpers.scripted import ScriptedImu, Tap

FS = 2000.0


class Collector:
    """Pulls an inlet into lists."""

    def __init__(self, inlet: pylsl.StreamInlet) -> None:
        self.inlet, self.values, self.stamps = inlet, [], []

    def pull(self) -> None:
        chunk, ts = self.inlet.pull_chunk(timeout=0.0, max_samples=8192)
        self.values += chunk
        self.stamps += ts


def _simulator(prefix: str, clock, **config) -> Simulator:
    cfg = SimulatorConfig(prefix=prefix, fs=FS, block_size=4, activation="teacher", units_per_muscle=8,
                          artefacts=ArtefactSettings(noise_uv=2.0), **config)
    return Simulator(cfg, ScriptedImu(clock, lambda t, k: np.full((t.size, len(MUSCLES)), 0.3), muscles=MUSCLES), clock=clock, sleep=clock.sleep)


def test_scripted_faults_reach_lsl_at_their_samples(lsl_prefix: str, fake_clock, tmp_path: Path) -> None:
    script = tmp_path / "faults.toml"
    script.write_text(
        '[[fault]]\nonset = 0.5\nduration = 0.25\nchannels = ["EMG2", "EMG3"]\nkind = "dropout"\n'
        'params = { value = 0.0 }\n\n'
        '[[fault]]\nonset = 1.0\nduration = 0.1\nkind = "sample_loss"\nparams = { loss = 1.0 }\n\n'
        '[[fault]]\nonset = 1.5\nduration = 0.2\nchannels = "all"\nkind = "clipping"\nparams = { range_uv = 5.0 }\n\n'
        '[[fault]]\nonset = 0.2\nduration = 0.6\nchannels = ["EMG6"]\nkind = "liftoff"\nparams = { swing_s = 0.3 }\n\n'
        '[[fault]]\nonset = 1.2\nduration = 0.2\nchannels = ["EMG1"]\nkind = "gain"\nparams = { factor = 4.0 }\n\n'
        '[[fault]]\nonset = 1.8\nduration = 0.1\nchannels = ["EMG8"]\nkind = "crosstalk"\nparams = { amount = 1.0 }\n'
    )
    faults = load_faults(script)
    sim = _simulator(lsl_prefix, fake_clock, duration=2.0, faults=faults)
    # Record what enters the fault stage, to compare the LSL output with the offline fault script.
    recorder = Tap(sim.artefact_stage)
    sim.pipeline.stages = (sim.engine, recorder, sim.fault_stage)
    for outlet in sim.outlets:
        outlet.start()
    try:
        emg = Collector(open_inlet(f"{lsl_prefix}-EMG"))
        markers = Collector(open_inlet(f"{lsl_prefix}-markers"))
        sim.pipeline.start()
        assert sim.wait(timeout=60.0)
        n_expected = int(2.0 * FS) - int(0.1 * FS)

        def everything() -> bool:
            emg.pull()
            markers.pull()
            return len(emg.stamps) >= n_expected and any("stop" in m[0] for m in markers.values)

        wait_until(everything, 30.0, 0.01, f"{n_expected} EMG samples and the stop marker")
    finally:
        sim.stop()

    t0 = sim.pipeline.stats.t0
    texts = [m[0] for m in markers.values]
    stamps = dict(zip(texts, markers.stamps))
    assert texts == [
        "myostream: start",
        "fault start: liftoff ch=EMG6 id=4",
        "fault start: dropout ch=EMG2,EMG3 id=1",
        "fault end: dropout ch=EMG2,EMG3 id=1",
        "fault end: liftoff ch=EMG6 id=4",
        "fault start: sample_loss ch=all id=2",
        "fault end: sample_loss ch=all id=2",
        "fault start: gain ch=EMG1 id=5",
        "fault end: gain ch=EMG1 id=5",
        "fault start: clipping ch=all id=3",
        "fault end: clipping ch=all id=3",
        "fault start: crosstalk ch=EMG8 id=6",
        "fault end: crosstalk ch=EMG8 id=6",
        "myostream: stop",
    ]
    # Each marker carries the timestamp of its sample: onset = round(onset * fs).
    for text, sample in [("fault start: dropout ch=EMG2,EMG3 id=1", 1000), ("fault end: dropout ch=EMG2,EMG3 id=1", 1500),
                         ("fault start: sample_loss ch=all id=2", 2000), ("fault end: sample_loss ch=all id=2", 2200),
                         ("fault start: clipping ch=all id=3", 3000), ("fault end: clipping ch=all id=3", 3400)]:
        assert stamps[text] == t0 + sample / FS, text

    x = np.asarray(emg.values, np.float32)
    t = np.asarray(emg.stamps)
    k = np.round((t - t0) * FS).astype(np.int64)
    # Samples 2000-2199 are missing; every other sample arrives once, on its own timestamp.
    assert np.array_equal(k, np.r_[0:2000, 2200:4000])
    assert_allclose(t, t0 + k / FS, rtol=0, atol=1e-6)
    # Dropout: EMG2 and EMG3 flat at 0 µV exactly on [1000, 1500).
    flat = np.flatnonzero(np.all(x[:, 1:3] == 0.0, axis=1))
    assert np.array_equal(k[flat], np.arange(1000, 1500))
    # Clipping at ±5 µV on [3000, 3400) only.
    clipped = np.flatnonzero(np.max(np.abs(x), axis=1) <= 5.0)
    assert set(range(3000, 3400)) <= set(k[clipped])
    assert np.max(np.abs(x[(k >= 3000) & (k < 3400)])) == 5.0
    # Every kind, every sample: what LSL delivered is the offline fault script applied to the stage's input.
    ref = apply_faults(np.concatenate([b.data for b in recorder.blocks]), faults, FS, sim.engine.channels, seed=sim.config.seed)
    assert np.array_equal(k, ref.samples)
    assert np.array_equal(x, ref.data)
    assert [(m, t0 + n / FS) for m, n in ref.markers] == list(zip(texts[1:-1], markers.stamps[1:-1]))
    assert np.all(np.abs(x[(k >= 1000) & (k < 1600), 5]) == 5000.0)  # lift-off at 0.2 s: EMG6 at the rail from 0.5 s


def test_inject_fault_while_running_is_announced_at_its_first_sample(lsl_prefix: str, fake_clock) -> None:
    sim = _simulator(lsl_prefix, fake_clock, duration=None)
    for outlet in sim.outlets:
        outlet.start()
    try:
        emg = Collector(open_inlet(f"{lsl_prefix}-EMG"))
        markers = Collector(open_inlet(f"{lsl_prefix}-markers"))
        sim.pipeline.start()
        wait_until(lambda: emg.pull() or len(emg.stamps) >= 1000, 30.0, 0.005, "1000 EMG samples")
        fault_id = sim.inject_fault("dropout", ["EMG5"], duration=0.05, value=123.0)

        def fault_ended() -> bool:
            emg.pull()
            markers.pull()
            return any("fault end" in m[0] for m in markers.values)

        wait_until(fault_ended, 30.0, 0.005, "the injected fault's end marker")
        sim.pipeline.request_stop()
        assert sim.wait(timeout=30.0)
        emg.pull()
    finally:
        sim.stop()

    texts = [m[0] for m in markers.values]
    assert texts[1:] == [f"fault start: dropout ch=EMG5 id={fault_id}", f"fault end: dropout ch=EMG5 id={fault_id}"]
    x = np.asarray(emg.values, np.float32)
    t = np.asarray(emg.stamps)
    hit = np.flatnonzero(x[:, 4] == 123.0)
    assert hit.size == 100  # 0.05 s at 2 kHz
    assert np.array_equal(hit, np.arange(hit[0], hit[0] + 100))
    # The marker carries the timestamp of the first faulty sample (LSL deduces the EMG stamps inside a
    # chunk from the last one, hence the tolerance far below one sample period).
    assert markers.stamps[1] == pytest.approx(t[hit[0]], abs=1e-9)
    assert markers.stamps[2] == pytest.approx(t[hit[-1] + 1], abs=1e-9)  # offset: the first sample after it
    assert hit[0] >= 1000  # it started after the call, not in the past
