"""CRC-16/CCITT-FALSE, the checksum of the binary IMU frame.

Parameters of the algorithm (Rocksoft model): width 16, polynomial ``0x1021``,
initial value ``0xFFFF``, input and output not reflected, final XOR ``0x0000``.
The check value (CRC of the ASCII bytes ``"123456789"``) is ``0x29B1``.

:func:`crc16_ccitt_false_rows` computes the CRC of many equal-length byte rows
at once (one table step per column for all rows), which is how the decoder
checks every candidate frame of a read in a few numpy operations.
"""

from __future__ import annotations

import numpy as np

CRC16_INIT = 0xFFFF
CRC16_POLY = 0x1021


def _make_table() -> np.ndarray:
    table = np.zeros(256, np.uint16)
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
        table[byte] = crc
    return table


CRC16_TABLE: np.ndarray = _make_table()
"""Lookup table of CRC-16/CCITT-FALSE, one entry per byte value (uint16)."""

_TABLE_LIST: list[int] = [int(v) for v in CRC16_TABLE]


def crc16_ccitt_false(data: bytes | bytearray | memoryview) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data``.

    Parameters
    ----------
    data : bytes-like
        The bytes to check.

    Returns
    -------
    crc : int
        The CRC in ``[0, 0xFFFF]``.
    """
    crc = CRC16_INIT
    table = _TABLE_LIST
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def crc16_ccitt_false_rows(rows: np.ndarray) -> np.ndarray:
    """Return the CRC-16/CCITT-FALSE of every row of a 2-D uint8 array.

    Parameters
    ----------
    rows : ndarray, shape (n_rows, n_bytes), uint8
        One message per row.

    Returns
    -------
    crc : ndarray, shape (n_rows,), uint16
        The CRC of each row.
    """
    if rows.ndim != 2 or rows.dtype != np.uint8:
        raise ValueError(
            f"The argument 'rows' must be a 2-D uint8 array, got {rows.dtype} with shape {rows.shape}."
        )
    crc = np.full(rows.shape[0], CRC16_INIT, np.uint16)
    for j in range(rows.shape[1]):
        index = (crc >> np.uint16(8)) ^ rows[:, j]
        crc = (crc << np.uint16(8)) ^ CRC16_TABLE[index & np.uint16(0xFF)]
    return crc
