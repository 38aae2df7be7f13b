"""Settings of the noise and artefact stage (a frozen, validated dataclass)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from realtime.core.checks import check_number

POWERLINE_FREQUENCIES: tuple[int, ...] = (0, 50, 60)
"""Allowed mains frequencies in Hz (0 = no power-line interference)."""


def _check_nonneg(name: str, value: object, unit: str) -> None:
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
        raise ValueError(
            f"The argument '{name}' must be a finite number >= 0 ({unit}; 0 switches it off). {value!r} is invalid."
        )


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
            _check_nonneg(name, getattr(self, name), "µV" if name != "motion_uv" else "µV per m/s²")
        check_number("pink_min_hz", self.pink_min_hz, 0.05, 10.0, "Hz")
        if self.powerline_hz not in POWERLINE_FREQUENCIES or isinstance(self.powerline_hz, bool):
            raise ValueError(
                f"The argument 'powerline_hz' must be one of {POWERLINE_FREQUENCIES} (0 = off). "
                f"{self.powerline_hz!r} is invalid."
            )
        harmonics = self.powerline_harmonics
        if (
            not isinstance(harmonics, tuple)
            or not 1 <= len(harmonics) <= 20
            or not all(isinstance(h, numbers.Real) and math.isfinite(h) and h >= 0 for h in harmonics)
        ):
            raise ValueError(
                "The argument 'powerline_harmonics' must be a tuple of 1-20 relative amplitudes >= 0 "
                f"(fundamental first), e.g. (1.0, 0.0, 0.3). {harmonics!r} is invalid."
            )
        check_number("wander_hz", self.wander_hz, 0.05, 5.0, "Hz")
        band = self.motion_band_hz
        if not (
            isinstance(band, tuple)
            and len(band) == 2
            and all(isinstance(f, numbers.Real) for f in band)
            and 0.1 <= band[0] < band[1] <= 100.0
        ):
            raise ValueError(
                "The argument 'motion_band_hz' must be a tuple (low, high) with 0.1 <= low < high <= 100 Hz. "
                f"{band!r} is invalid."
            )
        check_number("ecg_bpm", self.ecg_bpm, 30.0, 200.0, "beats per minute")
        check_number("ecg_hrv", self.ecg_hrv, 0.0, 0.2, "(fraction of the RR interval)")
        if not (isinstance(self.seed, numbers.Integral) and not isinstance(self.seed, bool) and self.seed >= 0):
            raise ValueError(f"The argument 'seed' must be an integer >= 0. {self.seed!r} is invalid.")

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
