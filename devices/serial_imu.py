"""A serial-port IMU source (USB-serial Arduino/ESP32 boards, WitMotion sensors, ``fake-imu``).

``SerialImu`` opens the port in ``start()`` (clear one-line errors for a port
that does not exist, a busy port and missing permissions), then a reader
thread feeds the bytes to the format's decoder (``devices.formats``), turns
device counters into a running sample index (``devices.continuity``), maps
device time (or, without one, the sample index) onto the LSL clock
(``devices.clock_sync``) and queues the samples for ``read()``.

When the port disappears (cable unplugged, ``fake-imu`` stopped) ``read()``
keeps returning empty blocks while the thread reports ``"device lost: ..."``,
retries the port with exponential back-off (0.1 s doubling to 2 s) and
reports ``"device back: ..."`` once it is open again. If no valid frame
arrives within ``no_frame_timeout_s`` of ``start()``, the baud rate or format
is wrong: ``read()`` raises :class:`DeviceError` ("no valid frame in N s").
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field

import pylsl
import serial
from serial.tools import list_ports

from devices.clock_sync import ClockSync
from devices.continuity import ContinuityTracker
from devices.formats import FORMATS, CsvSettings, make_decoder, max_rate_hz
from devices.threaded_source import DeviceError, SourceStatus, ThreadedSource
from realtime.core.checks import check_choice, check_number, check_type, ensure_int
from realtime.core.logs import logger

MAX_DRAIN_BYTES = 1 << 20
"""Most bytes read back to back before decoding (a burst of ~30,000 binary frames)."""

STANDARD_BAUDS: tuple[int, ...] = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 921600,
                                   1000000, 1500000, 2000000)


@dataclass(frozen=True)
class SerialSettings:
    """How to read a serial IMU.

    Parameters
    ----------
    port : str
        Device path (``/dev/ttyUSB0``, ``/dev/ttyACM0``, ``COM3``, a pty from ``fake-imu``).
    baud : int
        Baud rate (any positive integer; ``STANDARD_BAUDS`` are the usual ones).
    format : {"csv", "binary", "witmotion"}
        What the device sends (see ``docs/serial-protocol.md``).
    fs : float
        Rate the device is expected to send, in Hz: the nominal rate of the
        blocks, and the time base of formats without device time.
    csv : CsvSettings
        Column mapping, delimiter and scales of the ``csv`` format.
    no_frame_timeout_s : float
        Seconds after ``start()`` within which a valid frame must arrive.
    silence_s : float
        Seconds without a valid frame (port still open) after which the device
        is reported silent.
    reconnect_min_s, reconnect_max_s : float
        Back-off between attempts to reopen a lost port: starts at the first,
        doubles up to the second.
    read_timeout_s : float
        Longest wait of one port read (bounds how fast ``stop()`` returns).
    """

    port: str
    baud: int = 115200
    format: str = "csv"
    fs: float = 100.0
    csv: CsvSettings = field(default_factory=CsvSettings)
    no_frame_timeout_s: float = 5.0
    silence_s: float = 2.0
    reconnect_min_s: float = 0.1
    reconnect_max_s: float = 2.0
    read_timeout_s: float = 0.02

    def __post_init__(self) -> None:
        check_type("port", self.port, str, "a device path such as /dev/ttyUSB0")
        if not self.port:
            raise ValueError(f"The argument 'port' must be a device path such as /dev/ttyUSB0; {self.port!r} is invalid.")
        ensure_int("baud", self.baud, lo=1, hint=f"The usual rates are {', '.join(map(str, STANDARD_BAUDS))}.")
        check_choice("format", self.format, FORMATS)
        check_number("fs", self.fs, 1.0, 10_000.0, "Hz")
        check_type("csv", self.csv, CsvSettings, "a CsvSettings")
        for name in ("no_frame_timeout_s", "silence_s", "reconnect_min_s", "reconnect_max_s", "read_timeout_s"):
            check_number(name, getattr(self, name), 0.0, unit="s", lo_open=True)
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(
                f"The argument 'reconnect_max_s' ({self.reconnect_max_s}) must be >= reconnect_min_s "
                f"({self.reconnect_min_s})."
            )


def available_ports() -> list[str]:
    """Device paths of the serial ports the system reports (ptys are not listed)."""
    return sorted(p.device for p in list_ports.comports())


def open_port(port: str, baud: int, timeout: float) -> serial.Serial:
    """Open ``port`` exclusively, translating failures into one-line :class:`DeviceError` messages.

    Parameters
    ----------
    port : str
        Device path.
    baud : int
        Baud rate.
    timeout : float
        Read timeout in seconds.
    """
    try:
        return serial.Serial(port, baud, timeout=timeout, exclusive=True)
    except serial.SerialException as err:
        code = getattr(err, "errno", None)
        text = str(err)
        if code == errno.ENOENT or "No such file" in text:
            ports = available_ports()
            found = ", ".join(ports) if ports else "none"
            raise DeviceError(
                f"Serial port {port!r} does not exist (ports found: {found}). Check --port; "
                f"`python launch.py list-ports` lists the serial ports."
            ) from err
        if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
            raise DeviceError(
                f"Serial port {port!r} is busy: another program has it open (an Arduino serial monitor, "
                f"another myostream). Close it and retry."
            ) from err
        if code == errno.EACCES or "Permission denied" in text:
            raise DeviceError(
                f"No permission to open serial port {port!r}. On Linux add yourself to the 'dialout' group "
                f"(sudo usermod -aG dialout $USER, then log in again)."
            ) from err
        raise DeviceError(f"Cannot open serial port {port!r}: {text}") from err
    except OSError as err:
        raise DeviceError(f"Cannot open serial port {port!r}: {err}") from err


class SerialImu(ThreadedSource):
    """IMU source reading a serial port (see the module docstring).

    Parameters
    ----------
    settings : SerialSettings
        Port, baud rate, format, expected rate.
    clock : Callable[[], float] | None
        The LSL clock (default ``pylsl.local_clock``); host arrival times come from it.

    Examples
    --------
    >>> with SerialImu(SerialSettings("/dev/ttyUSB0", 921600, "binary", fs=1000)) as imu:  # doctest: +SKIP
    ...     block = imu.read()
    """

    def __init__(self, settings: SerialSettings, clock: Callable[[], float] | None = None) -> None:
        check_type("settings", settings, SerialSettings, "a SerialSettings")
        if clock is None:
            clock = pylsl.local_clock
        super().__init__(f"serial {settings.port} ({settings.format})", settings.fs, clock)
        self.settings = settings
        self.decoder = make_decoder(settings.format, settings.csv)
        self.tracker = ContinuityTracker()
        # Device clocks drift by ppm; a sample index over the nominal rate is off by the rate error
        # (a device at 1000 Hz read with fs=100 gives a slope of 0.1), so accept slopes down to 0.05.
        has_time = settings.format == "binary" or (settings.format == "csv" and "t" in settings.csv.columns)
        self.clock_sync = ClockSync(max_rate_error=0.01 if has_time else 0.95)
        self._port: serial.Serial | None = None
        self._bytes = 0
        self._first_bytes = b""
        self._opened_at = 0.0
        self._last_frame_at = 0.0
        self._ever_valid = False
        self._silent = False
        self._rate_checked = False
        capacity = max_rate_hz(settings.format, settings.baud)
        if settings.fs > capacity:
            logger.warning(
                "SerialImu: %s at %s Hz needs more than %s baud can carry (about %.0f samples/s); "
                "expect a lower rate unless the link is not a real UART.",
                settings.format, settings.fs, settings.baud, capacity,
            )

    @property
    def status(self) -> SourceStatus:
        """A snapshot of the reader's health, with the decoder's counts."""
        c = self.decoder.counters
        return SourceStatus(
            name=self.name, connected=self._connected and not self._silent, samples=self._samples,
            frames_ok=c.frames_ok, crc_errors=c.crc_errors, malformed=c.malformed, text_lines=c.text_lines,
            bytes_skipped=c.bytes_skipped, seq_gaps=self.tracker.seq_gaps, samples_lost=self.tracker.samples_lost,
            reconnects=self._reconnects, rate_hz=self._rate(), last_error=self._last_error,
        )

    @property
    def bytes_received(self) -> int:
        """Bytes read from the port so far."""
        return self._bytes

    # ------------------------------------------------------------------ device
    def _open_device(self) -> None:
        s = self.settings
        self._port = open_port(s.port, s.baud, s.read_timeout_s)
        self._port.reset_input_buffer()
        now = self._clock()
        self._opened_at = now
        self._last_frame_at = now
        logger.info("SerialImu: opened %s at %s baud (%s)", s.port, s.baud, s.format)

    def _close_device(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (OSError, serial.SerialException) as err:
                logger.debug("SerialImu: closing %s: %s", self.settings.port, err)
            self._port = None

    def _run(self) -> None:
        s = self.settings
        backoff = s.reconnect_min_s
        lost_at = 0.0
        last_sample_at = 0.0
        while not self._stop_event.is_set():
            port = self._port
            if port is None:
                if self._stop_event.wait(backoff):
                    break
                try:
                    self._open_device()
                except DeviceError as err:
                    logger.debug("SerialImu: reopening %s failed: %s", s.port, err)
                    backoff = min(backoff * 2.0, s.reconnect_max_s)
                    continue
                gap = self._clock() - lost_at
                self.decoder.reset()
                self.clock_sync.reset()
                lost_estimate = round((self._clock() - last_sample_at) * s.fs) - 1 if last_sample_at else 0
                self.tracker.skip(lost_estimate)
                self._reconnects += 1
                self._silent = False
                backoff = s.reconnect_min_s
                # The event first, then the status: whoever sees the status change finds the event queued.
                self._event(f"device back: {self.name} after {gap:.1f} s (reconnect {self._reconnects})")
                self._connected = True
                continue
            try:
                data = port.read(port.in_waiting or 1)
                # Drain what is already waiting (a burst comes in several reads): decoded together,
                # its samples share one arrival time, which the clock map needs.
                while data and len(data) < MAX_DRAIN_BYTES and port.in_waiting:
                    data += port.read(port.in_waiting)
            except (OSError, serial.SerialException) as err:
                self._close_device()
                # The event is queued before the state flips, so whoever sees "disconnected" finds it.
                self._event(f"device lost: {self.name}: {err}")
                self._last_error = str(err)
                lost_at = self._clock()
                backoff = s.reconnect_min_s
                self._connected = False
                continue
            now = self._clock()
            if data:
                if len(self._first_bytes) < 48:
                    self._first_bytes += data[: 48 - len(self._first_bytes)]
                self._bytes += len(data)
                if self._process(data, now):
                    self._last_frame_at = last_sample_at = now
                    self._ever_valid = True
                    if self._silent:
                        self._silent = False
                        self._event(f"device back: {self.name} sends valid frames again")
                    if not self._rate_checked and now - self._opened_at > 4.0:
                        self._check_rate()
            self._check_silence(now)

    def _process(self, data: bytes, now: float) -> bool:
        """Decode ``data`` and queue its samples; return whether any sample was decoded."""
        batch = self.decoder.feed(data)
        if batch.n_samples == 0:
            return False
        for seg in self.tracker.update(batch):
            if seg.restarted:
                self.clock_sync.reset()
                self._event(f"device restarted: {self.name} (its counter or clock went backward)")
            x = seg.device_time if seg.device_time is not None else seg.index / self.settings.fs
            timestamps = self.clock_sync.map(x, now)
            self._push(seg.samples, timestamps, seg.index)
        return True

    def _check_rate(self) -> None:
        """Warn once when the device's rate differs from the nominal rate by more than 10 %.

        The estimate counts lost samples (a device losing frames still runs at
        its rate) and needs 2 s of samples; a rate under 1 Hz is no advice.
        """
        if self._rate_span() < 2.0:
            return
        self._rate_checked = True
        rate = self._rate()
        if rate >= 1.0 and abs(rate - self.settings.fs) > 0.1 * self.settings.fs:
            self._event(
                f"rate mismatch: {self.name} sends about {rate:.0f} Hz but the expected rate is "
                f"{self.settings.fs:g} Hz; pass --imu-rate {rate:.0f}"
            )

    def _check_silence(self, now: float) -> None:
        s = self.settings
        if not self._ever_valid:
            if now - self._opened_at > s.no_frame_timeout_s:
                raise DeviceError(self._no_frame_message())
            return
        if not self._silent and now - self._last_frame_at > s.silence_s:
            self._silent = True
            self._event(f"device silent: {self.name}: no valid frame for {s.silence_s:g} s")

    def _no_frame_message(self) -> str:
        s, c = self.settings, self.decoder.counters
        if self._bytes == 0:
            return (
                f"Serial port {s.port}: no data at all in {s.no_frame_timeout_s:g} s. Is the device powered and "
                f"sending on this port? (An Arduino needs about 2 s to boot after the port opens.)"
            )
        return (
            f"Serial port {s.port}: no valid {s.format} frame in {s.no_frame_timeout_s:g} s "
            f"({self._bytes} bytes received, {c.crc_errors} CRC errors, {c.malformed} malformed, "
            f"{c.text_lines} text lines; first bytes {self._first_bytes[:24]!r}). "
            f"Check that --baud {s.baud} and --format {s.format} match what the device sends."
        )
