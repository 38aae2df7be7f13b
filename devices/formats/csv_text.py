"""Text IMU lines: CSV, tab- or space-separated, with or without ``label:`` prefixes.

Accepted lines (one sample per line, LF, CRLF or CR endings)::

    0.12,-0.03,9.79,0.001,0.002,-0.010
    0.12\t-0.03\t9.79\t0.001\t0.002\t-0.010
    ax:0.12 ay:-0.03 az:9.79 gx:0.001 gy:0.002 gz:-0.010
    acc: 0.12, -0.03, 9.79  gyro: 0.001, 0.002, -0.010

Blank lines and lines without any number (banners such as ``MPU6050 ready``)
are skipped and counted as text; a line with numbers that does not fit the
column mapping (too few fields, a non-numeric field, NaN) is counted as
malformed. Values are multiplied by the accelerometer and gyroscope scales to
give m/s² and rad/s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from devices.formats.base import DecoderCounters, FrameBatch
from realtime.core.checks import check_choice, check_number, ensure_int
from realtime.core.units import STANDARD_GRAVITY

IMU_ROLES: tuple[str, ...] = ("ax", "ay", "az", "gx", "gy", "gz")
"""Column roles of the six IMU values, in ``IMU_CHANNELS`` order."""

_ROLE_ALIASES: dict[str, str] = {
    **{r: r for r in IMU_ROLES},
    **{f"acc_{a}": f"a{a}" for a in "xyz"},
    **{f"gyr_{a}": f"g{a}" for a in "xyz"},
    **{f"gyro_{a}": f"g{a}" for a in "xyz"},
    "t": "t", "time": "t",
    "seq": "seq", "index": "seq",
    "_": "_", "-": "_", "skip": "_",
}

DELIMITERS: dict[str, str | None] = {
    "auto": None, "comma": ",", ",": ",", "tab": "\t", "\\t": "\t", "\t": "\t",
    "space": " ", " ": " ", "semicolon": ";", ";": ";",
}
"""Names accepted for the delimiter; ``auto`` splits on any run of commas, semicolons, tabs and spaces."""

ACC_SCALES: dict[str, float] = {
    "m/s2": 1.0, "si": 1.0, "g": STANDARD_GRAVITY, "mg": STANDARD_GRAVITY / 1000.0,
    "mpu6050-2g": STANDARD_GRAVITY / 16384.0, "mpu6050-4g": STANDARD_GRAVITY / 8192.0,
    "mpu6050-8g": STANDARD_GRAVITY / 4096.0, "mpu6050-16g": STANDARD_GRAVITY / 2048.0,
}
"""Named accelerometer scales (multiply a raw value to get m/s²)."""

GYRO_SCALES: dict[str, float] = {
    "rad/s": 1.0, "si": 1.0, "deg/s": math.pi / 180.0, "dps": math.pi / 180.0,
    "mpu6050-250dps": math.pi / 180.0 / 131.0, "mpu6050-500dps": math.pi / 180.0 / 65.5,
    "mpu6050-1000dps": math.pi / 180.0 / 32.8, "mpu6050-2000dps": math.pi / 180.0 / 16.4,
}
"""Named gyroscope scales (multiply a raw value to get rad/s)."""

TIME_SCALES: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
"""Named time-column units (multiply to get seconds)."""


def parse_columns(spec: str) -> tuple[str, ...]:
    """Parse a column mapping such as ``"t,ax,ay,az,gx,gy,gz"``.

    Parameters
    ----------
    spec : str
        Comma-separated role of each field, by position: ``ax ay az gx gy gz``
        (or ``acc_x`` ... ``gyr_z``), ``t`` (device time), ``seq`` (sample
        counter), ``_`` (ignored). The six IMU roles must each appear once.

    Returns
    -------
    roles : tuple of str
        Canonical role of each field.
    """
    parts = [p.strip().lower() for p in spec.split(",")]
    roles = []
    for p in parts:
        if p not in _ROLE_ALIASES:
            raise ValueError(
                f"The CSV column mapping {spec!r} has an unknown role {p!r}; use ax, ay, az, gx, gy, gz, "
                f"t (time), seq (sample counter) or _ (ignored), e.g. 't,ax,ay,az,gx,gy,gz'."
            )
        roles.append(_ROLE_ALIASES[p])
    for role in (*IMU_ROLES, "t", "seq"):
        count = roles.count(role)
        if count > 1 or (role in IMU_ROLES and count == 0):
            raise ValueError(
                f"The CSV column mapping {spec!r} must name each of ax, ay, az, gx, gy, gz exactly once "
                f"and t, seq at most once; {role!r} appears {count} times."
            )
    return tuple(roles)


def parse_scale(text: str | float, table: dict[str, float], what: str) -> float:
    """Return a scale factor from a number or a name in ``table``.

    Parameters
    ----------
    text : str | float
        A positive number (``"0.00059855"``) or a name (``"g"``, ``"deg/s"``, ...).
    table : dict
        The named scales allowed.
    what : str
        Name of the argument, for the error message.
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        key = text.strip().lower()
        if key in table:
            return table[key]
        try:
            value = float(key)
        except ValueError:
            value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"The argument '{what}' must be a positive number or one of {', '.join(table)}. {text!r} is invalid."
        )
    return value


