"""Noise and artefacts: amplitudes and spectra as configured, seeded, streaming == offline."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import signal

from realtime.core.block import Block
from realtime.stages.artefacts import COMPONENTS, ArtefactSettings, ArtefactStage, add_artefacts

FS = 2000.0
LABELS = tuple(f"EMG{k}" for k in range(1, 9))


def _stream(settings: ArtefactSettings, emg: np.ndarray, block: int, imu: np.ndarray | None = None) -> np.ndarray:
    """Run the stage over ``emg`` in blocks of ``block`` samples (the last one shorter)."""
    stage = ArtefactStage(settings, FS, LABELS[: emg.shape[1]])
    stage.reset(max_block=4)
    out, seq = [], 0
    while seq < emg.shape[0]:
        n = min(block, emg.shape[0] - seq)
        aux = {} if imu is None else {"imu": imu[seq : seq + n]}
        blk = Block(emg[seq : seq + n].copy(), np.arange(seq, seq + n) / FS, FS, seq, stage.channels, aux)
        out.append(stage.process(blk).data)
        seq += n
    return np.concatenate(out)


def _shaking_imu(n: int, f_hz: float = 5.0, amp: float = 2.0, start: int = 0) -> np.ndarray:
    imu = np.zeros((n, 6), np.float32)
    imu[:, 2] = 9.81
    t = np.arange(n) / FS
    imu[start:, 0] = amp * np.sin(2 * np.pi * f_hz * t[start:])
    return imu


ALL_ON = ArtefactSettings(noise_uv=3.0, pink_uv=2.0, powerline_hz=60, wander_uv=10.0, motion_uv=15.0, ecg_uv=25.0,
                          seed=7)


@pytest.mark.parametrize("block", [1, 7, 40, 3001])
def test_streaming_equals_offline_for_any_block_size(block: int) -> None:
    n = 6000
    emg = np.random.default_rng(0).normal(0, 30, (n, 8)).astype(np.float32)
    imu = _shaking_imu(n, start=1000)
    imu[:300] = np.nan  # no IMU sample on the grid yet
    offline = add_artefacts(emg, ALL_ON, FS, imu)
    assert_allclose(_stream(ALL_ON, emg, block, imu), offline, rtol=0, atol=1e-4)
    assert np.all(np.isfinite(offline))
    # The same seed gives the same artefacts; another seed does not.
    assert np.array_equal(add_artefacts(emg, ALL_ON, FS, imu), offline)
    other = add_artefacts(emg, ArtefactSettings(**{**ALL_ON.__dict__, "seed": 8}), FS, imu)
    assert not np.allclose(other, offline)


def test_defaults_add_one_microvolt_of_white_noise_and_nothing_else() -> None:
    s = ArtefactSettings()
    assert s.enabled == ("noise",)
    noise = add_artefacts(np.zeros((40_000, 8), np.float32), s, FS)
    rms = np.sqrt(np.mean(noise.astype(np.float64) ** 2, axis=0))
    assert_allclose(rms, 1.0, rtol=0.03)
    # White: the power in 10-100 Hz and in 500-900 Hz per Hz agree within 15 %.
    f, p = signal.welch(noise, FS, nperseg=1024, axis=0)
    low, high = p[(f >= 10) & (f <= 100)].mean(), p[(f >= 500) & (f <= 900)].mean()
    assert 0.85 < low / high < 1.15
    # Channels are independent.
    corr = np.corrcoef(noise.T)
    assert np.max(np.abs(corr - np.eye(8))) < 0.05


def test_every_component_off_is_the_identity() -> None:
    s = ArtefactSettings(noise_uv=0.0)
    assert s.enabled == ()
    emg = np.random.default_rng(1).normal(0, 30, (500, 8)).astype(np.float32)
    assert np.array_equal(add_artefacts(emg, s, FS), emg)


def test_white_noise_rms_follows_the_setting() -> None:
    noise = add_artefacts(np.zeros((40_000, 4), np.float32), ArtefactSettings(noise_uv=5.0), FS)
    assert_allclose(np.sqrt(np.mean(noise.astype(np.float64) ** 2, axis=0)), 5.0, rtol=0.03)


def test_pink_noise_has_a_one_over_f_spectrum_and_the_set_rms() -> None:
    s = ArtefactSettings(noise_uv=0.0, pink_uv=4.0, pink_min_hz=0.5)
    x = add_artefacts(np.zeros((120_000, 4), np.float32), s, FS).astype(np.float64)
    assert_allclose(np.sqrt(np.mean(x**2, axis=0)), 4.0, rtol=0.15)
    f, p = signal.welch(x, FS, nperseg=8192, axis=0)
    band = (f >= 2) & (f <= 500)
    slope = np.polyfit(np.log10(f[band]), np.log10(p[band].mean(axis=1)), 1)[0]
    assert -1.15 < slope < -0.85  # power ∝ 1/f


@pytest.mark.parametrize("mains", [50, 60])
def test_powerline_peaks_at_the_mains_frequency_and_its_harmonics(mains: int) -> None:
    s = ArtefactSettings(noise_uv=0.0, powerline_hz=mains, powerline_uv=20.0, powerline_harmonics=(1.0, 0.0, 0.3))
    n = int(4 * FS)  # 4 s: an integer number of cycles, so the FFT bins are exact
    x = add_artefacts(np.zeros((n, 8), np.float32), s, FS).astype(np.float64)
    spec = np.abs(np.fft.rfft(x, axis=0)) * 2 / n  # peak amplitude per bin
    f = np.fft.rfftfreq(n, 1 / FS)
    peak = f[np.argmax(spec, axis=0)]
    assert np.all(peak == mains)
    fundamental = spec[f == mains][0]
    assert np.all(fundamental <= 20.0 + 1e-3)
    assert np.all(fundamental >= 10.0 - 1e-3)
    assert_allclose(spec[f == 3 * mains][0] / fundamental, 0.3, rtol=1e-3)
    assert np.all(spec[f == 2 * mains][0] < 1e-3 * fundamental)  # the even harmonic is off
    others = np.ones(f.size, bool)
    others[[np.flatnonzero(f == mains)[0], np.flatnonzero(f == 3 * mains)[0]]] = False
    assert spec[others].max() < 1e-3 * fundamental.min()


def test_powerline_phase_continues_from_the_sample_index() -> None:
    s = ArtefactSettings(noise_uv=0.0, powerline_hz=50, powerline_harmonics=(1.0,))
    stage = ArtefactStage(s, FS, LABELS)
    stage.reset(max_block=4)
    # A block far into the run equals the same samples computed from a run that starts at 0.
    far = 7_200_000  # one hour at 2 kHz
    blk = Block(np.zeros((40, 8), np.float32), np.arange(far, far + 40) / FS, FS, far, LABELS)
    late = stage.process(blk).data
    ref = add_artefacts(np.zeros((40, 8), np.float32), s, FS)  # samples 0..39: the same phase (50 Hz × 1 h)
    assert_allclose(late, ref, atol=1e-4)


def test_baseline_wander_is_slow_and_at_the_set_rms() -> None:
    s = ArtefactSettings(noise_uv=0.0, wander_uv=30.0, wander_hz=0.5)
    x = add_artefacts(np.zeros((200_000, 4), np.float32), s, FS).astype(np.float64)
    assert_allclose(np.sqrt(np.mean(x**2)), 30.0, rtol=0.15)  # 100 s of a 0.5 Hz process: ±10 % per channel
    f, p = signal.welch(x, FS, nperseg=16384, axis=0)
    total = p.sum()
    assert p[f <= 2.0].sum() > 0.98 * total  # the power lies below 2 Hz


def test_motion_artefact_follows_the_acceleration_and_gravity_is_not_an_artefact() -> None:
    gain = 10.0
    s = ArtefactSettings(noise_uv=0.0, motion_uv=gain)
    n = 20_000
    still = _shaking_imu(n, amp=0.0)
    assert np.max(np.abs(add_artefacts(np.zeros((n, 8), np.float32), s, FS, still))) < 1e-6
    shake = _shaking_imu(n, f_hz=5.0, amp=2.0, start=10_000)
    x = add_artefacts(np.zeros((n, 8), np.float32), s, FS, shake).astype(np.float64)
    assert np.max(np.abs(x[:10_000])) < 1e-6  # nothing before the movement
    stage = ArtefactStage(s, FS, LABELS)
    weights = stage.components["motion"].weights  # (3, C) µV per m/s²
    h = np.abs(signal.sosfreqz(stage.components["motion"].sos, worN=[5.0], fs=FS)[1][0])
    expected = 2.0 / np.sqrt(2) * np.abs(weights[0]) * h  # RMS of a 2 m/s² sine on x
    assert_allclose(np.sqrt(np.mean(x[14_000:] ** 2, axis=0)), expected, rtol=0.02)
    assert np.all(np.abs(weights) <= 1.5 * gain)


def test_motion_artefacts_need_the_imu() -> None:
    with pytest.raises(ValueError, match="aux 'imu'"):
        add_artefacts(np.zeros((10, 8), np.float32), ArtefactSettings(motion_uv=5.0), FS)
    assert "imu" in ArtefactStage(ArtefactSettings(motion_uv=5.0), FS, LABELS).input_format.aux
    assert "imu" not in ArtefactStage(ArtefactSettings(), FS, LABELS).input_format.aux


def test_ecg_beats_at_the_set_rate_with_the_set_r_wave() -> None:
    s = ArtefactSettings(noise_uv=0.0, ecg_uv=40.0, ecg_bpm=72.0, ecg_hrv=0.05)
    n = int(60 * FS)
    x = add_artefacts(np.zeros((n, 8), np.float32), s, FS).astype(np.float64)
    stage = ArtefactStage(s, FS, LABELS)
    stage.reset()
    stage.process(Block(np.zeros((n, 8), np.float32), np.arange(n) / FS, FS, 0, LABELS))
    r = np.array([k for k in stage.components["ecg"].r_samples if 0 <= k < n])
    assert 66 <= r.size <= 78  # 72 bpm over 60 s
    assert_allclose(np.mean(np.diff(r)) / FS, 60.0 / 72.0, rtol=0.05)
    weights = stage.components["ecg"].weights
    ch = int(np.argmax(weights))
    assert_allclose(x[r, ch], weights[ch], rtol=1e-3)  # the R wave peaks at the R sample
    peaks, _ = signal.find_peaks(x[:, ch], height=0.5 * weights[ch])
    assert np.array_equal(peaks, r[(r > 0) & (r < n - 1)])
    assert np.all((weights >= 0.3 * 40.0) & (weights <= 40.0))


def test_components_do_not_disturb_each_other() -> None:
    n = 4000
    zero = np.zeros((n, 8), np.float32)
    imu = _shaking_imu(n)
    parts = {}
    for name, kw in {"noise": {"noise_uv": 3.0}, "pink": {"pink_uv": 2.0}, "powerline": {"powerline_hz": 60},
                     "wander": {"wander_uv": 10.0}, "motion": {"motion_uv": 15.0}, "ecg": {"ecg_uv": 25.0}}.items():
        only = {"noise_uv": 0.0, **kw, "seed": 7}
        parts[name] = add_artefacts(zero, ArtefactSettings(**only), FS, imu).astype(np.float64)
    assert set(parts) == set(COMPONENTS)
    together = add_artefacts(zero, ALL_ON, FS, imu).astype(np.float64)
    assert_allclose(together, sum(parts.values()), atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"noise_uv": -1.0}, "noise_uv"),
        ({"powerline_hz": 55}, "powerline_hz"),
        ({"powerline_harmonics": (1.0, -0.2)}, "powerline_harmonics"),
        ({"wander_hz": 50.0}, "wander_hz"),
        ({"motion_band_hz": (20.0, 1.0)}, "motion_band_hz"),
        ({"ecg_bpm": 400.0}, "ecg_bpm"),
        ({"seed": -3}, "seed"),
        ({"pink_uv": float("nan")}, "pink_uv"),
    ],
)
def test_settings_reject_bad_values_naming_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"'{name}'"):
        ArtefactSettings(**kwargs)


def test_stage_checks_its_input() -> None:
    stage = ArtefactStage(ArtefactSettings(), FS, LABELS)
    stage.reset(max_block=4)
    ok = Block(np.zeros((4, 8), np.float32), np.arange(4) / FS, FS, 0, LABELS)
    stage.process(ok)
    with pytest.raises(ValueError, match="without gaps"):
        stage.process(Block(np.zeros((4, 8), np.float32), np.arange(8, 12) / FS, FS, 8, LABELS))
    with pytest.raises(ValueError, match="channels"):
        stage.process(Block(np.zeros((4, 2), np.float32), np.arange(4) / FS, FS, 4, ("a", "b")))
    with pytest.raises(TypeError, match="'settings'"):
        ArtefactStage({"noise_uv": 1.0}, FS, LABELS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--powerline", "55"], "--powerline"), (["--noise-uv", "-1"], "--noise-uv"), (["--ecg-bpm", "500"], "--ecg-bpm")],
)
def test_run_rejects_bad_artefact_options(args: list[str], option: str) -> None:
    from click.testing import CliRunner

    from launch import cli

    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert option in errors[0]


def test_runner_hands_the_imu_on_the_emg_grid_to_a_post_stage(fake_clock) -> None:
    from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings
    from realtime.core.block import regular_timestamps
    from realtime.core.contract import StreamFormat
    from realtime.core.units import IMU_CHANNELS
    from realtime.stages.teacher import TeacherActivation

    muscles = ("m1",)

    class LinearImu:
        """100 Hz IMU whose acc_x is the time since start (linear interpolation is then exact)."""

        output_format = StreamFormat(fs=100.0, channels=IMU_CHANNELS, aux={"activation": muscles})

        def __init__(self, clock) -> None:
            self.clock, self.fs, self.running, self._k, self._t0 = clock, 100.0, False, 0, 0.0

        def start(self) -> None:
            self.running, self._t0 = True, self.clock()

        def stop(self) -> None:
            self.running = False

        def read(self) -> Block:
            n = max(int(np.floor((self.clock() - self._t0) * self.fs + 1e-9)) + 1 - self._k, 0)
            t = regular_timestamps(self._t0, self.fs, self._k, n)
            imu = np.zeros((n, 6), np.float32)
            imu[:, 0] = t - self._t0
            imu[:, 2] = 9.81
            blk = Block(imu, t, self.fs, self._k, IMU_CHANNELS, {"activation": np.zeros((n, 1), np.float32)})
            self._k += n
            return blk

    class ZeroEngine:
        input_format = StreamFormat(fs=FS, channels=muscles)
        output_format = StreamFormat(fs=FS, channels=LABELS, passes_aux=True)

        def reset(self, fmt=None, *, max_block: int = 64) -> None:  # noqa: ANN001
            pass

        def process(self, block: Block) -> Block:
            return Block(np.zeros((block.n_samples, 8), np.float32), block.timestamps, block.fs, block.seq, LABELS,
                         block.aux)

    class Spy:
        input_format = StreamFormat(aux={"imu": 6})  # asks the runner for the IMU on the EMG grid
        output_format = StreamFormat(passes_aux=True)

        def __init__(self) -> None:
            self.imu, self.times = [], []

        def reset(self, fmt=None, *, max_block: int = 64) -> None:  # noqa: ANN001
            self.imu, self.times = [], []

        def process(self, block: Block) -> Block:
            self.imu.append(block.aux["imu"])
            self.times.append(block.timestamps)
            return block

    class Sink:
        def __init__(self) -> None:
            self.blocks = []

        def write(self, block: Block) -> None:
            self.blocks.append(block)

    spy, sink = Spy(), Sink()
    motion = ArtefactStage(ArtefactSettings(noise_uv=0.0, motion_uv=10.0), FS, LABELS)
    pipe = Pipeline(LinearImu(fake_clock), TeacherActivation(muscles), [ZeroEngine(), spy, motion],
                    PipelineOutputs(emg=sink), PipelineSettings(fs=FS, block_size=4, duration=1.0),
                    clock=fake_clock, sleep=fake_clock.sleep)
    stats = pipe.run()
    imu = np.concatenate(spy.imu)
    t = np.concatenate(spy.times)
    assert imu.shape == (2000, 6)
    # Causal: a grid sample is interpolated only if the next IMU sample had arrived when its block was
    # computed, else it holds the newest one; on the IMU's own sample times it is exact.
    since = t - stats.t0
    held = np.floor(since * 100.0 + 1e-6) / 100.0
    assert np.all(imu[:, 0] >= held - 1e-5)
    assert np.all(imu[:, 0] <= since + 1e-5)
    assert_allclose(imu[::20, 0], since[::20], atol=1e-5)
    assert np.all(imu[:, 2] == np.float32(9.81))
    emg = np.concatenate([b.data for b in sink.blocks])
    # A ramp in acc_x is a step in its derivative: the 1-20 Hz band-pass gives a transient artefact.
    assert np.max(np.abs(emg)) > 0.0
    assert np.array_equal(emg, add_artefacts(np.zeros((2000, 8), np.float32), motion.settings, FS, imu))
    assert stats.stage_ns["post"] > 0
