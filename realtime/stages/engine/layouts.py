"""The built-in electrode layouts and :func:`get_layout`, which also loads layout files.

The built-in layouts are TOML files shipped in ``realtime/stages/engine/layouts/``
(their names are :data:`LAYOUTS`); :func:`get_layout` accepts one of those
names or the path of any layout file (TOML or JSON, format in
``docs/layouts.md``). What a layout is: :mod:`realtime.stages.engine.layout`.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from realtime.stages.engine.layout import Layout
from realtime.stages.engine.layout_files import load_layout_file

LAYOUTS: tuple[str, ...] = (
    "armband8",
    "armband16",
    "muscle_pairs",
    "grid64",
    "grid64_sd",
    "grid64_dd",
    "grid13x5",
    "grid13x5_sd",
)
"""Names of the built-in layouts (files ``realtime/stages/engine/layouts/<name>.toml``); the first is the default."""


def builtin_layout_path(name: str) -> Path:
    """Path of the shipped file of the built-in layout ``name``."""
    if name not in LAYOUTS:
        raise ValueError(
            f"The argument 'name' must be one of {', '.join(LAYOUTS)}. {name!r} is invalid."
        )
    return Path(str(resources.files("realtime.stages.engine").joinpath("layouts", f"{name}.toml")))


@functools.cache
def _builtin(name: str) -> Layout:
    layout = load_layout_file(builtin_layout_path(name))
    if layout.name != name:  # pragma: no cover - packaging consistency
        raise RuntimeError(f"The built-in layout file {name}.toml names itself {layout.name!r}.")
    return layout


def get_layout(name: str | Path) -> Layout:
    """Return a built-in layout by name, or the layout described by a TOML/JSON file.

    Parameters
    ----------
    name : str | Path
        One of :data:`LAYOUTS`, or the path of a ``.toml`` / ``.json`` layout
        file (format in ``docs/layouts.md``).

    Raises
    ------
    ValueError
        If ``name`` is neither a known layout nor a readable layout file; the
        message lists the known names.
    """
    if isinstance(name, str) and name in LAYOUTS:
        return _builtin(name)
    if isinstance(name, (str, Path)) and str(name).lower().endswith((".toml", ".json")):
        return load_layout_file(Path(name))
    raise ValueError(
        f"The argument 'layout' must be one of {', '.join(LAYOUTS)} or the path of a .toml/.json "
        f"layout file (see docs/layouts.md). {name!r} is invalid."
    )


def armband8() -> Layout:
    """Eight bipolar channels around the forearm, Myo-like (the built-in ``armband8``).

    The band sits at one third of the forearm length from the elbow
    (``x = 8.67 cm``). Channel ``EMGk`` is at angle ``(k-1) * 45°`` (EMG1 on the
    volar midline, EMG3 radial, EMG5 dorsal, EMG7 ulnar); it is the distal
    electrode minus the proximal one, 2 cm apart along the forearm.
    """
    return get_layout("armband8")


def grid64() -> Layout:
    """An 8x8 monopolar grid, 8 mm spacing, over the forearm flexors (the built-in ``grid64``).

    Centred at ``x = 8.67 cm`` from the elbow and at ``-25°`` (the flexor
    bellies, slightly ulnar of the volar midline). Rows ``R1..R8`` run along
    the forearm from proximal to distal, columns ``C1..C8`` around it from the
    ulnar toward the radial side; ``R1C1`` is the proximal-ulnar corner.
    Electrodes are 3 mm in diameter.
    """
    return get_layout("grid64")