@dataclass(frozen=True)
class CsvSettings:
    """How to read text IMU lines.

    Parameters
    ----------
    columns : tuple of str
        Role of each field by position (see :func:`parse_columns`).
    delimiter : str
        ``"auto"`` or one of ``DELIMITERS``.
    acc_scale : float
        Multiplier from the accelerometer values to m/s² (``ACC_SCALES["g"]`` for values in g).
    gyro_scale : float
        Multiplier from the gyroscope values to rad/s (``GYRO_SCALES["deg/s"]`` for °/s).
    time_scale : float
        Multiplier from the time column to seconds (1e-3 for milliseconds).
    max_line : int
        Longest accepted line in bytes; longer runs without a line end are dropped as garbage.
    """

    columns: tuple[str, ...] = IMU_ROLES
    delimiter: str = "auto"
    acc_scale: float = 1.0
    gyro_scale: float = 1.0
    time_scale: float = 1e-3
    max_line: int = 512

    def __post_init__(self) -> None:
        roles = parse_columns(",".join(self.columns))
        object.__setattr__(self, "columns", roles)
        check_choice("delimiter", self.delimiter, tuple(DELIMITERS))
        for name in ("acc_scale", "gyro_scale", "time_scale"):
            check_number(name, getattr(self, name), 0.0, lo_open=True)
        ensure_int("max_line", self.max_line, lo=16)


_LABEL = re.compile(r"(?:^|(?<=[\s,;]))[A-Za-z_][\w.]*\s*[:=]")
_AUTO_SPLIT = re.compile(r"[,;\s]+")


def format_lines(samples: np.ndarray, columns: tuple[str, ...] = IMU_ROLES, seq: np.ndarray | None = None,
                 time_s: np.ndarray | None = None, decimals: int = 5, delimiter: str = ",",
                 time_scale: float = 1e-3) -> bytes:
    """Write samples as text lines (what a CSV device sends).

    Parameters
    ----------
    samples : ndarray, shape (n, 6)
        Accelerometer (m/s²) and gyroscope (rad/s) values.
    columns : tuple of str
        Role of each field (see :func:`parse_columns`); ``_`` fields are written as 0.
    seq : ndarray of int, shape (n,) | None
        Sample counter, needed when ``columns`` has ``seq``.
    time_s : ndarray, shape (n,) | None
        Device time in seconds, needed when ``columns`` has ``t`` (written in units of ``time_scale``).
    decimals : int
        Decimals of the IMU values.
    delimiter : str
        Field separator.
    time_scale : float
        Seconds per unit of the time field.

    Returns
    -------
    text : bytes
        ``n`` lines ending in ``\\r\\n``.
    """
    columns = parse_columns(",".join(columns))
    samples = np.asarray(samples, np.float64)
    n = samples.shape[0]
    cols: list[list[str]] = []
    for role in columns:
        if role in IMU_ROLES:
            cols.append([f"{v:.{decimals}f}" for v in samples[:, IMU_ROLES.index(role)]])
        elif role == "seq":
            if seq is None:
                raise ValueError("The argument 'seq' is needed: the column mapping has a 'seq' field.")
            cols.append([str(int(v)) for v in seq])
        elif role == "t":
            if time_s is None:
                raise ValueError("The argument 'time_s' is needed: the column mapping has a 't' field.")
            cols.append([f"{v / time_scale:.3f}" for v in time_s])
        else:
            cols.append(["0"] * n)
    return "".join(delimiter.join(row) + "\r\n" for row in zip(*cols)).encode("ascii")


