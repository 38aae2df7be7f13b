"""The package logger.

One logger, ``myostream``, for every module. Its level comes from the
environment variable ``MYOSTREAM_LOG_LEVEL`` (default ``WARNING``) and can be
changed at run time with :func:`set_log_level`.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("myostream")

if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(_handler)
    logger.propagate = False


def set_log_level(level: str | int | None) -> None:
    """Set the level of the myostream logger.

    Parameters
    ----------
    level : str | int | None
        A logging level name (``"DEBUG"``, ``"INFO"``, ...) or number. ``None``
        reads ``MYOSTREAM_LOG_LEVEL`` from the environment (default ``WARNING``).
    """
    if level is None:
        level = os.environ.get("MYOSTREAM_LOG_LEVEL", "WARNING")
    if isinstance(level, str):
        name = level.upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError(
                f"The log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL. {level!r} is invalid."
            )
        level = logging.getLevelNamesMapping()[name]
    logger.setLevel(level)


set_log_level(None)
