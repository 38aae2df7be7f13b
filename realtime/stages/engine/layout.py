"""What an electrode layout is: where the electrodes sit on the limb and how channels are formed.

Coordinates (right arm, see ``docs/engine.md``):

- ``x``: along the limb from the elbow crease, positive toward the wrist (m).
  The upper arm is at negative ``x``.
- ``angle``: around the limb, 0 at the volar (palm-side) midline, positive
  toward the radial (thumb) side, ``pi`` dorsal, ``-pi/2`` ulnar (rad).
- 3D ``location`` ``(x, y, z)`` in metres: ``y = r cos(angle)`` points volar,
  ``z = r sin(angle)`` points radial, with ``r`` the limb radius. This is the
  frame used for the ``location`` of each channel in the LSL metadata.

A :class:`Layout` is plain data (tuples and read-only arrays).
:mod:`realtime.stages.engine.layout_files` reads and writes layout files (TOML or
JSON, format in ``docs/layouts.md``); :mod:`realtime.stages.engine.layouts`
holds the built-in layouts and :func:`~realtime.stages.engine.layouts.get_layout`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

FOREARM_RADIUS = 0.040
"""Radius of the simulated limb (m): a forearm of about 25 cm circumference near the elbow."""

FOREARM_LENGTH = 0.26
"""Elbow-to-wrist length of the simulated forearm (m)."""

KINDS: tuple[str, ...] = (
    "monopolar",
    "bipolar",
    "single_differential",
    "double_differential",
    "custom",
)
"""Montage kinds: how channels are formed from electrodes."""

DIFFERENTIAL_KINDS: tuple[str, ...] = ("bipolar", "single_differential", "double_differential")
"""Kinds whose channels are differences of electrodes (the reference is subtracted)."""

_REFERENCE_TEXT = {
    "monopolar": "monopolar (ideal reference far from the muscles)",
    "bipolar": "bipolar (each channel is the difference of two electrodes)",
    "single_differential": "single differential along the fibres (each channel is the next electrode minus this one)",
    "double_differential": "double differential along the fibres (each channel is e[k] - 2 e[k+1] + e[k+2])",
    "custom": "custom montage",
}


@dataclass(frozen=True, eq=False)
class Layout:
    """An electrode layout and its montage.

    Parameters
    ----------
    name : str
        Short identifier, e.g. ``"armband8"``.
    model : str
        Human-readable description, published as ``desc/layout/description``.
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
        One of :data:`KINDS`; published as the reference description.
    electrode_radius : float
        Radius of the (disc) electrodes' contact area (m); the volume conductor
        averages the potential over it.
    radius : float
        Limb radius under the layout (m); electrodes lie on this cylinder.
    grid : tuple of int | None
        ``(rows, cols)`` when the channels form a grid labelled ``R<r>C<c>``
        (rows along the limb, ``r`` from 1 proximal, ``c`` from 1 on the ulnar
        side); ``None`` otherwise. A grid may miss positions (e.g. the corner
        of a 13x5 grid), so ``rows * cols`` can exceed ``n_channels``.
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
    grid: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        ex = np.array(self.electrode_x, dtype=np.float64).reshape(-1)
        ea = np.array(self.electrode_angle, dtype=np.float64).reshape(-1)
        mt = np.array(self.montage, dtype=np.float64)
        if not self.name or not isinstance(self.name, str) or any(c.isspace() for c in self.name):
            raise ValueError(
                f"The layout 'name' must be a non-empty string without spaces, {self.name!r} is invalid."
            )
        if not isinstance(self.model, str):
            raise ValueError(
                f"Layout {self.name!r}: 'model' must be a string, {self.model!r} is invalid."
            )
        if ex.shape != ea.shape or ex.size == 0:
            raise ValueError(
                f"Layout {self.name!r}: 'electrode_x' and 'electrode_angle' must be non-empty and of "
                f"equal length, got {ex.shape} and {ea.shape}."
            )
        if not (np.all(np.isfinite(ex)) and np.all(np.isfinite(ea))):
            raise ValueError(f"Layout {self.name!r}: electrode positions must be finite numbers.")
        channels = tuple(str(c) for c in self.channels)
        if not channels:
            raise ValueError(f"Layout {self.name!r}: needs at least one channel.")
        if mt.ndim != 2 or mt.shape != (len(channels), ex.size):
            raise ValueError(
                f"Layout {self.name!r}: 'montage' should have shape (n_channels, n_electrodes) = "
                f"({len(channels)}, {ex.size}), {mt.shape} is invalid."
            )
        if not np.all(np.isfinite(mt)):
            raise ValueError(f"Layout {self.name!r}: montage weights must be finite numbers.")
        if len(set(channels)) != len(channels):
            raise ValueError(
                f"Layout {self.name!r}: channel labels must be unique, got {channels}."
            )
        if any(not c.strip() for c in channels):
            raise ValueError(
                f"Layout {self.name!r}: channel labels must not be empty, got {channels}."
            )
        if np.any(~mt.any(axis=1)):
            raise ValueError(f"Layout {self.name!r}: every montage row needs a non-zero weight.")
        if self.kind not in KINDS:
            raise ValueError(
                f"Layout {self.name!r}: 'kind' must be one of {KINDS}, {self.kind!r} is invalid."
            )
        if not (0.0 <= float(self.electrode_radius) <= 0.02):
            raise ValueError(
                f"Layout {self.name!r}: 'electrode_radius' must be within [0, 0.02] m, "
                f"{self.electrode_radius} is invalid."
            )
        if not (0.01 <= float(self.radius) <= 0.2):
            raise ValueError(
                f"Layout {self.name!r}: 'radius' must be within [0.01, 0.2] m, {self.radius} is invalid."
            )
        grid = self.grid
        if grid is not None:
            grid = tuple(int(v) for v in grid)
            if len(grid) != 2 or min(grid) < 1 or grid[0] * grid[1] < len(channels):
                raise ValueError(
                    f"Layout {self.name!r}: 'grid' must be (rows, cols) with rows * cols >= "
                    f"{len(channels)} channels, {self.grid!r} is invalid."
                )
        for arr in (ex, ea, mt):
            arr.setflags(write=False)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "electrode_x", ex)
        object.__setattr__(self, "electrode_angle", ea)
        object.__setattr__(self, "montage", mt)
        object.__setattr__(self, "electrode_radius", float(self.electrode_radius))
        object.__setattr__(self, "radius", float(self.radius))
        object.__setattr__(self, "grid", grid)

    @property
    def n_channels(self) -> int:
        """Number of output channels."""
        return len(self.channels)

    @property
    def n_electrodes(self) -> int:
        """Number of physical electrodes."""
        return int(self.electrode_x.size)

    @property
    def differential(self) -> bool:
        """Whether channels are differences of electrodes (``desc/reference/subtracted``)."""
        return self.kind in DIFFERENTIAL_KINDS

    @property
    def electrode_locations(self) -> np.ndarray:
        """Electrode positions ``(n_electrodes, 3)`` as ``(x, y, z)`` in metres (see module doc)."""
        return _to_xyz(self.electrode_x, self.electrode_angle, self.radius)

    @property
    def channel_locations(self) -> np.ndarray:
        """Channel positions ``(n_channels, 3)`` in metres, for LSL ``location`` metadata.

        The weighted centre of the electrodes a channel uses (weights ``|montage|``),
        projected back onto the skin: the electrode itself for a monopolar
        channel, the midpoint of the pair for a bipolar one, the middle
        electrode of a double-differential triplet.
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
        return _REFERENCE_TEXT[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """Return the layout as plain Python data (metres, radians, the montage matrix)."""
        out = {
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
        if self.grid is not None:
            out["grid"] = list(self.grid)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        """Build a layout from :meth:`to_dict` output (validated by the constructor)."""
        required = ("name", "model", "channels", "electrode_x", "electrode_angle", "montage")
        optional = ("kind", "electrode_radius", "radius", "grid")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"A layout mapping needs the keys {required}; missing {missing}.")
        unknown = set(data) - {*required, *optional}
        if unknown:
            raise ValueError(
                f"Unknown layout keys {sorted(unknown)}; allowed are {required} and {optional}."
            )
        grid = data.get("grid")
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
            grid=None if grid is None else tuple(grid),
        )


def _to_xyz(x: np.ndarray, angle: np.ndarray, radius: float) -> np.ndarray:
    return np.column_stack([x, radius * np.cos(angle), radius * np.sin(angle)])
