"""The artefact filters and components against independent references, streamed in random blocks.

``test_artefacts.py`` proves that streaming equals the offline twin (split invariance). Here each
component's output, streamed in random block sizes and from the offline twin :func:`add_artefacts`,
is compared with a reference computed in the test from the documented definition: filters with
``scipy.signal`` designed here (``butter``, ``sosfilt``, ``sosfilt_zi``, ``lfilter``), sinusoids and
Gaussian beats with numpy, seeded quantities from the documented seed tree (``SeedSequence(seed)
.spawn`` in the order of :data:`COMPONENTS`). A wrong coefficient, frequency, phase, gain or state
makes these tests fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import signal

from realtime.core.block import Block
from realtime.stages.artefacts import COMPONENTS, ArtefactSettings, ArtefactStage, add_artefacts
from realtime.stages.artefacts.noise import pink_sos
from realtime.stages.artefacts.sosfilt import normalised_sos, sosfilt_inplace

FS = 2000.0
N_CH = 6
LABELS = tuple(f"EMG{k}" for k in range(1, N_CH + 1))
OFF = {"noise_uv": 0.0}
"""Settings that switch the default white noise off, so that one component is alone."""


def _sizes(n: int, rng: np.random.Generator, largest: int = 97) -> list[int]:
    """Random block sizes (1..largest, a few empty blocks among them) summing to ``n``."""
    sizes, left = [], n
    while left > 0:
        m = int(min(left, rng.integers(0, largest + 1)))
        sizes.append(m)
        left -= m
    return sizes


def _stream(settings: ArtefactSettings, emg: np.ndarray, imu: np.ndarray | None, seed: int, fs: float = FS,
            first_seq: int = 0) -> np.ndarray:
    """The stage's output for ``emg`` streamed in random block sizes (the first sample being ``first_seq``)."""
    stage = ArtefactStage(settings, fs, LABELS)
    stage.reset(max_block=8)  # smaller than most blocks: the stage grows its buffer
    out, k = [], 0
    for m in _sizes(emg.shape[0], np.random.default_rng(seed)):
        aux = {} if imu is None else {"imu": imu[k : k + m]}
        ts = (first_seq + np.arange(k, k + m)) / fs
        out.append(stage.process(Block(emg[k : k + m].copy(), ts, fs, first_seq + k, LABELS, aux)).data)
        k += m
    return np.concatenate(out)


def _emg(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 30.0, (n, N_CH)).astype(np.float32)


