"""The synthetic arm as an offline simulation and as a live IMU source.

Both paths run the same generator: motion program -> minimum-jerk kinematics
-> IMU signals (+ noise) and physics teacher (torques, activations). Every
step is either per sample or chunk-independent, so the live stream equals
:func:`simulate` sample for sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pylsl

from realtime.body.musculoskeletal import MuscleTeacher
from realtime.body.synthetic.imu import ImuNoise, imu_signals
from realtime.body.synthetic.motions import motion_program
from realtime.body.synthetic.settings import SyntheticSettings
from realtime.body.synthetic.trajectory import Trajectory
from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.block import Block, empty_block, regular_timestamps
from realtime.core.checks import check_number, check_type
from realtime.core.contract import StreamFormat
from realtime.core.lifecycle import Lifecycle
from realtime.core.logs import logger
from realtime.core.units import IMU_CHANNELS

LOOKAHEAD_S = 0.25
"""The live source computes its deterministic script in chunks of this many seconds ahead
of the clock (samples are still released only when due): one chunk costs about as much as
one sample, because the cost is per numpy call."""

AUX_SHAPES: dict[str, tuple[int, ...]] = {
    "angles": (len(JOINTS),), "activation": (len(MUSCLES),), "torques": (len(JOINTS),)
}
"""Trailing shapes of the aux arrays the live source attaches to each block."""


class _Generator:
    """Samples ``k, k+1, ...`` of one synthetic recording, in order."""

    def __init__(self, settings: SyntheticSettings) -> None:
        self.settings = settings
        motion_rng = np.random.default_rng([settings.seed, 0x5E6])
        start, segments = motion_program(settings.motion, motion_rng, settings.speed, settings.amplitude)
        self.trajectory = Trajectory(start, segments)
        self.mount = settings.mount
        self.teacher = MuscleTeacher(settings.teacher)
        self.teacher.reset(settings.fs)
        std = np.array([settings.acc_noise] * 3 + [settings.gyro_noise] * 3)
        bias = np.array([settings.acc_bias] * 3 + [settings.gyro_bias] * 3)
        self.noise = ImuNoise(settings.seed, std, bias) if settings.noise else None
        self.next_index = 0

    def next(self, n: int) -> dict[str, np.ndarray]:
        """Compute the next ``n`` samples."""
        k0 = self.next_index
        t = np.arange(k0, k0 + n, dtype=np.float64) / self.settings.fs
        x, xd, xdd = self.trajectory.evaluate(t)
        q, qd, qdd = x[:, :3], xd[:, :3], xdd[:, :3]
        load = self.settings.arm.load_kg + np.maximum(x[:, 3], 0.0)
        imu = imu_signals(q, qd, qdd, self.mount)
        if self.noise is not None:
            imu += self.noise.samples(k0, n)
        tau, act = self.teacher.process(q, qd, qdd, load)
        self.next_index += n
        return {"t": t, "imu": imu, "angles": q, "torques": tau, "activation": act, "load": load}


@dataclass(frozen=True)
class SimulatedRecording:
    """A synthetic recording (see :func:`simulate`).

    Parameters
    ----------
    t : ndarray, shape (n,)
        Time of each sample from 0, s (``k / fs``).
    imu : ndarray, shape (n, 6), float32
        IMU samples in ``realtime.core.units.IMU_CHANNELS`` order (m/s², rad/s).
    angles : ndarray, shape (n, 3)
        Joint angles in ``realtime.core.anatomy.JOINTS`` order, rad.
    torques : ndarray, shape (n, 3)
        Joint torques, N·m.
    activation : ndarray, shape (n, 8)
        Ground-truth activations in ``realtime.core.anatomy.MUSCLES`` order, [0, 1].
    load_kg : ndarray, shape (n,)
        Mass held in the hand, kg.
    fs : float
        Sampling rate, Hz.
    """

    t: np.ndarray
    imu: np.ndarray
    angles: np.ndarray
    torques: np.ndarray
    activation: np.ndarray
    load_kg: np.ndarray
    fs: float


def simulate(settings: SyntheticSettings, duration_s: float) -> SimulatedRecording:
    """Simulate ``duration_s`` seconds of the synthetic arm offline.

    The result equals what :class:`SyntheticArm` streams with the same settings.
    Vectorised: 10 minutes at 100 Hz take well under a second (see ``docs/teacher.md``).

    Parameters
    ----------
    settings : SyntheticSettings
        Motion, rate, noise, arm.
    duration_s : float
        Seconds to simulate, [0, 86400]; ``floor(duration_s * fs)`` samples.
    """
    check_type("settings", settings, SyntheticSettings, "a SyntheticSettings")
    duration_s = check_number("duration_s", duration_s, 0.0, 86400.0, "s")
    n = int(np.floor(duration_s * settings.fs + 1e-9))
    out = _Generator(settings).next(n)
    return SimulatedRecording(
        t=out["t"], imu=out["imu"].astype(np.float32), angles=out["angles"], torques=out["torques"],
        activation=out["activation"], load_kg=out["load"], fs=settings.fs,
    )


class SyntheticArm(Lifecycle):
    """Live synthetic IMU source (``realtime.core.contract.Source``; a
    :class:`~realtime.core.lifecycle.Lifecycle` part) with ground truth in ``aux``.

    Sample ``k`` is due at ``t_start + k / fs`` on ``clock``; ``read()`` returns
    every due sample not yet returned, however long since the last call
    (nothing is dropped or capped), and an empty block when none is due.
    Samples are computed up to ``LOOKAHEAD_S`` ahead (the motion is scripted)
    but released only when due.

    Parameters
    ----------
    settings : SyntheticSettings | None
        Motion, rate, noise, arm; default ``SyntheticSettings()``.
    clock : Callable[[], float] | None
        Time source in seconds; default ``pylsl.local_clock``.
    """

    def __init__(self, settings: SyntheticSettings | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.settings = settings or SyntheticSettings()
        check_type("settings", self.settings, SyntheticSettings, "a SyntheticSettings")
        if clock is None:
            clock = pylsl.local_clock
        self._clock = clock
        self._gen: _Generator | None = None
        self._ahead: dict[str, np.ndarray] = {}
        self._next = 0
        self._t_start = 0.0

    @property
    def fs(self) -> float:
        """IMU rate in Hz."""
        return self.settings.fs

    @property
    def output_format(self) -> StreamFormat:
        """IMU blocks at the arm's rate with the ground truth in aux (``AUX_SHAPES``): activations of
        ``MUSCLES``, angles and torques of ``JOINTS``."""
        return StreamFormat(fs=self.fs, channels=IMU_CHANNELS, aux={"activation": MUSCLES, "angles": JOINTS,
                                                                      "torques": JOINTS})

    @property
    def t_start(self) -> float:
        """Clock time of sample 0 (set by ``start()``)."""
        return self._t_start

    def _open(self) -> None:
        """Start a new stream: sample 0 is due now (a later ``start()`` begins a new one from sample 0)."""
        self._gen = _Generator(self.settings)
        self._ahead = {}
        self._next = 0
        self._t_start = float(self._clock())
        logger.info("SyntheticArm: started %s at %s Hz (seed %s)", self.settings.motion, self.fs, self.settings.seed)

    def _close(self) -> None:
        logger.info("SyntheticArm: stopped after %s samples", self._next)

    def _due(self, now: float) -> int:
        """Number of samples ``k`` with ``t_start + k / fs <= now``."""
        elapsed = now - self._t_start
        if elapsed < 0:
            return 0
        fs, t_start = self.fs, self._t_start
        k = int(np.floor(elapsed * fs))
        # Settle rounding so the rule holds on the exact timestamps: t_start + k / fs is
        # regular_timestamps' expression, in Python floats (the same IEEE operations, no array per call).
        while t_start + (k + 1) / fs <= now:
            k += 1
        while k >= 0 and t_start + k / fs > now:
            k -= 1
        return k + 1

    def read(self) -> Block:
        """Every due sample not yet returned: IMU data (n, 6) float32 with aux ground truth."""
        gen = self._gen
        if not self._started or gen is None:
            self._check_started("read()")
        seq = self._next
        n = self._due(float(self._clock())) - seq
        if n <= 0:
            return empty_block(IMU_CHANNELS, self.fs, seq, AUX_SHAPES)
        out = self._take(gen, n)
        self._next = seq + n
        aux = {key: np.ascontiguousarray(out[key], np.float32) for key in AUX_SHAPES}
        # n rows of the generator's (n, ...) arrays, made float32 and contiguous here: no validation needed.
        return Block.trusted(
            np.ascontiguousarray(out["imu"], np.float32),
            regular_timestamps(self._t_start, self.fs, seq, n),
            self.fs, seq, IMU_CHANNELS, MappingProxyType(aux),
        )

    def _take(self, gen: _Generator, n: int) -> dict[str, np.ndarray]:
        """The next ``n`` samples, computing ahead in chunks of ``LOOKAHEAD_S``."""
        have = gen.next_index - self._next
        if have < n:
            chunk = gen.next(max(n - have, int(np.ceil(LOOKAHEAD_S * self.fs))))
            self._ahead = chunk if have == 0 else {
                key: np.concatenate([self._ahead[key], chunk[key]]) for key in chunk}
        out = {key: value[:n] for key, value in self._ahead.items()}
        self._ahead = {key: value[n:] for key, value in self._ahead.items()}
        return out
