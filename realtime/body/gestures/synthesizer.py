"""Gesture intent -> muscle activations, sample by sample on the EMG clock.

For every EMG sample the synthesizer knows the commanded gesture(s) and
effort (a schedule, :mod:`realtime.body.gestures.schedule`, and live intent,
:mod:`realtime.body.gestures.intent`: the newest command wins) and produces
the activation of each forearm muscle, mapped onto the engine's muscles
(:func:`realtime.body.gestures.synergies.group_matrix`). Per forearm muscle:

1. **target** excitation: the synergy at the commanded effort,
   ``effort * weight`` (several gestures at once, from intent levels, combine
   as a saturating sum ``1 - prod(1 - x_g)``), with every hand and wrist muscle
   at least ``cocontraction * effort`` (non-specific co-contraction, an
   assumed tenth: forearm flexors and extensors co-activate in every gripping
   task, Hägg & Milerad 1997; set 0 to remove);
2. **trial-to-trial variability**, drawn at each new command (seeded): the
   effort actually produced (``effort_cv``: people reproduce a requested level
   with ~10 % error without feedback), each muscle's share of the synergy
   (``synergy_cv``, log-normal; repeated grasps vary their muscle pattern,
   Weiss & Flanders 2004, J Neurophysiol 92:523) and the ramp times;
   within a hold a slow fluctuation (``fluctuation_cv``, an Ornstein-Uhlenbeck
   process of time constant ``fluctuation_tau``; force fluctuates by a few
   % of the target in steady contractions, Enoka et al. 2003, Clin Neurophysiol
   114:1564);
3. **onset/offset**: the excitation follows the target with first-order time
   constants ``tau_on`` / ``tau_off`` (a 10-90 % rise of about 0.2-0.3 s, as a
   cued, unhurried gesture; an assumption, varied per trial by ``ramp_cv``);
4. **activation dynamics**: activation follows excitation with
   ``tau_act`` (activation) and ``tau_deact`` (deactivation), scaled by the
   activation level as in Thelen 2003 (J Biomech Eng 125:70; after Zajac 1989):
   15 ms and 50 ms.

The ground truth per sample is the commanded class (the largest commanded
effort; 0 = rest) and its commanded effort (before the trial's variability).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from realtime.body.gestures.intent import IntentSource, intent_efforts
from realtime.body.gestures.schedule import GestureCommand, check_schedule
from realtime.body.gestures.synergies import ENGINE_GROUPS, FOREARM_MUSCLES, SYNERGIES, group_matrix
from realtime.core.anatomy import GESTURES, MUSCLES
from realtime.core.checks import check_number, check_seed
from realtime.core.logs import logger

HAND_WRIST_GROUPS: tuple[str, ...] = ("wrist_flexors", "wrist_extensors")
"""Engine groups whose forearm muscles get the non-specific co-contraction."""


@dataclass(frozen=True)
class GestureSettings:
    """Dynamics and variability of the gestures (module docstring for the sources).

    Parameters
    ----------
    cocontraction : float
        Floor of every hand and wrist muscle's target, as a fraction of the commanded effort.
    tau_on, tau_off : float
        Time constants (s) of the excitation's rise and fall at a gesture's onset and release.
    tau_act, tau_deact : float
        Activation and deactivation time constants (s) of the muscles (Thelen 2003).
    effort_cv, synergy_cv, ramp_cv : float
        Trial-to-trial variability: of the produced effort (normal), of each muscle's weight and of the
        ramp time constants (log-normal), as coefficients of variation.
    fluctuation_cv : float
        Slow fluctuation of each muscle's excitation during a hold (relative SD).
    fluctuation_tau : float
        Its correlation time (s).
    seed : int
        Seed of the variability.
    """

    cocontraction: float = 0.1
    tau_on: float = 0.1
    tau_off: float = 0.12
    tau_act: float = 0.015
    tau_deact: float = 0.05
    effort_cv: float = 0.1
    synergy_cv: float = 0.15
    ramp_cv: float = 0.25
    fluctuation_cv: float = 0.05
    fluctuation_tau: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        check_number("cocontraction", self.cocontraction, 0.0, 1.0)
        for name in ("tau_on", "tau_off", "tau_act", "tau_deact", "fluctuation_tau"):
            check_number(name, getattr(self, name), 0.001, 10.0, "s")
        for name in ("effort_cv", "synergy_cv", "ramp_cv", "fluctuation_cv"):
            check_number(name, getattr(self, name), 0.0, 1.0)
        check_seed("seed", self.seed)


NOISE_POOL = 4096
"""Rows of fluctuation noise drawn at once (the per-block cost of the generator is then negligible)."""


@numba.njit(cache=True, nogil=True)
def _muscle_dynamics(target, normals, state, params, mapping, cls, effort, act, truth):  # pragma: no cover - compiled
    """Excitation ramp, slow fluctuation, activation dynamics and the engine map for ``act.shape[0]`` samples.

    ``state`` rows: excitation ``u``, activation ``a``, fluctuation ``x`` (updated in place); ``params``:
    alpha_on, alpha_off, dt, tau_act, tau_deact, fluctuation decay, fluctuation gain.
    """
    u, a, x = state[0], state[1], state[2]
    alpha_on, alpha_off, dt, tau_act, tau_deact, decay, gain = (
        params[0], params[1], params[2], params[3], params[4], params[5], params[6])
    n_f, n_m = mapping.shape
    for i in range(act.shape[0]):
        for j in range(n_m):
            act[i, j] = 0.0
        for m in range(n_f):
            x[m] = x[m] * decay + gain * normals[i, m]
            goal = target[m] * (1.0 + x[m])
            if goal < 0.0:
                goal = 0.0
            elif goal > 1.0:
                goal = 1.0
            if goal > u[m]:
                u[m] += (goal - u[m]) * alpha_on
            else:
                u[m] += (goal - u[m]) * alpha_off
            level = 0.5 + 1.5 * a[m]
            if u[m] > a[m]:
                a[m] += dt * (u[m] - a[m]) / (tau_act * level)
            else:
                a[m] += dt * (u[m] - a[m]) * level / tau_deact
            for j in range(n_m):
                act[i, j] += a[m] * mapping[m, j]
        truth[i, 0] = cls
        truth[i, 1] = effort


class GestureSynthesizer:
    """Muscle activations and ground truth of scripted and live gestures, on the EMG clock.

    Parameters
    ----------
    fs : float
        EMG rate (Hz): one output row per EMG sample.
    schedule : sequence of GestureCommand
        Scripted gestures (times from the run start); may be empty.
    intent : IntentSource | None
        Live intent, polled once per :meth:`generate` call; takes effect from that call's first sample.
    muscles : tuple of str
        The engine's muscles (the output columns).
    settings : GestureSettings
        Dynamics and variability.
    """

    name = "gesture synthesizer"

    def __init__(
        self,
        fs: float,
        schedule: Sequence[GestureCommand] = (),
        intent: IntentSource | None = None,
        muscles: Sequence[str] = MUSCLES,
        settings: GestureSettings | None = None,
    ) -> None:
        self.fs = check_number("fs", fs, 0.0, math.inf, "Hz", lo_open=True)
        self.schedule = check_schedule(tuple(schedule))
        self.intent = intent
        self.muscles = tuple(muscles)
        self.gestures = GESTURES
        self.settings = settings or GestureSettings()
        self._map = group_matrix(self.muscles)
        self._weights = np.stack([SYNERGIES[g].vector() for g in GESTURES])  # (G, F)
        self._cocontract = np.array([ENGINE_GROUPS[m] in HAND_WRIST_GROUPS for m in FOREARM_MUSCLES])
        self._on = np.array([int(round(c.onset * self.fs)) for c in self.schedule], np.int64)
        self._off = np.array([max(int(round(c.end * self.fs)), o + 1) for c, o in zip(self.schedule, self._on)],
                             np.int64)
        self._sched_efforts = np.zeros((len(self.schedule), len(GESTURES)))
        for i, c in enumerate(self.schedule):
            self._sched_efforts[i, GESTURES.index(c.gesture)] = c.effort
        self.rejected_intents = 0
        """Live intents refused as invalid (each logged once as a warning)."""
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self, max_block: int = 64) -> None:
        """Back to rest at sample 0 (the variability restarts from the seed); allocate for ``max_block`` rows."""
        n_f, n_m = len(FOREARM_MUSCLES), len(self.muscles)
        self._max = int(max_block)
        self._k = 0
        trials, noise = np.random.SeedSequence(self.settings.seed).spawn(2)
        self._rng = np.random.default_rng(trials)  # per-command draws
        self._noise_rng = np.random.default_rng(noise)  # the fluctuation, independent of block sizes
        self._pool = np.zeros((NOISE_POOL, n_f))
        self._pool_at = NOISE_POOL
        self._state = np.zeros((3, n_f))
        self._params = np.zeros(7)
        self._target = np.zeros(n_f)
        self._boundary = 0
        self._command = np.zeros(len(GESTURES))
        self._class, self._effort = 0, 0.0
        self._owner = -2  # -2 rest, -1 live intent, i >= 0 schedule entry i
        self._next = 0  # next schedule entry to start
        self._act = np.zeros((self._max, n_m), np.float32)
        self._truth = np.zeros((self._max, 2), np.float32)
        self._efforts = np.zeros(len(GESTURES))
        self._new_trial()

    @property
    def sample(self) -> int:
        """Index of the next sample :meth:`generate` produces."""
        return self._k

    @property
    def command(self) -> tuple[int, float]:
        """The commanded (class, effort) now: the largest commanded effort's gesture (0 = rest)."""
        return self._class, self._effort

    def _set_command(self, efforts: np.ndarray, owner: int) -> None:
        changed = not np.array_equal(efforts, self._command)
        self._command[:] = efforts
        self._owner = owner
        self._class = int(np.argmax(efforts)) if efforts.max() > 0 else 0
        self._effort = float(efforts[self._class])
        self._boundary = self._next_boundary()
        if changed:
            self._new_trial()

    def _new_trial(self) -> None:
        """Draw this command's variability and compute its target excitation."""
        s, rng = self.settings, self._rng
        n_f = len(FOREARM_MUSCLES)
        scale = float(np.clip(1.0 + s.effort_cv * rng.standard_normal(), 0.5, 1.5))
        sigma = math.sqrt(math.log1p(s.synergy_cv ** 2))
        jitter = np.exp(sigma * rng.standard_normal(n_f) - 0.5 * sigma * sigma)
        rsig = math.sqrt(math.log1p(s.ramp_cv ** 2))
        tau_on, tau_off = (t * math.exp(rsig * rng.standard_normal() - 0.5 * rsig * rsig)
                           for t in (s.tau_on, s.tau_off))
        dt = 1.0 / self.fs
        decay = math.exp(-dt / s.fluctuation_tau)
        self._params[:] = (-math.expm1(-dt / tau_on), -math.expm1(-dt / tau_off), dt, s.tau_act, s.tau_deact, decay,
                           s.fluctuation_cv * math.sqrt(1.0 - decay * decay))
        active = np.flatnonzero(self._command > 0)
        rest = np.ones(n_f)
        for g in active:
            rest *= 1.0 - np.clip(self._command[g] * scale * self._weights[g] * jitter, 0.0, 1.0)
        target = 1.0 - rest
        if active.size:
            floor = s.cocontraction * float(self._command.max()) * scale
            target[self._cocontract] = np.maximum(target[self._cocontract], floor)
        self._target[:] = target

    def _poll_intent(self) -> None:
        if self.intent is None:
            return
        for item in self.intent.poll():
            try:
                efforts = intent_efforts(item, self._efforts)
            except (TypeError, ValueError) as err:
                self.rejected_intents += 1
                logger.warning("%s: %s", self.name, err)
                continue
            self._set_command(efforts.copy(), -1 if efforts.any() else -2)

    # ------------------------------------------------------------------ the hot path
    def generate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` samples: engine-muscle activations ``(n, len(muscles))`` and truth ``(n, 2)``, float32.

        The arrays are views of buffers reused by the next call (copy them to keep them).
        """
        if n > self._max:
            self._grow(n)
        if self.intent is not None:
            self._poll_intent()
        i, k0 = 0, self._k
        while i < n:
            if k0 + i >= self._boundary:
                self._apply_schedule(k0 + i)
            stop = min(n, self._boundary - k0)
            while i < stop:  # the noise pool may end inside the segment
                if self._pool_at == NOISE_POOL:
                    self._noise_rng.standard_normal(out=self._pool)
                    self._pool_at = 0
                take = min(stop - i, NOISE_POOL - self._pool_at)
                _muscle_dynamics(self._target, self._pool[self._pool_at:self._pool_at + take], self._state,
                                 self._params, self._map, self._class, self._effort, self._act[i:i + take],
                                 self._truth[i:i + take])
                self._pool_at += take
                i += take
        self._k = k0 + n
        return self._act[:n], self._truth[:n]

    def _grow(self, n: int) -> None:
        self._act = np.zeros((n, self._act.shape[1]), np.float32)
        self._truth = np.zeros((n, 2), np.float32)
        self._max = n

    def _apply_schedule(self, k: int) -> None:
        """Start or end schedule entries at sample ``k``; update the next boundary."""
        if self._owner >= 0 and k >= self._off[self._owner]:
            self._set_command(np.zeros(len(GESTURES)), -2)
        while self._next < len(self.schedule) and k >= self._on[self._next]:
            entry = self._next
            self._next += 1
            if k < self._off[entry]:
                self._set_command(self._sched_efforts[entry], entry)
        self._boundary = self._next_boundary()

    def _next_boundary(self) -> int:
        """The next sample at which the schedule changes the command (a huge number when it never does)."""
        nxt = int(self._on[self._next]) if self._next < len(self.schedule) else 2**62
        if self._owner >= 0:
            nxt = min(nxt, int(self._off[self._owner]))
        return nxt
