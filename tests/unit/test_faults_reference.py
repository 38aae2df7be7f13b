"""Fault injection against a reference built with numpy from the script, streamed in random blocks.

``test_faults.py`` proves streaming equals the offline twin :func:`apply_faults` and spot-checks
each kind. Here the whole faulty record, from the stage streamed in random block sizes and from the
offline twin, is compared with a reference computed in the test from each fault's documented effect
(docs/faults.md): ``x += amount × mean(neighbours)``, lift-off swings then the rail, ``× factor``,
``clip``, a flat ``value``, rows removed; overlapping faults in the documented order
(crosstalk, lift-off, gain, clipping, dropout, sample loss, then by id).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from realtime.core.block import Block
from realtime.stages.faults import Fault, FaultStage, apply_faults

FS = 1000.0
LABELS = tuple(f"EMG{k}" for k in range(1, 9))
ORDER = ("crosstalk", "liftoff", "gain", "clipping", "dropout", "sample_loss")
"""The documented order of overlapping faults."""

SCRIPT = (
    Fault("crosstalk", 0.1, 0.3, ["EMG1"], {"amount": 0.5}),  # EMG1 += 0.5 × mean(EMG8, EMG2)
    Fault("crosstalk", 0.2, 0.2, ["EMG4"], {"amount": 1.0, "from": ["EMG6", "EMG4"]}),  # itself left out
    Fault("gain", 0.25, 0.2, ["EMG1", "EMG2"], {"factor": -2.5}),  # after the crosstalk on EMG1
    Fault("clipping", 0.3, 0.3, "all", {"range_uv": 40.0}),  # after the gain
    Fault("liftoff", 0.7, 1.2, ["EMG5", "EMG6"], {"swing_s": 0.6, "swing_uv": 3000.0, "rail_uv": 2500.0,
                                                  "swing_hz": 2.0}),
    Fault("dropout", 1.0, 0.4, ["EMG6"], {"value": -3.0}),  # over the lift-off
    Fault("sample_loss", 2.1, 0.15, None, {"loss": 1.0}),
    Fault("gain", 2.5, None, ["EMG3"], {"factor": 0.25}),  # to the end
)


def _cols(fault: Fault) -> list[int]:
    return list(range(len(LABELS))) if fault.channels is None else [LABELS.index(c) for c in fault.channels]


def _liftoff(x: np.ndarray, fault: Fault, fault_id: int, seed: int) -> np.ndarray:
    """The documented lift-off on rows ``x`` (from the onset): swings growing linearly from 0 to
    ``swing_uv`` over ``swing_s`` (three sinusoids at 0.6, 1.0 and 1.7 × ``swing_hz``, weights 0.5, 1,
    0.4 normalised, phases seeded by ``(seed, id)``) clipped at the rail, then the rail with the sign of
    the swing at that moment."""
    p = dict(fault.params)
    phases = np.random.default_rng([seed, fault_id]).uniform(0.0, 2.0 * math.pi, (3, x.shape[1]))
    freqs = p["swing_hz"] * np.array([0.6, 1.0, 1.7])
    weights = np.array([0.5, 1.0, 0.4]) / 1.9

    def swing(t: np.ndarray) -> np.ndarray:
        return sum(weights[j] * np.sin(2.0 * np.pi * freqs[j] * t[:, None] + phases[j]) for j in range(3))

    n_swing = round(p["swing_s"] * FS)
    rel = np.arange(x.shape[0])
    out = np.empty_like(x)
    s = rel < n_swing
    out[s] = np.clip(x[s] + p["swing_uv"] * (rel[s] / n_swing)[:, None] * swing(rel[s] / FS), -p["rail_uv"],
                     p["rail_uv"])
    out[~s] = np.where(swing(np.array([n_swing / FS]))[0] < 0, -1.0, 1.0) * p["rail_uv"]
    return out


def _reference(emg: np.ndarray, script: tuple[Fault, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The faulty record and the index of each kept sample, from the script with numpy."""
    n = emg.shape[0]
    src = emg.astype(np.float64)
    x = src.copy()
    keep = np.ones(n, bool)
    placed = []
    for fault_id, f in enumerate(script, start=1):
        onset = round(f.onset * FS)
        offset = n if f.duration is None else min(n, onset + round(f.duration * FS))
        placed.append((ORDER.index(f.kind), fault_id, f, onset, offset))
    for _, fault_id, f, a, b in sorted(placed, key=lambda p: p[:2]):
        p, cols = dict(f.params), _cols(f)
        if f.kind == "crosstalk":
            for c in cols:
                sources = ([(c - 1) % 8, (c + 1) % 8] if p.get("from") is None
                           else [LABELS.index(s) for s in p["from"] if LABELS.index(s) != c])
                x[a:b, c] += p["amount"] * src[a:b, sources].mean(axis=1)
        elif f.kind == "liftoff":
            x[a:b, cols] = _liftoff(x[a:b, cols], f, fault_id, seed)
        elif f.kind == "gain":
            x[a:b, cols] *= p["factor"]
        elif f.kind == "clipping":
            x[a:b, cols] = np.clip(x[a:b, cols], -p["range_uv"], p["range_uv"])
        elif f.kind == "dropout":
            x[a:b, cols] = p.get("value", 0.0)
        elif f.kind == "sample_loss":
            assert p["loss"] == 1.0, "the reference knows only total loss; partial loss is checked apart"
            keep[a:b] = False
    return x[keep], np.flatnonzero(keep)


