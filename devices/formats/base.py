"""What every IMU byte-stream decoder returns, and the frame-selection step they share.

A decoder is fed the bytes of a serial port as they arrive (any split, any
garbage) and returns the samples of every complete valid frame found so far,
already converted to SI units (m/s², rad/s). It keeps incomplete frames for the
next call and counts what it had to skip.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class DecoderCounters:
    """Running counts of what a decoder has seen (they only grow until ``reset``).

    Attributes
    ----------
    frames_ok : int
        Valid frames decoded (for WitMotion: every valid 11-byte frame, of any type).
    samples : int
        IMU samples produced.
    crc_errors : int
        Candidate frames (sync found, length known) whose checksum did not match.
    malformed : int
        Frames or lines that could not be understood (unknown frame type or range
        byte, wrong number of CSV fields, unpaired WitMotion accelerometer/gyroscope frame).
    text_lines : int
        CSV lines without any number (banners, messages); ignored.
    other_frames : int
        Valid frames of kinds the reader does not use (e.g. WitMotion angle frames).
    bytes_skipped : int
        Bytes that were not part of any valid frame or line.
    """

    frames_ok: int = 0
    samples: int = 0
    crc_errors: int = 0
    malformed: int = 0
    text_lines: int = 0
    other_frames: int = 0
    bytes_skipped: int = 0

    def copy(self) -> DecoderCounters:
        """Return a snapshot."""
        return DecoderCounters(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Samples decoded from one ``feed`` call.

    Attributes
    ----------
    samples : ndarray, shape (n, 6), float32
        Accelerometer (m/s²) then gyroscope (rad/s), in ``IMU_CHANNELS`` order.
    counter : ndarray, shape (n,), int64
        Sample counter. From the device when ``counter_from_device`` (wrapping
        modulo ``counter_modulus`` when that is > 0); otherwise a count kept by
        the decoder that also advances by one for every frame or line it had to
        drop (an estimate of the samples lost).
    counter_modulus : int
        Modulus of the device counter (65536 for the binary frame), 0 if it does not wrap.
    counter_from_device : bool
        Whether ``counter`` comes from the device.
    device_time : ndarray, shape (n,), float64 | None
        Device clock of each sample in seconds (wrapping modulo ``time_modulus``),
        or ``None`` when the format carries no time.
    time_modulus : float
        Period after which the device clock wraps, in seconds (0 if it does not).
    """

    samples: np.ndarray
    counter: np.ndarray
    counter_modulus: int
    counter_from_device: bool
    device_time: np.ndarray | None
    time_modulus: float

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.samples.shape[0]


@runtime_checkable
class FrameDecoder(Protocol):
    """An incremental decoder of one serial IMU format."""

    name: str
    counters: DecoderCounters

    def feed(self, data: bytes) -> FrameBatch:
        """Decode ``data`` (appended to what is kept from earlier calls)."""
        ...

    def reset(self) -> None:
        """Forget buffered bytes and pairing state (after a reconnection); counters are kept."""
        ...


@dataclass(frozen=True, slots=True)
class Selection:
    """Result of :func:`select_frames`.

    Attributes
    ----------
    accepted : ndarray of int64
        Indices (into the candidate arrays) of the frames to decode, in order.
    rejected : ndarray of int64
        Indices of complete candidates that were not valid and do not lie
        inside an accepted frame (each is a checksum error or a malformed frame).
    consumed : int
        Number of leading buffer bytes that are now resolved (accepted or skipped);
        the caller keeps ``buffer[consumed:]`` for the next call.
    """

    accepted: np.ndarray
    rejected: np.ndarray
    consumed: int


def select_frames(
    starts: np.ndarray, lengths: np.ndarray, complete: np.ndarray, valid: np.ndarray, n_buffer: int, keep_tail: int
) -> Selection:
    """Choose non-overlapping valid frames among sync candidates, in stream order.

    Walks the candidates in order: a candidate inside an already accepted frame
    is ignored (a sync pattern inside a payload); a valid one is accepted; an
    invalid one is rejected and the search resumes at the next candidate; the
    walk stops at the first candidate whose frame is not complete yet. The
    common case (every candidate valid, back to back) is decided without a
    Python loop.

    Parameters
    ----------
    starts : ndarray of int64, shape (k,)
        Byte offsets of the candidates, increasing.
    lengths : ndarray of int64, shape (k,)
        Frame length of each candidate (any positive value for candidates that
        are complete but invalid because their length is unknown).
    complete : ndarray of bool, shape (k,)
        Whether the buffer holds enough bytes to judge the candidate.
    valid : ndarray of bool, shape (k,)
        Whether a complete candidate is a valid frame.
    n_buffer : int
        Number of bytes in the buffer.
    keep_tail : int
        Bytes to keep at the end of the buffer when no candidate is pending
        (a sync pattern may be split across two reads: ``len(sync) - 1``).

    Returns
    -------
    selection : Selection
    """
    k = starts.shape[0]
    tail_start = max(n_buffer - keep_tail, 0)
    if k == 0:
        return Selection(np.zeros(0, np.int64), np.zeros(0, np.int64), tail_start)
    # Fast path: only the last candidate may be incomplete, all complete ones valid, back to back.
    if (
        complete[:-1].all()
        and valid[complete].all()
        and (k == 1 or bool(np.all(starts[1:] >= starts[:-1] + lengths[:-1])))
    ):
        if complete[-1]:
            accepted = np.arange(k, dtype=np.int64)
            consumed = max(int(starts[-1] + lengths[-1]), tail_start)
        else:
            accepted = np.arange(k - 1, dtype=np.int64)
            consumed = int(starts[-1])
        return Selection(accepted, np.zeros(0, np.int64), consumed)
    accepted_list: list[int] = []
    rejected_list: list[int] = []
    cursor = 0
    consumed = -1
    starts_l, lengths_l = starts.tolist(), lengths.tolist()
    complete_l, valid_l = complete.tolist(), valid.tolist()
    for i in range(k):
        p = starts_l[i]
        if p < cursor:
            continue
        if not complete_l[i]:
            consumed = p
            break
        if valid_l[i]:
            accepted_list.append(i)
            cursor = p + lengths_l[i]
        else:
            rejected_list.append(i)
    if consumed < 0:
        consumed = max(cursor, tail_start)
    return Selection(np.asarray(accepted_list, np.int64), np.asarray(rejected_list, np.int64), consumed)


def gather_rows(buffer: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Return the ``length`` bytes starting at each offset, as an (n, length) uint8 array."""
    return buffer[starts[:, None] + np.arange(length, dtype=np.int64)[None, :]]
