"""An IMU source that subscribes to an LSL stream (another app's IMU, a phone, a second myostream).

``LslImu`` resolves the stream by name and/or type (with a timeout), picks the
six IMU channels by label (``devices.channel_map``), converts units from the
stream metadata, and applies LSL's clock synchronisation (``proc_clocksync``:
timestamps on this machine's LSL clock, ``time_correction()`` done by liblsl).
The outlet's times are otherwise passed on as they are (no ``proc_monotonize``,
no ``proc_dejitter``): the input guard (:mod:`realtime.stages.guard`) rejects a
garbage time (NaN, far future, going back) alone, where liblsl's post-processing
would let it hold back or poison every later time.

A reader thread pulls chunks into a preallocated buffer. When no sample has
arrived for ``lost_after_s`` the stream is reported lost (``"device lost: ..."``)
and the thread looks for it again every 0.25 s; when the outlet comes back
(liblsl's own recovery or a new outlet with the same name/type) it reports
``"device back: ..."``. ``read()`` keeps returning (empty) blocks meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pylsl

from devices.channel_map import select_channels, unit_scales
from devices.threaded_source import DeviceError, ThreadedSource
from realtime.core.checks import check_number, check_type, ensure_int
from realtime.core.logs import logger

_DTYPES = {
    pylsl.cf_float32: np.float32, pylsl.cf_double64: np.float64, pylsl.cf_int8: np.int8,
    pylsl.cf_int16: np.int16, pylsl.cf_int32: np.int32, pylsl.cf_int64: np.int64,
}


@dataclass(frozen=True)
class LslSettings:
    """Which LSL stream to read and how.

    Parameters
    ----------
    name : str | None
        Stream name to resolve (``--stream-name``).
    type : str | None
        Stream type to resolve (``--stream-type``, e.g. ``"IMU"``); with both, both must match.
    channels : tuple of 6 str | None
        Labels or 0-based indices of acc_x..gyr_z; ``None`` matches labels automatically.
    resolve_timeout_s : float
        How long ``start()`` looks for the stream.
    lost_after_s : float
        Seconds without a sample after which the stream is reported lost
        (raised to 10 sample periods for slow streams).
    buffer_s : int
        Seconds of data liblsl buffers when the reader falls behind.
    """

    name: str | None = None
    type: str | None = None
    channels: tuple[str, ...] | None = None
    resolve_timeout_s: float = 5.0
    lost_after_s: float = 1.0
    buffer_s: int = 10

    def __post_init__(self) -> None:
        if not self.name and not self.type:
            raise ValueError(
                "An LSL source needs a stream name or type: pass --stream-name NAME and/or --stream-type TYPE "
                "(`python launch.py list-streams` shows the streams on the network)."
            )
        for arg in ("name", "type"):
            value = getattr(self, arg)
            if value is not None:
                check_type(arg, value, str, "a stream name")
                if "'" in value or not value.strip():
                    raise ValueError(f"The argument '{arg}' must be a non-empty name without quotes; {value!r} is invalid.")
        if self.channels is not None and len(self.channels) != 6:
            raise ValueError(f"The argument 'channels' must list 6 channels; {self.channels!r} is invalid.")
        for arg in ("resolve_timeout_s", "lost_after_s"):
            check_number(arg, getattr(self, arg), 0.0, unit="s", lo_open=True)
        ensure_int("buffer_s", self.buffer_s, lo=1)

    @property
    def predicate(self) -> str:
        """XPath predicate that selects the stream."""
        parts = []
        if self.name:
            parts.append(f"name='{self.name}'")
        if self.type:
            parts.append(f"type='{self.type}'")
        return " and ".join(parts)

    @property
    def description(self) -> str:
        """How the stream is selected, for messages."""
        return " and ".join(f"{k} {v!r}" for k, v in (("name", self.name), ("type", self.type)) if v)


def resolve_stream(settings: LslSettings, timeout: float | None = None) -> pylsl.StreamInfo:
    """Find the stream ``settings`` selects, or raise :class:`DeviceError` listing what is visible.

    Parameters
    ----------
    settings : LslSettings
        Name and/or type.
    timeout : float | None
        Seconds to look (``settings.resolve_timeout_s`` if None).
    """
    timeout = settings.resolve_timeout_s if timeout is None else timeout
    found = pylsl.resolve_bypred(settings.predicate, 1, timeout)
    if not found:
        visible = pylsl.resolve_streams(0.5)
        names = ", ".join(f"{s.name()} ({s.type()})" for s in visible) or "none"
        raise DeviceError(
            f"No LSL stream with {settings.description} found within {timeout:g} s (streams visible: {names}). "
            f"Check --stream-name/--stream-type; `python launch.py list-streams` lists the streams."
        )
    if len(found) > 1:
        logger.warning("LslImu: %s streams match %s; using the one from %s.", len(found), settings.description,
                       found[0].hostname())
    return found[0]


def _channel_meta(info: pylsl.StreamInfo) -> tuple[list[str], list[str]]:
    """Labels and units of every channel from ``desc/channels/channel`` ("" where missing)."""
    labels, units = [], []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label"))
        units.append(ch.child_value("unit"))
        ch = ch.next_sibling()
    n = info.channel_count()
    labels = (labels + [""] * n)[:n]
    units = (units + [""] * n)[:n]
    return labels, units


class LslImu(ThreadedSource):
    """IMU source reading an LSL stream (see the module docstring).

    Parameters
    ----------
    settings : LslSettings
        Which stream, which channels.
    clock : Callable[[], float] | None
        The LSL clock (default ``pylsl.local_clock``).
    info : pylsl.StreamInfo | None
        An already resolved stream (``resolve_stream(settings)``): then ``fs``
        is known before ``start()`` and ``start()`` does not resolve again.
    """

    def __init__(self, settings: LslSettings, clock: Callable[[], float] | None = None,
                 info: pylsl.StreamInfo | None = None) -> None:
        check_type("settings", settings, LslSettings, "an LslSettings")
        super().__init__(f"lsl {settings.description}", info.nominal_srate() if info is not None else 0.0,
                         clock or pylsl.local_clock)
        self.settings = settings
        self._info = info
        self._inlet: pylsl.StreamInlet | None = None
        self._uid = ""
        self._cols: list[int] = []
        self._scales = np.ones(6)
        self._buffer = np.zeros((0, 0), np.float32)

    def _open_device(self) -> None:
        info = self._info if self._info is not None else resolve_stream(self.settings)
        self._info = None  # resolve again on a later start()
        self._connect(info)
        if self._fs == 0.0:
            self._fs = float(info.nominal_srate())

    def _connect(self, info: pylsl.StreamInfo) -> None:
        """Open an inlet on ``info`` and work out the channel mapping."""
        # Clock sync only. No proc_monotonize (one garbage time, 1e12, would hold every later one back)
        # and no proc_dejitter (one NaN time poisons its regression: every later time is NaN); the input
        # guard rejects a garbage time alone, and the grid resampler takes jittery times as they are.
        flags = pylsl.proc_clocksync
        inlet = pylsl.StreamInlet(info, max_buflen=self.settings.buffer_s, recover=True, processing_flags=flags)
        try:
            full = inlet.info(timeout=self.settings.resolve_timeout_s)
            dtype = _DTYPES.get(full.channel_format())
            if dtype is None:
                raise DeviceError(
                    f"LSL stream {full.name()!r} has a non-numeric channel format; an IMU stream must be numeric."
                )
            labels, units = _channel_meta(full)
            try:
                cols = select_channels(labels, self.settings.channels)
            except ValueError as err:
                raise DeviceError(f"LSL stream {full.name()!r}: {err}") from err
            inlet.open_stream(timeout=self.settings.resolve_timeout_s)
        except Exception:
            inlet.close_stream()
            raise
        if self._inlet is not None:
            self._inlet.close_stream()
        self._inlet = inlet
        self._uid = full.uid()
        self._cols = cols
        self._scales = unit_scales(units, cols)
        self._buffer = np.zeros((max(int(full.nominal_srate()), 1024), full.channel_count()), dtype)
        self.name = f"lsl {full.name()!r} ({full.type()}, {full.nominal_srate():g} Hz)"
        logger.info("LslImu: reading %s, channels %s, unit scales %s", self.name,
                    [labels[k] for k in cols], self._scales.tolist())

    def _close_device(self) -> None:
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None

    def _run(self) -> None:
        s = self.settings
        fs = self._fs
        lost_after = max(s.lost_after_s, 10.0 / fs) if fs > 0 else max(s.lost_after_s, 5.0)
        next_index = 0
        last_data = self._clock()
        lost_at = 0.0
        next_search = 0.0
        while not self._stop_event.is_set():
            inlet = self._inlet
            _, ts = inlet.pull_chunk(timeout=0.05, max_samples=self._buffer.shape[0], dest_obj=self._buffer,
                                     min_samples=1)
            now = self._clock()
            n = len(ts)
            if n:
                if not self._connected:
                    self._reconnects += 1
                    skipped = max(round((now - last_data) * fs) - 1, 0) if fs > 0 else 0
                    next_index += skipped
                    # The event first, then the status: whoever sees the status change finds the event queued.
                    self._event(f"device back: {self.name} after {now - lost_at:.1f} s (reconnect {self._reconnects})")
                    self._connected = True
                last_data = now
                data = (self._buffer[:n, self._cols] * self._scales).astype(np.float32)
                # The outlet's own times, as they are: the input guard rejects a garbage one (NaN, far
                # future, going back) alone. Clamping here would let one garbage time (1e12, NaN)
                # poison every later sample.
                t = np.asarray(ts, np.float64)
                self._push(data, t, np.arange(next_index, next_index + n, dtype=np.int64))
                next_index += n
                continue
            if self._connected and now - last_data > lost_after:
                lost_at = now
                next_search = now + 0.25
                self._last_error = f"no data for {lost_after:g} s"
                self._event(f"device lost: {self.name}: no data for {lost_after:g} s")
                self._connected = False
            if not self._connected and now >= next_search:
                next_search = now + 0.25
                self._search_new_outlet()

    def _search_new_outlet(self) -> None:
        """Switch to a new outlet of the stream if one appeared (liblsl recovers a restarted outlet itself
        only when it keeps its source_id)."""
        found = pylsl.resolve_bypred(self.settings.predicate, 1, 0.2)
        fresh = [info for info in found if info.uid() != self._uid]
        if not fresh:
            return
        try:
            self._connect(fresh[0])
        except Exception as err:  # keep looking; report why
            self._last_error = str(err)
            logger.warning("LslImu: found %s again but could not open it: %s", self.settings.description, err)
