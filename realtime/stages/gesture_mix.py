"""The gesture layer's stage: gesture activations combined with the IMU-driven ones, on the EMG grid.

It sits between the engine-grid resampler and the engine. Each block it asks
its gesture drive (``realtime.body.gestures.GestureSynthesizer``, injected by
the application) for the same number of samples, combines them muscle by
muscle with the activations that came from the IMU (network or teacher) and
attaches the gesture ground truth (aux ``"gesture"``: class, effort).

Each change of the commanded gesture is also announced as a marker
(``events["markers"]``: ``"gesture: hand_close 50%"``, ``"gesture: rest"``, at the
sample where it changes), which the runner publishes on ``<prefix>-markers``.

Combination rules (:data:`MIX_RULES`):

- ``"sum"`` (default), a saturating sum ``a = 1 - (1 - a_imu)(1 - a_gesture)``:
  the muscle serves both tasks (holding the arm up and gripping), so demands
  add; it never exceeds 1, equals either input when the other is 0, and is
  at least the larger of the two.
- ``"max"``: ``a = max(a_imu, a_gesture)``: the harder task sets the level
  (no double counting when the IMU already sees the gesture's own motion).

The IMU-driven wrist muscles come from the wrist motion one forearm IMU can
infer (and the physics teacher's load sharing); a wrist gesture is intent at
the wrist. With ``"sum"``, a wrist-flexion gesture held while the synthetic
arm also flexes the wrist drives the flexors a little harder than either
alone; with ``"max"`` it takes the larger. Either way the gesture truth
names the gesture, whatever the arm does.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Protocol

import numpy as np

from realtime.core.block import Block
from realtime.core.checks import check_choice
from realtime.core.contract import StreamFormat
from realtime.core.schemas import GESTURE_CHANNELS

MIX_RULES: tuple[str, ...] = ("sum", "max")
"""How gesture and IMU-driven activations combine (module docstring)."""


class GestureDrive(Protocol):
    """What the stage needs from a gesture synthesizer."""

    fs: float
    muscles: tuple[str, ...]

    def reset(self, max_block: int = 64) -> None:
        """Back to rest at sample 0."""
        ...

    def generate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` samples: activations ``(n, len(muscles))`` and truth ``(n, 2)`` (class, effort)."""
        ...


class GestureMix:
    """Combine the gesture drive's activations with the incoming (IMU-driven) ones.

    Parameters
    ----------
    drive : GestureDrive
        The gesture synthesizer (its ``fs`` is the EMG rate).
    rule : {"sum", "max"}
        The combination rule (:data:`MIX_RULES`).
    """

    name = "gesture mix"

    def __init__(self, drive: GestureDrive, rule: str = "sum") -> None:
        self.drive = drive
        self.rule = check_choice("rule", rule, MIX_RULES)
        self.muscles = tuple(drive.muscles)
        self._cols: np.ndarray | None = None
        self._out = np.zeros((0, len(self.muscles)), np.float32)
        self._last = (0.0, 0.0)
        self.gestures: tuple[str, ...] = tuple(getattr(drive, "gestures", ()))

    @property
    def input_format(self) -> StreamFormat:
        """Activations on the EMG grid with a column for every muscle of the drive (by name)."""
        return StreamFormat(fs=float(self.drive.fs), channels=self.muscles, by_name=True)

    @property
    def output_format(self) -> StreamFormat:
        """The drive's muscles, same rate, input aux passed on, plus aux ``"gesture"`` (class, effort)."""
        return StreamFormat(fs=None, channels=self.muscles, aux={"gesture": GESTURE_CHANNELS}, passes_aux=True)

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Map the input's columns to the drive's muscles, allocate, and put the drive back at rest."""
        channels = (fmt.channels if fmt is not None and fmt.channels is not None else None) or self.muscles
        missing = [m for m in self.muscles if m not in channels]
        if missing:
            raise ValueError(f"The gesture mix needs an activation column for every muscle; {missing} are missing.")
        self._cols = np.array([channels.index(m) for m in self.muscles], np.intp)
        self._identity = list(channels) == list(self.muscles)
        self._out = np.zeros((int(max_block), len(self.muscles)), np.float32)
        self._last = (0.0, 0.0)
        self.drive.reset(max_block=int(max_block))

    def process(self, block: Block) -> Block:
        """The block's activations combined with the next ``block.n_samples`` gesture samples.

        The returned block's data and aux ``"gesture"`` are buffers reused by the next call: the
        pipeline consumes them within the tick (copy them to keep them).
        """
        if self._cols is None:
            self.reset(None, max_block=max(64, block.n_samples))
        n = block.n_samples
        if n > self._out.shape[0]:
            self._out = np.zeros((n, len(self.muscles)), np.float32)
        gesture, truth = self.drive.generate(n)
        imu = block.data if self._identity else block.data[:, self._cols]
        out = self._out[:n]
        if self.rule == "sum":
            np.multiply(1.0 - imu, 1.0 - gesture, out=out)
            np.subtract(1.0, out, out=out)
        else:
            np.maximum(imu, gesture, out=out)
        aux = dict(block.aux)
        aux["gesture"] = truth
        events = block.events
        if n and (truth[0, 0] != self._last[0] or truth[0, 1] != self._last[1] or truth[-1, 0] != truth[0, 0]
                  or truth[-1, 1] != truth[0, 1]):
            events = MappingProxyType({**block.events, "markers": (*block.events.get("markers", ()),
                                                                    *self._changes(truth, block.timestamps))})
        # Valid by construction (float32 (n, muscles) buffers, the input's timestamps and aux): no re-validation.
        return Block.trusted(out, block.timestamps, block.fs, block.seq, self.muscles, MappingProxyType(aux), events)

    def _changes(self, truth: np.ndarray, timestamps: np.ndarray) -> list[tuple[str, float]]:
        """A marker ``"gesture: <name> <effort>"`` (or ``"gesture: rest"``) at each change of the commanded gesture."""
        markers = []
        for i in range(truth.shape[0]):
            now = (float(truth[i, 0]), float(truth[i, 1]))
            if now != self._last:
                cls = int(now[0])
                name = self.gestures[cls] if cls < len(self.gestures) else str(cls)
                text = f"gesture: {name}" + (f" {now[1]:.0%}" if cls else "")
                markers.append((text, float(timestamps[i])))
                self._last = now
        return markers


__all__ = ["MIX_RULES", "GestureDrive", "GestureMix"]
