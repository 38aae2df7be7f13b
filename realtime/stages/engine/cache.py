"""On-disk cache of MUAP tables, keyed by a hash of everything that determines them.

Tables live in ``$MYOSTREAM_CACHE/muaps/<key>.npz`` (default cache root:
``~/.cache/myostream``). The key is a SHA-256 of the table-format version,
the layout, the rate, the table length, the posture grid and every unit's
geometry (see :func:`table_key`), so a change of any of them builds new
tables; stale files are never read. Writes go to a temporary file that is
renamed into place, so a crash or two processes never leave a torn file; a
file that cannot be read is rebuilt (WARNING log).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from realtime.core.logs import logger

CACHE_ENV = "MYOSTREAM_CACHE"
"""Environment variable naming the cache root directory."""


def cache_root() -> Path:
    """The cache root: ``$MYOSTREAM_CACHE`` if set, else ``~/.cache/myostream``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "myostream"


def muap_cache_dir() -> Path:
    """Directory of the MUAP-table files."""
    return cache_root() / "muaps"


def table_key(parts: Mapping[str, Any], arrays: Iterable[np.ndarray]) -> str:
    """SHA-256 hex digest of JSON-able ``parts`` and the bytes (with dtype and shape) of ``arrays``."""
    h = hashlib.sha256()
    h.update(json.dumps(parts, sort_keys=True, default=_json_default).encode())
    for arr in arrays:
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _json_default(obj: object) -> object:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"Cannot hash {type(obj).__name__} into a cache key.")


def load_arrays(key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key``, or ``None`` if absent or unreadable."""
    path = muap_cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        logger.warning("MUAP cache: cannot read %s (%s); rebuilding the tables", path, exc)
        return None


def save_arrays(key: str, arrays: Mapping[str, np.ndarray]) -> Path | None:
    """Store ``arrays`` under ``key`` atomically; returns the path, or ``None`` if the cache is not writable."""
    folder = muap_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".npz.tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            path = folder / f"{key}.npz"
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.warning("MUAP cache: cannot write to %s (%s); tables are not cached", folder, exc)
        return None
    return path
