"""Causal resampling of a timestamped stream onto the engine's regular sample grid.

The engine runs on a fixed grid ``t0 + k / fs``; activations arrive at another,
possibly irregular, rate. :class:`CausalResampler` only ever uses samples that
have already arrived: a grid time inside the span of received samples is
linearly interpolated between its two neighbours, a grid time after the newest
sample holds the newest value (zero-order hold), so no output waits for a
future input.
"""

from __future__ import annotations

import numba
import numpy as np

from realtime.core.block import Block


class CausalResampler:
    """Resample timestamped blocks onto a regular output grid, causally.

    Parameters
    ----------
    channels : tuple of str
        Labels of the channels (copied to the output blocks).
    fs_out : float
        Rate of the output grid in Hz.
    initial : ndarray, shape (n_channels,) | None
        Value returned before the first input sample arrives, and the rest
        value that a stale input decays to (zeros if None).
    stale_after : float
        Seconds after the newest input sample beyond which the held value
        starts to decay toward ``initial`` (the input has stopped: a device
        was unplugged). ``inf`` holds forever.
    decay_tau : float
        Time constant of that decay, in seconds.
    """

    def __init__(
        self,
        channels: tuple[str, ...],
        fs_out: float,
        initial: np.ndarray | None = None,
        stale_after: float = 0.25,
        decay_tau: float = 0.2,
    ) -> None:
        if not fs_out > 0:
            raise ValueError(f"The argument 'fs_out' must be a positive rate in Hz. {fs_out!r} is invalid.")
        if not stale_after > 0:
            raise ValueError(f"The argument 'stale_after' must be positive (s). {stale_after!r} is invalid.")
        if not decay_tau > 0:
            raise ValueError(f"The argument 'decay_tau' must be positive (s). {decay_tau!r} is invalid.")
        self.stale_after = float(stale_after)
        self.decay_tau = float(decay_tau)
        self.channels = tuple(channels)
        self.fs_out = float(fs_out)
        n_ch = len(self.channels)
        if initial is None:
            initial = np.zeros(n_ch, np.float32)
        initial = np.asarray(initial, np.float32)
        if initial.shape != (n_ch,):
            raise ValueError(f"The argument 'initial' should have shape ({n_ch},), {initial.shape} is invalid.")
        self._initial = initial
        self._t0 = 0.0
        self._seq = 0
        self._t_in = np.zeros(0)
        self._x_in = np.zeros((0, n_ch), np.float32)
        self.newest_input_time: float | None = None
        self.newest_input_seq: int | None = None

    def reset(self, t0: float) -> None:
        """Start a new output grid whose sample 0 is at ``t0`` (LSL clock)."""
        self._t0 = float(t0)
        self._seq = 0
        # The last input sample is kept as the left neighbour for interpolation.
        self._t_in = np.full(1, -np.inf)
        self._x_in = self._initial[None, :].copy()
        self.newest_input_time = None
        self.newest_input_seq = None

    def push(self, block: Block) -> None:
        """Add received input samples (timestamps must not go backwards)."""
        if block.n_samples == 0:
            return
        if block.n_channels != len(self.channels):
            raise ValueError(
                f"The resampler expects {len(self.channels)} channels, the block has {block.n_channels}."
            )
        t_new = block.timestamps
        x_new = block.data
        # Samples older than what we hold cannot be placed causally; drop their order violations.
        last = self._t_in[-1]
        if t_new.size == 1:  # the usual live case: one sample, no array of flags to build
            if not t_new[0] > last:
                return
        else:
            keep = t_new > last
            if not keep.all():
                t_new, x_new = t_new[keep], x_new[keep]
            if t_new.size == 0:
                return
        self._t_in = np.concatenate([self._t_in, t_new])
        self._x_in = np.concatenate([self._x_in, x_new])
        self.newest_input_time = float(t_new[-1])
        self.newest_input_seq = int(block.seq + block.n_samples - 1)

    def pull(self, n: int) -> Block:
        """Return the next ``n`` samples of the output grid."""
        t_out = np.empty(n)
        out = np.empty((n, len(self.channels)), np.float32)
        if n:
            t_in, x_in = self._t_in, self._x_in
            first_needed = _pull_kernel(t_in, x_in, self._t0, self.fs_out, self._seq, t_out, out)
            newest = self.newest_input_time
            if newest is not None and np.isfinite(self.stale_after) and t_out[-1] - (newest + self.stale_after) > 0:
                overdue = t_out - (newest + self.stale_after)
                keep = np.exp(-np.maximum(overdue, 0.0) / self.decay_tau).astype(np.float32)[:, None]
                out[:] = self._initial + (out - self._initial) * keep
            # Forget inputs that no future output time can need (keep the left neighbour).
            if first_needed > 0:
                self._t_in = t_in[first_needed:]
                self._x_in = x_in[first_needed:]
        # Every field is built here with the right type and shape: no validation needed.
        block = Block.trusted(out, t_out, self.fs_out, self._seq, self.channels)
        self._seq += n
        return block


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _bisect_right(t, v):  # pragma: no cover - numba
    """The first index ``i`` with ``t[i] > v`` (``len(t)`` when none): ``np.searchsorted(t, v, "right")``."""
    lo, hi = 0, t.size
    while lo < hi:
        mid = (lo + hi) // 2
        if v < t[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _pull_kernel(t_in, x_in, t0, fs, seq, t_out, out):  # pragma: no cover - numba
    """Fill ``t_out`` (``t0 + k / fs``, ``k`` from ``seq``) and ``out`` (interpolated or held inputs).

    The arithmetic is numpy's in :meth:`CausalResampler.pull` before this kernel, operation for
    operation (weights in float64, clipped to [0, 1], then the float32 blend), so the output is
    bit-identical; no fastmath. Returns the index of the oldest input a later output can need.
    """
    n = t_out.size
    m = t_in.size
    for i in range(n):
        t_out[i] = t0 + (np.float64(seq + i) / fs)
    if m == 1 or t_out[0] >= t_in[m - 1]:
        # Every output time is at or after the newest input (the usual live case): hold it.
        for i in range(n):
            out[i, :] = x_in[m - 1]
    else:
        one = np.float32(1.0)
        for i in range(n):
            idx = _bisect_right(t_in, t_out[i]) - 1
            if idx < 0:
                idx = 0
            if idx > m - 1:
                idx = m - 1
            right = min(idx + 1, m - 1)
            t_l = t_in[idx]
            w = 0.0
            if right > idx and np.isfinite(t_l):
                w = (t_out[i] - t_l) / (t_in[right] - t_l)
            if w < 0.0:
                w = 0.0
            elif w > 1.0:
                w = 1.0
            w32 = np.float32(w)
            for c in range(out.shape[1]):
                out[i, c] = x_in[idx, c] * (one - w32) + x_in[right, c] * w32
    return _bisect_right(t_in, t_out[n - 1]) - 1
