"""Small deterministic parts for runner-level tests: a scripted IMU source and a copying engine.

They let a test drive the real runner, outlets and stages with known inputs on
a fake clock; the end-to-end tests use the real synthetic arm and engine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from realtime.core.block import Block, regular_timestamps
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS
from tests.helpers.wait import wait_until

TimeFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``f(t, k) -> (n, m)``: a value per sample from its time since the start (s) and its index."""


class ScriptedImu:
    """A regular IMU source on an injected clock whose ground truth is scripted.

    Sample ``k`` is due at ``t_start + k / fs``. The IMU reads a still arm
    (gravity on z); aux ``"activation"`` (and ``"angles"`` if given) come
    from the functions passed in.

    Parameters
    ----------
    clock : Callable[[], float]
        The (fake) clock.
    activation : TimeFunction
        Ground-truth activations, ``(n, n_muscles)``.
    fs : float
        Sampling rate in Hz.
    angles : TimeFunction | None
        Joint angles, ``(n, 3)``.
    """

    def __init__(self, clock: Callable[[], float], activation: TimeFunction, fs: float = 100.0,
                 angles: TimeFunction | None = None, muscles: tuple[str, ...] = ("m1", "m2")) -> None:
        self.clock, self.fs, self.running = clock, fs, False
        self._activation, self._angles = activation, angles
        self._k, self._t0 = 0, 0.0
        aux = {"activation": tuple(muscles)} | ({"angles": 3} if angles is not None else {})
        self.output_format = StreamFormat(fs=fs, channels=IMU_CHANNELS, aux=aux)

    def start(self) -> None:
        self.running, self._t0, self._k = True, self.clock(), 0

    def stop(self) -> None:
        self.running = False

    def read(self) -> Block:
        n = max(int(np.floor((self.clock() - self._t0) * self.fs + 1e-9)) + 1 - self._k, 0)
        t = regular_timestamps(self._t0, self.fs, self._k, n)
        k = np.arange(self._k, self._k + n)
        imu = np.zeros((n, 6), np.float32)
        imu[:, 2] = 9.81
        aux = {"activation": np.asarray(self._activation(t - self._t0, k), np.float32)}
        if self._angles is not None:
            aux["angles"] = np.asarray(self._angles(t - self._t0, k), np.float32).reshape(n, 3)
        blk = Block(imu, t, self.fs, self._k, IMU_CHANNELS, aux)
        self._k += n
        return blk


class CopyEngine:
    """An 'engine' that returns its activation block as EMG; it can burn fake time on chosen calls.

    Parameters
    ----------
    clock : FakeClock | None
        Advanced by ``cost`` seconds on the calls listed in ``slow_calls`` (the runner falls behind).
    slow_calls : frozenset of int
        Indices of the ``process`` calls that are slow.
    cost : float
        Seconds each slow call takes.
    """

    input_format = StreamFormat()
    output_format = StreamFormat(passes_aux=True)

    def __init__(self, clock=None, slow_calls: frozenset[int] = frozenset(), cost: float = 0.0) -> None:
        self.clock, self.slow_calls, self.cost, self.calls = clock, slow_calls, cost, 0
        self.angles: list[np.ndarray] = []

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        self.calls = 0
        self.angles = []

    def process(self, block: Block) -> Block:
        if self.calls in self.slow_calls:
            self.clock.advance(self.cost)
        self.calls += 1
        self.angles.append(block.aux["angles"].copy())
        return Block(block.data.copy(), block.timestamps, block.fs, block.seq, block.channels, block.aux)


class Tap:
    """Wraps a stage: same formats and output; keeps every output block (to look at what a run made)."""

    def __init__(self, stage) -> None:  # noqa: ANN001
        self.stage, self.blocks = stage, []
        self.name = f"tap({getattr(stage, 'name', type(stage).__name__)})"

    @property
    def input_format(self) -> StreamFormat:
        return self.stage.input_format

    @property
    def output_format(self) -> StreamFormat:
        return self.stage.output_format

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        self.stage.reset(fmt, max_block=max_block)
        self.blocks = []

    def process(self, block: Block) -> Block:
        out = self.stage.process(block)
        self.blocks.append(out)
        return out


class EventTap:
    """Reads a source as the runner does and keeps the device events its blocks carry.

    Every attribute but ``read`` is the source's own (``start``, ``status``, ...).
    """

    def __init__(self, source) -> None:  # noqa: ANN001
        self.source, self.events = source, []

    def read(self) -> Block:
        blk = self.source.read()
        self.events += blk.events.get("source_events", ())
        return blk

    def pop_events(self) -> list[str]:
        """The events read so far (and forget them)."""
        out, self.events = self.events, []
        return out

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.source, name)


def read_samples(source, n: int, timeout: float, poll: float = 0.003) -> list[Block]:
    """Read ``source`` until ``n`` samples arrived; return the non-empty blocks.

    Raises ``AssertionError`` (from :func:`~tests.helpers.wait.wait_until`) when fewer than ``n``
    arrive within ``timeout`` seconds.
    """
    blocks: list[Block] = []

    def enough() -> bool:
        b = source.read()
        if b.n_samples:
            blocks.append(b)
        return sum(b.n_samples for b in blocks) >= n

    wait_until(enough, timeout, poll, f"{n} samples from {type(source).__name__}")
    return blocks
