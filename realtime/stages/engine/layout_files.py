"""Layout files: TOML or JSON descriptions of electrode layouts (format in ``docs/layouts.md``).

A file holds ``name``, ``model``, optional ``limb_radius_m`` and
``electrode_radius_m``, and exactly one electrode section:

- ``ring``: ``n`` channels evenly around the limb (armbands): monopolar,
  bipolar (two electrodes along the limb) or double differential (three);
- ``grid``: a rows x cols grid (rows along the limb), monopolar, single or
  double differential along the rows, optional missing positions;
- ``pair``: a list of bipolar pairs, each at ``x_m``/``angle_deg`` or over a
  named muscle (``muscle = "biceps"``: centred between its innervation zone
  and its distal tendon, along the fibres);
- ``electrode`` + ``channel``: explicit electrodes and weighted channels
  (any montage); :func:`save_layout` writes this form.

Lengths are in metres, angles in degrees (0 volar, positive radial).
"""

from __future__ import annotations

import json
import math
import numbers
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime.stages.engine.layout import FOREARM_RADIUS, KINDS, Layout
from realtime.stages.engine.muscles import MUSCLE_GEOMETRY

SECTIONS: tuple[str, ...] = ("ring", "grid", "pair", "electrode")
"""Electrode sections of a layout file; a file has exactly one (``electrode`` goes with ``channel``)."""

_TOP_KEYS = ("name", "model", "limb_radius_m", "electrode_radius_m", "kind", "grid_shape")
_RING_KEYS = ("n", "x_m", "first_angle_deg", "step_deg", "ied_m", "label_prefix", "montage")
_RING_MONTAGES = ("bipolar", "monopolar", "double_differential")
_GRID_KEYS = (
    "rows",
    "cols",
    "pitch_m",
    "pitch_along_m",
    "pitch_around_m",
    "centre_x_m",
    "centre_angle_deg",
    "missing",
    "montage",
)
_GRID_MONTAGES = ("monopolar", "single_differential", "double_differential")
_PAIR_KEYS = ("label", "muscle", "x_m", "angle_deg", "ied_m")
_ELECTRODE_KEYS = ("name", "x_m", "angle_deg")
_CHANNEL_KEYS = ("label", "electrodes", "weights")
DEFAULT_PAIR_IED = 0.01
"""Inter-electrode distance of a ``pair`` without ``ied_m`` (m): 1 cm, as parallel-bar sensors."""


