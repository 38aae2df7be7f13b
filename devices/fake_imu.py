"""A virtual serial IMU: the synthetic arm sent as a real device would, over a pty or a serial port.

``FakeImu`` creates a pseudo-terminal pair (``os.openpty()``, raw mode) and
writes to its master side; any program can open the slave side (printed as
``port``) exactly like a USB-serial IMU. With ``port`` set it writes to that
serial port instead (e.g. one end of a null-modem pair). The samples come from
an IMU source the caller passes in (``launch.py fake-imu`` passes the synthetic
arm, ``realtime.body.synthetic.SyntheticArm``) and are encoded
in ``csv``, ``binary`` or ``witmotion`` with the device's own sample counter
(sample index) and clock (index / rate, in µs).

``garbage`` injects faults for demos and tests: for each frame, with that
probability, either junk bytes are inserted before it (the frame stays intact)
or one of its bytes is replaced (the frame is lost: CRC/checksum/parse error).
The injected junk never contains the format's first sync byte (and, for CSV,
digits), so every intact frame stays recoverable and the indices of the lost
samples are exact (:attr:`FakeImu.corrupted`).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from devices.formats import FORMATS, binary, max_rate_hz, witmotion
from devices.formats.csv_text import IMU_ROLES, format_lines, parse_columns
from devices.serial_imu import open_port
from realtime.core.checks import check_choice, check_number, check_type, ensure_int
from realtime.core.lifecycle import Lifecycle
from realtime.core.logs import logger

if TYPE_CHECKING:
    from realtime.core.contract import Source

MAX_BACKLOG = 1 << 18
"""Bytes kept when a reader has the pty open but does not keep up (a stalled process); beyond this
the oldest output is dropped. While no reader has the pty open, output is dropped at once (as a
UART sends into the void), so a reader that connects later never receives stale samples."""


@dataclass(frozen=True)
class FakeImuSettings:
    """What the virtual IMU sends.

    Parameters
    ----------
    format : {"csv", "binary", "witmotion"}
        Wire format.
    rate : float
        Samples per second.
    port : str | None
        Write to this serial port instead of creating a pty.
    link : str | None
        Also create a symlink at this path pointing to the pty (a stable name to connect to).
    baud : int
        Baud rate of ``port``, and of the link the rate is checked against.
    check_baud : bool
        Refuse a rate that ``baud`` cannot carry (a pty itself has no baud limit).
    garbage : float
        Probability per frame of an injected fault, in [0, 1].
    payload : {"int16", "float32"}
        Payload of the binary frame.
    acc_range_g, gyro_range_dps : float
        Full scales of the int16 binary payload.
    csv_columns : tuple of str
        Fields of each CSV line (roles as in ``--csv-columns``; ``seq`` and ``t`` (ms) are filled in).
    seed : int
        Seed of the fault injection.
    write_interval_s : float
        How often the writer wakes up to send what is due.
    """

    format: str = "csv"
    rate: float = 100.0
    port: str | None = None
    link: str | None = None
    baud: int = 115200
    check_baud: bool = True
    garbage: float = 0.0
    payload: str = "int16"
    acc_range_g: float = 8.0
    gyro_range_dps: float = 1000.0
    csv_columns: tuple[str, ...] = IMU_ROLES
    seed: int = 0
    write_interval_s: float = 0.002

    def __post_init__(self) -> None:
        check_choice("format", self.format, FORMATS)
        check_number("rate", self.rate, 1.0, 5000.0, "Hz")
        ensure_int("baud", self.baud, lo=1)
        check_number("garbage", self.garbage, 0.0, 1.0, "(a probability per frame)")
        check_choice("payload", self.payload, binary.PAYLOADS)
        binary.range_code(self.acc_range_g, self.gyro_range_dps)
        object.__setattr__(self, "csv_columns", parse_columns(",".join(self.csv_columns)))
        check_number("write_interval_s", self.write_interval_s, 0.0, 0.1, "s", lo_open=True)
        if self.check_baud:
            capacity = max_rate_hz(self.format, self.baud, self.payload)
            if self.rate > capacity:
                needed = math.ceil(self.rate / capacity * self.baud)
                raise ValueError(
                    f"{self.format} at {self.rate:g} Hz needs about {needed} baud, more than --baud {self.baud} "
                    f"carries (at most {capacity:.0f} samples/s). Use --baud 921600, a lower --rate"
                    f"{'' if self.format == 'binary' else ' or --format binary'}."
                )


class FakeImu(Lifecycle):
    """The virtual serial IMU (see the module docstring; a :class:`~realtime.core.lifecycle.Lifecycle` part
    whose worker thread writes the frames).

    Parameters
    ----------
    settings : FakeImuSettings
        Format, rate, port, faults.
    source : Source
        Where the samples come from (started and stopped by this object), at
        ``settings.rate``; e.g. ``SyntheticArm(SyntheticSettings(fs=rate))``.
    record : bool
        Keep what was sent (see :attr:`corrupted` and :attr:`sent`; tests).

    Attributes
    ----------
    samples_sent : int
        Samples encoded and written so far.
    frames_corrupted : int
        Samples whose frame was made invalid.
    junk_bytes : int
        Bytes of junk inserted between frames.
    bytes_dropped : int
        Bytes dropped because no reader had the pty open (or a stalled one fell far behind).
    corrupted : list of int
        Indices of the samples whose frame was made invalid (only when ``record``).
    record : bool
        Keep :attr:`corrupted` and the :attr:`sent` samples (tests).
    sent : list of ndarray
        The samples written, one array per write (only when ``record``).
    """

    def __init__(self, settings: FakeImuSettings, source: Source, record: bool = False) -> None:
        check_type("settings", settings, FakeImuSettings, "a FakeImuSettings")
        super().__init__()
        self.settings = settings
        if abs(float(source.fs) - settings.rate) > 1e-9:
            raise ValueError(f"The source's rate ({source.fs} Hz) must equal the argument 'rate' ({settings.rate} Hz).")
        self.source = source
        self.record = record
        self.samples_sent = 0
        self.frames_corrupted = 0
        self.junk_bytes = 0
        self.bytes_dropped = 0
        self.corrupted: list[int] = []
        self.sent: list[np.ndarray] = []
        self._master: int | None = None
        self._poll: select.poll | None = None
        self._serial = None
        self._port_path = ""
        self._backlog = bytearray()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> str:
        """The path a reader opens: the pty slave (or the link to it), or ``settings.port``."""
        return self.settings.link or self._port_path

    def _open(self) -> None:
        """Create the pty (or open the port) and start the source; the worker then streams it."""
        s = self.settings
        if s.port is not None:
            self._serial = open_port(s.port, s.baud, 0.1)
            self._port_path = s.port
        else:
            self._master, slave = os.openpty()
            tty.setraw(slave)
            tty.setraw(self._master)
            os.set_blocking(self._master, False)
            self._port_path = os.ttyname(slave)
            os.close(slave)  # only readers hold the slave open: POLLHUP on the master means "nobody listens"
            self._poll = select.poll()
            self._poll.register(self._master, select.POLLOUT)
            if s.link:
                self._make_link(s.link, self._port_path)
        try:
            self.source.start()
        except BaseException:
            self._close_device()
            raise
        logger.info("FakeImu: %s at %s Hz on %s", s.format, s.rate, self.port)

    def _close(self) -> None:
        """Stop the source and close the pty (a reader sees the device disappear)."""
        try:
            if self.source.running:
                self.source.stop()
        finally:
            self._close_device()

    def _make_link(self, link: str, target: str) -> None:
        path = Path(link)
        if path.is_symlink() or not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(target)
            tmp.replace(path)
        else:
            raise ValueError(f"The argument 'link' must be a new path or a symlink; {link!r} is an existing file.")

    def _close_device(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.close(self._master)
        self._master = None
        if self.settings.link and Path(self.settings.link).is_symlink():
            with contextlib.suppress(OSError):
                if os.readlink(self.settings.link) == self._port_path:
                    Path(self.settings.link).unlink()

    # ------------------------------------------------------------------ streaming
    def _run(self) -> None:
        """The writer: send what the source has every ``write_interval_s`` (errors are re-raised from stop())."""
        interval = self.settings.write_interval_s
        next_t = time.monotonic()
        while not self._stop_event.is_set():
            block = self.source.read()
            if block.n_samples:
                payload = self.encode(block.data, block.seq)
                self._write(payload)
            else:
                self._write(b"")
            next_t += interval
            delay = next_t - time.monotonic()
            if delay < -0.1:
                next_t = time.monotonic()
            self._stop_event.wait(max(delay, 0.0))

    def encode(self, samples: np.ndarray, seq0: int) -> bytes:
        """Encode ``samples`` (sample indices ``seq0 ...``) in the wire format, with faults injected.

        Parameters
        ----------
        samples : ndarray, shape (n, 6)
            Accelerometer (m/s²) and gyroscope (rad/s) values.
        seq0 : int
            Index of the first sample (the device counter and clock derive from it).

        Returns
        -------
        data : bytes
        """
        s = self.settings
        n = samples.shape[0]
        index = np.arange(seq0, seq0 + n, dtype=np.int64)
        if s.format == "binary":
            t_us = np.rint(index * (1e6 / s.rate)).astype(np.int64)
            whole = binary.encode_frames(samples, index, t_us, s.payload, s.acc_range_g, s.gyro_range_dps)
            frames = [whole[i * len(whole) // n:(i + 1) * len(whole) // n] for i in range(n)] if n else []
        elif s.format == "witmotion":
            whole = witmotion.encode_frames(samples)
            size = 2 * witmotion.FRAME_SIZE
            frames = [whole[i * size:(i + 1) * size] for i in range(n)]
        else:
            text = format_lines(samples, s.csv_columns, seq=index, time_s=index / s.rate)
            frames = text.splitlines(keepends=True)
        if self.record:
            self.sent.append(np.array(samples, copy=True))
        self.samples_sent += n
        if s.garbage <= 0.0:
            return b"".join(frames)
        faults = _uniform(s.seed, index) < s.garbage
        if not faults.any():
            return b"".join(frames)
        out = []
        for i, frame in enumerate(frames):
            if faults[i]:
                # The fault of sample k depends only on (seed, k), not on how samples were grouped in writes.
                self._rng = np.random.default_rng([s.seed, int(index[i])])
                if self._rng.random() < 0.5:
                    junk = self._junk()
                    self.junk_bytes += len(junk)
                    out.append(junk)
                else:
                    frame = self._corrupt(frame)
                    self.frames_corrupted += 1
                    if self.record:
                        self.corrupted.append(int(index[i]))
            out.append(frame)
        return b"".join(out)

    def _junk(self) -> bytes:
        fmt = self.settings.format
        size = int(self._rng.integers(1, 17))
        if fmt == "csv":
            alphabet = np.frombuffer(b"#@!?%&*xyzQWERTY ", np.uint8)
            return alphabet[self._rng.integers(0, alphabet.size, size)].tobytes() + b"\n"
        forbidden = binary.SYNC[0] if fmt == "binary" else witmotion.HEADER
        junk = self._rng.integers(0, 256, size).astype(np.uint8)
        junk[junk == forbidden] ^= 0x01
        return junk.tobytes()

    def _corrupt(self, frame: bytes) -> bytes:
        buf = bytearray(frame)
        if self.settings.format == "csv":
            pos = int(self._rng.integers(0, len(buf) - 2))  # keep the line end
            buf[pos] = ord("#")
        elif self.settings.format == "witmotion":
            which = int(self._rng.integers(0, 2)) * witmotion.FRAME_SIZE  # the accelerometer or gyroscope frame
            pos = which + int(self._rng.integers(0, witmotion.FRAME_SIZE))
            buf[pos] ^= int(self._rng.integers(1, 256))
        else:
            pos = int(self._rng.integers(0, len(buf)))
            buf[pos] ^= int(self._rng.integers(1, 256))
        return bytes(buf)

    def _write(self, data: bytes) -> None:
        if self._serial is not None:
            if data:
                self._serial.write(data)
            return
        with self._lock:
            self._backlog += data
            events = self._poll.poll(0)
            if events and events[0][1] & select.POLLHUP:  # no reader has the pty open
                self.bytes_dropped += len(self._backlog)
                self._backlog.clear()
                return
            if len(self._backlog) > MAX_BACKLOG:
                drop = len(self._backlog) - MAX_BACKLOG
                del self._backlog[:drop]
                self.bytes_dropped += drop
            while self._backlog:
                try:
                    written = os.write(self._master, self._backlog)
                except BlockingIOError:
                    return
                except OSError as err:
                    if err.errno == errno.EIO:  # the reader closed the pty meanwhile
                        return
                    raise
                del self._backlog[:written]


def _uniform(seed: int, index: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) for each sample index, a pure function of (seed, index) (SplitMix64)."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
