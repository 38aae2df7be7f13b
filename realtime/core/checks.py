"""Argument checks shared by the settings dataclasses (teacher, synthetic arm, artefacts, ...).

Every check raises a ``ValueError`` that names the argument, the rule and the
bad value, as the rest of myostream does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def check_number(name: str, value: object, lo: float, hi: float, unit: str = "",
                 lo_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number in ``[lo, hi]``.

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : object
        The value to check.
    lo, hi : float
        Allowed range (inclusive, unless ``lo_open``).
    unit : str
        Unit appended to the range in the message.
    lo_open : bool
        Exclude ``lo`` itself (for "strictly positive" rules).
    """
    bracket = "(" if lo_open else "["
    rule = f"a number in {bracket}{lo:g}, {hi:g}]{' ' + unit if unit else ''}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"The argument '{name}' must be {rule}; {value!r} is invalid.")
    x = float(value)
    if not math.isfinite(x) or x > hi or x < lo or (lo_open and x == lo):
        raise ValueError(f"The argument '{name}' must be {rule}; {value!r} is invalid.")
    return x


def check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming every allowed value."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"The argument '{name}' must be one of {choices}; {value!r} is invalid.")
    return str(value)


def check_seed(name: str, value: object) -> int:
    """Return ``value`` if it is a non-negative integer (a seed)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"The argument '{name}' must be a non-negative integer; {value!r} is invalid.")
    return value


def check_vector(name: str, value: object, size: int, lo: float, hi: float, unit: str = "") -> tuple[float, ...]:
    """Return ``value`` as a tuple of ``size`` floats, each in ``[lo, hi]``."""
    try:
        items = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        items = None
    if items is None or len(items) != size:
        raise ValueError(
            f"The argument '{name}' must be a sequence of {size} numbers in [{lo:g}, {hi:g}]"
            f"{' ' + unit if unit else ''}; {value!r} is invalid."
        )
    return tuple(check_number(f"{name}[{i}]", v, lo, hi, unit) for i, v in enumerate(items))
