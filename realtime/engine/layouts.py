"""Electrode layouts: where the electrodes sit on the forearm and how channels are formed.

Coordinates (right forearm, see ``docs/engine.md``):

- ``x``: along the limb from the elbow crease, positive toward the wrist (m).
  The upper arm is at negative ``x``.
- ``angle``: around the limb, 0 at the volar (palm-side) midline, positive
  toward the radial (thumb) side, ``pi`` dorsal, ``-pi/2`` ulnar (rad).
- 3D ``location`` ``(x, y, z)`` in metres: ``y = r cos(angle)`` points volar,
  ``z = r sin(angle)`` points radial, with ``r`` the limb radius. This is the
  frame used for the ``location`` of each channel in the LSL metadata.

A :class:`Layout` is plain data (tuples and arrays) and round-trips through
:meth:`Layout.to_dict` / :meth:`Layout.from_dict`, so layouts can later be read
from files; the built-in ones are made by the functions in :data:`_BUILTIN`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

FOREARM_RADIUS = 0.040
"""Radius of the simulated limb (m): a forearm of about 25 cm circumference near the elbow."""

FOREARM_LENGTH = 0.26
"""Elbow-to-wrist length of the simulated forearm (m)."""

_MONTAGES = ("monopolar", "bipolar", "custom")


@dataclass(frozen=True, eq=False)
class Layout:
    """An electrode layout and its montage.

    Parameters
    ----------
    name : str
        Short identifier, e.g. ``"armband8"``.
    model : str
        Human-readable description, published as ``desc/acquisition/model``.
    channels : tuple of str
        One label per output channel.
    electrode_x : ndarray, shape (n_electrodes,)
        Position of each electrode along the limb from the elbow (m, positive distal).
    electrode_angle : ndarray, shape (n_electrodes,)
        Position of each electrode around the limb (rad, 0 volar, positive radial).
    montage : ndarray, shape (n_channels, n_electrodes)
        Channel ``c`` is ``montage[c] @ electrode_potentials``. A monopolar
        layout has the identity; a bipolar channel has one ``+1`` and one ``-1``.
    kind : str
        ``"monopolar"``, ``"bipolar"`` or ``"custom"``; published as the reference description.
    electrode_radius : float
        Radius of the (disc) electrodes' contact area (m); the volume conductor
        averages the potential over it.
    radius : float
        Limb radius under the layout (m); electrodes lie on this cylinder.
    """

    name: str
    model: str
    channels: tuple[str, ...]
    electrode_x: np.ndarray
    electrode_angle: np.ndarray
    montage: np.ndarray
    kind: str = "custom"
    electrode_radius: float = 0.0015
    radius: float = FOREARM_RADIUS

    def __post_init__(self) -> None:
        ex = np.array(self.electrode_x, dtype=np.float64).reshape(-1)
        ea = np.array(self.electrode_angle, dtype=np.float64).reshape(-1)
        mt = np.array(self.montage, dtype=np.float64)
        if not self.name or not isinstance(self.name, str):
            raise ValueError(
                f"The layout 'name' must be a non-empty string, {self.name!r} is invalid."
            )
        if ex.shape != ea.shape or ex.size == 0:
            raise ValueError(
                f"Layout {self.name!r}: 'electrode_x' and 'electrode_angle' must be non-empty and of "
                f"equal length, got {ex.shape} and {ea.shape}."
            )
        if not (np.all(np.isfinite(ex)) and np.all(np.isfinite(ea))):
            raise ValueError(f"Layout {self.name!r}: electrode positions must be finite numbers.")
        channels = tuple(str(c) for c in self.channels)
        if mt.ndim != 2 or mt.shape != (len(channels), ex.size):
            raise ValueError(
                f"Layout {self.name!r}: 'montage' should have shape (n_channels, n_electrodes) = "
                f"({len(channels)}, {ex.size}), {mt.shape} is invalid."
            )
        if len(set(channels)) != len(channels):
            raise ValueError(
                f"Layout {self.name!r}: channel labels must be unique, got {channels}."
            )
        if np.any(~mt.any(axis=1)):
            raise ValueError(f"Layout {self.name!r}: every montage row needs a non-zero weight.")
        if self.kind not in _MONTAGES:
            raise ValueError(
                f"Layout {self.name!r}: 'kind' must be one of {_MONTAGES}, {self.kind!r} is invalid."
            )
        if not (0.0 <= self.electrode_radius <= 0.02):
            raise ValueError(
                f"Layout {self.name!r}: 'electrode_radius' must be within [0, 0.02] m, "
                f"{self.electrode_radius} is invalid."
            )
        if not (0.01 <= self.radius <= 0.2):
            raise ValueError(
                f"Layout {self.name!r}: 'radius' must be within [0.01, 0.2] m, {self.radius} is invalid."
            )
        for arr in (ex, ea, mt):
            arr.setflags(write=False)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "electrode_x", ex)
        object.__setattr__(self, "electrode_angle", ea)
        object.__setattr__(self, "montage", mt)

    @property
    def n_channels(self) -> int:
        """Number of output channels."""
        return len(self.channels)

    @property
    def n_electrodes(self) -> int:
        """Number of physical electrodes."""
        return int(self.electrode_x.size)

    @property
    def electrode_locations(self) -> np.ndarray:
        """Electrode positions ``(n_electrodes, 3)`` as ``(x, y, z)`` in metres (see module doc)."""
        return _to_xyz(self.electrode_x, self.electrode_angle, self.radius)

    @property
    def channel_locations(self) -> np.ndarray:
        """Channel positions ``(n_channels, 3)`` in metres, for LSL ``location`` metadata.

        The weighted centre of the electrodes a channel uses (weights ``|montage|``),
        projected back onto the skin: the electrode itself for a monopolar
        channel, the midpoint of the pair for a bipolar one.
        """
        w = np.abs(self.montage)
        w = w / w.sum(axis=1, keepdims=True)
        x = w @ self.electrode_x
        # Average the angle as a unit vector so pairs across +-pi do not cancel.
        ang = np.arctan2(w @ np.sin(self.electrode_angle), w @ np.cos(self.electrode_angle))
        return _to_xyz(x, ang, self.radius)

    @property
    def reference(self) -> str:
        """Description of the reference, for ``desc/reference``."""
        if self.kind == "bipolar":
            return "bipolar (each channel is the difference of two electrodes)"
        if self.kind == "monopolar":
            return "monopolar (ideal reference far from the muscles)"
        return "custom montage"

    def to_dict(self) -> dict[str, Any]:
        """Return the layout as plain Python data (JSON/TOML friendly)."""
        return {
            "name": self.name,
            "model": self.model,
            "kind": self.kind,
            "channels": list(self.channels),
            "electrode_x": self.electrode_x.tolist(),
            "electrode_angle": self.electrode_angle.tolist(),
            "montage": self.montage.tolist(),
            "electrode_radius": self.electrode_radius,
            "radius": self.radius,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        """Build a layout from :meth:`to_dict` output (validated by the constructor)."""
        required = ("name", "model", "channels", "electrode_x", "electrode_angle", "montage")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"A layout mapping needs the keys {required}; missing {missing}.")
        unknown = set(data) - {*required, "kind", "electrode_radius", "radius"}
        if unknown:
            raise ValueError(
                f"Unknown layout keys {sorted(unknown)}; allowed are {required} and kind, electrode_radius, radius."
            )
        return cls(
            name=data["name"],
            model=data["model"],
            channels=tuple(data["channels"]),
            electrode_x=np.asarray(data["electrode_x"], dtype=np.float64),
            electrode_angle=np.asarray(data["electrode_angle"], dtype=np.float64),
            montage=np.asarray(data["montage"], dtype=np.float64),
            kind=data.get("kind", "custom"),
            electrode_radius=float(data.get("electrode_radius", 0.0015)),
            radius=float(data.get("radius", FOREARM_RADIUS)),
        )


def _to_xyz(x: np.ndarray, angle: np.ndarray, radius: float) -> np.ndarray:
    return np.column_stack([x, radius * np.cos(angle), radius * np.sin(angle)])


def armband8() -> Layout:
    """Eight bipolar channels around the forearm, Myo-like.

    The band sits at one third of the forearm length from the elbow
    (``x = 8.7 cm``). Channel ``EMGk`` is at angle ``(k-1) * 45°`` (EMG1 on the
    volar midline, EMG3 radial, EMG5 dorsal, EMG7 ulnar); it is the distal
    electrode minus the proximal one, 2 cm apart along the forearm.
    """
    n = 8
    x_c = FOREARM_LENGTH / 3.0
    ied = 0.02
    angles = np.arange(n) * (2.0 * math.pi / n)
    ex = np.concatenate([np.full(n, x_c + ied / 2), np.full(n, x_c - ied / 2)])
    ea = np.concatenate([angles, angles])
    montage = np.hstack([np.eye(n), -np.eye(n)])
    return Layout(
        name="armband8",
        model="myostream armband8: 8 bipolar channels around the forearm, 2 cm inter-electrode distance (Myo-like)",
        channels=tuple(f"EMG{k + 1}" for k in range(n)),
        electrode_x=ex,
        electrode_angle=ea,
        montage=montage,
        kind="bipolar",
        electrode_radius=0.0025,
    )


def grid64() -> Layout:
    """An 8x8 monopolar grid, 8 mm spacing, over the forearm flexors.

    Centred at ``x = 8.7 cm`` from the elbow and at ``-25°`` (the flexor
    bellies, slightly ulnar of the volar midline). Rows ``R1..R8`` run along
    the forearm from proximal to distal, columns ``C1..C8`` around it from the
    ulnar toward the radial side; ``R1C1`` is the proximal-ulnar corner.
    Electrodes are 3 mm in diameter.
    """
    n = 8
    pitch = 0.008
    x_c = FOREARM_LENGTH / 3.0
    a_c = math.radians(-25.0)
    offsets = (np.arange(n) - (n - 1) / 2.0) * pitch
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ex = x_c + offsets[rows.ravel()]
    ea = a_c + offsets[cols.ravel()] / FOREARM_RADIUS
    return Layout(
        name="grid64",
        model="myostream grid64: 8x8 monopolar HD grid, 8 mm spacing, over the forearm flexors",
        channels=tuple(f"R{r + 1}C{c + 1}" for r, c in zip(rows.ravel(), cols.ravel())),
        electrode_x=ex,
        electrode_angle=ea,
        montage=np.eye(n * n),
        kind="monopolar",
        electrode_radius=0.0015,
    )


_BUILTIN: dict[str, Callable[[], Layout]] = {"armband8": armband8, "grid64": grid64}

LAYOUTS: tuple[str, ...] = tuple(_BUILTIN)
"""Names of the built-in layouts; the first is the default."""


def get_layout(name: str) -> Layout:
    """Return the built-in layout called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a known layout; the message lists the known ones.
    """
    try:
        factory = _BUILTIN[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"The argument 'layout' must be one of {', '.join(LAYOUTS)}. {name!r} is invalid."
        ) from None
    return factory()
