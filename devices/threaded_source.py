"""Shared machinery of the IMU sources that read a device in a background thread.

:class:`ThreadedSource` gives the serial and LSL sources the same behaviour:

- The lifecycle of :class:`realtime.core.lifecycle.Lifecycle`: ``start()``
  opens the device in the caller's thread (so a missing port or stream fails
  at once, with a clear message) and starts the reader thread; a second
  ``start()`` warns. ``stop()`` joins the thread and re-raises an exception the
  thread stored; ``read()`` before ``start()`` raises with the fix.
- ``read()`` never blocks: it returns every sample queued since the last call
  as one :class:`realtime.core.block.Block`, or an empty block. ``Block.seq`` is the
  running sample index; a gap (lost samples) is a jump in ``seq``, so a block
  ends just before a gap and the samples after it come with the next ``read()``.
- A lost device never raises from ``read()``: the thread reports it in
  :attr:`status` and as events (``events["source_events"]`` of the next block read:
  ``"device lost: ..."``, ``"device back: ..."``) that the runner publishes on ``<prefix>-markers``,
  and reconnects with back-off.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from realtime.core.block import NO_EVENTS, Block, empty_block
from realtime.core.contract import StreamFormat
from realtime.core.lifecycle import Lifecycle
from realtime.core.logs import logger
from realtime.core.units import IMU_CHANNELS

MAX_PENDING_RUNS = 64
"""Safety valve: above this many queued runs separated by gaps (a device losing frames faster than
the runner reads), ``read()`` returns them all in one block and the gaps show only in the timestamps."""


@dataclass(frozen=True)
class SourceStatus:
    """A snapshot of a device source's health.

    Attributes
    ----------
    name : str
        What the source reads, e.g. ``"serial /dev/ttyUSB0 (binary)"``.
    connected : bool
        Whether the device is currently delivering (open and not silent).
    samples : int
        IMU samples delivered so far.
    frames_ok, crc_errors, malformed, text_lines, bytes_skipped : int
        Decoder counts (serial only; 0 otherwise).
    seq_gaps, samples_lost : int
        Jumps in the device's sample counter and the samples missing in them.
    reconnects : int
        Times the device came back after being lost.
    rate_hz : float
        The device's samples per second over the last ``RATE_WINDOW_S`` of
        arrivals (sample indices, so lost samples count; bursts do not change it).
    last_error : str
        Text of the last device error ("" if none).
    """

    name: str
    connected: bool
    samples: int
    frames_ok: int
    crc_errors: int
    malformed: int
    text_lines: int
    bytes_skipped: int
    seq_gaps: int
    samples_lost: int
    reconnects: int
    rate_hz: float
    last_error: str

    def line(self) -> str:
        """One human-readable status line."""
        state = "connected" if self.connected else "DISCONNECTED"
        text = (
            f"{self.name}: {state}, {self.rate_hz:.1f} Hz, {self.samples} samples, {self.crc_errors} CRC errors, "
            f"{self.malformed} malformed, {self.seq_gaps} gaps ({self.samples_lost} lost), "
            f"{self.reconnects} reconnects"
        )
        if not self.connected and self.last_error:
            text += f"; last error: {self.last_error}"
        return text


RATE_WINDOW_S = 10.0
"""Seconds of arrivals over which :attr:`SourceStatus.rate_hz` is measured (long enough to span
a couple of bursts of a device that buffers)."""


RATE_MARK_S = 0.5
"""A chunk arriving within this time of the newest rate mark's creation updates that mark (a burst read
in several chunks counts from its end) instead of adding one."""


class DeviceError(RuntimeError):
    """A device cannot be used (missing, busy, wrong settings); the message says what to do."""


class ThreadedSource(Lifecycle, ABC):
    """Base of the sources that read a device in a background thread (see the module docstring).

    Subclasses implement ``_open_device()`` (called by ``start()`` in the
    caller's thread, and by the reader thread to reconnect; raise
    :class:`DeviceError` with the fix), ``_run()`` (the thread body: loop until
    ``self._stop_event`` is set, call ``_push`` with decoded samples) and
    ``_close_device()``.

    Parameters
    ----------
    name : str
        What the source reads, for messages and the status line.
    fs : float
        Nominal sampling rate in Hz (0 if unknown).
    clock : Callable[[], float]
        The LSL clock (``pylsl.local_clock``) or a test clock.
    """

    def __init__(self, name: str, fs: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self.name = name
        self._fs = float(fs)
        self._clock = clock
        self._lock = threading.Lock()
        # Queued samples as runs of consecutive indices: [first index, end index, data chunks, timestamp chunks].
        self._runs: deque[list] = deque()
        self._events: deque[str] = deque()
        self._next_seq = 0
        self._samples = 0
        self._connected = False
        self._reconnects = 0
        self._last_error = ""
        self._rate_marks: deque[tuple[float, int, float]] = deque()  # (arrival, next index, created)

    # ------------------------------------------------------------------ Source protocol
    @property
    def fs(self) -> float:
        """Nominal sampling rate in Hz (0 if unknown)."""
        return self._fs

    def read(self) -> Block:
        """Return every sample that arrived since the last call (an empty block if none); never blocks.

        Raises
        ------
        RuntimeError
            The source is not started.
        Exception
            An error the reader thread stored (e.g. :class:`DeviceError` "no valid frame").
        """
        if not self._started:
            self._check_started("read()")
        if self._error is not None:
            self._raise_stored_error()
        with self._lock:
            events = {"source_events": tuple(self._events)} if self._events else NO_EVENTS
            self._events.clear()
            if not self._runs:
                blk = empty_block(IMU_CHANNELS, self._fs, self._next_seq)
                return blk.replace(events=events) if events else blk
            seq0, end, parts_d, parts_t = self._runs.popleft()
            if len(self._runs) >= MAX_PENDING_RUNS:  # safety valve (see MAX_PENDING_RUNS)
                while self._runs:
                    _, end, more_d, more_t = self._runs.popleft()
                    parts_d += more_d
                    parts_t += more_t
            self._next_seq = end
        if len(parts_d) == 1:
            return Block(parts_d[0], parts_t[0], self._fs, seq0, IMU_CHANNELS, events=events)
        return Block(np.concatenate(parts_d), np.concatenate(parts_t), self._fs, seq0, IMU_CHANNELS, events=events)

    # ------------------------------------------------------------------ health
    @property
    def output_format(self) -> StreamFormat:
        """IMU blocks (m/s², rad/s) at the nominal rate; device events in ``events["source_events"]``
        (``"device lost: ..."``, ``"device back: ..."``)."""
        return StreamFormat(fs=self._fs, channels=IMU_CHANNELS)

    @property
    def status(self) -> SourceStatus:
        """A snapshot of the source's health."""
        return SourceStatus(
            name=self.name, connected=self._connected, samples=self._samples, frames_ok=0, crc_errors=0,
            malformed=0, text_lines=0, bytes_skipped=0, seq_gaps=0, samples_lost=0,
            reconnects=self._reconnects, rate_hz=self._rate(), last_error=self._last_error,
        )

    def status_line(self) -> str:
        """One human-readable line with the source's health."""
        return self.status.line()

    # ------------------------------------------------------------------ lifecycle hooks
    def _open(self) -> None:
        with self._lock:
            self._runs.clear()
        self._open_device()
        self._connected = True

    def _close(self) -> None:
        try:
            self._close_device()
        finally:
            self._connected = False

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _open_device(self) -> None:
        """Open the device (raise DeviceError with the fix if impossible)."""

    @abstractmethod
    def _run(self) -> None:
        """The reader thread's loop: read, decode, queue samples, reconnect; return when stopping."""

    @abstractmethod
    def _close_device(self) -> None:
        """Release the device (called from the reader thread or ``stop()``)."""

    def _event(self, text: str) -> None:
        """Queue an event for the next block read (``events["source_events"]``) and log it."""
        logger.warning("%s: %s", type(self).__name__, text)
        with self._lock:
            self._events.append(text)

    def _push(self, data: np.ndarray, timestamps: np.ndarray, index: np.ndarray) -> None:
        """Queue samples (from the reader thread), split into runs of consecutive indices."""
        n = data.shape[0]
        if n == 0:
            return
        data = np.ascontiguousarray(data, np.float32)
        timestamps = np.ascontiguousarray(timestamps, np.float64)
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        bounds = [0, *breaks.tolist(), n]
        with self._lock:
            for a, b in zip(bounds[:-1], bounds[1:]):
                first = int(index[a])
                if self._runs and self._runs[-1][1] == first:
                    run = self._runs[-1]
                    run[1] = first + (b - a)
                    run[2].append(data[a:b])
                    run[3].append(timestamps[a:b])
                else:
                    self._runs.append([first, first + (b - a), [data[a:b]], [timestamps[a:b]]])
            self._samples += n
        # The rate counts sample indices (lost samples included: lost frames do not lower it) between
        # arrivals RATE_WINDOW_S apart: a burst ends where the device is, so bursts do not change it.
        now = float(self._clock())
        marks = self._rate_marks
        if marks and now - marks[-1][2] < RATE_MARK_S:  # the chunks of one burst make one mark, at its end
            marks[-1] = (now, int(index[-1]) + 1, marks[-1][2])
        else:
            marks.append((now, int(index[-1]) + 1, now))
        while len(marks) > 2 and marks[0][0] < now - RATE_WINDOW_S:
            marks.popleft()

    def _rate(self) -> float:
        """Samples per second of the device over the last ``RATE_WINDOW_S`` (0 when unknown or gone)."""
        marks = list(self._rate_marks)
        if len(marks) < 2 or not self._connected:
            return 0.0
        (t0, n0, _), (t1, n1, _) = marks[0], marks[-1]
        if self._clock() - t1 > RATE_WINDOW_S:
            return 0.0
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def _rate_span(self) -> float:
        """Seconds of arrivals the rate estimate covers."""
        marks = self._rate_marks
        return marks[-1][0] - marks[0][0] if len(marks) >= 2 else 0.0
