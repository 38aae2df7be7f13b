"""Argument checks: one vocabulary for every constructor and settings class of myostream.

In the style of mne-lsl's ``utils/_checks.py``. Every check names the
argument, states the rule, shows the bad value and, where there is one, the
fix. A value of the wrong **type** raises :class:`TypeError`; a value of the
right type that breaks the rule (out of range, not allowed, missing file)
raises :class:`ValueError`. Each check returns the value, normalised (a float,
an int, a :class:`~pathlib.Path`), so a settings class can store what it
checked::

    fs = check_number("fs", fs, EMG_FS_MIN, EMG_FS_MAX, "Hz")
    seed = ensure_int("seed", seed, lo=0)
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_INF = math.inf


def _message(name: str, rule: str, value: object, hint: str = "") -> str:
    text = f"The argument '{name}' must be {rule}; {value!r} is invalid."
    return f"{text} {hint}" if hint else text


def _choice_text(value: object) -> str:
    """A choice as the user types it: a plain word bare, anything else (white space, "") quoted."""
    plain = isinstance(value, str) and value and value.isprintable() and not any(c.isspace() for c in value)
    return str(value) if plain or isinstance(value, (int, float)) else repr(value)


def _type_name(value: object) -> str:
    return type(value).__name__


def check_type(name: str, value: Any, types: type | tuple[type, ...], what: str | None = None) -> Any:
    """Return ``value`` if it is an instance of ``types``, else raise :class:`TypeError`.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : object
        The value to check.
    types : type | tuple of type
        Accepted types. ``bool`` is not accepted where ``int`` is (pass ``bool`` explicitly).
    what : str | None
        How the rule reads in the message (default: the type names), e.g. ``"an EngineSettings"``.
    """
    allowed = types if isinstance(types, tuple) else (types,)
    ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
    if not ok:
        rule = what or " or ".join(t.__name__ for t in allowed)
        raise TypeError(
            f"The argument '{name}' must be {rule}; {value!r} ({_type_name(value)}) is invalid."
        )
    return value


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is ``True`` or ``False``, else raise :class:`TypeError`."""
    if not isinstance(value, bool):
        raise TypeError(f"The argument '{name}' must be True or False; {value!r} is invalid.")
    return value


def _range_text(lo: float, hi: float, lo_open: bool, hi_open: bool, unit: str) -> str:
    if hi == _INF and lo == -_INF:
        text = "a finite number"
    elif hi == _INF:
        text = f"{'>' if lo_open else '>='} {lo:g}"
    elif lo == -_INF:
        text = f"{'<' if hi_open else '<='} {hi:g}"
    else:
        text = f"within {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    return f"{text} {unit}" if unit else text