def _component_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The documented seed of one component: ``SeedSequence(seed).spawn(6)`` in the order of COMPONENTS."""
    return np.random.SeedSequence(seed).spawn(len(COMPONENTS))[COMPONENTS.index(name)]


def _check(settings: ArtefactSettings, emg: np.ndarray, added: np.ndarray, imu: np.ndarray | None = None,
           fs: float = FS, atol: float = 2e-3) -> None:
    """Streamed (random blocks) and offline outputs both equal ``emg + added`` (µV, float32 output)."""
    expected = emg.astype(np.float64) + added
    assert_allclose(_stream(settings, emg, imu, seed=1, fs=fs), expected, rtol=0, atol=atol)
    assert_allclose(_stream(settings, emg, imu, seed=2, fs=fs), expected, rtol=0, atol=atol)
    assert_allclose(add_artefacts(emg, settings, fs, imu, LABELS), expected, rtol=0, atol=atol)


# ---------------------------------------------------------------------------- the numba filter
def _designs() -> dict[str, np.ndarray]:
    return {
        "butter4-bandpass": signal.butter(4, (20.0, 450.0), "bandpass", fs=FS, output="sos"),
        "cheby1-highpass": signal.cheby1(5, 1.0, 10.0, "highpass", fs=FS, output="sos"),
        "ellip-lowpass": signal.ellip(6, 0.5, 60.0, 300.0, "lowpass", fs=FS, output="sos"),
        "pink": pink_sos(FS, 0.5),
    }


@pytest.mark.parametrize("design", list(_designs()))
def test_sosfilt_inplace_equals_scipy_sosfilt_across_random_blocks(design: str) -> None:
    sos = _designs()[design]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5000, 3))
    zi0 = rng.standard_normal((sos.shape[0], 2, 3))  # a non-zero start state, carried as scipy carries it
    expected, zf = signal.sosfilt(sos, x, axis=0, zi=zi0)

    y, zi = x.copy(), zi0.copy()
    coefficients = normalised_sos(sos)
    k = 0
    for m in _sizes(x.shape[0], rng):
        chunk = np.ascontiguousarray(y[k : k + m])
        sosfilt_inplace(coefficients, chunk, zi)
        y[k : k + m] = chunk
        k += m
    assert_allclose(y, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    assert_allclose(zi, zf, rtol=1e-9, atol=1e-12)


def test_normalised_sos_divides_by_a0_as_lfilter_does() -> None:
    sos = signal.butter(4, 100.0, "lowpass", fs=FS, output="sos")
    scaled = sos * np.array([[3.0], [0.5]])  # each section's b and a scaled: a0 = 3 and 0.5
    x = np.random.default_rng(4).standard_normal((2000, 2))
    b, a = signal.sos2tf(scaled)  # lfilter normalises by a[0] itself
    expected = signal.lfilter(b, a, x, axis=0)
    y = x.copy()
    sosfilt_inplace(normalised_sos(scaled), y, np.zeros((2, 2, 2)))
    assert_allclose(y, expected, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------- white, pink, wander
def _filtered_noise(seed: np.random.SeedSequence, sos: np.ndarray, n: int, rms: float, f_low: float,
                    fs: float = FS) -> np.ndarray:
    """Documented noise: warm-up of ten time constants of the lowest pole, scaled to ``rms``.

    The unit-variance gain is the RMS of the filter's response to white noise, by Parseval the
    root of the mean of ``|H|²`` over ``[0, π)``.
    """
    warmup = int(math.ceil(10.0 * fs / (2.0 * math.pi * f_low)))
    z = np.random.Generator(np.random.PCG64(seed)).standard_normal((warmup + n, N_CH))
    _, h = signal.sosfreqz(sos, worN=2**20)
    gain = math.sqrt(float(np.mean(np.abs(h) ** 2)))
    return signal.sosfilt(sos, z, axis=0)[warmup:] * (rms / gain)


def test_white_noise_is_the_seeded_normal_stream_at_the_set_rms() -> None:
    s = ArtefactSettings(noise_uv=4.0, seed=11)
    n = 3000
    z = np.random.Generator(np.random.PCG64(_component_seed(11, "noise"))).standard_normal((n, N_CH))
    _check(s, _emg(n), 4.0 * z)


def test_baseline_wander_is_seeded_noise_through_a_butterworth_low_pass() -> None:
    s = ArtefactSettings(**OFF, wander_uv=10.0, wander_hz=2.0, seed=5)
    n = 6000
    sos = signal.butter(2, 2.0, "lowpass", fs=FS, output="sos")
    added = _filtered_noise(_component_seed(5, "wander"), sos, n, 10.0, 2.0 / math.sqrt(2.0))
    _check(s, _emg(n), added, atol=2e-2)


def test_pink_noise_is_seeded_noise_through_the_pink_filter() -> None:
    s = ArtefactSettings(**OFF, pink_uv=3.0, pink_min_hz=2.0, seed=6)
    n = 6000
    added = _filtered_noise(_component_seed(6, "pink"), pink_sos(FS, 2.0), n, 3.0, 2.0)
    _check(s, _emg(n), added, atol=1e-2)


def test_pink_filter_falls_at_ten_decibels_per_decade() -> None:
    f = np.geomspace(5.0, 800.0, 200)
    _, h = signal.sosfreqz(pink_sos(FS, 0.5), worN=f, fs=FS)
    power_db = 20.0 * np.log10(np.abs(h))
    slope, offset = np.polyfit(np.log10(f), power_db, 1)
    assert slope == pytest.approx(-10.0, abs=0.3)
    assert np.max(np.abs(power_db - (slope * np.log10(f) + offset))) < 0.5


# ---------------------------------------------------------------------------- power line
@pytest.mark.parametrize(("fs", "mains", "first_seq"), [(2000.0, 50, 0), (500.0, 60, 0), (2000.0, 60, 72_000_000)])
def test_powerline_is_the_sum_of_the_seeded_harmonics(fs: float, mains: int, first_seq: int) -> None:
    harmonics = (1.0, 0.0, 0.3, 0.0, 0.1)
    s = ArtefactSettings(**OFF, powerline_hz=mains, powerline_uv=20.0, powerline_harmonics=harmonics, seed=9)
    rng = np.random.Generator(np.random.PCG64(_component_seed(9, "powerline")))
    factor = rng.uniform(0.5, 1.0, N_CH)
    phase = rng.normal(0.0, 0.2, (len(harmonics), N_CH))
    n = 4000
    k = first_seq + np.arange(n, dtype=np.int64)
    added = np.zeros((n, N_CH))
    for h, ratio in enumerate(harmonics, start=1):
        if ratio == 0 or h * mains >= fs / 2:
            continue
        cycles = (k * h * mains) % int(fs)  # exact integers: 2π h f k / fs without rounding, however long the run
        added += 20.0 * ratio * factor * np.sin(2.0 * np.pi * cycles[:, None] / fs + phase[h - 1])
    emg = _emg(n)
    streamed = _stream(s, emg, None, seed=3, fs=fs, first_seq=first_seq)
    assert_allclose(streamed, emg + added, rtol=0, atol=1e-4)
    if first_seq == 0:
        _check(s, emg, added, fs=fs, atol=1e-4)


# ---------------------------------------------------------------------------- motion
def test_motion_artefact_is_the_band_passed_acceleration_projected_on_each_channel() -> None:
    s = ArtefactSettings(**OFF, motion_uv=15.0, motion_band_hz=(1.0, 20.0), seed=4)
    n = 8000
    t = np.arange(n) / FS
    imu = np.zeros((n, 6), np.float32)
    imu[:, 0] = 3.0 * np.sin(2 * np.pi * 4.0 * t) + 0.5 * np.sin(2 * np.pi * 40.0 * t)
    imu[:, 1] = 1.5 * np.cos(2 * np.pi * 7.0 * t)
    imu[:, 2] = 9.81 + 0.2 * t  # gravity and a slow drift: below the band
    imu[:, 3:] = 1.0
    imu[:400] = np.nan  # no IMU sample on the grid yet
    imu[3000:3050] = np.nan  # a gap: the last value is held

    rng = np.random.Generator(np.random.PCG64(_component_seed(4, "motion")))
    direction = rng.normal(size=(3, N_CH))
    weights = direction / np.linalg.norm(direction, axis=0) * rng.uniform(0.5, 1.5, N_CH) * 15.0
    acc = imu[:, :3].astype(np.float64)
    for i in range(401, n):
        if not np.isfinite(acc[i]).all():
            acc[i] = acc[i - 1]
    sos = signal.butter(2, (1.0, 20.0), "bandpass", fs=FS, output="sos")
    zi = signal.sosfilt_zi(sos)[:, :, None] * acc[400][None, None, :]  # steady state at the first value
    band, _ = signal.sosfilt(sos, acc[400:], axis=0, zi=zi)
    added = np.zeros((n, N_CH))
    added[400:] = band @ weights
    _check(s, _emg(n), added, imu=imu, atol=1e-3)


# ---------------------------------------------------------------------------- ECG
def test_ecg_is_the_seeded_beat_train_of_gaussian_waves() -> None:
    s = ArtefactSettings(**OFF, ecg_uv=40.0, ecg_bpm=90.0, ecg_hrv=0.1, seed=12)
    n = int(6.0 * FS)
    weight_seed, beat_seed = _component_seed(12, "ecg").spawn(2)
    weights = np.random.Generator(np.random.PCG64(weight_seed)).uniform(0.3, 1.0, N_CH) * 40.0
    # McSharry et al. (2003) static waves: (centre s, amplitude, width s) of P, Q, R, S, T.
    waves = ((-0.2, 0.12, 0.025), (-0.03, -0.15, 0.008), (0.0, 1.0, 0.01), (0.03, -0.25, 0.009), (0.25, 0.3, 0.045))
    peak = sum(a * math.exp(-0.5 * (c / w) ** 2) for c, a, w in waves)
    rr = 60.0 / 90.0
    rng = np.random.Generator(np.random.PCG64(beat_seed))
    t_r = rng.uniform() * rr
    before, after = round(0.3 * FS), round(0.45 * FS)
    beat = np.zeros(n)
    k = np.arange(n)
    n_beats = 0
    while round(t_r * FS) - before < n:
        r = round(t_r * FS)
        window = (k >= r - before) & (k <= r + after)
        tau = (k[window] - r) / FS
        beat[window] += sum(a * np.exp(-0.5 * ((tau - c) / w) ** 2) for c, a, w in waves) / peak
        n_beats += 1
        t_r += rr * max(1.0 + 0.1 * float(np.clip(rng.standard_normal(), -3.0, 3.0)), 0.4)
    assert n_beats >= 8  # 90 bpm for 6 s
    _check(s, _emg(n), beat[:, None] * weights[None, :], atol=1e-3)


# ---------------------------------------------------------------------------- all together
def test_every_component_together_is_the_sum_of_the_references() -> None:
    """The components are summed, each on its own seed: all on equals the sum of each alone."""
    n = 5000
    emg = _emg(n, seed=5)
    imu = np.zeros((n, 6), np.float32)
    imu[:, 0] = 2.0 * np.sin(2 * np.pi * 5.0 * np.arange(n) / FS)
    imu[:, 2] = 9.81
    on = {"noise_uv": 3.0, "pink_uv": 2.0, "powerline_hz": 50, "wander_uv": 10.0, "motion_uv": 15.0,
          "ecg_uv": 25.0}
    zero = np.zeros_like(emg)
    alone = sum(
        add_artefacts(zero, ArtefactSettings(**{**OFF, **{key: value}, "seed": 7}), FS, imu, LABELS).astype(float)
        for key, value in on.items() if key != "powerline_hz"
    )
    alone += add_artefacts(zero, ArtefactSettings(**OFF, powerline_hz=50, seed=7), FS, imu, LABELS)
    _check(ArtefactSettings(**on, seed=7), emg, alone, imu=imu, atol=5e-3)
