"""Cached-state streaming inference of the activation network (numba, no torch).

The Fast-WaveNet idea: a causal dilated convolution with kernel ``k`` and
dilation ``d`` only needs the last ``(k - 1) * d + 1`` inputs of its layer, so
each residual block keeps a ring buffer of exactly that many rows. A new
sample is pushed through every layer once; nothing of the receptive field is
recomputed. All weights live in one flat float32 array and all state in one
flat float32 ring array plus one int64 array of sizes and positions, so the
compiled kernel is called with five arrays per block and allocates nothing
(the ring array also holds a few scratch vectors after the caches).

After :meth:`StreamingNet.reset`, the first sample primes every ring buffer
with the steady state of a constant input equal to that sample (the arm was
held still before the stream started). The offline pass
``ActivationNet.forward(x, pad="replicate")`` computes the same thing, and
:func:`offline_forward` here computes it in numpy.

:meth:`StreamingNet.peek_into` computes the output for a hypothetical newest
sample without committing it (a read-only pass over the caches, about the cost
of one sample): the pipeline stage uses it for provisional rows between model-grid
points (``docs/model.md``, "The pipeline stage").
"""

from __future__ import annotations

from collections.abc import Mapping

import numba
import numpy as np

from realtime.stages.model.config import NetConfig

# Positions in the int64 meta array.
_N_IN, _C, _L, _K, _N_OUT, _N_POS, _PRIMED, _HEADER = 0, 1, 2, 3, 4, 5, 6, 7
# Scratch vectors of length ``channels`` after the ring buffers (h, z, u, v), then the normalised input.
_N_SCRATCH = 4