def ensure_int(
    name: str, value: object, lo: int | None = None, hi: int | None = None, hint: str = ""
) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[lo, hi]``.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : object
        Any integral number (``int``, ``numpy.int64``); not ``bool``, not a float.
    lo, hi : int | None
        Inclusive bounds (``None``: unbounded).
    hint : str
        The fix, appended to a range error.

    Raises
    ------
    TypeError
        ``value`` is not an integer.
    ValueError
        ``value`` is outside ``[lo, hi]``.
    """
    lo_f = -_INF if lo is None else lo
    hi_f = _INF if hi is None else hi
    rule = "an integer" + ("" if lo is None and hi is None else " " + _range_text(lo_f, hi_f, False, False, ""))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The argument '{name}' must be {rule}; {value!r} ({_type_name(value)}) is invalid."
        )
    if not lo_f <= int(value) <= hi_f:
        raise ValueError(_message(name, rule, value, hint))
    return int(value)


def check_number(
    name: str,
    value: object,
    lo: float = -_INF,
    hi: float = _INF,
    unit: str = "",
    lo_open: bool = False,
    hi_open: bool = False,
    hint: str = "",
) -> float:
    """Return ``value`` as a float if it is a finite real number in the range.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : object
        Any real number (``int``, ``float``, numpy scalars); not ``bool``.
    lo, hi : float
        Bounds of the allowed range (default: unbounded; the value must be finite anyway).
    unit : str
        Unit written after the range in the message.
    lo_open, hi_open : bool
        Exclude the bound itself (``lo_open=True, lo=0`` reads "> 0").
    hint : str
        The fix, appended to a range error.

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    ValueError
        ``value`` is NaN, infinite or out of range.
    """
    rule = "a number " + _range_text(lo, hi, lo_open, hi_open, unit)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The argument '{name}' must be {rule}; {value!r} ({_type_name(value)}) is invalid."
        )
    x = float(value)
    ok = math.isfinite(x) and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        raise ValueError(_message(name, rule, value, hint))
    return x


def check_optional_number(name: str, value: object, *args: Any, **kwargs: Any) -> float | None:
    """:func:`check_number`, or ``None`` when ``value`` is ``None``."""
    return None if value is None else check_number(name, value, *args, **kwargs)


def check_choice(name: str, value: Any, allowed: Sequence[Any], hint: str = "") -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`ValueError` naming every choice.

    ``True``/``False`` do not stand for ``1``/``0`` (unless ``allowed`` holds them).
    """
    try:
        ok = bool(value in allowed)
    except (TypeError, ValueError):  # e.g. an array: no truth value
        ok = False
    if ok and isinstance(value, bool):
        ok = any(a is value for a in allowed)
    if not ok:
        choices = ", ".join(_choice_text(a) for a in allowed)
        raise ValueError(_message(name, f"one of {choices}", value, hint))
    return value


def check_seed(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 0 (a seed)."""
    return ensure_int(name, value, lo=0)


def check_vector(
    name: str, value: object, size: int, lo: float = -_INF, hi: float = _INF, unit: str = ""
) -> tuple[float, ...]:
    """Return ``value`` as a tuple of ``size`` floats, each checked by :func:`check_number`.

    Raises
    ------
    TypeError
        ``value`` is not a sequence (a string is not), or an item is not a number.
    ValueError
        It does not have ``size`` items, or an item is out of range.
    """
    bounded = lo != -_INF or hi != _INF
    rule = f"a sequence of {size} numbers" + (" " + _range_text(lo, hi, False, False, unit) if bounded else "")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"The argument '{name}' must be {rule}; {value!r} ({_type_name(value)}) is invalid."
        )
    items = tuple(value)  # type: ignore[arg-type]
    if len(items) != size:
        raise ValueError(_message(name, rule, value))
    return tuple(check_number(f"{name}[{i}]", v, lo, hi, unit) for i, v in enumerate(items))


def check_name(name: str, value: object) -> str:
    """Return ``value`` if it is a non-empty string without white space (a stream prefix, a layout name)."""
    check_type(name, value, str, "a string")
    if not value or any(c.isspace() for c in value):
        raise ValueError(_message(name, "a non-empty name without spaces", value))
    return value


def ensure_path(
    name: str, value: object, must_exist: bool = True, suffixes: Sequence[str] | None = None
) -> Path:
    """Return ``value`` as a :class:`~pathlib.Path` of a file.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : str | os.PathLike
        The path.
    must_exist : bool
        The file must exist (and be a file, not a folder).
    suffixes : sequence of str | None
        Allowed file endings, lower case with the dot (``(".json", ".toml")``).

    Raises
    ------
    TypeError
        ``value`` is not a path.
    ValueError
        The file does not exist, is a folder, or has another ending.
    """
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"The argument '{name}' must be a path (str or os.PathLike); {value!r} ({_type_name(value)}) is invalid."
        )
    path = Path(value)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ValueError(_message(name, f"a file ending in {' or '.join(suffixes)}", str(path)))
    if must_exist and not path.is_file():
        why = "is a folder" if path.is_dir() else "does not exist"
        raise ValueError(f"The argument '{name}' must be an existing file; {str(path)!r} {why}.")
    return path
