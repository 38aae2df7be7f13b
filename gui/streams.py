"""Find LSL streams, read their metadata and keep inlets alive across stream loss.

- :func:`discover` waits (up to a timeout) for myostream's streams or for any
  stream of type ``EMG`` and raises :class:`NoStreamError` with a one-line
  message that lists what *was* found.
- :func:`parse_metadata` reads the XDF-convention ``desc`` of a stream
  (labels, units, electrode locations, grid layout) and falls back to
  ``Ch1..ChN`` when a stream carries no metadata.
- :class:`StreamSlot` owns one inlet and its :class:`~gui.ring_buffer.RingBuffer`.
  ``poll()`` pulls everything available (never blocks), measures the effective
  rate, counts timestamp gaps, and detects loss (no data for longer than a
  threshold, or ``LostError`` from the inlet). While lost it re-resolves the
  stream by name/type/source_id in the background and switches to it when it
  returns.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pylsl
from pylsl.util import LostError
from pylsl.util import TimeoutError as LslTimeoutError

from gui.ring_buffer import RingBuffer
from realtime.core.checks import check_number
from realtime.core.logs import logger
from realtime.core.schemas import DEFAULT_PREFIX, STREAM_SUFFIXES, STREAM_TYPES

if TYPE_CHECKING:
    from collections.abc import Callable

VIEWED_ROLES: tuple[str, ...] = ("emg", "activation", "activation_model", "imu", "status", "markers")
"""The streams the viewer shows, by their role in :mod:`realtime.core.schemas`."""

ROLE_SUFFIXES: dict[str, str] = {role: STREAM_SUFFIXES[role] for role in VIEWED_ROLES}
"""Role -> stream-name suffix of the streams the viewer looks for (``<prefix>-<suffix>``)."""

_EMG_SUFFIX = "-" + STREAM_SUFFIXES["emg"]
_EMG_TYPE = STREAM_TYPES["emg"]

_UNIT_NAMES = {
    "microvolts": "µV",
    "microvolt": "µV",
    "uv": "µV",
    "µv": "µV",
    "millivolts": "mV",
    "millivolt": "mV",
    "mv": "mV",
    "volts": "V",
    "volt": "V",
    "v": "V",
}


class NoStreamError(RuntimeError):
    """No usable stream was found within the timeout (the message says what was found)."""


@dataclass(frozen=True)
class StreamMeta:
    """What the viewer needs to know about one stream.

    Parameters
    ----------
    name, type, source_id, uid, hostname : str
        Header fields of the stream.
    fs : float
        Nominal rate in Hz (0 for irregular streams).
    n_channels : int
        Channel count.
    labels : tuple of str
        One label per channel (``Ch1..ChN`` when the stream has none).
    units : tuple of str
        One display unit per channel (``µV``, ``mV``, ...; ``""`` when unknown).
    locations : ndarray, shape (n_channels, 3) | None
        Electrode positions X/Y/Z in millimetres, when every channel has one.
    layout_rows, layout_cols : int
        Grid shape from ``desc/layout`` (0 when absent).
    layout_name : str
        ``desc/layout/name`` or ``desc/acquisition/model``.
    """

    name: str
    type: str
    source_id: str
    uid: str
    hostname: str
    fs: float
    n_channels: int
    labels: tuple[str, ...]
    units: tuple[str, ...]
    locations: np.ndarray | None = field(default=None, compare=False)
    layout_rows: int = 0
    layout_cols: int = 0
    layout_name: str = ""

    def __post_init__(self) -> None:
        if self.n_channels < 1:
            raise ValueError(
                f"The field 'n_channels' must be at least 1. {self.n_channels} is invalid."
            )
        if len(self.labels) != self.n_channels or len(self.units) != self.n_channels:
            raise ValueError(
                f"The fields 'labels' and 'units' must have n_channels={self.n_channels} entries, "
                f"got {len(self.labels)} and {len(self.units)}."
            )
        if self.locations is not None and self.locations.shape != (self.n_channels, 3):
            raise ValueError(
                f"The field 'locations' should be ({self.n_channels}, 3), "
                f"{self.locations.shape} is invalid."
            )

    @property
    def unit(self) -> str:
        """The common display unit of the channels (``""`` if unknown or mixed)."""
        return self.units[0] if len(set(self.units)) == 1 else ""

    def describe(self) -> str:
        """One-line summary: ``name [type, N ch @ fs Hz]``."""
        rate = f"{self.fs:g} Hz" if self.fs > 0 else "irregular"
        return f"{self.name} [{self.type}, {self.n_channels} ch @ {rate}]"


def display_unit(unit: str) -> str:
    """Map an XDF unit name (``microvolts``) to a display unit (``µV``); unknown names pass through."""
    return _UNIT_NAMES.get(unit.strip().lower(), unit.strip())


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _int_or_zero(text: str) -> int:
    try:
        return max(0, int(float(text)))
    except ValueError:
        return 0


def parse_metadata(info: pylsl.StreamInfo) -> StreamMeta:
    """Read header and ``desc`` of ``info`` into a :class:`StreamMeta`.

    Labels come from ``desc/channels/channel/label`` when every channel has one,
    otherwise ``Ch1..ChN``. Locations are kept only when every channel has a
    finite ``location/X,Y,Z``.
    """
    n = info.channel_count()
    desc = info.desc()
    labels: list[str] = []
    units: list[str] = []
    locs: list[tuple[float, float, float]] = []
    chans = desc.child("channels")
    if not chans.empty():
        ch = chans.child("channel")
        while not ch.empty() and len(labels) < n:
            labels.append(ch.child_value("label").strip())
            units.append(display_unit(ch.child_value("unit")))
            loc = ch.child("location")
            if loc.empty():
                locs.append((math.nan, math.nan, math.nan))
            else:
                locs.append(tuple(_float_or_nan(loc.child_value(k)) for k in ("X", "Y", "Z")))  # type: ignore[misc]
            ch = ch.next_sibling("channel")
    if len(labels) != n or not all(labels) or len(set(labels)) != n:
        labels = [f"Ch{i + 1}" for i in range(n)]
    if len(units) != n:
        units = [""] * n
    locations = None
    if len(locs) == n:
        arr = np.asarray(locs, dtype=np.float64)
        if np.all(np.isfinite(arr)):
            locations = arr
    layout = desc.child("layout")
    rows = cols = 0
    layout_name = ""
    if not layout.empty():
        rows = _int_or_zero(layout.child_value("rows"))
        cols = _int_or_zero(layout.child_value("cols"))
        layout_name = layout.child_value("name")
    if not layout_name:
        layout_name = desc.child("acquisition").child_value("model")
    return StreamMeta(
        name=info.name(),
        type=info.type(),
        source_id=info.source_id(),
        uid=info.uid(),
        hostname=info.hostname(),
        fs=float(info.nominal_srate()),
        n_channels=n,
        labels=tuple(labels),
        units=tuple(units),
        locations=locations,
        layout_rows=rows,
        layout_cols=cols,
        layout_name=layout_name,
    )


# ---------------------------------------------------------------------------- discovery
@dataclass
class Discovery:
    """Streams chosen for the viewer.

    Parameters
    ----------
    emg : pylsl.StreamInfo
        The multichannel stream drawn as traces.
    companions : dict
        Role (``activation``, ``activation_model``, ``imu``, ``status``,
        ``markers``) -> stream header, for the streams that exist.
    prefix : str | None
        The myostream prefix in use (``None`` for a foreign EMG stream).
    found : list of str
        One-line descriptions of every stream seen.
    """

    emg: pylsl.StreamInfo
    companions: dict[str, pylsl.StreamInfo]
    prefix: str | None
    found: list[str]


def _describe_info(info: pylsl.StreamInfo) -> str:
    rate = info.nominal_srate()
    rate_txt = f"{rate:g} Hz" if rate > 0 else "irregular"
    return f"{info.name()} [{info.type()}, {info.channel_count()} ch @ {rate_txt}]"


def _newest(infos: list[pylsl.StreamInfo]) -> pylsl.StreamInfo:
    """The most recently created of several streams."""
    return max(infos, key=lambda i: i.created_at())


def _warn_duplicates(infos: list[pylsl.StreamInfo], what: str) -> None:
    if len(infos) > 1:
        logger.warning(
            "viewer: %s streams match %s (%s); using the newest. Stop the others or use --stream.",
            len(infos),
            what,
            ", ".join(f"{i.hostname()}/{i.source_id() or i.uid()}" for i in infos),
        )


def discover(
    prefix: str | None = None,
    stream: str | None = None,
    timeout: float = 5.0,
    grace: float = 0.3,
) -> Discovery:
    """Wait for the streams to view.

    The EMG stream is, in order: the stream named ``stream``; else
    ``<prefix>-EMG`` (``prefix`` defaults to ``myostream``); else, when neither
    argument was given, the newest stream of type ``EMG``. Companion streams
    (``<prefix>-activation`` ...) are added when they exist; with ``stream`` the
    prefix is taken from ``--prefix`` or from a name ending in ``-EMG``.

    Parameters
    ----------
    prefix : str | None
        myostream stream-name prefix.
    stream : str | None
        Exact name of the stream to draw as EMG traces.
    timeout : float
        Seconds to wait for the EMG stream (> 0).
    grace : float
        Extra seconds to wait for companion streams once the EMG stream is seen.

    Returns
    -------
    Discovery

    Raises
    ------
    NoStreamError
        Nothing matching was found; the message lists the streams seen.
    """
    check_number("timeout", timeout, 0.0, unit="s", lo_open=True)
    fallback = prefix is None and stream is None
    if prefix is None and stream is not None and stream.endswith(_EMG_SUFFIX):
        prefix = stream[: -len(_EMG_SUFFIX)]
    eff_prefix = prefix if prefix is not None else DEFAULT_PREFIX
    emg_name = stream if stream is not None else f"{eff_prefix}-{ROLE_SUFFIXES['emg']}"

    resolver = pylsl.ContinuousResolver(forget_after=max(5.0, timeout))
    start = time.monotonic()
    deadline = start + timeout
    seen: list[pylsl.StreamInfo] = []
    emg: pylsl.StreamInfo | None = None
    used_prefix: str | None = eff_prefix
    emg_seen_at: float | None = None
    while True:
        seen = resolver.results()
        now = time.monotonic()
        named = [i for i in seen if i.name() == emg_name]
        typed = [i for i in seen if i.type().lower() == _EMG_TYPE.lower()] if fallback and not named else []
        candidates = named or typed
        if candidates:
            emg = _newest(candidates)
            used_prefix = eff_prefix if named else None
        if emg is not None and emg_seen_at is None:
            emg_seen_at = now
        if emg_seen_at is not None and now >= emg_seen_at + grace:
            break
        if emg is None and now >= deadline:
            break
        time.sleep(0.05)
    found = sorted(_describe_info(i) for i in seen)
    if emg is not None:
        _warn_duplicates(candidates, f"name {emg_name!r}" if named else f"type {_EMG_TYPE!r}")
    if emg is None:
        found_txt = "; ".join(found) if found else "no LSL streams at all"
        what = f"no stream named {emg_name!r}"
        if fallback:
            what += f" and no stream of type {_EMG_TYPE!r}"
        hint = (
            "start the simulator (python launch.py run) or pass --stream NAME"
            if stream is None
            else "check the name (--stream) or start the producer"
        )
        raise NoStreamError(f"{what} found within {timeout:g} s (found: {found_txt}); {hint}.")
    companions: dict[str, pylsl.StreamInfo] = {}
    if used_prefix is not None and (stream is None or prefix is not None):
        for role, suffix in ROLE_SUFFIXES.items():
            if role == "emg":
                continue
            matches = [i for i in seen if i.name() == f"{used_prefix}-{suffix}"]
            if matches:
                _warn_duplicates(matches, f"name '{used_prefix}-{suffix}'")
                companions[role] = _newest(matches)
    elif used_prefix is None:
        logger.warning(
            "viewer: no myostream stream found; showing the EMG stream %s", _describe_info(emg)
        )
    return Discovery(emg=emg, companions=companions, prefix=used_prefix, found=found)


# ---------------------------------------------------------------------------- one stream
RATE_WINDOW_S = 2.0  # the effective rate is samples received over this much wall-clock time

LIVE = "live"
WAITING = "waiting"
LOST = "lost"
RELEASE_AFTER_S = 2.0
"""Seconds after a slot is lost before it closes its inlet if its outlet is no longer announced
(the slot then waits for the stream to be announced again)."""


class StreamSlot:
    """One LSL stream: an inlet, a ring buffer, health counters and loss/return handling.

    Parameters
    ----------
    info : pylsl.StreamInfo
        The resolved stream.
    buffer_s : float
        Seconds of data the ring buffer keeps (numeric streams).
    lost_after_s : float
        A regular stream that delivers nothing for ``max(lost_after_s, 3 / fs)``
        seconds is reported lost.
    info_timeout : float
        Seconds to wait for the full metadata when the slot opens.
    clock : callable
        Wall clock in seconds (``pylsl.local_clock``); injectable for tests.
    """

    def __init__(
        self,
        info: pylsl.StreamInfo,
        buffer_s: float = 10.0,
        lost_after_s: float = 1.0,
        info_timeout: float = 2.0,
        clock: Callable[[], float] = pylsl.local_clock,
    ) -> None:
        check_number("buffer_s", buffer_s, 0.0, unit="s", lo_open=True)
        check_number("lost_after_s", lost_after_s, 0.0, unit="s", lo_open=True)
        self._clock = clock
        self._inlet: pylsl.StreamInlet | None = self._open(info)
        try:
            full = self._inlet.info(timeout=info_timeout)
        except LslTimeoutError:
            logger.warning(
                "StreamSlot: no metadata from %s within %s s; using defaults",
                info.name(),
                info_timeout,
            )
            full = info
        try:
            self._inlet.open_stream(timeout=info_timeout)  # data pushed from now on is received
        except LslTimeoutError:
            logger.warning(
                "StreamSlot: %s not connected within %s s; still trying", info.name(), info_timeout
            )
        self.meta = parse_metadata(full)
        self._uid = info.uid()
        fs = self.meta.fs
        self._format = info.channel_format()
        self.is_string = self._format == pylsl.cf_string
        self.lost_after_s = max(lost_after_s, 3.0 / fs) if fs > 0 else math.inf
        capacity = int(math.ceil(buffer_s * fs)) if fs > 0 else 4096
        self.ring: RingBuffer | None = None
        if not self.is_string:
            self.ring = RingBuffer(
                self.meta.n_channels, max(capacity, 16), dtype=self._inlet.np_dtype
            )
        self.markers: deque[tuple[float, str]] = deque(maxlen=20)
        self.state = WAITING
        self.reason = "waiting for the first samples"
        self.note = ""  # why a returned stream was not taken (shown while lost)
        self.n_losses = 0
        self.n_returns = 0
        self.n_gaps = 0
        self.gap_seconds = 0.0
        self.rate_hz = math.nan
        self.lag_s = math.nan
        self.n_new = 0
        now = self._clock()
        self._opened_at = now
        self._last_data_at: float | None = None
        self._rate_t0 = now
        self._rate_n0 = 0
        self._received = 0
        self._resolver: pylsl.ContinuousResolver | None = None
        self._next_resolve = 0.0
        self._lost_at = 0.0
        self._prev_ts: float | None = None

    # --------------------------------------------------------------- inlet handling
    @staticmethod
    def _open(info: pylsl.StreamInfo) -> pylsl.StreamInlet:
        fs = info.nominal_srate()
        return pylsl.StreamInlet(
            info,
            max_buflen=15 if fs > 0 else 100,
            recover=True,
            processing_flags=pylsl.proc_clocksync,
        )

    @property
    def name(self) -> str:
        """Stream name."""
        return self.meta.name

    @property
    def received(self) -> int:
        """Samples received since the slot opened."""
        return self._received

    def _mark_lost(self, reason: str) -> None:
        if self.state != LOST:
            self.n_losses += 1
            logger.warning("StreamSlot: %s lost (%s)", self.meta.name, reason)
        self.state = LOST
        self.reason = reason
        if self._resolver is None:
            self._lost_at = self._clock()
            name = self.meta.name.replace("'", "")
            stype = self.meta.type.replace("'", "")
            self._resolver = pylsl.ContinuousResolver(
                pred=f"name='{name}' and type='{stype}'", forget_after=2.0
            )

    def _try_return(self, now: float) -> None:
        """While lost: open a newly announced stream with the same name (and source_id)."""
        if self._resolver is None or now < self._next_resolve:
            return
        self._next_resolve = now + 0.25
        results = self._resolver.results()
        if (
            self._inlet is not None
            and now - self._lost_at > RELEASE_AFTER_S
            and all(info.uid() != self._uid for info in results)
        ):
            # The outlet is gone (not merely silent). liblsl's own recovery would re-resolve in a
            # tight loop for as long as the inlet lives, flooding discovery for every LSL program
            # on the machine; the slot's resolver (two query waves a second) watches instead.
            self._inlet.close_stream()
            self._inlet = None
        for info in results:
            if self._inlet is not None and info.uid() == self._uid:
                continue  # the open inlet recovers its own stream
            if (
                info.channel_count() != self.meta.n_channels
                or info.channel_format() != self._format
            ):
                self.note = (
                    f"a stream named {info.name()!r} is back with {info.channel_count()} channels "
                    f"(format {info.channel_format()}); restart the viewer to show it"
                )
                continue
            if self.meta.source_id and info.source_id() and info.source_id() != self.meta.source_id:
                continue
            logger.info(
                "StreamSlot: %s announced again (uid %s); reconnecting", info.name(), info.uid()
            )
            old, self._inlet = self._inlet, None
            if old is not None:
                old.close_stream()
            self._inlet = self._open(info)
            self._uid = info.uid()
            self.reason = "stream announced again; reconnecting"
            return

    def close(self) -> None:
        """Close the inlet and stop resolving."""
        if self._inlet is not None:
            self._inlet.close_stream()
        self._inlet = None
        self._resolver = None

    # --------------------------------------------------------------- polling
    def poll(self) -> int:
        """Pull everything available without blocking and update the health figures.

        Returns
        -------
        int
            Number of new samples (``self.n_new``); the newest are at the end of ``ring``.
        """
        now = self._clock()
        n = 0
        if self._inlet is not None:
            try:
                n = self._pull(self._inlet)
            except LostError:
                self._inlet.close_stream()
                self._inlet = None
                self._mark_lost("the inlet reported the stream as lost")
        self.n_new = n
        if n > 0:
            self._received += n
            self._last_data_at = now
            if self.state != LIVE:
                if self.state == LOST:
                    self.n_returns += 1
                    logger.warning("StreamSlot: %s is back", self.meta.name)
                self.state = LIVE
                self.reason = ""
                self.note = ""
                self._resolver = None
                self._rate_t0, self._rate_n0 = now, self._received - n
        else:
            ref = self._last_data_at if self._last_data_at is not None else self._opened_at
            silent = now - ref
            if self.state != LOST and silent > self.lost_after_s and self._last_data_at is not None:
                self._mark_lost(f"no data for {silent:.1f} s")
            elif self.state == LOST and self._last_data_at is not None and self._inlet is not None:
                self.reason = f"no data for {silent:.1f} s"
            if self.state == LOST:
                self._try_return(now)
        if now - self._rate_t0 >= RATE_WINDOW_S:
            self.rate_hz = (self._received - self._rate_n0) / (now - self._rate_t0)
            self._rate_t0, self._rate_n0 = now, self._received
        return n

    def _pull(self, inlet: pylsl.StreamInlet) -> int:
        if self.is_string or self.ring is None:
            samples, ts = inlet.pull_chunk(timeout=0.0, max_samples=64)
            for t, s in zip(ts, samples):
                self.markers.append((float(t), " ".join(str(v) for v in s)))
            return len(ts)
        ring = self.ring
        n = ring.pull(inlet)
        if n == 0:
            return 0
        data, ts = ring.latest(n)
        if data.dtype.kind == "f":
            np.nan_to_num(data, copy=False)  # keeps setSkipFiniteCheck(True) safe
        fs = self.meta.fs
        if fs > 0:
            limit = 1.5 / fs
            gaps = 0
            missing = 0.0
            if self._prev_ts is not None and ts[0] - self._prev_ts > limit:
                gaps += 1
                missing += ts[0] - self._prev_ts - 1.0 / fs
            if n > 1:
                d = np.diff(ts)
                jumps = d > limit
                k = int(np.count_nonzero(jumps))
                if k:
                    gaps += k
                    missing += float(np.sum(d[jumps])) - k / fs
            self.n_gaps += gaps
            self.gap_seconds += missing
        self._prev_ts = float(ts[-1])
        self.lag_s = pylsl.local_clock() - float(ts[-1])
        return n

    @property
    def full_reason(self) -> str:
        """Why the stream is not live, with the note about a returned stream that was not taken."""
        return f"{self.reason}; {self.note}" if self.note else self.reason

    def status_text(self) -> str:
        """Short health summary for the status bar."""
        if self.state == LOST:
            return f"{self.meta.name} LOST: {self.full_reason}"
        if self.state == WAITING:
            return f"{self.meta.name}: waiting for data"
        return f"{self.meta.name}: live"


__all__ = [
    "LIVE",
    "LOST",
    "ROLE_SUFFIXES",
    "VIEWED_ROLES",
    "WAITING",
    "Discovery",
    "NoStreamError",
    "StreamMeta",
    "StreamSlot",
    "discover",
    "display_unit",
    "parse_metadata",
]
