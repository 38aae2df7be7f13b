"""Settings of the EMG engine (a frozen, validated dataclass)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.checks import check_bool, check_choice, check_number, check_type, ensure_int
from realtime.core.units import EMG_FS_HINT, EMG_FS_MAX, EMG_FS_MIN
from realtime.stages.engine.layouts import get_layout
from realtime.stages.engine.muscles import MOTOR_UNITS, MUSCLE_GEOMETRY
from realtime.stages.engine.volume_conductor import CONDUCTOR_MODELS

MUAP_MODES: tuple[str, ...] = ("static", "dynamic")
"""MUAP modes: ``"static"`` (one table per unit, at the neutral posture) or
``"dynamic"`` (tables over a posture grid, blended at each discharge with the
joint angles of the input block's ``aux["angles"]``)."""

DEFAULT_POSTURE_POINTS: tuple[int, int, int] = (5, 5, 3)
"""Posture-grid nodes per joint (elbow flexion, forearm pronation, wrist flexion) of dynamic MUAPs."""

MAX_RATE_HZ = 50.0
"""No motor unit may be configured to discharge faster than this on average."""


@dataclass(frozen=True)
class EngineSettings:
    """Configuration of :class:`~realtime.stages.engine.engine.EmgEngine`.

    Parameters
    ----------
    layout : str
        Electrode layout: a built-in name (:data:`~realtime.stages.engine.layouts.LAYOUTS`)
        or the path of a TOML/JSON layout file (``docs/layouts.md``).
    fs : float
        Sampling rate of activations in and EMG out (Hz), within
        [:data:`~realtime.core.units.EMG_FS_MIN`, :data:`~realtime.core.units.EMG_FS_MAX`] (500-10000).
    muscles : tuple of str
        Muscles simulated, a subset of :data:`realtime.core.anatomy.MUSCLES`, in
        the order the engine reports them.
    units_per_muscle : int | tuple of int | None
        Motor units per muscle (1-2000): one count for every muscle, one per
        muscle (in ``muscles`` order), or ``None`` for the published counts of
        :data:`~realtime.stages.engine.muscles.MOTOR_UNITS` (e.g. biceps 774,
        Christensen 1959; brachioradialis 333, Feinstein et al. 1955).
    seed : int
        Seeds everything random: unit geometry, MUAPs and discharge times.
    recruitment_range : float
        Ratio of the last to the first recruitment threshold (Fuglevand's RR), 1-200.
        The default 20 puts the first threshold at 3.5-4.3 % of full drive, above
        the teacher's 3 % co-contraction floor, so a relaxed arm reads a few µV
        (Fuglevand et al. 1993 used 30 for a hand muscle and studied 10-120).
    last_recruitment : float | tuple of float | None
        Drive (0-1] at which the last unit of a pool is recruited: one value
        for all muscles, one per muscle (in ``muscles`` order), or ``None``
        for the per-muscle defaults of :data:`~realtime.stages.engine.muscles.MUSCLE_GEOMETRY`.
    min_rate : float
        Discharge rate at recruitment (Hz).
    peak_rate_first, peak_rate_last : float
        Peak rate of the first- and the last-recruited unit (Hz, at most
        :data:`MAX_RATE_HZ`); in between it varies linearly with the threshold.
        ``peak_rate_first > peak_rate_last`` gives the onion-skin pattern.
    rate_gain : float
        Increase of the discharge rate per unit of drive above threshold (Hz).
    isi_cv : float
        Coefficient of variation of inter-spike intervals, 0-0.3 (Gaussian jitter).
    conduction_velocity : tuple of float
        Range of muscle-fibre conduction velocities (m/s), first to last
        recruited unit (larger units conduct faster), within 2-7 m/s.
    muap_duration : float
        Length of each MUAP table (s), 0.01-0.1.
    muaps : str
        MUAP mode, one of :data:`MUAP_MODES`.
    posture_points : tuple of int
        Nodes of the posture grid per joint of :data:`realtime.core.anatomy.JOINTS`
        (``"dynamic"`` only), 1-9 each; 1 ignores that joint (neutral).
    muap_floor : float
        Each unit's tables end after the last sample above this fraction of
        its peak (0-0.05; 0 keeps the whole window).
    cache : bool
        Load MUAP tables from, and store them in, the disk cache
        (``$MYOSTREAM_CACHE/muaps``, default ``~/.cache/myostream/muaps``).
    volume_conductor : str
        ``"layered"`` (muscle, fat and skin layers; Farina & Merletti 2001) or
        ``"halfspace"`` (homogeneous muscle half-space), see
        :mod:`realtime.stages.engine.volume_conductor`.
    """

    layout: str = "armband8"
    fs: float = 2000.0
    muscles: tuple[str, ...] = MUSCLES
    units_per_muscle: int | tuple[int, ...] | None = None
    seed: int = 0
    recruitment_range: float = 20.0
    last_recruitment: float | tuple[float, ...] | None = None
    min_rate: float = 8.0
    peak_rate_first: float = 40.0
    peak_rate_last: float = 25.0
    rate_gain: float = 40.0
    isi_cv: float = 0.2
    conduction_velocity: tuple[float, float] = (3.5, 4.5)
    muap_duration: float = 0.03
    muaps: str = "static"
    posture_points: tuple[int, int, int] = DEFAULT_POSTURE_POINTS
    muap_floor: float = 0.01
    cache: bool = True
    volume_conductor: str = "layered"

    def __post_init__(self) -> None:
        if isinstance(self.layout, Path):
            object.__setattr__(self, "layout", str(self.layout))
        check_type("layout", self.layout, str, "a layout name or file path")
        get_layout(self.layout)  # raises ValueError naming the known layouts or the file problem
        check_number("fs", self.fs, EMG_FS_MIN, EMG_FS_MAX, "Hz", hint=EMG_FS_HINT)
        muscles = tuple(self.muscles) if not isinstance(self.muscles, str) else (self.muscles,)
        if not muscles:
            raise ValueError(f"The argument 'muscles' needs at least one of {MUSCLES}, got ().")
        bad = [m for m in muscles if m not in MUSCLE_GEOMETRY]
        if bad:
            raise ValueError(
                f"The argument 'muscles' must contain names from {MUSCLES}. {bad} is invalid."
            )
        if len(set(muscles)) != len(muscles):
            raise ValueError(
                f"The argument 'muscles' must not repeat a muscle, {muscles} is invalid."
            )
        object.__setattr__(self, "muscles", muscles)
        upm = self.units_per_muscle
        if upm is None:
            counts = tuple(MOTOR_UNITS[m][0] for m in muscles)
        elif not isinstance(upm, (tuple, list)):
            counts = (ensure_int("units_per_muscle", upm, 1, 2000),) * len(muscles)
        else:
            counts = tuple(upm)
            if len(counts) != len(muscles):
                raise ValueError(
                    f"The argument 'units_per_muscle' needs one count per muscle ({len(muscles)}), "
                    f"got {len(counts)}: {upm!r}."
                )
        for c in counts:
            ensure_int("units_per_muscle", c, 1, 2000)
        if isinstance(upm, (tuple, list)):
            object.__setattr__(self, "units_per_muscle", tuple(int(c) for c in counts))
        check_choice("volume_conductor", self.volume_conductor, CONDUCTOR_MODELS)
        ensure_int("seed", self.seed, 0, 2**63 - 1)
        check_number(
            "recruitment_range", self.recruitment_range, 1.0, 200.0, hint="Fuglevand et al. used 30."
        )
        lr = self.last_recruitment
        if lr is None:
            lr_t = tuple(MUSCLE_GEOMETRY[m].last_recruitment for m in muscles)
        elif isinstance(lr, numbers.Real) and not isinstance(lr, bool):
            lr_t = (float(lr),) * len(muscles)
        else:
            lr_t = tuple(lr)
            if len(lr_t) != len(muscles):
                raise ValueError(
                    f"The argument 'last_recruitment' needs one value per muscle ({len(muscles)}), "
                    f"got {len(lr_t)}: {lr!r}."
                )
        for v in lr_t:
            check_number("last_recruitment", v, 0.05, 1.0, hint="Typical values are 0.5-0.9 of full drive.")
        object.__setattr__(self, "last_recruitment", tuple(float(v) for v in lr_t))
        check_number("min_rate", self.min_rate, 1.0, MAX_RATE_HZ, "Hz", hint="Typical values are 6-8 Hz.")
        peak_hint = "It must lie between 'min_rate' and 50 Hz."
        check_number("peak_rate_first", self.peak_rate_first, self.min_rate, MAX_RATE_HZ, "Hz", hint=peak_hint)
        check_number("peak_rate_last", self.peak_rate_last, self.min_rate, MAX_RATE_HZ, "Hz", hint=peak_hint)
        check_number("rate_gain", self.rate_gain, 0.0, 1000.0, "Hz per unit of drive")
        check_number("isi_cv", self.isi_cv, 0.0, 0.3, hint="Physiological values are 0.1-0.3.")
        cv = tuple(self.conduction_velocity)
        if len(cv) != 2:
            raise ValueError(
                f"The argument 'conduction_velocity' must be a (low, high) pair in m/s; {self.conduction_velocity!r} is invalid."
            )
        for v in cv:
            check_number("conduction_velocity", v, 2.0, 7.0, "m/s", hint="Muscle fibres conduct at 3-5 m/s.")
        if cv[0] > cv[1]:
            raise ValueError(
                f"The argument 'conduction_velocity' must be (low, high) with low <= high, {cv!r} is invalid."
            )
        object.__setattr__(self, "conduction_velocity", (float(cv[0]), float(cv[1])))
        check_number("muap_duration", self.muap_duration, 0.01, 0.1, "s",
                     hint="About 0.03 s holds a whole surface MUAP.")
        check_choice("muaps", self.muaps, MUAP_MODES)
        pts = tuple(self.posture_points) if not isinstance(self.posture_points, str) else ()
        if len(pts) != len(JOINTS) or not all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) and 1 <= p <= 9 for p in pts
        ):
            raise ValueError(
                f"The argument 'posture_points' must be {len(JOINTS)} integers within [1, 9] (nodes per joint "
                f"of {JOINTS}), {self.posture_points!r} is invalid. The default is {DEFAULT_POSTURE_POINTS}."
            )
        object.__setattr__(self, "posture_points", tuple(int(p) for p in pts))
        check_number("muap_floor", self.muap_floor, 0.0, 0.05, hint="0.01 drops tails below 1 % of the peak.")
        check_bool("cache", self.cache)

    @property
    def n_muscles(self) -> int:
        """Number of simulated muscles."""
        return len(self.muscles)

    @property
    def unit_counts(self) -> tuple[int, ...]:
        """Motor units of each muscle, in ``muscles`` order."""
        upm = self.units_per_muscle
        if upm is None:
            return tuple(MOTOR_UNITS[m][0] for m in self.muscles)
        if isinstance(upm, tuple):
            return upm
        return (int(upm),) * len(self.muscles)

    @property
    def n_units(self) -> int:
        """Total number of motor units."""
        return sum(self.unit_counts)

    @property
    def muap_samples(self) -> int:
        """Length ``L`` of each MUAP table in samples."""
        return int(math.ceil(self.muap_duration * self.fs))

