"""Physiological validation of the engine's output (no noise, no artefacts: the engine alone).

:func:`run_validation` simulates the engine and returns one :class:`Check`
per physiological property, each a measured value and the range the
literature allows (sources in ``docs/validation.md``):

- motor-unit discharge: rate at recruitment, rates under steady drive,
  the onion-skin order, inter-spike-interval variability, the drive at
  which the last unit of each muscle is recruited (pools alone, slow ramp
  and steady drives);
- surface signal: MUAP duration, median frequency and band power of a
  bipolar channel, narrow spectral peaks, RMS against drive (the engine on a
  differential layout), amplitude cancellation (one muscle under a 10-mm
  bipolar sensor, as in Keenan et al. 2005);
- propagation: the delay of a motor unit's potential between grid electrodes
  along the fibres equals their spacing over the conduction velocity;
- interference pattern and amplitude (:func:`fidelity_checks`), computed from
  the signal and the spike ground truth only, as an independent reviewer
  would (spike-triggered averages, :func:`unit_energies`): the share of a
  bipolar channel's energy carried by its three largest units and the excess
  kurtosis of the raw signal at 50 % drive, the distance across the fibres
  at which a unit's monopolar amplitude halves on the grid, the biceps
  bipolar RMS at full drive, the shape of its RMS against drive and the
  amplitude at the 3 % co-contraction floor of the teacher (rest).

``python launch.py validate --json PATH`` writes the checks and exits with a
non-zero status if any fails.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.signal import correlate, welch
from scipy.stats import kurtosis, spearmanr

from realtime.core.block import Block
from realtime.core.checks import check_number
from realtime.stages.engine.engine import Discharges, EmgEngine
from realtime.stages.engine.layouts import get_layout
from realtime.stages.engine.pool import PoolParameters, advance_pool, build_pools, initial_state
from realtime.stages.engine.settings import EngineSettings
from realtime.stages.engine.volume_conductor import FibreBundle, electrode_points, muap

KEENAN_UNITS = 120
"""Motor units in the pool of Keenan et al. (2005)'s amplitude-cancellation simulations (an FDI)."""