class CsvDecoder:
    """Incremental decoder of text IMU lines.

    Parameters
    ----------
    settings : CsvSettings
        Column mapping, delimiter and scales.

    Attributes
    ----------
    counters : DecoderCounters
        What was decoded and skipped so far.
    """

    name = "csv"

    def __init__(self, settings: CsvSettings | None = None) -> None:
        self.settings = settings or CsvSettings()
        s = self.settings
        self.counters = DecoderCounters()
        self._buffer = b""
        self._overlong = False
        self._count = 0
        self._delim = DELIMITERS[s.delimiter]
        self._n_fields = len(s.columns)
        self._imu_idx = [s.columns.index(r) for r in IMU_ROLES]
        self._t_idx = s.columns.index("t") if "t" in s.columns else None
        self._seq_idx = s.columns.index("seq") if "seq" in s.columns else None
        self._scale = np.array([s.acc_scale] * 3 + [s.gyro_scale] * 3)

    def reset(self) -> None:
        """Drop a partial line (after a reconnection); counters are kept."""
        self._buffer = b""
        self._overlong = False

    def _split(self, line: str) -> list[str]:
        if ":" in line or "=" in line:
            line = _LABEL.sub(" ", line)
        if "_" in line:  # float() accepts "1_000"; a device never sends that
            line = line.replace("_", "#")
        if self._delim is None:
            return [t for t in _AUTO_SPLIT.split(line.strip(" ,;\t")) if t]
        tokens = line.strip().rstrip(self._delim).split(self._delim) if self._delim != " " else line.split()
        return tokens

    def feed(self, data: bytes) -> FrameBatch:
        """Decode ``data`` appended to the partial line kept from earlier calls.

        Returns
        -------
        batch : FrameBatch
            One sample per valid line, in stream order.
        """
        c = self.counters
        buffer = self._buffer + data.replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        tail = lines.pop()
        if self._overlong:  # the rest of a line already counted as malformed: skipped up to its end
            if lines:
                c.bytes_skipped += len(lines.pop(0)) + 1
                self._overlong = False
            else:
                c.bytes_skipped += len(tail)
                tail = b""
        if len(tail) > self.settings.max_line:  # one malformed line (one sample lost), however long it gets
            c.bytes_skipped += len(tail)
            c.malformed += 1
            self._count += 1
            self._overlong = True
            tail = b""
        self._buffer = tail
        rows: list[list[float]] = []
        counts: list[int] = []
        count = self._count
        n_fields = self._n_fields
        for raw in lines:
            if not raw or raw.isspace():
                continue
            line = raw.decode("latin-1")
            if len(raw) > self.settings.max_line:
                tokens = None
            else:
                tokens = self._split(line)
            try:
                if tokens is None:
                    raise ValueError
                values = [float(t) for t in tokens]
            except ValueError:
                c.bytes_skipped += len(raw) + 1
                if tokens is not None and not any(_is_number(t) for t in tokens):
                    c.text_lines += 1
                else:
                    c.malformed += 1
                    count += 1
                continue
            if len(values) < n_fields or not all(math.isfinite(v) for v in values[:n_fields]):
                c.bytes_skipped += len(raw) + 1
                c.malformed += 1
                count += 1
                continue
            rows.append(values[:n_fields])
            counts.append(count)
            count += 1
        self._count = count
        k = len(rows)
        c.frames_ok += k
        c.samples += k
        table = np.asarray(rows, np.float64).reshape(k, n_fields)
        samples = (table[:, self._imu_idx] * self._scale).astype(np.float32)
        if self._seq_idx is not None:
            counter, from_device = table[:, self._seq_idx].astype(np.int64), True
        else:
            counter, from_device = np.asarray(counts, np.int64), False
        device_time = None if self._t_idx is None else table[:, self._t_idx] * self.settings.time_scale
        return FrameBatch(samples, counter, 0, from_device, device_time, 0.0)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