def _stream(emg: np.ndarray, script: tuple[Fault, ...], seed: int, order_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The stage's output for ``emg`` in random block sizes (timestamps = sample indices)."""
    rng = np.random.default_rng(order_seed)
    stage = FaultStage(script, FS, LABELS, seed)
    stage.reset(max_block=4)
    data, samples, k = [], [], 0
    while k < emg.shape[0]:
        m = int(min(emg.shape[0] - k, rng.integers(1, 120)))
        out = stage.process(Block(emg[k : k + m].copy(), np.arange(k, k + m, dtype=float), FS, k, LABELS))
        data.append(out.data)
        samples.append(np.round(out.timestamps).astype(np.int64))
        k += m
    return np.concatenate(data), np.concatenate(samples)


def _emg(n: int = 3000) -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 50.0, (n, len(LABELS))).astype(np.float32)


@pytest.mark.parametrize("order_seed", [1, 2, 3])
def test_streamed_and_offline_faults_equal_the_reference(order_seed: int) -> None:
    emg = _emg()
    expected, kept = _reference(emg, SCRIPT, seed=4)
    assert kept.size == emg.shape[0] - 150
    data, samples = _stream(emg, SCRIPT, seed=4, order_seed=order_seed)
    assert np.array_equal(samples, kept)
    assert_allclose(data, expected, rtol=1e-6, atol=1e-3)
    offline = apply_faults(emg, SCRIPT, FS, LABELS, seed=4)
    assert np.array_equal(offline.samples, kept)
    assert_allclose(offline.data, expected, rtol=1e-6, atol=1e-3)
    # The reference is not trivial: every fault changed its window.
    assert not np.allclose(expected, emg[kept].astype(np.float64), atol=1.0)


def test_partial_sample_loss_keeps_the_other_samples_exactly() -> None:
    """Which samples a burst removes is random (seeded); every other sample passes through untouched."""
    emg = _emg()
    script = (Fault("sample_loss", 0.5, 1.0, None, {"loss": 0.4, "burst_ms": 15.0}),
              Fault("gain", 0.0, None, ["EMG2"], {"factor": 3.0}))
    full = emg.astype(np.float64)
    full[:, 1] *= 3.0
    for data, samples in (_stream(emg, script, seed=9, order_seed=5),
                          (lambda r: (r.data, r.samples))(apply_faults(emg, script, FS, LABELS, seed=9))):
        lost = np.setdiff1d(np.arange(emg.shape[0]), samples)
        assert lost.min() >= 500
        assert lost.max() < 1500
        assert 0.25 < lost.size / 1000 < 0.55
        assert np.all(np.diff(samples) > 0)
        assert_allclose(data, full[samples], rtol=1e-6)