@dataclass(frozen=True)
class Check:
    """One validated property: a measured value and its allowed range (inclusive).

    Attributes
    ----------
    name : str
        Identifier, with the unit as suffix (``_hz``, ``_ms``, ...).
    value : float
        Measured value.
    low, high : float
        Allowed range.
    """

    name: str
    value: float
    low: float
    high: float

    @property
    def passed(self) -> bool:
        """Whether ``low <= value <= high`` (a NaN value fails)."""
        return bool(math.isfinite(self.value) and self.low <= self.value <= self.high)

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "value", "low", "high", "passed"}`` (JSON-ready)."""
        return {
            "name": self.name,
            "value": round(float(self.value), 6) if math.isfinite(self.value) else None,
            "low": self.low,
            "high": self.high,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class ValidationSettings:
    """What :func:`run_validation` simulates.

    Parameters
    ----------
    engine : EngineSettings
        The engine under test; its layout must be differential (bipolar
        channels), e.g. ``armband8`` or ``muscle_pairs``.
    grid_layout : str
        Monopolar grid layout for the propagation check (built-in name or file).
    ramp_s : float
        Duration of the 0-to-full drive ramp (s).
    steady_s : float
        Duration of each steady drive for the discharge statistics (s).
    emg_s : float
        Duration of each steady drive for the surface-signal checks (s); the
        first second (recruitment transient) is discarded.
    drives : tuple of float
        Steady drives; must include 0.5 and 1.0.
    velocities : tuple of float
        Conduction velocities of the propagation check (m/s).
    cancellation_layout : str
        Layout with a bipolar sensor labelled after ``cancellation_muscle``, for
        the amplitude-cancellation check (Keenan et al. 2005 recorded one
        muscle with a 10-mm bipolar pair: ``muscle_pairs``).
    cancellation_muscle : str | None
        Muscle whose motor units make the amplitude-cancellation signal;
        ``None``: ``wrist_flexors`` (short fibres, like the hand muscle of the
        source) if simulated, else the first simulated muscle with a sensor.
    amplitude_muscle : str
        Muscle whose bipolar sensor in ``cancellation_layout`` gives the MVC
        amplitude and the RMS-against-drive shape (skipped if not simulated).
    decay_muscle : str
        Muscle simulated under ``grid_layout`` for the monopolar spatial decay
        (the grid sits over the forearm flexors; skipped if not simulated).
    rest_drive : float
        Drive of the rest check: the teacher's co-contraction floor.
    """

    engine: EngineSettings = field(default_factory=EngineSettings)
    grid_layout: str = "grid64"
    ramp_s: float = 20.0
    steady_s: float = 20.0
    emg_s: float = 8.0
    drives: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    velocities: tuple[float, ...] = (3.0, 4.0, 5.0)
    cancellation_layout: str = "muscle_pairs"
    cancellation_muscle: str | None = None
    amplitude_muscle: str = "biceps"
    decay_muscle: str = "wrist_flexors"
    rest_drive: float = 0.03

    def __post_init__(self) -> None:
        if not isinstance(self.engine, EngineSettings):
            raise TypeError(
                f"The argument 'engine' must be an EngineSettings, {type(self.engine).__name__} is invalid."
            )
        if not get_layout(self.engine.layout).differential:
            raise ValueError(
                f"The engine layout must be differential (bipolar channels) for the spectral checks, "
                f"{self.engine.layout!r} is {get_layout(self.engine.layout).kind}. Use armband8 or muscle_pairs."
            )
        grid = get_layout(self.grid_layout)
        if grid.grid is None or grid.kind != "monopolar":
            raise ValueError(
                f"The argument 'grid_layout' must be a monopolar grid (R<r>C<c> channels), "
                f"{self.grid_layout!r} is invalid. Use grid64 or grid13x5."
            )
        for name, value, low in (
            ("ramp_s", self.ramp_s, 5.0),
            ("steady_s", self.steady_s, 5.0),
            ("emg_s", self.emg_s, 2.0),
        ):
            check_number(name, value, low, 600.0, "s")
        drives = tuple(float(d) for d in self.drives)
        if (
            0.5 not in drives
            or 1.0 not in drives
            or list(drives) != sorted(set(drives))
            or drives[0] <= 0
        ):
            raise ValueError(
                f"The argument 'drives' must be increasing values in (0, 1] including 0.5 and 1.0, {self.drives!r} is invalid."
            )
        object.__setattr__(self, "drives", drives)
        sensor = get_layout(self.cancellation_layout)
        if self.cancellation_muscle is None:
            order = ("wrist_flexors", *self.engine.muscles)
            usable = [m for m in order if m in self.engine.muscles and m in sensor.channels]
            object.__setattr__(self, "cancellation_muscle", usable[0] if usable else "")
        if (
            self.cancellation_muscle not in self.engine.muscles
            or self.cancellation_muscle not in sensor.channels
        ):
            raise ValueError(
                f"The argument 'cancellation_muscle' must be an engine muscle with a channel of that name in "
                f"{self.cancellation_layout!r} ({sensor.channels}), {self.cancellation_muscle!r} is invalid."
            )
        if not self.velocities or not all(2.0 <= v <= 7.0 for v in self.velocities):
            raise ValueError(
                f"The argument 'velocities' must be values within [2, 7] m/s, {self.velocities!r} is invalid."
            )


@dataclass(frozen=True)
class ValidationReport:
    """The checks of one validation run."""

    checks: tuple[Check, ...]
    settings: ValidationSettings

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        """``{"checks": [...], "passed": bool, "settings": {...}}`` (JSON-ready)."""
        e = self.settings.engine
        return {
            "checks": [c.to_dict() for c in self.checks],
            "passed": self.passed,
            "settings": {
                "layout": e.layout,
                "grid_layout": self.settings.grid_layout,
                "muaps": e.muaps,
                "fs": e.fs,
                "units_per_muscle": e.units_per_muscle,
                "unit_counts": dict(zip(e.muscles, e.unit_counts)),
                "volume_conductor": e.volume_conductor,
                "muscles": list(e.muscles),
                "seed": e.seed,
                "noise_and_artefacts": "off (the engine alone)",
            },
        }

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"No check named {name!r}; known: {[c.name for c in self.checks]}.")


def run_validation(settings: ValidationSettings | None = None) -> ValidationReport:
    """Simulate the engine and check its physiology (see the module doc)."""
    settings = settings or ValidationSettings()
    checks: list[Check] = []
    checks += discharge_checks(settings)
    checks += surface_checks(settings)
    checks += propagation_checks(settings)
    checks += fidelity_checks(settings)
    return ValidationReport(tuple(checks), settings)


# ---------------------------------------------------------------------------- discharges
def pool_discharges(
    settings: EngineSettings, drive: np.ndarray, block: int | None = None, pool: PoolParameters | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Discharge samples and units of the motor-unit pools for a drive ``(T, n_muscles)``.

    Parameters
    ----------
    settings : EngineSettings
        Pools, rate and seed.
    drive : ndarray, shape (T, n_muscles)
        Activation of each muscle per sample.
    block : int | None
        Samples per call of the streaming kernel (default: one second).
    pool : PoolParameters | None
        Pools already built from ``settings`` (built here if ``None``).
    """
    pool = build_pools(settings) if pool is None else pool
    remaining, n_active, rng = initial_state(pool, settings.seed)
    ktab = pool.kernel_table(settings.fs)
    chunk = int(settings.fs) if block is None else int(block)
    cap = pool.max_spikes(chunk, settings.fs)
    ss, su = np.zeros(cap, np.int32), np.zeros(cap, np.int32)
    cols = np.arange(settings.n_muscles, dtype=np.int64)
    samples, units = [], []
    drive = np.ascontiguousarray(drive, np.float32)
    for start in range(0, drive.shape[0], chunk):
        k = advance_pool(
            drive[start : start + chunk], cols, pool.starts, ktab, remaining, n_active, rng, pool.isi_cv, ss, su
        )
        samples.append(ss[:k].astype(np.int64) + start)
        units.append(su[:k].copy())
    return np.concatenate(samples), np.concatenate(units)


