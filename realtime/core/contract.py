"""The contract every part of the pipeline follows, and the one place a chain of parts is checked.

::

    Source ──Block──▶ Stage ──Block──▶ ... ──Block──▶ Sink

- A **source** produces blocks: ``read()`` returns everything that has arrived
  since the last call (possibly zero samples) and never blocks. It declares
  the format it gives (:attr:`Source.output_format`).
- A **stage** transforms blocks. It declares the format it takes
  (:attr:`Stage.input_format`) and the format it gives
  (:attr:`Stage.output_format`); ``reset(fmt, max_block=...)`` allocates its
  state for an input format; ``process(block)`` returns the next block and
  touches nothing but the stage's own state.
- A **sink** consumes blocks: ``write(block)``.

Resource parts (serial ports, outlets) also have ``start()``/``stop()``, a
``running`` property and are context managers: they derive from
:class:`realtime.core.lifecycle.Lifecycle`, which writes that once.

Side data travels in the blocks, never through attributes of a stage:

``Block.aux`` (aligned with the rows; first axis ``n_samples``):

- ``"activation"``: ground-truth muscle activations of the synthetic arm (one column per muscle).
- ``"angles"``: joint angles in rad, ``realtime.core.anatomy.JOINTS`` order.
- ``"provisional"``: bool, rows of the network stage that stand in for a model-grid row.
- ``"imu_seq"``, ``"imu_time"``: the source sample (its ``seq`` index and timestamp) whose arrival
  produced each activation row (provenance). On an IMU block, ``"imu_seq"`` gives each row's
  source index when the rows are not consecutive (the input guard removed some).
- ``"imu"``: the source's IMU on the EMG grid (for motion artefacts; NaN before the first sample).

``Block.events`` (not aligned with the rows):

- ``"source_events"``: tuple of str, what happened to a device since the last read ("device lost" ...).
- ``"discharges"``: the engine's motor-unit discharges of the block (``sample``, ``muscle``, ``unit``).
- ``"markers"``: tuple of ``(text, timestamp)``, e.g. fault onsets and ends.
- ``"provenance"``: float64 ``(imu_time, imu_seq, imu_read_time)`` of the newest IMU sample behind
  the block's last sample (``imu_seq`` = -1 while none).

:func:`check_chain` is the one constructor-time check of a chain: every pair
of neighbours must agree on rate, channel count and channel labels **by
name**; a mismatch raises :class:`ChainError` naming both parts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from realtime.core.block import Block


@dataclass(frozen=True)
class StreamFormat:
    """What a part gives or takes: rate, channel labels and row-aligned side data.

    Parameters
    ----------
    fs : float | None
        Nominal rate in Hz; ``0.0`` for an irregular stream. On an input,
        ``None`` accepts any rate; on an output, ``None`` means "the rate of
        the input".
    channels : tuple of str | None
        Channel labels. On an input, ``None`` accepts any channels; on an
        output, ``None`` means "the channels of the input".
    by_name : bool
        Input only: the stage picks the columns it needs **by name**, so the
        producer must give every label of ``channels`` in any order (extra
        columns are ignored). ``False``: the labels must be equal, in order.
    aux : Mapping[str, int | tuple of str]
        Row-aligned side data (``Block.aux`` keys) with their number of
        columns (0 for a 1-D array) or the labels of their columns. On an
        input: what the stage needs (labels, when given on both sides, must
        be equal). On an output: what the block carries; see ``passes_aux``.
    passes_aux : bool
        Output only: the stage also passes its input's ``aux`` on, unchanged.
    """

    fs: float | None = None
    channels: tuple[str, ...] | None = None
    by_name: bool = False
    aux: Mapping[str, int | tuple[str, ...]] = field(default_factory=dict)
    passes_aux: bool = False

    def __post_init__(self) -> None:
        if self.fs is not None and not (isinstance(self.fs, (int, float)) and math.isfinite(self.fs) and self.fs >= 0):
            raise ValueError(f"The argument 'fs' must be a rate >= 0 in Hz or None. {self.fs!r} is invalid.")
        if self.channels is not None:
            channels = tuple(self.channels)
            if not all(isinstance(c, str) for c in channels):
                raise TypeError(f"The argument 'channels' must be a tuple of str or None. {self.channels!r} is invalid.")
            object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "aux", dict(self.aux))

    @property
    def n_channels(self) -> int | None:
        """Number of channels (``None`` if any)."""
        return None if self.channels is None else len(self.channels)

    def aux_width(self, key: str) -> int:
        """Number of columns of aux ``key`` (0 for a 1-D array)."""
        value = self.aux[key]
        return len(value) if isinstance(value, tuple) else int(value)

    def aux_labels(self, key: str) -> tuple[str, ...] | None:
        """Column labels of aux ``key``, or ``None`` if the format gives only a width."""
        value = self.aux.get(key)
        return value if isinstance(value, tuple) else None

    def resolved(self, upstream: StreamFormat) -> StreamFormat:
        """This output format with ``None`` fields (and passed-on aux) filled in from ``upstream``."""
        aux = {**upstream.aux, **self.aux} if self.passes_aux else dict(self.aux)
        return StreamFormat(
            fs=upstream.fs if self.fs is None else self.fs,
            channels=upstream.channels if self.channels is None else self.channels,
            aux=aux,
        )

    def describe(self) -> str:
        """A short human description, e.g. ``"8 channels (biceps, ...) at 100 Hz"``."""
        if self.channels is None:
            chans = "any channels"
        else:
            shown = ", ".join(self.channels[:4]) + (", ..." if len(self.channels) > 4 else "")
            chans = f"{len(self.channels)} channels ({shown})"
        rate = "any rate" if self.fs is None else ("an irregular rate" if self.fs == 0 else f"{self.fs:g} Hz")
        return f"{chans} at {rate}"

    def mismatch(self, given: StreamFormat) -> str | None:
        """Why ``given`` (a producer's resolved output) cannot feed this input, or ``None`` if it can."""
        if self.fs is not None and given.fs is not None and not math.isclose(self.fs, given.fs, rel_tol=1e-9):
            return f"the rate differs ({given.fs:g} Hz given, {self.fs:g} Hz expected)"
        if self.channels is not None:
            if given.channels is None:
                return "the producer does not say which channels it gives"
            if self.by_name:
                missing = [c for c in self.channels if c not in given.channels]
                if missing:
                    return f"channels {missing} are missing"
            elif given.channels != self.channels:
                if len(given.channels) != len(self.channels):
                    return (
                        f"the channel count differs ({len(given.channels)} given, {len(self.channels)} expected)"
                    )
                return "the channel labels differ (by name and order)"
        missing_aux = [k for k in self.aux if k not in given.aux]
        if missing_aux:
            return f"side data {missing_aux} (Block.aux) is not provided"
        for key in self.aux:
            want, got = self.aux_labels(key), given.aux_labels(key)
            if want is not None and got is not None and want != got:
                return f"the columns of side data {key!r} differ ({', '.join(got)} given, {', '.join(want)} expected)"
            if self.aux_width(key) != given.aux_width(key):
                return (
                    f"side data {key!r} has {given.aux_width(key)} columns, {self.aux_width(key)} expected"
                )
        return None


class ChainError(ValueError):
    """Two neighbouring parts of a pipeline do not fit; the message names both and says how."""


def check_format(fmt: object, owner: str) -> StreamFormat | None:
    """Return ``fmt`` if it is a :class:`StreamFormat` or ``None``; raise a TypeError that says how to call ``reset``."""
    if fmt is None or isinstance(fmt, StreamFormat):
        return fmt
    raise TypeError(
        f"The argument 'fmt' of {owner}.reset() must be a StreamFormat or None. {fmt!r} is invalid. "
        f"To give a block length, use {owner}.reset(max_block={fmt!r})."
    )


def part_name(part: object) -> str:
    """The name used for ``part`` in messages: its ``name`` attribute or its class name."""
    name = getattr(part, "name", None)
    return name if isinstance(name, str) and name else type(part).__name__


def check_chain(first: StreamFormat, parts: Sequence[object], first_name: str = "source") -> list[StreamFormat]:
    """Check that each part can take what its neighbour gives; return the format after each part.

    Parameters
    ----------
    first : StreamFormat
        The format entering the chain (a source's output format).
    parts : sequence of Stage
        The stages in order.
    first_name : str
        Name of whatever gives ``first`` (for messages).

    Returns
    -------
    list of StreamFormat
        ``formats[i]`` is the resolved format that part ``i`` takes; the last
        element is what the chain gives.

    Raises
    ------
    ChainError
        When a part cannot take its neighbour's format: "Stage 'X' gives ...;
        stage 'Y' expects ...: <why>."
    """
    formats = [first]
    given, giver = first, first_name
    for part in parts:
        expected = part.input_format
        why = expected.mismatch(given)
        if why is not None:
            raise ChainError(
                f"Stage {giver!r} gives {given.describe()}; stage {part_name(part)!r} expects "
                f"{expected.describe()}: {why}. Build the chain from stages that agree, or put a "
                "stage between them that converts."
            )
        out = part.output_format
        transparent = out.fs is None and out.channels is None and out.passes_aux and not out.aux
        # A part that passes its input on unchanged (a guard, a tap) is not named as the giver.
        given, giver = out.resolved(given), (giver if transparent else part_name(part))
        formats.append(given)
    return formats


@runtime_checkable
class Source(Protocol):
    """A source of blocks (IMU): ``read()`` never blocks and may return an empty block."""

    @property
    def output_format(self) -> StreamFormat:
        """What ``read()`` gives."""
        ...

    @property
    def fs(self) -> float:
        """Nominal sampling rate in Hz (0 if unknown)."""
        ...

    @property
    def running(self) -> bool:
        """Whether ``start()`` has been called and ``stop()`` has not."""
        ...

    def start(self) -> None:
        """Open the device or stream."""
        ...

    def stop(self) -> None:
        """Close the device or stream; re-raise a stored worker exception."""
        ...

    def read(self) -> Block:
        """Return every sample that arrived since the last call (may be empty); never block."""
        ...


@runtime_checkable
class Stage(Protocol):
    """A processing stage: block in, block out."""

    @property
    def input_format(self) -> StreamFormat:
        """What ``process`` takes."""
        ...

    @property
    def output_format(self) -> StreamFormat:
        """What ``process`` gives (``None`` fields: as the input)."""
        ...

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Allocate for blocks of format ``fmt`` (``None``: the declared input format) of up to ``max_block`` rows."""
        ...

    def process(self, block: Block) -> Block:
        """Return the output for ``block``; only the stage's own state changes."""
        ...


@runtime_checkable
class Sink(Protocol):
    """A block consumer (LSL outlet, recorder)."""

    def write(self, block: Block) -> None:
        """Consume ``block``."""
        ...


__all__ = ["ChainError", "Sink", "Source", "Stage", "StreamFormat", "check_chain", "check_format", "part_name"]
