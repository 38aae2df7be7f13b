"""Protocols that the pipeline's parts follow.

- A **source** produces IMU blocks: ``read()`` returns everything that has
  arrived since the last call (possibly zero samples) and never blocks.
- A **stage** transforms a block: ``reset(...)`` allocates state for a stream
  format, ``process(block)`` returns the next block and touches nothing but the
  stage's own state.
- A **sink** consumes blocks: ``write(block)``.

Resource parts (serial ports, outlets) also have ``start()``/``stop()``, a
``running`` property and are context managers: they derive from
:class:`realtime.core.lifecycle.Lifecycle`, which writes that once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from realtime.core.block import Block


@runtime_checkable
class Source(Protocol):
    """An IMU source: yields blocks of ``(timestamps[n], samples[n, 6])``."""

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

    def process(self, block: Block) -> Block:
        """Return the output for ``block``; only the stage's own state changes."""
        ...


@runtime_checkable
class Sink(Protocol):
    """A block consumer (LSL outlet, recorder)."""

    def write(self, block: Block) -> None:
        """Consume ``block``."""
        ...