def discharge_checks(settings: ValidationSettings) -> list[Check]:
    """Recruitment rate, steady rates, onion skin, ISI variability, last recruitment per muscle."""
    es = settings.engine
    pool = build_pools(es)
    fs = es.fs
    n_u = pool.n_units
    checks: list[Check] = []
    # Slow ramp 0 -> 1.
    n = int(settings.ramp_s * fs)
    ramp = np.repeat((np.arange(n) / n)[:, None], es.n_muscles, axis=1)
    samples, units = pool_discharges(es, ramp, pool=pool)
    first_rates, last_drive = [], {}
    for u in range(n_u):
        s = samples[units == u]
        if s.size >= 4:
            first_rates.append(fs / np.diff(s[:4]).mean())
    for m, name in enumerate(es.muscles):
        last = int(pool.starts[m + 1]) - 1
        s = samples[units == last]
        last_drive[name] = float(ramp[s[0], m]) if s.size else math.nan
    checks.append(
        Check(
            "recruitment_rate_hz",
            float(np.median(first_rates)) if first_rates else math.nan,
            6.0,
            10.0,
        )
    )
    # Steady drives.
    skip = int(fs)
    n = int(settings.steady_s * fs) + skip
    all_rates: list[float] = []
    cvs: list[float] = []
    rhos: list[float] = []
    for d in settings.drives:
        samples, units = pool_discharges(es, np.full((n, es.n_muscles), d), pool=pool)
        keep = samples >= skip
        samples, units = samples[keep], units[keep]
        order = np.argsort(units, kind="stable")
        bounds = np.searchsorted(units[order], np.arange(n_u + 1))
        rates = np.full(n_u, np.nan)
        for u in range(n_u):
            s = samples[order[bounds[u] : bounds[u + 1]]]
            if s.size >= 6:
                isi = np.diff(s) / fs
                rates[u] = 1.0 / isi.mean()
                if d == 0.5 and s.size >= 51:
                    cvs.append(float(isi.std() / isi.mean()))
        all_rates += [r for r in rates if np.isfinite(r)]
        if d == 0.5:
            for m in range(es.n_muscles):
                sl = slice(int(pool.starts[m]), int(pool.starts[m + 1]))
                r, thr = rates[sl], pool.thresholds[sl]
                ok = np.isfinite(r)
                if ok.sum() >= 5:
                    rhos.append(float(spearmanr(thr[ok], r[ok]).statistic))
    rates_arr = np.array(all_rates) if all_rates else np.array([math.nan])
    checks.append(Check("steady_rate_min_hz", float(rates_arr.min()), 6.0, 45.0))
    checks.append(Check("steady_rate_max_hz", float(rates_arr.max()), 6.0, 45.0))
    checks.append(Check("mean_rate_ceiling_hz", float(rates_arr.max()), 0.0, 50.0))
    onion = es.peak_rate_first > es.peak_rate_last
    rho = float(np.mean(rhos)) if rhos else math.nan
    # Earlier-recruited units fire faster, unless configured otherwise (peak_rate_first <= peak_rate_last).
    checks.append(
        Check("onion_skin_rank_correlation", rho, -1.0, -0.8)
        if onion
        else Check("onion_skin_rank_correlation", rho, -1.0, 1.0)
    )
    checks.append(Check("isi_cv_median", float(np.median(cvs)) if cvs else math.nan, 0.1, 0.3))
    for name, value in last_drive.items():
        checks.append(Check(f"last_recruitment_{name}", value, 0.5, 0.9))
    return checks


