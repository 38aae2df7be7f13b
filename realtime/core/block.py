"""The unit of data that flows through the pipeline.

A :class:`Block` is a run of consecutive samples of one stream: IMU samples
from a source, muscle activations, or EMG. Data flows one way: every stage
takes a block and returns a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

NO_AUX: Mapping[str, np.ndarray] = MappingProxyType({})
"""An empty, read-only ``aux`` mapping (shared; the default of :meth:`Block.trusted`)."""

NO_EVENTS: Mapping[str, object] = MappingProxyType({})
"""An empty, read-only ``events`` mapping (shared; the default of :class:`Block`)."""


@dataclass(frozen=True, slots=True)
class Block:
    """Consecutive samples of one stream.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels), float32
        The samples, C-contiguous.
    timestamps : ndarray, shape (n_samples,), float64
        Time of each sample on the LSL clock (``pylsl.local_clock()``), in seconds.
    fs : float
        Nominal sampling rate in Hz; ``0.0`` for an irregular stream.
    seq : int
        Index of the first sample of the block in its stream (0 for the first
        sample after ``reset``). A gap shows up as a jump in ``seq``.
    channels : tuple of str
        One label per column of ``data``.
    aux : Mapping[str, ndarray]
        Side data aligned with the rows of ``data`` (first axis ``n_samples``),
        for example ``"angles"`` (joint angles, rad) or ``"activation"``
        (ground-truth muscle activations) from the synthetic arm. The keys in
        use are listed in :mod:`realtime.core.contract`.
    events : Mapping[str, object]
        Side data of the block that is not aligned with its rows: motor-unit
        discharges, markers, a source's device events, provenance. The keys
        in use are listed in :mod:`realtime.core.contract`.
    """

    data: np.ndarray
    timestamps: np.ndarray
    fs: float
    seq: int
    channels: tuple[str, ...]
    aux: Mapping[str, np.ndarray] = field(default_factory=dict)
    events: Mapping[str, object] = field(default_factory=lambda: NO_EVENTS)

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, np.ndarray) or data.ndim != 2:
            shape = getattr(data, "shape", None)
            raise ValueError(
                f"A block's data should be an array of shape (n_samples, n_channels), {shape} is invalid."
            )
        if data.dtype != np.float32 or not data.flags.c_contiguous:
            raise ValueError(
                f"A block's data must be C-contiguous float32, got {data.dtype} "
                f"(C-contiguous: {data.flags.c_contiguous}). Use np.ascontiguousarray(x, np.float32)."
            )
        if self.timestamps.shape != (data.shape[0],):
            raise ValueError(
                f"A block's timestamps should have shape ({data.shape[0]},), "
                f"{self.timestamps.shape} is invalid."
            )
        if len(self.channels) != data.shape[1]:
            raise ValueError(
                f"A block with {data.shape[1]} channels needs {data.shape[1]} channel labels, "
                f"got {len(self.channels)}."
            )
        for key, value in self.aux.items():
            if value.shape[:1] != (data.shape[0],):
                raise ValueError(
                    f"Aux data {key!r} should have {data.shape[0]} rows, {value.shape} is invalid."
                )
        if not isinstance(self.aux, MappingProxyType):
            object.__setattr__(self, "aux", MappingProxyType(dict(self.aux)))
        if not isinstance(self.events, MappingProxyType):
            object.__setattr__(self, "events", MappingProxyType(dict(self.events)))

    @classmethod
    def trusted(
        cls,
        data: np.ndarray,
        timestamps: np.ndarray,
        fs: float,
        seq: int,
        channels: tuple[str, ...],
        aux: Mapping[str, np.ndarray] = NO_AUX,
        events: Mapping[str, object] = NO_EVENTS,
    ) -> Block:
        """Build a block **without validating it**, for hot paths whose fields are valid by construction.

        The normal constructor checks shapes, dtype and contiguity and copies
        ``aux`` into a read-only mapping (about 1.5 µs); a stage that emits a
        block every few samples (the EMG engine at 2 kHz in blocks of 4) can
        skip that when it built every field itself. The caller guarantees
        what ``__post_init__`` would check: ``data`` a C-contiguous float32
        ``(n_samples, n_channels)`` array, ``timestamps`` float64
        ``(n_samples,)``, one label per column in ``channels`` (a tuple),
        ``aux`` a read-only mapping (``types.MappingProxyType``, e.g.
        :data:`NO_AUX`) of arrays with ``n_samples`` rows, ``events`` a
        read-only mapping (e.g. :data:`NO_EVENTS`). A block built
        otherwise is invalid and its consumers may misbehave; when in doubt,
        use ``Block(...)``.

        Parameters
        ----------
        data, timestamps, fs, seq, channels, aux, events
            As for :class:`Block`.

        Returns
        -------
        Block
            With the same fields as ``Block(data, timestamps, fs, seq, channels, aux, events)`` for
            valid fields.
        """
        blk = _new_object(cls)
        _set_data(blk, data)
        _set_timestamps(blk, timestamps)
        _set_fs(blk, fs)
        _set_seq(blk, seq)
        _set_channels(blk, channels)
        _set_aux(blk, aux)
        _set_events(blk, events)
        return blk

    def replace(self, **changes: object) -> Block:
        """A copy of this block with some fields changed (validated like a new block)."""
        fields = {
            "data": self.data, "timestamps": self.timestamps, "fs": self.fs, "seq": self.seq,
            "channels": self.channels, "aux": self.aux, "events": self.events,
        }
        fields.update(changes)
        return Block(**fields)

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return self.data.shape[0]

    @property
    def n_channels(self) -> int:
        """Number of channels (columns)."""
        return self.data.shape[1]

    @property
    def t_last(self) -> float | None:
        """Timestamp of the newest sample, or ``None`` for an empty block."""
        return float(self.timestamps[-1]) if self.n_samples else None


# Slot setters of the frozen dataclass (bypass its __setattr__; used only by Block.trusted).
_new_object = object.__new__
_set_data = Block.__dict__["data"].__set__
_set_timestamps = Block.__dict__["timestamps"].__set__
_set_fs = Block.__dict__["fs"].__set__
_set_seq = Block.__dict__["seq"].__set__
_set_channels = Block.__dict__["channels"].__set__
_set_aux = Block.__dict__["aux"].__set__
_set_events = Block.__dict__["events"].__set__


def empty_block(
    channels: tuple[str, ...], fs: float, seq: int, aux_shapes: Mapping[str, tuple[int, ...]] | None = None
) -> Block:
    """Return a block with no samples.

    Parameters
    ----------
    channels : tuple of str
        Channel labels.
    fs : float
        Nominal rate in Hz.
    seq : int
        Index the next sample would have.
    aux_shapes : Mapping[str, tuple of int] | None
        Trailing shape of each aux array, e.g. ``{"angles": (3,)}``.
    """
    aux = {k: np.zeros((0, *s), np.float32) for k, s in (aux_shapes or {}).items()}
    return Block(
        np.zeros((0, len(channels)), np.float32), np.zeros(0), float(fs), int(seq), tuple(channels), aux
    )


def regular_timestamps(t0: float, fs: float, seq: int, n: int) -> np.ndarray:
    """Timestamps of samples ``seq .. seq+n-1`` of a stream whose sample 0 is at ``t0``.

    Computed from the sample index (``t0 + k / fs``), never accumulated, so
    they do not drift.
    """
    return t0 + (np.arange(seq, seq + n, dtype=np.float64) / fs)