def load_layout_file(path: str | Path) -> Layout:
    """Read a layout from a ``.toml`` or ``.json`` file.

    Raises
    ------
    ValueError
        If the file is missing, not TOML/JSON, or describes an invalid layout;
        the message names the file, the key and the rule.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"The layout file {str(path)!r} does not exist. Give an existing .toml or .json file."
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise ValueError(
                f"The layout file {str(path)!r} must end in .toml or .json, {suffix!r} is invalid."
            )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"The layout file {str(path)!r} is not valid {suffix[1:].upper()}: {exc}"
        ) from None
    try:
        return layout_from_mapping(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Layout file {str(path)!r}: {exc}") from None


def layout_from_mapping(data: Mapping[str, Any]) -> Layout:
    """Build a :class:`Layout` from the parsed content of a layout file (see the module doc)."""
    if not isinstance(data, Mapping):
        raise ValueError(
            f"A layout file must hold a table/object at the top, got {type(data).__name__}."
        )
    sections = [s for s in SECTIONS if s in data]
    allowed = (*_TOP_KEYS, *SECTIONS, "channel")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"unknown keys {unknown}; allowed are {list(allowed)}.")
    if len(sections) != 1:
        raise ValueError(
            f"a layout needs exactly one of the sections {list(SECTIONS)}, found {sections or 'none'}."
        )
    if "channel" in data and sections != ["electrode"]:
        raise ValueError("'channel' entries go with 'electrode' entries (the explicit form).")
    name = _string(data, "name")
    model = _string(data, "model")
    radius = _number(data, "limb_radius_m", FOREARM_RADIUS, 0.01, 0.2)
    e_radius = _number(data, "electrode_radius_m", 0.0015, 0.0, 0.02)
    section = sections[0]
    if section != "electrode" and ("kind" in data or "grid_shape" in data):
        raise ValueError(
            f"'kind' and 'grid_shape' belong to the explicit form, not to '{section}'."
        )
    if section == "ring":
        parts = _ring(_table(data, "ring"))
    elif section == "grid":
        parts = _grid(_table(data, "grid"), radius)
    elif section == "pair":
        parts = _pairs(_tables(data, "pair"))
    else:
        parts = _explicit(data)
    channels, ex, ea, montage, kind, grid = parts
    return Layout(
        name=name,
        model=model,
        channels=tuple(channels),
        electrode_x=np.asarray(ex, np.float64),
        electrode_angle=np.asarray(ea, np.float64),
        montage=np.asarray(montage, np.float64),
        kind=kind,
        electrode_radius=e_radius,
        radius=radius,
        grid=grid,
    )


def layout_to_mapping(layout: Layout) -> dict[str, Any]:
    """The explicit-form file content of ``layout`` (electrodes, weighted channels)."""
    names = [f"E{i + 1}" for i in range(layout.n_electrodes)]
    out: dict[str, Any] = {
        "name": layout.name,
        "model": layout.model,
        "kind": layout.kind,
        "limb_radius_m": layout.radius,
        "electrode_radius_m": layout.electrode_radius,
    }
    if layout.grid is not None:
        out["grid_shape"] = list(layout.grid)
    out["electrode"] = [
        {"name": n, "x_m": float(x), "angle_deg": math.degrees(float(a))}
        for n, x, a in zip(names, layout.electrode_x, layout.electrode_angle)
    ]
    channels = []
    for label, row in zip(layout.channels, layout.montage):
        idx = np.flatnonzero(row)
        channels.append(
            {
                "label": label,
                "electrodes": [names[i] for i in idx],
                "weights": [float(row[i]) for i in idx],
            }
        )
    out["channel"] = channels
    return out


def save_layout(layout: Layout, path: str | Path) -> Path:
    """Write ``layout`` in the explicit form to a ``.toml`` or ``.json`` file and return the path."""
    path = Path(path)
    data = layout_to_mapping(layout)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(data, indent=2) + "\n"
    elif suffix == ".toml":
        text = _to_toml(data)
    else:
        raise ValueError(
            f"The argument 'path' must end in .toml or .json, {str(path)!r} is invalid."
        )
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- sections
def _ring(t: Mapping[str, Any]) -> tuple:
    _check_keys("ring", t, _RING_KEYS)
    n = _integer(t, "n", None, 1, 256, "ring")
    x_c = _number(t, "x_m", None, -0.5, 0.5, "ring")
    first = math.radians(_number(t, "first_angle_deg", 0.0, -360.0, 360.0, "ring"))
    step = math.radians(_number(t, "step_deg", 360.0 / n, -360.0, 360.0, "ring"))
    ied = _number(t, "ied_m", 0.02, 0.001, 0.1, "ring")
    prefix = _string(t, "label_prefix", "EMG", "ring")
    montage = _choice(t, "montage", "bipolar", _RING_MONTAGES, "ring")
    angles = first + step * np.arange(n)
    labels = [f"{prefix}{k + 1}" for k in range(n)]
    eye = np.eye(n)
    if montage == "monopolar":
        return labels, np.full(n, x_c), angles, eye, "monopolar", None
    if montage == "bipolar":  # distal minus proximal
        ex = np.concatenate([np.full(n, x_c + ied / 2), np.full(n, x_c - ied / 2)])
        return labels, ex, np.tile(angles, 2), np.hstack([eye, -eye]), "bipolar", None
    # double differential: proximal - 2 middle + distal, the middle electrode at x_m
    ex = np.concatenate([np.full(n, x_c - ied), np.full(n, x_c), np.full(n, x_c + ied)])
    return (
        labels,
        ex,
        np.tile(angles, 3),
        np.hstack([eye, -2.0 * eye, eye]),
        "double_differential",
        None,
    )


def _grid(t: Mapping[str, Any], radius: float) -> tuple:
    _check_keys("grid", t, _GRID_KEYS)
    rows = _integer(t, "rows", None, 1, 64, "grid")
    cols = _integer(t, "cols", None, 1, 64, "grid")
    pitch = _number(t, "pitch_m", 0.008, 0.001, 0.05, "grid")
    p_along = _number(t, "pitch_along_m", pitch, 0.001, 0.05, "grid")
    p_around = _number(t, "pitch_around_m", pitch, 0.001, 0.05, "grid")
    x_c = _number(t, "centre_x_m", None, -0.5, 0.5, "grid")
    a_c = math.radians(_number(t, "centre_angle_deg", 0.0, -360.0, 360.0, "grid"))
    montage = _choice(t, "montage", "monopolar", _GRID_MONTAGES, "grid")
    missing = set()
    for item in t.get("missing", []):
        if not (isinstance(item, Sequence) and len(item) == 2 and all(_is_int(v) for v in item)):
            raise ValueError(
                f"'grid.missing' entries must be [row, col] pairs of integers, {item!r} is invalid."
            )
        r, c = int(item[0]), int(item[1])
        if not (1 <= r <= rows and 1 <= c <= cols):
            raise ValueError(
                f"'grid.missing' entry {[r, c]} lies outside the {rows}x{cols} grid (1-based)."
            )
        missing.add((r, c))
    if p_around * (cols - 1) >= 2.0 * math.pi * radius:
        raise ValueError(
            f"a grid of {cols} columns at {p_around} m does not fit around a limb of radius {radius} m."
        )
    index: dict[tuple[int, int], int] = {}
    ex, ea = [], []
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            if (r, c) in missing:
                continue
            index[(r, c)] = len(ex)
            ex.append(x_c + (r - 1 - (rows - 1) / 2.0) * p_along)
            ea.append(a_c + (c - 1 - (cols - 1) / 2.0) * p_around / radius)
    if not ex:
        raise ValueError("every grid position is missing.")
    n_e = len(ex)
    order = {"monopolar": 0, "single_differential": 1, "double_differential": 2}[montage]
    weights = {0: (1.0,), 1: (-1.0, 1.0), 2: (1.0, -2.0, 1.0)}[order]
    labels, rows_m = [], []
    for r in range(1, rows - order + 1):
        for c in range(1, cols + 1):
            used = [(r + k, c) for k in range(order + 1)]
            if any(u not in index for u in used):
                continue
            w = np.zeros(n_e)
            for u, wk in zip(used, weights):
                w[index[u]] = wk
            labels.append(f"R{r}C{c}")
            rows_m.append(w)
    if not labels:
        raise ValueError(f"a {rows}x{cols} grid has no {montage} channel (too few rows).")
    return labels, ex, ea, np.array(rows_m), montage, (rows - order, cols)


def _pairs(items: list[Mapping[str, Any]]) -> tuple:
    labels, ex, ea = [], [], []
    n = len(items)
    for k, p in enumerate(items):
        where = f"pair[{k}]"
        _check_keys(where, p, _PAIR_KEYS)
        label = _string(p, "label", None, where)
        ied = _number(p, "ied_m", DEFAULT_PAIR_IED, 0.001, 0.1, where)
        muscle = p.get("muscle")
        if muscle is not None:
            if muscle not in MUSCLE_GEOMETRY:
                raise ValueError(
                    f"'{where}.muscle' must be one of {sorted(MUSCLE_GEOMETRY)}, {muscle!r} is invalid."
                )
            g = MUSCLE_GEOMETRY[muscle]
            x_default, a_default = g.x_iz + 0.5 * (g.x_distal - g.x_iz), g.angle_deg
        else:
            x_default = a_default = None
        x = _number(p, "x_m", x_default, -0.5, 0.5, where)
        a = math.radians(_number(p, "angle_deg", a_default, -360.0, 360.0, where))
        labels.append(label)
        ex.append((x + ied / 2, x - ied / 2))
        ea.append(a)
    ex_all = np.concatenate([[e[0] for e in ex], [e[1] for e in ex]])
    ea_all = np.concatenate([ea, ea])
    eye = np.eye(n)
    return labels, ex_all, ea_all, np.hstack([eye, -eye]), "bipolar", None


def _explicit(data: Mapping[str, Any]) -> tuple:
    electrodes = _tables(data, "electrode")
    channels = _tables(data, "channel") if "channel" in data else []
    if not channels:
        raise ValueError(
            "the explicit form needs 'channel' entries next to the 'electrode' entries."
        )
    kind = _choice(data, "kind", "custom", KINDS, "")
    names: dict[str, int] = {}
    ex, ea = [], []
    for k, e in enumerate(electrodes):
        where = f"electrode[{k}]"
        _check_keys(where, e, _ELECTRODE_KEYS)
        name = _string(e, "name", f"E{k + 1}", where)
        if name in names:
            raise ValueError(f"electrode names must be unique, {name!r} repeats.")
        names[name] = k
        ex.append(_number(e, "x_m", None, -0.5, 0.5, where))
        ea.append(math.radians(_number(e, "angle_deg", None, -360.0, 360.0, where)))
    labels, rows = [], []
    for k, ch in enumerate(channels):
        where = f"channel[{k}]"
        _check_keys(where, ch, _CHANNEL_KEYS)
        labels.append(_string(ch, "label", None, where))
        used, weights = ch.get("electrodes"), ch.get("weights")
        if (
            not isinstance(used, list)
            or not isinstance(weights, list)
            or len(used) != len(weights)
            or not used
        ):
            raise ValueError(
                f"'{where}' needs 'electrodes' (names) and 'weights' (numbers) lists of equal, non-zero length."
            )
        w = np.zeros(len(ex))
        for e_name, wk in zip(used, weights):
            if e_name not in names:
                raise ValueError(
                    f"'{where}.electrodes' names an unknown electrode {e_name!r}; known: {list(names)}."
                )
            if not _is_number(wk):
                raise ValueError(f"'{where}.weights' must be numbers, {wk!r} is invalid.")
            w[names[e_name]] += float(wk)
        rows.append(w)
    grid = data.get("grid_shape")
    if grid is not None and not (
        isinstance(grid, list) and len(grid) == 2 and all(_is_int(v) for v in grid)
    ):
        raise ValueError(f"'grid_shape' must be [rows, cols], {grid!r} is invalid.")
    return (
        labels,
        ex,
        ea,
        np.array(rows),
        kind,
        None if grid is None else (int(grid[0]), int(grid[1])),
    )


# ---------------------------------------------------------------------------- value checks
def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _check_keys(where: str, t: Mapping[str, Any], allowed: Sequence[str]) -> None:
    if not isinstance(t, Mapping):
        raise ValueError(f"'{where}' must be a table/object, {t!r} is invalid.")
    unknown = sorted(set(t) - set(allowed))
    if unknown:
        raise ValueError(f"unknown keys {unknown} in '{where}'; allowed are {list(allowed)}.")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    t = data[key]
    if not isinstance(t, Mapping):
        raise ValueError(f"'{key}' must be a table/object, {type(t).__name__} is invalid.")
    return t


def _tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    t = data[key]
    if not isinstance(t, list) or not t or not all(isinstance(v, Mapping) for v in t):
        raise ValueError(f"'{key}' must be a non-empty list of tables ([[{key}]] in TOML).")
    return t


def _number(
    t: Mapping[str, Any], key: str, default: float | None, low: float, high: float, where: str = ""
) -> float:
    if key not in t:
        if default is None:
            raise ValueError(
                f"'{_key(where, key)}' is required (a number within [{low:g}, {high:g}])."
            )
        return float(default)
    v = t[key]
    if not _is_number(v) or not (low <= float(v) <= high):
        raise ValueError(
            f"'{_key(where, key)}' must be a number within [{low:g}, {high:g}], {v!r} is invalid."
        )
    return float(v)


def _integer(
    t: Mapping[str, Any], key: str, default: int | None, low: int, high: int, where: str = ""
) -> int:
    if key not in t:
        if default is None:
            raise ValueError(
                f"'{_key(where, key)}' is required (an integer within [{low}, {high}])."
            )
        return default
    v = t[key]
    if not _is_int(v) or not (low <= int(v) <= high):
        raise ValueError(
            f"'{_key(where, key)}' must be an integer within [{low}, {high}], {v!r} is invalid."
        )
    return int(v)


def _string(t: Mapping[str, Any], key: str, default: str | None = None, where: str = "") -> str:
    if key not in t:
        if default is None:
            raise ValueError(f"'{_key(where, key)}' is required (a string).")
        return default
    v = t[key]
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"'{_key(where, key)}' must be a non-empty string, {v!r} is invalid.")
    return v


def _choice(
    t: Mapping[str, Any], key: str, default: str, allowed: Sequence[str], where: str
) -> str:
    v = t.get(key, default)
    if v not in allowed:
        raise ValueError(f"'{_key(where, key)}' must be one of {list(allowed)}, {v!r} is invalid.")
    return v


# ---------------------------------------------------------------------------- TOML writer
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"Cannot write {type(v).__name__} to TOML.")


def _to_toml(data: Mapping[str, Any]) -> str:
    """TOML for a mapping of scalars/lists plus arrays of flat tables (the explicit layout form)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not _is_table_list(v)]
    for key, value in data.items():
        if _is_table_list(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{key}]]")
                lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, Mapping) for x in v)