# ---------------------------------------------------------------------------- surface signal
def _steady_emg(
    engine: EmgEngine, drive: float, seconds: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """EMG ``(T, C)`` and discharges (sample, unit) at a steady drive, the first second dropped."""
    fs = engine.fs
    n = int(seconds * fs)
    engine.reset(max_block=n)
    act = np.full((n, engine.settings.n_muscles), drive, np.float32)
    out = engine.process(Block(act, np.arange(n) / fs, fs, 0, engine.settings.muscles))
    d = out.events.get("discharges", Discharges.empty())
    units = engine.pool.starts[d.muscle] + d.unit
    return out.data.astype(np.float64), (d.sample, units)


def _spectrum(x: np.ndarray, fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    return welch(x - x.mean(), fs=fs, nperseg=nperseg)


def surface_checks(settings: ValidationSettings) -> list[Check]:
    """MUAP duration, spectrum of a bipolar channel, RMS against drive, amplitude cancellation."""
    engine = EmgEngine(settings.engine)
    fs = engine.fs
    skip = int(fs)
    checks: list[Check] = []
    # MUAP duration above 5 % of the peak, on each visible unit's strongest channel.
    muaps = engine.muaps.astype(np.float64)
    peaks = np.abs(muaps).max(axis=(1, 2))
    durations = []
    for u in np.flatnonzero(peaks >= 0.1 * peaks.max()):
        c = int(np.abs(muaps[u]).max(axis=0).argmax())
        x = np.abs(muaps[u, :, c])
        above = np.flatnonzero(x > 0.05 * x.max())
        durations.append((above[-1] - above[0] + 1) / fs * 1000.0)
    checks.append(Check("muap_duration_ms_median", float(np.median(durations)), 5.0, 25.0))
    # Steady drives: RMS, spectrum at 0.5, cancellation at 1.0.
    rms = []
    for d in settings.drives:
        emg, _ = _steady_emg(engine, d, settings.emg_s)
        seg = emg[skip:]
        rms.append(np.sqrt((seg**2).mean(axis=0)))
        if d == 0.5:
            c = int(rms[-1].argmax())
            f, p = _spectrum(seg[:, c], fs, 1024)
            cum = np.cumsum(p)
            mdf = float(f[np.searchsorted(cum, cum[-1] / 2)])
            band = float(p[(f >= 20) & (f <= 450)].sum() / p.sum())
            f, p = _spectrum(seg[:, c], fs, 512)
            sel = (f > 10) & (f < 500)
            smooth = np.convolve(p, np.ones(9) / 9, mode="same")
            peak_ratio = float((p[sel] / smooth[sel]).max())
            checks.append(Check("median_frequency_hz", mdf, 60.0, 130.0))
            checks.append(Check("power_20_450_hz_fraction", band, 0.9, 1.0))
            checks.append(Check("spectral_peak_ratio", peak_ratio, 0.0, 3.0))
    rms_arr = np.array(rms)
    strongest = int(rms_arr[-1].argmax())
    steps = np.concatenate(
        [
            rms_arr[1:, strongest] / rms_arr[:-1, strongest],
            rms_arr[1:].mean(axis=1) / rms_arr[:-1].mean(axis=1),
        ]
    )
    # Strictly increasing: every step of the drive raises the RMS (by at least 0.1 %).
    checks.append(Check("rms_step_ratio_min", float(steps.min()), 1.001, 100.0))
    checks.append(cancellation_check(settings))
    return checks


def cancellation_check(settings: ValidationSettings) -> Check:
    """Amplitude cancellation at full drive, in the configuration of Keenan et al. (2005).

    One muscle's motor units (``cancellation_muscle``, every muscle at full
    drive) recorded by the bipolar sensor over it (1 cm between contacts in
    ``muscle_pairs``); see :func:`amplitude_cancellation`.
    """
    base = settings.engine
    # Keenan et al. simulated a pool of 120 units (Fuglevand et al. 1993's FDI): the muscle's
    # fibres are shared among as many units here (cancellation grows with the number of units).
    counts = tuple(
        KEENAN_UNITS if m == settings.cancellation_muscle else c for m, c in zip(base.muscles, base.unit_counts)
    )
    es = replace(base, layout=settings.cancellation_layout, units_per_muscle=counts)
    engine = EmgEngine(es)
    skip = int(es.fs)
    emg, (spk_sample, spk_unit) = _steady_emg(engine, 1.0, settings.emg_s)
    m = es.muscles.index(settings.cancellation_muscle)
    c = engine.channels.index(settings.cancellation_muscle)
    own = (spk_unit >= engine.pool.starts[m]) & (spk_unit < engine.pool.starts[m + 1])
    muaps = engine.muaps[:, :, c].astype(np.float64)
    value = amplitude_cancellation(muaps, spk_sample[own], spk_unit[own], emg.shape[0], skip)
    return Check("amplitude_cancellation_percent", value, 20.0, 75.0)


def amplitude_cancellation(
    muaps: np.ndarray, spk_sample: np.ndarray, spk_unit: np.ndarray, n_samples: int, skip: int
) -> float:
    """Amplitude cancellation (%) on one channel: ``100 (1 - ARV(sum) / sum(ARV(unit)))``.

    Keenan et al. (2005): the average rectified value of the signal
    (sum, then rectify) against the sum of the rectified motor-unit
    potential trains (rectify, then sum, the signal without cancellation).

    Parameters
    ----------
    muaps : ndarray, shape (n_units, L)
        Each unit's MUAP on the channel.
    spk_sample, spk_unit : ndarray
        Discharges.
    n_samples : int
        Signal length.
    skip : int
        Samples discarded at the start.
    """
    total = np.zeros(n_samples)
    rectified = np.zeros(n_samples)
    for u in np.unique(spk_unit):
        train = np.zeros(n_samples)
        np.add.at(train, spk_sample[spk_unit == u], 1.0)
        s = np.convolve(train, muaps[u])[:n_samples]
        total += s
        rectified += np.abs(s)
    actual, without = np.abs(total[skip:]).mean(), rectified[skip:].mean()
    return float(100.0 * (1.0 - actual / without)) if without > 0 else math.nan


# ---------------------------------------------------------------------------- propagation
def propagation_checks(settings: ValidationSettings, fs: float = 10000.0) -> list[Check]:
    """Delay of a unit's single-differential potential between two grid rows vs spacing / velocity.

    A unit 6 mm deep under the grid's middle column, its innervation zone
    3 cm proximal to the grid, fibres ending 5 cm beyond it; the potential
    at 10 kHz; the delay is the lag of the cross-correlation peak (parabolic
    interpolation) between single-differential channels of the second and
    the second-to-last row.
    """
    lay = get_layout(settings.grid_layout)
    rows, cols = lay.grid
    labels = {c: i for i, c in enumerate(lay.channels)}
    col = (cols + 1) // 2
    present = [r for r in range(1, rows + 1) if f"R{r}C{col}" in labels]
    idx = [labels[f"R{r}C{col}"] for r in present]
    x = lay.electrode_x[idx]
    angle = float(lay.electrode_angle[idx[0]])
    r_fibre = lay.radius - 0.006
    yz = np.array([[r_fibre * math.cos(angle), r_fibre * math.sin(angle)]])
    pts, pw = electrode_points(
        lay.electrode_x[idx], lay.electrode_angle[idx], lay.electrode_radius, lay.radius
    )
    montage = np.eye(len(idx))
    a, b = 1, len(idx) - 3  # single-differential channels (a, a+1) and (b, b+1)
    spacing = float(x[b] - x[a])
    checks = []
    for v in settings.velocities:
        bundle = FibreBundle(
            yz,
            np.array([200.0]),
            np.array([x[0] - 0.03]),
            np.array([x[0] - 0.07]),
            np.array([x[-1] + 0.05]),
            v,
        )
        n = int(round((x[-1] - x[0] + 0.06) / v * fs)) + 100
        mono = muap(bundle, pts, pw, montage, lay.electrode_radius, fs, n)
        sd_a, sd_b = mono[:, a + 1] - mono[:, a], mono[:, b + 1] - mono[:, b]
        xc = correlate(sd_b, sd_a, mode="full")
        k = int(xc.argmax())
        frac = 0.0
        if 0 < k < xc.size - 1:
            y0, y1, y2 = xc[k - 1], xc[k], xc[k + 1]
            frac = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
        delay_ms = (k + frac - (sd_a.size - 1)) / fs * 1000.0
        expected = spacing / v * 1000.0
        checks.append(
            Check(f"propagation_delay_ms_at_{v:g}_mps", delay_ms, 0.95 * expected, 1.05 * expected)
        )
    return checks


# ---------------------------------------------------------------------------- interference pattern
def unit_energies(
    x: np.ndarray, spk_sample: np.ndarray, spk_unit: np.ndarray, n_units: int, length: int
) -> np.ndarray:
    """Energy each unit contributes to a signal, from spike-triggered averages (no engine internals).

    For unit ``u`` with ``n`` discharges whose windows ``[s, s + length)``
    lie in ``x``, the spike-triggered average ``a`` estimates its potential
    and ``n * |a|^2`` its energy; the other units' activity leaves a residue
    of ``length * var(x) / n`` in ``|a|^2`` on average, which is subtracted
    (negative estimates count as 0).

    Parameters
    ----------
    x : ndarray, shape (T,)
        One channel.
    spk_sample, spk_unit : ndarray
        Discharges (sample index into ``x``, unit index).
    n_units : int
    length : int
        Window (samples), the MUAP duration.

    Returns
    -------
    ndarray, shape (n_units,)
        Energy (signal units squared x samples), comparable with ``sum(x**2)``.
    """
    ok = (spk_sample >= 0) & (spk_sample + length <= x.size)
    s, u = spk_sample[ok], spk_unit[ok]
    var = float(x.var())
    out = np.zeros(n_units)
    order = np.argsort(u, kind="stable")
    bounds = np.searchsorted(u[order], np.arange(n_units + 1))
    win = np.arange(length)
    for k in range(n_units):
        idx = s[order[bounds[k] : bounds[k + 1]]]
        if idx.size == 0:
            continue
        sta = x[idx[:, None] + win].mean(axis=0)
        out[k] = max(0.0, idx.size * float(sta @ sta) - length * var)
    return out


def top_unit_share(x: np.ndarray, spk_sample: np.ndarray, spk_unit: np.ndarray, n_units: int,
                   length: int, top: int = 3) -> float:
    """Fraction of the energy of ``x`` (mean removed) carried by its ``top`` largest units (:func:`unit_energies`)."""
    x = x - x.mean()
    e = unit_energies(x, spk_sample, spk_unit, n_units, length)
    total = float(x @ x)
    return float(np.sort(e)[-top:].sum() / total) if total > 0 else math.nan


def fidelity_checks(settings: ValidationSettings) -> list[Check]:
    """Interference pattern, spatial spread and amplitude (see the module doc and docs/validation.md)."""
    es = settings.engine
    checks: list[Check] = []
    n_l = es.muap_samples
    skip = int(es.fs)
    # 50 % drive on the differential layout: top-3 share and kurtosis on every channel carrying
    # at least 30 % of the strongest channel's RMS; the worst channel is reported.
    engine = EmgEngine(es)
    emg, (spk_sample, spk_unit) = _steady_emg(engine, 0.5, settings.emg_s)
    seg = emg[skip:]
    rms = np.sqrt((seg**2).mean(axis=0))
    chans = np.flatnonzero(rms >= 0.3 * rms.max())
    keep = spk_sample >= skip
    shares = [
        top_unit_share(seg[:, c], spk_sample[keep] - skip, spk_unit[keep], engine.pool.n_units, n_l)
        for c in chans
    ]
    checks.append(Check("top3_units_energy_share_at_50pct_max", float(max(shares)), 0.0, 0.25))
    kurt = kurtosis(seg[:, chans], axis=0, fisher=True)
    checks.append(Check("excess_kurtosis_at_50pct_max", float(kurt.max()), -1.0, 1.0))
    checks += _decay_checks(settings)
    checks += _amplitude_checks(settings)
    return checks


def _decay_checks(settings: ValidationSettings) -> list[Check]:
    """Distance across the fibres at which a unit's monopolar amplitude halves (median of the 5 largest units)."""
    es = settings.engine
    if settings.decay_muscle not in es.muscles:
        return []
    lay = get_layout(settings.grid_layout)
    if lay.grid is None or np.any(lay.montage.sum(axis=1) != 1.0) or lay.n_channels != lay.montage.shape[1]:
        return []
    engine = EmgEngine(replace(es, layout=settings.grid_layout, muscles=(settings.decay_muscle,),
                               units_per_muscle=es.unit_counts[es.muscles.index(settings.decay_muscle)],
                               last_recruitment=es.last_recruitment[es.muscles.index(settings.decay_muscle)]))
    emg, (spk_sample, spk_unit) = _steady_emg(engine, 0.3, settings.emg_s)
    skip = int(es.fs)
    seg = emg[skip:] - emg[skip:].mean(axis=0)
    keep = spk_sample >= skip
    s, u = spk_sample[keep] - skip, spk_unit[keep]
    n_l = es.muap_samples
    rows, cols = lay.grid
    labels = {c: i for i, c in enumerate(lay.channels)}
    # Electrode angle per column: spacing on the skin across the fibres.
    col_idx = [labels[f"R1C{c}"] for c in range(1, cols + 1)]
    step = float(np.median(np.abs(np.diff(lay.electrode_angle[col_idx])))) * lay.radius
    # The units with the largest STA energy on the grid's strongest electrode.
    strongest = int(np.sqrt((seg**2).mean(axis=0)).argmax())
    energy = unit_energies(seg[:, strongest], s, u, engine.pool.n_units, n_l)
    win = np.arange(n_l)
    halves = []
    for k in np.argsort(energy)[::-1][:5]:
        idx = s[u == k]
        idx = idx[idx + n_l <= seg.shape[0]]
        if idx.size < 20:
            continue
        sta = seg[idx[:, None] + win].mean(axis=0)  # (L, C)
        p2p = np.ptp(sta, axis=0)
        best = int(p2p.argmax())
        r = int(re.fullmatch(r"R(\d+)C\d+", lay.channels[best]).group(1))
        amp = np.array([p2p[labels[f"R{r}C{c}"]] if f"R{r}C{c}" in labels else np.nan
                        for c in range(1, cols + 1)])
        c0 = int(np.nanargmax(amp))
        for direction in (-1, 1):
            d, prev = 0, amp[c0]
            while True:
                c = c0 + direction * (d + 1)
                if c < 0 or c >= cols or not np.isfinite(amp[c]):
                    break
                if amp[c] <= 0.5 * amp[c0]:
                    frac = (prev - 0.5 * amp[c0]) / (prev - amp[c])
                    halves.append((d + frac) * step * 1000.0)
                    break
                d, prev = d + 1, amp[c]
    value = float(np.median(halves)) if halves else math.nan
    return [Check("monopolar_half_amplitude_distance_mm", value, 8.0, 40.0)]


def _amplitude_checks(settings: ValidationSettings) -> list[Check]:
    """Biceps bipolar RMS at full drive, its RMS-vs-drive exponent, the amplitude at the rest floor."""
    es = replace(settings.engine, layout=settings.cancellation_layout)
    name = settings.amplitude_muscle
    engine = EmgEngine(es)
    if name not in es.muscles or name not in engine.channels:
        return []
    c = engine.channels.index(name)
    skip = int(es.fs)
    drives = [d for d in settings.drives if d >= 0.2]
    rms = []
    for d in drives:
        emg, _ = _steady_emg(engine, d, settings.emg_s)
        rms.append(float(np.sqrt((emg[skip:, c] ** 2).mean())))
    rest, _ = _steady_emg(engine, settings.rest_drive, settings.emg_s)
    rest_rms = float(np.sqrt((rest[skip:] ** 2).mean(axis=0)).max())
    exponent = float(np.polyfit(np.log(drives), np.log(rms), 1)[0])
    return [
        Check(f"mvc_rms_uv_{name}", rms[-1], 300.0, 1200.0),
        Check(f"rms_drive_exponent_{name}", exponent, 0.9, 2.0),
        Check("rest_rms_uv_max", rest_rms, 0.0, 10.0),
    ]


def fast_settings(engine: EngineSettings | None = None) -> ValidationSettings:
    """Shorter simulations for tests (same checks, same ranges)."""
    return ValidationSettings(
        engine=engine or EngineSettings(), ramp_s=12.0, steady_s=10.0, emg_s=5.0
    )
