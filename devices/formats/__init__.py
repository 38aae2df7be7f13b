"""Decoders (and encoders) of the serial IMU formats: ``csv``, ``binary`` and ``witmotion``.

Each decoder is incremental: ``feed(bytes) -> FrameBatch`` accepts bytes split
anywhere, skips garbage, keeps incomplete frames for the next call and counts
checksum errors and malformed frames in ``decoder.counters``.
"""

from __future__ import annotations

from devices.formats.base import DecoderCounters, FrameBatch, FrameDecoder
from devices.formats.binary import BinaryDecoder
from devices.formats.csv_text import CsvDecoder, CsvSettings
from devices.formats.witmotion import WitMotionDecoder

FORMATS: tuple[str, ...] = ("csv", "binary", "witmotion")
"""Serial formats understood by the reader."""

BITS_PER_BYTE_ON_WIRE = 10
"""UART 8N1: a start bit, 8 data bits and a stop bit per byte."""


def make_decoder(fmt: str, csv: CsvSettings | None = None) -> FrameDecoder:
    """Return a new decoder for ``fmt``.

    Parameters
    ----------
    fmt : {"csv", "binary", "witmotion"}
        The serial format.
    csv : CsvSettings | None
        Column mapping and scales of the ``csv`` format (defaults if None).
    """
    if fmt == "csv":
        return CsvDecoder(csv)
    if fmt == "binary":
        return BinaryDecoder()
    if fmt == "witmotion":
        return WitMotionDecoder()
    raise ValueError(f"The argument 'format' must be one of {', '.join(FORMATS)}; {fmt!r} is invalid.")


def bytes_per_sample(fmt: str, payload: str = "int16", csv_line_bytes: int = 55) -> int:
    """Bytes on the wire for one IMU sample.

    Parameters
    ----------
    fmt : {"csv", "binary", "witmotion"}
        The serial format.
    payload : {"int16", "float32"}
        Payload of the binary frame.
    csv_line_bytes : int
        Typical length of one CSV line including its line end (55 for six
        values with 5 decimals, as ``fake-imu`` and the reference firmware send).
    """
    if fmt == "csv":
        return csv_line_bytes
    if fmt == "binary":
        return 24 if payload == "int16" else 36
    if fmt == "witmotion":
        return 22
    raise ValueError(f"The argument 'format' must be one of {', '.join(FORMATS)}; {fmt!r} is invalid.")


def max_rate_hz(fmt: str, baud: int, payload: str = "int16", csv_line_bytes: int = 55) -> float:
    """Highest sample rate a UART at ``baud`` (8N1) can carry in format ``fmt``."""
    return baud / BITS_PER_BYTE_ON_WIRE / bytes_per_sample(fmt, payload, csv_line_bytes)


__all__ = [
    "FORMATS",
    "BinaryDecoder",
    "CsvDecoder",
    "CsvSettings",
    "DecoderCounters",
    "FrameBatch",
    "FrameDecoder",
    "WitMotionDecoder",
    "bytes_per_sample",
    "make_decoder",
    "max_rate_hz",
]
