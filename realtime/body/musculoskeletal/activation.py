"""First-order activation dynamics: neural excitation -> muscle activation.

Thelen (2003), after Winters (1995)::

    da/dt = (u - a) / tau(u, a)
    tau = tau_act (0.5 + 1.5 a)      if u > a
    tau = tau_deact / (0.5 + 1.5 a)  otherwise

discretised exactly for an excitation held over each sample:
``a[k] = u[k] + (a[k-1] - u[k]) exp(-dt / tau(u[k], a[k-1]))``. Each new
activation is a convex combination of the previous one and the excitation, so
it stays in ``[0, 1]`` when the excitation does. The state before the first
sample is the first excitation (the muscle starts in steady state).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from realtime.core.checks import check_number


@numba.njit(cache=True)
def _activation_kernel(u: np.ndarray, state: np.ndarray, dt: float, tau_act: float, tau_deact: float,
                       out: np.ndarray) -> None:  # pragma: no cover - compiled
    n, m = u.shape
    for k in range(n):
        for i in range(m):
            uk = u[k, i]
            a = state[i]
            if uk > a:
                tau = tau_act * (0.5 + 1.5 * a)
            else:
                tau = tau_deact / (0.5 + 1.5 * a)
            a = uk + (a - uk) * math.exp(-dt / tau)
            out[k, i] = a
            state[i] = a


class ActivationDynamics:
    """Streaming activation dynamics, one state per muscle.

    Parameters
    ----------
    tau_act, tau_deact : float
        Activation and deactivation time constants, s.

    Notes
    -----
    ``process`` over any chunking of a signal returns exactly what one call on
    the whole signal returns.
    """

    def __init__(self, tau_act: float = 0.015, tau_deact: float = 0.050) -> None:
        self.tau_act = check_number("tau_act", tau_act, 0.001, 0.2, "s")
        self.tau_deact = check_number("tau_deact", tau_deact, 0.001, 0.5, "s")
        self._fs = 0.0
        self._state: np.ndarray | None = None

    @property
    def fs(self) -> float:
        """Sampling rate set by ``reset`` (0 before)."""
        return self._fs

    def reset(self, fs: float) -> None:
        """Forget the state; the next sample starts in steady state. ``fs`` in Hz."""
        self._fs = check_number("fs", fs, 0.0, 1e6, "Hz", lo_open=True)
        self._state = None

    def process(self, excitation: np.ndarray) -> np.ndarray:
        """Return the activations (n, m) float64 for excitations (n, m) in [0, 1]."""
        if self._fs <= 0:
            raise RuntimeError("ActivationDynamics has no sampling rate. Use ActivationDynamics.reset(fs).")
        u = np.ascontiguousarray(excitation, dtype=np.float64)
        if u.ndim != 2:
            raise ValueError(f"The argument 'excitation' should be (n_samples, n_muscles), {u.shape} is invalid.")
        out = np.empty_like(u)
        if u.shape[0] == 0:
            return out
        if self._state is None or self._state.shape[0] != u.shape[1]:
            self._state = u[0].copy()
        _activation_kernel(u, self._state, 1.0 / self._fs, self.tau_act, self.tau_deact, out)
        return out


def activation_dynamics(excitation: np.ndarray, fs: float, tau_act: float = 0.015,
                        tau_deact: float = 0.050) -> np.ndarray:
    """Offline activation dynamics of a whole signal (see :class:`ActivationDynamics`)."""
    dyn = ActivationDynamics(tau_act, tau_deact)
    dyn.reset(fs)
    return dyn.process(excitation)
