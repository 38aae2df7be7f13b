"""Each gesture as a synergy of forearm-muscle activations, and how it reaches the engine's muscles.

A synergy gives, for a gesture made at maximal effort, the activation of each
extrinsic hand and wrist muscle as a fraction of its maximal voluntary
contraction (MVC). At effort ``e`` (0-1 of a maximal gesture) the muscles are
driven at ``e * weight`` (before the variability and dynamics of
:mod:`realtime.body.gestures.synthesizer`). Antagonists carry their own
weights: that is the gesture's co-contraction (wrist extensors stabilising a
power grasp, flexors in hand opening), on top of the non-specific
co-contraction the synthesizer adds.

Sources of the patterns (rounded; the values are the relative levels these
studies report, normalised to the gesture's prime movers at 0.8):

- power grasp: finger flexors (FDS, FDP) with strong wrist-extensor
  co-activation, ECRB the most active extensor (Mogk & Keir 2003,
  "The effects of posture on forearm muscle loading during gripping",
  Ergonomics 46:956; Hoozemans & van Dieën 2005, "Prediction of handgrip forces
  using surface EMG of forearm muscles", J Electromyogr Kinesiol 15:358);
- pinch: FPL, FDP and FDS of the index, little extensor activity (Maier &
  Hepp-Reymond 1995, "EMG activation patterns during force production in
  precision grip", Exp Brain Res 103:108);
- point and individuated finger movements: EIP and the index slip of ED
  extend the index while FDS/FDP hold the other fingers (Schieber 1995,
  "Muscular production of individuated finger movements", J Neurosci 15:284;
  Reilly & Schieber 2003, J Neurophysiol 90:2560);
- hand open: ED, EDM, EIP and the thumb extensors/abductor (EPL, EPB, APL)
  with wrist-extensor stabilisation (Basmajian & De Luca 1985, "Muscles Alive",
  5th ed., ch. 12);
- wrist flexion/extension: FCR, FCU, PL resp. ECRL, ECRB, ECU as prime movers,
  finger flexors/extensors assisting (Basmajian & De Luca 1985; Hägg & Milerad
  1997, "Forearm extensor and flexor muscle exertion during simulated gripping
  work", Clin Biomech 12:39);
- pronation: pronator quadratus first, pronator teres with effort;
  supination: supinator, biceps with resistance at 90° of elbow flexion
  (Basmajian & De Luca 1985, ch. 11; Gordon et al. 2004, "Pronation and
  supination torque", J Biomech 37:1485 on the muscles' torque shares).

The engine today has 8 muscles (``realtime.core.anatomy.MUSCLES``), with two
lumped "wrist flexors/extensors" standing for every extrinsic hand and wrist
muscle. :data:`ENGINE_GROUPS` maps each forearm muscle onto one engine muscle;
a lumped muscle's activation is the mean of its members' activations weighted
by their maximal isometric force (:data:`MAX_FORCE_N`, ∝ PCSA): the share of
the lumped pool's motor units those members would drive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from realtime.core.anatomy import GESTURES, MUSCLES

FOREARM_MUSCLES: tuple[str, ...] = (
    "FDS", "FDP", "FPL", "FCR", "FCU", "PL",
    "ED", "EDM", "EIP", "EPL", "EPB", "APL", "ECRL", "ECRB", "ECU",
    "PT", "PQ", "SUP", "BRD", "BIC",
)
"""Muscles the synergies name: flexor digitorum superficialis/profundus, flexor pollicis longus, flexor carpi
radialis/ulnaris, palmaris longus, extensor digitorum, extensor digiti minimi, extensor indicis (proprius),
extensor pollicis longus/brevis, abductor pollicis longus, extensor carpi radialis longus/brevis, extensor carpi
ulnaris, pronator teres, pronator quadratus, supinator, brachioradialis, biceps brachii."""

MAX_FORCE_N: Mapping[str, float] = {
    # Maximal isometric force (N) of the upper-limb model of Holzbaur et al. 2005 ("A model of the upper
    # extremity for simulating musculoskeletal surgery and analyzing neuromuscular control", Ann Biomed Eng
    # 33:829), from PCSA (Lieber et al. 1990/1992); FDS, FDP, ED slips summed; heads of biceps summed; rounded.
    "FDS": 609.0, "FDP": 819.0, "FPL": 76.0, "FCR": 74.0, "FCU": 129.0, "PL": 27.0,
    "ED": 292.0, "EDM": 25.0, "EIP": 22.0, "EPL": 40.0, "EPB": 14.0, "APL": 117.0,
    "ECRL": 305.0, "ECRB": 100.0, "ECU": 93.0,
    "PT": 566.0, "PQ": 76.0, "SUP": 476.0, "BRD": 261.0, "BIC": 1060.0,
}
"""Weight of each forearm muscle inside its engine group (∝ physiological cross-section)."""

ENGINE_GROUPS: Mapping[str, str] = {
    "FDS": "wrist_flexors", "FDP": "wrist_flexors", "FPL": "wrist_flexors",
    "FCR": "wrist_flexors", "FCU": "wrist_flexors", "PL": "wrist_flexors",
    "ED": "wrist_extensors", "EDM": "wrist_extensors", "EIP": "wrist_extensors",
    "EPL": "wrist_extensors", "EPB": "wrist_extensors", "APL": "wrist_extensors",
    "ECRL": "wrist_extensors", "ECRB": "wrist_extensors", "ECU": "wrist_extensors",
    "PT": "pronator_teres", "PQ": "pronator_teres",
    "SUP": "supinator", "BRD": "brachioradialis", "BIC": "biceps",
}
"""The engine muscle (``realtime.core.anatomy.MUSCLES``) each forearm muscle drives until the engine has its own."""


@dataclass(frozen=True)
class Synergy:
    """One gesture: its prime movers and the activation of every muscle at maximal effort.

    Parameters
    ----------
    name : str
        One of :data:`realtime.core.anatomy.GESTURES`.
    weights : Mapping[str, float]
        Activation (0-1 of MVC) of each muscle of :data:`FOREARM_MUSCLES` at maximal effort; muscles not
        listed stay at rest.
    prime_movers : tuple of str
        The muscles that make the gesture (the rest of ``weights`` is synergists and co-contraction).
    """

    name: str
    weights: Mapping[str, float]
    prime_movers: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.name not in GESTURES:
            raise ValueError(f"Unknown gesture {self.name!r}; the gestures are {', '.join(GESTURES)}.")
        unknown = sorted(set(self.weights) - set(FOREARM_MUSCLES))
        if unknown:
            raise ValueError(f"Synergy {self.name!r} names unknown muscles {unknown}.")
        bad = {m: w for m, w in self.weights.items() if not 0.0 <= w <= 1.0}
        if bad:
            raise ValueError(f"Synergy {self.name!r}: weights must be within [0, 1]; {bad} is invalid.")
        if not set(self.prime_movers) <= set(self.weights):
            raise ValueError(f"Synergy {self.name!r}: the prime movers must have weights.")

    def vector(self, muscles: Sequence[str] = FOREARM_MUSCLES) -> np.ndarray:
        """The weights in the order of ``muscles`` (float64)."""
        return np.array([self.weights.get(m, 0.0) for m in muscles])


SYNERGIES: Mapping[str, Synergy] = {
    s.name: s
    for s in (
        Synergy("rest", {}, ()),
        Synergy(
            "hand_close",
            {"FDS": 0.8, "FDP": 0.8, "FPL": 0.5, "FCR": 0.3, "FCU": 0.4, "PL": 0.3, "ECRB": 0.55, "ECRL": 0.3,
             "ECU": 0.4, "ED": 0.3, "EDM": 0.1, "EIP": 0.1, "APL": 0.2, "EPL": 0.15, "EPB": 0.1, "BRD": 0.1,
             "PT": 0.1},
            ("FDS", "FDP"),
        ),
        Synergy(
            "hand_open",
            {"ED": 0.8, "EIP": 0.6, "EDM": 0.6, "EPL": 0.5, "EPB": 0.5, "APL": 0.5, "ECRB": 0.3, "ECRL": 0.2,
             "ECU": 0.3, "FDS": 0.1, "FDP": 0.1, "FCU": 0.1, "FCR": 0.05},
            ("ED", "EIP", "EDM"),
        ),
        Synergy(
            "pinch",
            {"FPL": 0.8, "FDP": 0.5, "FDS": 0.4, "ED": 0.15, "EIP": 0.1, "ECRB": 0.25, "ECU": 0.15, "APL": 0.25,
             "FCR": 0.15},
            ("FPL", "FDP"),
        ),
        Synergy(
            "point",
            {"EIP": 0.8, "ED": 0.45, "FDS": 0.45, "FDP": 0.45, "FPL": 0.3, "ECRB": 0.2, "ECU": 0.15, "FCU": 0.15},
            ("EIP", "ED"),
        ),
        Synergy(
            "wrist_flexion",
            {"FCR": 0.8, "FCU": 0.8, "PL": 0.7, "FDS": 0.4, "FDP": 0.3, "FPL": 0.2, "ECU": 0.1, "ECRB": 0.1,
             "ED": 0.05},
            ("FCR", "FCU"),
        ),
        Synergy(
            "wrist_extension",
            {"ECRL": 0.8, "ECRB": 0.8, "ECU": 0.7, "ED": 0.4, "EIP": 0.2, "EDM": 0.2, "FCU": 0.1, "FCR": 0.1,
             "BRD": 0.15},
            ("ECRL", "ECRB", "ECU"),
        ),
        Synergy(
            "pronation",
            {"PQ": 0.8, "PT": 0.7, "FCR": 0.2, "BRD": 0.15, "SUP": 0.05, "BIC": 0.05},
            ("PQ", "PT"),
        ),
        Synergy(
            "supination",
            {"SUP": 0.8, "BIC": 0.5, "BRD": 0.15, "APL": 0.15, "EPL": 0.1, "PT": 0.05, "PQ": 0.05},
            ("SUP", "BIC"),
        ),
    )
}
"""The synergy of every gesture of :data:`realtime.core.anatomy.GESTURES` (sources in the module docstring)."""


def group_matrix(muscles: Sequence[str] = MUSCLES, forearm: Sequence[str] = FOREARM_MUSCLES) -> np.ndarray:
    """Matrix ``(len(forearm), len(muscles))`` that turns forearm-muscle activations into engine-muscle ones.

    Column ``j`` holds the force-weighted share of each forearm muscle that drives engine muscle ``j``
    (:data:`ENGINE_GROUPS`, :data:`MAX_FORCE_N`); columns sum to 1 where the engine muscle has members,
    0 otherwise (e.g. triceps: no gesture drives it).
    """
    matrix = np.zeros((len(forearm), len(muscles)))
    for i, m in enumerate(forearm):
        target = ENGINE_GROUPS[m]
        if target in muscles:
            matrix[i, list(muscles).index(target)] = MAX_FORCE_N[m]
    totals = matrix.sum(axis=0)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def engine_synergies(muscles: Sequence[str] = MUSCLES) -> np.ndarray:
    """Every gesture's synergy on the engine's muscles: ``(len(GESTURES), len(muscles))``, maximal effort."""
    weights = np.stack([SYNERGIES[g].vector() for g in GESTURES])
    return weights @ group_matrix(muscles)


if set(SYNERGIES) != set(GESTURES) or set(ENGINE_GROUPS) != set(FOREARM_MUSCLES) or set(MAX_FORCE_N) != set(
    FOREARM_MUSCLES
):  # pragma: no cover - import-time consistency check
    raise RuntimeError("The gesture tables must cover exactly GESTURES and FOREARM_MUSCLES.")
