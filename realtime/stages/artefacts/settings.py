"""Settings of the noise and artefact stage (a frozen, validated dataclass)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from realtime.core.checks import check_choice, check_number, check_type, check_vector, ensure_int

POWERLINE_FREQUENCIES: tuple[int, ...] = (0, 50, 60)
"""Allowed mains frequencies in Hz (0 = no power-line interference)."""


@dataclass(frozen=True)
class ArtefactSettings:
    """What noise and which artefacts the artefact stage adds to the EMG.

    Every component is switched off by an amplitude of 0 and is otherwise
    independent of the others: each has its own random stream derived from
    ``seed``, so switching one on or off never changes the others' samples.
    The defaults add 1 µV RMS of white amplifier noise and nothing else.

    Parameters
    ----------
    noise_uv : float
        RMS of white electrode/amplifier noise per channel (µV).
    pink_uv : float
        RMS of 1/f (pink) noise per channel between ``pink_min_hz`` and
        Nyquist (µV).
    pink_min_hz : float
        Lowest frequency of the 1/f band (Hz, 0.05-10); below it the
        spectrum is flat.
    powerline_hz : int
        Mains frequency: 0 (off), 50 or 60 Hz.
    powerline_uv : float
        Peak amplitude of the fundamental on the most affected channel (µV);
        each channel gets a fixed, seeded fraction of it (0.5-1) and its own
        small phase offset.
    powerline_harmonics : tuple of float
        Amplitude of harmonic ``k`` (1 = fundamental) relative to the
        fundamental, index ``k - 1``. Harmonics at or above Nyquist are left out.
    wander_uv : float
        RMS of baseline wander per channel (µV): independent Gaussian noise
        through a 2nd-order Butterworth low-pass at ``wander_hz``.
    wander_hz : float
        Corner frequency of the baseline wander (Hz, 0.05-5).
    motion_uv : float
        Motion-artefact gain in µV per m/s² of dynamic acceleration (the
        accelerometer band-passed to ``motion_band_hz``); each channel sees a
        fixed, seeded projection of the three axes (gain 0.5-1.5).
    motion_band_hz : tuple of float
        Pass band of the motion artefact (Hz); gravity and slow orientation
        changes are below it.
    ecg_uv : float
        R-wave amplitude of ECG crosstalk on the most affected channel (µV);
        each channel gets a fixed, seeded fraction (0.3-1).
    ecg_bpm : float
        Mean heart rate (beats per minute, 30-200).
    ecg_hrv : float
        Beat-to-beat standard deviation of the RR interval as a fraction of
        the mean (0-0.2).
    seed : int
        Seeds every random quantity of the stage.
    """

    noise_uv: float = 1.0
    pink_uv: float = 0.0
    pink_min_hz: float = 0.5
    powerline_hz: int = 0
    powerline_uv: float = 20.0
    powerline_harmonics: tuple[float, ...] = (1.0, 0.0, 0.3, 0.0, 0.1)
    wander_uv: float = 0.0
    wander_hz: float = 0.3
    motion_uv: float = 0.0
    motion_band_hz: tuple[float, float] = (1.0, 20.0)
    ecg_uv: float = 0.0
    ecg_bpm: float = 70.0
    ecg_hrv: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("noise_uv", "pink_uv", "powerline_uv", "wander_uv", "motion_uv", "ecg_uv"):
            unit = "µV" if name != "motion_uv" else "µV per m/s²"
            check_number(name, getattr(self, name), 0.0, unit=unit, hint="0 switches it off.")
        check_number("pink_min_hz", self.pink_min_hz, 0.05, 10.0, "Hz")
        check_choice("powerline_hz", self.powerline_hz, POWERLINE_FREQUENCIES, hint="0 switches it off.")
        harmonics = self.powerline_harmonics
        rule = "a tuple of 1-20 relative amplitudes >= 0 (fundamental first), e.g. (1.0, 0.0, 0.3)"
        check_type("powerline_harmonics", harmonics, tuple, rule)
        for h in harmonics:
            check_type("powerline_harmonics", h, numbers.Real, rule)
        if not 1 <= len(harmonics) <= 20 or not all(math.isfinite(h) and h >= 0 for h in harmonics):
            raise ValueError(f"The argument 'powerline_harmonics' must be {rule}; {harmonics!r} is invalid.")
        check_number("wander_hz", self.wander_hz, 0.05, 5.0, "Hz")
        band = check_vector("motion_band_hz", self.motion_band_hz, 2, 0.1, 100.0, "Hz")
        if not band[0] < band[1]:
            raise ValueError(
                f"The argument 'motion_band_hz' must be (low, high) with low < high; {self.motion_band_hz!r} is invalid."
            )
        check_number("ecg_bpm", self.ecg_bpm, 30.0, 200.0, "beats per minute")
        check_number("ecg_hrv", self.ecg_hrv, 0.0, 0.2, "(fraction of the RR interval)")
        ensure_int("seed", self.seed, lo=0)

    @property
    def needs_imu(self) -> bool:
        """Whether the stage needs the IMU on the EMG grid (motion artefacts on)."""
        return self.motion_uv > 0

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the components switched on (``noise``, ``pink``, ``powerline``, ``wander``, ``motion``, ``ecg``)."""
        on = {
            "noise": self.noise_uv > 0,
            "pink": self.pink_uv > 0,
            "powerline": self.powerline_hz > 0 and self.powerline_uv > 0,
            "wander": self.wander_uv > 0,
            "motion": self.motion_uv > 0,
            "ecg": self.ecg_uv > 0,
        }
        return tuple(name for name, flag in on.items() if flag)