def pack_weights(config: NetConfig, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """Pack the torch-layout weights of :class:`~realtime.app.training.network.ActivationNet` into one array.

    Parameters
    ----------
    config : NetConfig
        Shape of the network.
    state : Mapping[str, ndarray]
        ``ActivationNet.numpy_state()`` (keys ``norm_mean``, ``inp.weight``, ...).

    Returns
    -------
    ndarray, shape (n_params,), float32
        Normaliser, then each layer's weights transposed to ``(in, out)`` so the
        kernel's innermost loop runs over contiguous output channels. The
        dilated convolution's taps are stored by lag (newest first).
    """
    c, k = config.channels, config.kernel

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in state:
            raise ValueError(f"The weights lack '{name}'; the checkpoint does not fit {config}.")
        arr = np.asarray(state[name], np.float32)
        if arr.shape != shape:
            raise ValueError(f"The weight '{name}' should have shape {shape}, {arr.shape} is invalid.")
        return arr

    std = get("norm_std", (config.n_inputs,)).astype(np.float64)
    parts = [get("norm_mean", (config.n_inputs,)), (1.0 / std).astype(np.float32)]
    parts += [get("inp.weight", (c, config.n_inputs, 1))[:, :, 0].T, get("inp.bias", (c,))]
    for i in range(config.layers):
        w = get(f"blocks.{i}.conv.weight", (c, c, k))  # (out, in, tap); tap k-1 is the newest input
        parts += [w[:, :, ::-1].transpose(2, 1, 0), get(f"blocks.{i}.conv.bias", (c,))]
        parts += [get(f"blocks.{i}.mix.weight", (c, c, 1))[:, :, 0].T, get(f"blocks.{i}.mix.bias", (c,))]
    parts += [get("head.weight", (c, c, 1))[:, :, 0].T, get("head.bias", (c,))]
    parts += [get("act.weight", (config.n_outputs, c, 1))[:, :, 0].T, get("act.bias", (config.n_outputs,))]
    if config.n_posture:
        parts += [
            get("pos.weight", (config.n_posture, c, 1))[:, :, 0].T,
            get("pos.bias", (config.n_posture,)),
        ]
    return np.ascontiguousarray(np.concatenate([np.ravel(p) for p in parts]), np.float32)


@numba.njit(cache=True, fastmath=True, nogil=True)
def _axpy(z, w, v):
    """``z += w * v`` over contiguous vectors (vectorised by LLVM)."""
    for o in range(z.size):
        z[o] += w[o] * v


@numba.njit(cache=True, fastmath=True, nogil=True)
def _load(dst, src, start):
    """``dst[:] = src[start : start + dst.size]`` as a loop.

    A loop, not a slice assignment: numba builds the shape-mismatch error
    message of a slice assignment from string kernels that take seconds to
    compile on a first run.
    """
    for o in range(dst.size):
        dst[o] = src[start + o]


@numba.njit(cache=True, fastmath=True, nogil=True)
def _store(dst, start, src):
    """``dst[start : start + src.size] = src`` as a loop (see :func:`_load`)."""
    for o in range(src.size):
        dst[start + o] = src[o]


@numba.njit(cache=True, fastmath=True, nogil=True)
def _matvec_acc(z, params, p, x, n_out):
    """``z += W^T x`` where ``W`` is ``(len(x), n_out)`` row-major at ``params[p:]``."""
    for i in range(x.size):
        v = x[i]
        if v != 0.0:
            _axpy(z, params[p + i * n_out : p + (i + 1) * n_out], v)


@numba.njit(cache=True, fastmath=True, nogil=True)
def _input_layer(xrow, xn, h, params, n_in, c):
    """Normalise one input sample and apply the 1x1 input convolution into ``h``; return the next offset."""
    for i in range(n_in):
        xn[i] = (xrow[i] - params[i]) * params[n_in + i]
    p = 2 * n_in
    _load(h, params, p + n_in * c)
    _matvec_acc(h, params, p, xn, c)
    return p + n_in * c + c


@numba.njit(cache=True, fastmath=True, nogil=True)
def _residual_mix(h, z, params, p, c):
    """``h += b_mix + W_mix^T relu(z)`` for one residual block (``z`` is clipped in place); return the next offset."""
    for o in range(c):
        if z[o] < 0.0:
            z[o] = 0.0
    for o in range(c):
        h[o] += params[p + c * c + o]
    _matvec_acc(h, params, p, z, c)
    return p + c * c + c


@numba.njit(cache=True, fastmath=True, nogil=True)
def _heads(h, u, orow, params, p, c, n_out, n_pos):
    """Shared hidden layer on ``relu(h)`` (``h`` is clipped in place), then the activation and posture heads."""
    for o in range(c):
        if h[o] < 0.0:
            h[o] = 0.0
    _load(u, params, p + c * c)
    _matvec_acc(u, params, p, h, c)
    p += c * c + c
    for o in range(c):
        if u[o] < 0.0:
            u[o] = 0.0
    # Activation head (sigmoid) and posture head (linear).
    for o in range(n_out):
        acc = params[p + c * n_out + o]
        for i in range(c):
            acc += params[p + i * n_out + o] * u[i]
        orow[o] = 1.0 / (1.0 + np.exp(-acc))
    p += c * n_out + n_out
    for o in range(n_pos):
        acc = params[p + c * n_pos + o]
        for i in range(c):
            acc += params[p + i * n_pos + o] * u[i]
        orow[n_out + o] = acc


@numba.njit(cache=True, inline="always")
def _scratch(ring, c, n_in):  # pragma: no cover - numba
    """The scratch vectors after the ring buffers: four of ``c`` values (h, z, u, v), then ``n_in``."""
    s0 = ring.size - _N_SCRATCH * c - n_in
    return (
        ring[s0 : s0 + c],
        ring[s0 + c : s0 + 2 * c],
        ring[s0 + 2 * c : s0 + 3 * c],
        ring[s0 + 3 * c : s0 + 4 * c],
        ring[s0 + _N_SCRATCH * c : s0 + _N_SCRATCH * c + n_in],
    )


@numba.njit(cache=True, fastmath=True, nogil=True)
def _stream_kernel(x, out, params, ring, meta):
    """Push ``x`` (n, n_in) through the network, writing ``out`` (n, n_out + n_pos)."""
    n_in = meta[_N_IN]
    c = meta[_C]
    n_layers = meta[_L]
    k = meta[_K]
    dil0 = _HEADER
    pos0 = _HEADER + n_layers
    h, z, u, _, xn = _scratch(ring, c, n_in)
    for t in range(x.shape[0]):
        # Input normalisation and 1x1 input convolution: h = b_in + W_in^T ((x - mean) / std).
        p = _input_layer(x[t], xn, h, params, n_in, c)
        r = 0  # start of this layer's ring buffer
        for layer in range(n_layers):
            d = meta[dil0 + layer]
            rows = (k - 1) * d + 1
            cur = meta[pos0 + layer]
            if meta[_PRIMED] == 0:
                # First sample after reset: the past is this input held forever.
                for row in range(rows):
                    _store(ring, r + row * c, h)
            else:
                _store(ring, r + cur * c, h)
            # Dilated causal convolution over taps at lags 0, d, 2d, ...
            _load(z, params, p + k * c * c)
            for m in range(k):
                row = cur - m * d
                if row < 0:
                    row += rows
                _matvec_acc(z, params, p + m * c * c, ring[r + row * c : r + (row + 1) * c], c)
            p += k * c * c + c
            p = _residual_mix(h, z, params, p, c)
            cur += 1
            if cur == rows:
                cur = 0
            meta[pos0 + layer] = cur
            r += rows * c
        meta[_PRIMED] = 1
        _heads(h, u, out[t], params, p, c, meta[_N_OUT], meta[_N_POS])


@numba.njit(cache=True, fastmath=True, nogil=True)
def _peek_kernel(x, phase, out, params, ring, meta):
    """Output for one hypothetical input ``x`` (n_in,) at ``phase`` of the next grid step; state untouched.

    The newest tap of every layer is the hypothetical sample's own state; a tap
    ``m * d`` grid steps older lies between the cached rows ``m * d - 1`` and
    ``m * d`` steps before the newest committed one and is interpolated
    linearly between them (``phase`` on the former). ``phase = 1`` reads the
    rows exactly: the output the next grid sample would have if it were ``x``.
    Only the scratch vectors are written, never a ring row or a position.
    """
    n_in = meta[_N_IN]
    c = meta[_C]
    n_layers = meta[_L]
    k = meta[_K]
    dil0 = _HEADER
    pos0 = _HEADER + n_layers
    h, z, u, v, xn = _scratch(ring, c, n_in)
    primed = meta[_PRIMED] != 0
    exact = phase >= 1.0
    q = 1.0 - phase
    p = _input_layer(x, xn, h, params, n_in, c)
    r = 0
    for layer in range(n_layers):
        d = meta[dil0 + layer]
        rows = (k - 1) * d + 1
        cur = meta[pos0 + layer]  # slot the next committed sample would take (holds the oldest row)
        _load(z, params, p + k * c * c)
        _matvec_acc(z, params, p, h, c)  # lag 0: the hypothetical sample itself
        for m in range(1, k):
            if not primed:  # nothing committed yet: the past is this input held (as the first sample)
                _matvec_acc(z, params, p + m * c * c, h, c)
                continue
            a = cur - m * d
            if a < 0:
                a += rows
            if exact:
                _matvec_acc(z, params, p + m * c * c, ring[r + a * c : r + (a + 1) * c], c)
                continue
            b = a - 1
            if b < 0:
                b += rows
            for o in range(c):
                v[o] = phase * ring[r + a * c + o] + q * ring[r + b * c + o]
            _matvec_acc(z, params, p + m * c * c, v, c)
        p += k * c * c + c
        p = _residual_mix(h, z, params, p, c)
        r += rows * c
    _heads(h, u, out, params, p, c, meta[_N_OUT], meta[_N_POS])


class StreamingNet:
    """Sample-by-sample inference of the activation network with per-layer cached state.

    Parameters
    ----------
    config : NetConfig
        Shape of the network.
    state : Mapping[str, ndarray]
        Weights in the torch layout (``ActivationNet.numpy_state()`` or a
        checkpoint's ``state``).

    Notes
    -----
    ``process`` accepts any number of samples (0, 1, odd, large); the result
    equals the offline pass over the concatenation of every block since
    ``reset()`` with replicate padding (max abs difference ~1e-6).
    """

    def __init__(self, config: NetConfig, state: Mapping[str, np.ndarray]) -> None:
        self.config = config
        self._params = pack_weights(config, state)
        c = config.channels
        rows = [(config.kernel - 1) * d + 1 for d in config.dilations]
        self._ring = np.zeros(sum(rows) * c + _N_SCRATCH * c + config.n_inputs, np.float32)
        self._meta = np.zeros(_HEADER + 2 * config.layers, np.int64)
        self._meta[:_HEADER] = (
            config.n_inputs, c, config.layers, config.kernel, config.n_outputs, config.n_posture, 0,
        )
        self._meta[_HEADER : _HEADER + config.layers] = config.dilations
        self._n_cols = config.n_outputs + config.n_posture
        self._empty = np.zeros((0, self._n_cols), np.float32)
        self.reset()

    @property
    def n_outputs(self) -> int:
        """Activation outputs per sample."""
        return self.config.n_outputs

    @property
    def n_posture(self) -> int:
        """Posture outputs per sample."""
        return self.config.n_posture

    @property
    def state_bytes(self) -> int:
        """Size of the cached state in bytes."""
        return int(self._ring.nbytes + self._meta.nbytes)

    def reset(self) -> None:
        """Forget the past: the next sample primes every layer's cache."""
        self._ring[:] = 0.0
        self._meta[_PRIMED] = 0
        self._meta[_HEADER + self.config.layers :] = 0

    def process_into(self, x: np.ndarray, out: np.ndarray) -> None:
        """Push samples and write the outputs into preallocated memory (no allocation).

        Parameters
        ----------
        x : ndarray, shape (n, n_inputs), float32, C-contiguous
            New input samples (raw units; the network normalises them).
        out : ndarray, shape (n, n_outputs + n_posture), float32, C-contiguous
            Receives the activations (first ``n_outputs`` columns) and angles.
        """
        _stream_kernel(x, out, self._params, self._ring, self._meta)

    @property
    def primed(self) -> bool:
        """Whether a sample has been pushed since :meth:`reset` (the caches hold a past)."""
        return bool(self._meta[_PRIMED])

    def peek_into(self, x: np.ndarray, out: np.ndarray, phase: float = 1.0) -> None:
        """Output for a hypothetical newest input, without committing it (no allocation).

        The caches, the ring positions and every later :meth:`process` result
        are unchanged: only the newest input differs from the committed past.

        Parameters
        ----------
        x : ndarray, shape (n_inputs,), float32, C-contiguous
            The hypothetical input sample (raw units).
        out : ndarray, shape (n_outputs + n_posture,), float32, C-contiguous
            Receives the activations (first ``n_outputs`` values) and angles.
        phase : float
            Where ``x`` lies between the newest committed grid sample (0) and
            the next one (1), in grid steps. ``1`` gives exactly what
            ``process(x[None])`` would output next. Below 1, every older tap of
            every layer is read at the same distance in time behind ``x`` as on
            the grid (``m * d`` steps), interpolated linearly between the two
            cached rows around it, so the output moves continuously from the
            newest committed output (``phase`` → 0 with ``x`` equal to that
            sample's input) to the next one (``phase`` = 1).

        Raises
        ------
        ValueError
            ``phase`` is outside [0, 1] or not finite.
        """
        if not 0.0 <= phase <= 1.0:
            raise ValueError(f"The argument 'phase' must be within [0, 1] grid steps. {phase!r} is invalid.")
        _peek_kernel(x, phase, out, self._params, self._ring, self._meta)

    def peek(self, x: np.ndarray, phase: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`peek_into`, returning new arrays ``(activation (n_outputs,), angles (n_posture,))``.

        Parameters
        ----------
        x : ndarray, shape (n_inputs,)
            The hypothetical input sample.
        phase : float
            Position of ``x`` in the next grid step (see :meth:`peek_into`).
        """
        x = np.ascontiguousarray(x, np.float32)
        if x.shape != (self.config.n_inputs,):
            raise ValueError(f"The input should have shape ({self.config.n_inputs},), {x.shape} is invalid.")
        out = np.empty(self._n_cols, np.float32)
        self.peek_into(x, out, float(phase))
        n = self.config.n_outputs
        return out[:n], out[n:]

    def process(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Push samples and return new arrays ``(activation (n, n_outputs), angles (n, n_posture))``.

        Parameters
        ----------
        x : ndarray, shape (n, n_inputs)
            New input samples; any ``n`` including 0.
        """
        x = np.ascontiguousarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.config.n_inputs:
            raise ValueError(
                f"The input should have shape (n_samples, {self.config.n_inputs}), {x.shape} is invalid."
            )
        out = np.empty((x.shape[0], self._n_cols), np.float32) if x.shape[0] else self._empty
        if x.shape[0]:
            _stream_kernel(x, out, self._params, self._ring, self._meta)
        n = self.config.n_outputs
        return out[:, :n], out[:, n:]


def offline_forward(config: NetConfig, state: Mapping[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole-sequence forward pass in numpy with replicate padding (reference for the streaming path).

    Parameters
    ----------
    config : NetConfig
        Shape of the network.
    state : Mapping[str, ndarray]
        Weights in the torch layout.
    x : ndarray, shape (n, n_inputs)
        The whole input sequence.

    Returns
    -------
    activation : ndarray, shape (n, n_outputs)
    angles : ndarray, shape (n, n_posture)
    """
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, config.n_outputs)), np.zeros((0, config.n_posture))
    pad = config.receptive_field - 1
    x = np.concatenate([np.repeat(x[:1], pad, axis=0), x])
    s = {k: np.asarray(v, np.float64) for k, v in state.items()}
    h = ((x - s["norm_mean"]) / s["norm_std"]) @ s["inp.weight"][:, :, 0].T + s["inp.bias"]
    for i, d in enumerate(config.dilations):
        w = s[f"blocks.{i}.conv.weight"]
        hp = np.concatenate([np.zeros(((config.kernel - 1) * d, h.shape[1])), h])
        z = np.full_like(h, 0.0) + s[f"blocks.{i}.conv.bias"]
        for j in range(config.kernel):
            z += hp[j * d : j * d + h.shape[0]] @ w[:, :, j].T
        h = h + np.maximum(z, 0.0) @ s[f"blocks.{i}.mix.weight"][:, :, 0].T + s[f"blocks.{i}.mix.bias"]
    u = np.maximum(np.maximum(h, 0.0) @ s["head.weight"][:, :, 0].T + s["head.bias"], 0.0)
    act = 1.0 / (1.0 + np.exp(-(u @ s["act.weight"][:, :, 0].T + s["act.bias"])))
    ang = u @ s["pos.weight"][:, :, 0].T + s["pos.bias"] if config.n_posture else np.zeros((len(u), 0))
    return act[pad:], ang[pad:]
