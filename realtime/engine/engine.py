"""The EMG engine stage: muscle activations in, multichannel surface EMG out.

Per block, one numba call advances every motor unit sample by sample
(:func:`~realtime.engine.pool.advance_pool`), adds the MUAP of each discharge
into a ring buffer (:func:`~realtime.engine.overlap_add.add_discharges`) and
moves the finished samples out (:func:`~realtime.engine.overlap_add.read_block`).
The per-unit state and the ring carry everything across blocks, so any
split of the input into blocks gives bit-identical output.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from realtime.block import Block
from realtime.engine.layouts import Layout, get_layout
from realtime.engine.muaps import UnitGeometry, build_muap_tables, sample_geometry
from realtime.engine.overlap_add import add_discharges, read_block
from realtime.engine.pool import PoolParameters, advance_pool, build_pools, initial_state
from realtime.engine.settings import EngineSettings
from realtime.logs import logger


@dataclass(frozen=True, eq=False)
class Discharges:
    """Motor-unit discharges, one entry per discharge, in time order.

    Attributes
    ----------
    sample : ndarray of int64
        Index of the discharge sample in the stream (``Block.seq`` based);
        the MUAP starts at that sample.
    muscle : ndarray of int32
        Index into ``EngineSettings.muscles``.
    unit : ndarray of int32
        Rank of the unit within its muscle (0 = first recruited).
    """

    sample: np.ndarray
    muscle: np.ndarray
    unit: np.ndarray

    def __len__(self) -> int:
        return int(self.sample.size)


@njit(cache=True)
def _engine_block(
    act,
    cols,
    starts,
    table,
    state,
    n_active,
    rng,
    cv,
    inv_fs,
    spk_sample,
    spk_unit,
    ring,
    pos,
    muaps_flat,
    out,
):  # pragma: no cover - numba
    n_spk = advance_pool(
        act, cols, starts, table, state, n_active, rng, cv, inv_fs, spk_sample, spk_unit
    )
    add_discharges(ring, pos, spk_sample, spk_unit, n_spk, muaps_flat)
    new_pos = read_block(ring, pos, out)
    return n_spk, new_pos


class EmgEngine:
    """Motor-unit pools and MUAP overlap-add as a pipeline stage.

    Parameters
    ----------
    settings : EngineSettings | None
        Configuration; defaults of :class:`EngineSettings` if ``None``.

    Notes
    -----
    ``process`` takes an activation block ``(n, n_columns)`` float32 at
    ``settings.fs`` whose channel labels include every name in
    ``settings.muscles`` (extra columns are ignored) and returns an EMG block
    ``(n, n_channels)`` float32 in microvolts with the same timestamps and
    ``seq`` and the layout's channel labels. After each call,
    :attr:`discharges` lists the discharges of that block.

    Examples
    --------
    >>> engine = EmgEngine(EngineSettings(layout="armband8", fs=2000.0))
    >>> engine.reset(max_block=40)
    >>> emg = engine.process(activation_block)  # doctest: +SKIP
    """

    def __init__(self, settings: EngineSettings | None = None) -> None:
        if settings is None:
            settings = EngineSettings()
        if not isinstance(settings, EngineSettings):
            raise TypeError(
                f"The argument 'settings' must be an EngineSettings, {type(settings).__name__} is invalid."
            )
        self.settings = settings
        self.layout: Layout = get_layout(settings.layout)
        self.pool: PoolParameters = build_pools(settings)
        self.geometry: UnitGeometry = sample_geometry(self.pool, settings, self.layout.radius)
        self._muaps: np.ndarray | None = None
        self._max_block = 0
        self.timings: dict[str, float] = {}
        self._cols_key: tuple[str, ...] | None = None
        self._cols = np.arange(settings.n_muscles, dtype=np.int64)

    # ------------------------------------------------------------------ properties
    @property
    def fs(self) -> float:
        """Sampling rate of input and output (Hz)."""
        return float(self.settings.fs)

    @property
    def channels(self) -> tuple[str, ...]:
        """Labels of the EMG channels (the layout's)."""
        return self.layout.channels

    @property
    def n_channels(self) -> int:
        """Number of EMG channels."""
        return self.layout.n_channels

    @property
    def muaps(self) -> np.ndarray:
        """MUAP tables ``(n_units, L, n_channels)`` float32 µV (computed on first use)."""
        if self._muaps is None:
            t0 = time.perf_counter()
            self._muaps = build_muap_tables(
                self.geometry, self.layout, self.fs, self.settings.muap_samples
            )
            self._muaps.setflags(write=False)
            self.timings["muap_tables_s"] = time.perf_counter() - t0
            logger.info(
                "%s: built %s MUAP tables %s in %.2f s",
                type(self).__name__,
                self.pool.n_units,
                self._muaps.shape[1:],
                self.timings["muap_tables_s"],
            )
        return self._muaps

    @property
    def discharges(self) -> Discharges:
        """Discharges of the last processed block (empty before the first block)."""
        if self._max_block == 0:
            empty = np.zeros(0, np.int32)
            return Discharges(np.zeros(0, np.int64), empty, empty)
        n = self._n_spk
        units = self._spk_unit[:n]
        return Discharges(
            sample=self._spk_seq + self._spk_sample[:n].astype(np.int64),
            muscle=self.pool.muscle_index[units],
            unit=self.pool.unit_index[units],
        )

    # ------------------------------------------------------------------ stage API
    def reset(self, max_block: int = 64) -> None:
        """Allocate buffers for blocks of up to ``max_block`` samples and restart from rest.

        Builds the MUAP tables on the first call, and compiles (or loads from
        the numba cache) the kernel, so the first ``process`` call is fast.
        Afterwards every unit is de-recruited, the random streams are back at
        the seed and the overlap-add buffer is empty. Larger blocks are still
        accepted later (buffers grow, with an INFO log).

        Parameters
        ----------
        max_block : int
            Largest expected block length in samples (>= 1).
        """
        if (
            not isinstance(max_block, (int, np.integer))
            or isinstance(max_block, bool)
            or max_block < 1
        ):
            raise ValueError(
                f"The argument 'max_block' must be a strictly positive integer. {max_block!r} is invalid."
            )
        muaps = self.muaps
        n_u, n_l, n_c = muaps.shape
        self._muaps_flat = muaps.reshape(n_u, n_l * n_c)
        self._state, self._n_active, self._rng = initial_state(self.pool, self.settings.seed)
        self._table = self.pool.table
        self._starts = self.pool.starts
        self._allocate(int(max_block))
        self._ring[:] = 0.0
        self._pos = 0
        self._n_spk = 0
        self._spk_seq = 0
        t0 = time.perf_counter()
        self._run(
            np.zeros((0, max(int(self._cols.max()) + 1, 1)), np.float32),
            np.zeros((0, n_c), np.float32),
        )
        self.timings["jit_s"] = time.perf_counter() - t0

    def process(self, block: Block) -> Block:
        """Turn an activation block into an EMG block (see the class notes)."""
        if self._max_block == 0:
            raise RuntimeError(
                "EmgEngine.process() was called before reset(). Use EmgEngine.reset(max_block) first."
            )
        if not math.isclose(block.fs, self.settings.fs, rel_tol=1e-9):
            raise ValueError(
                f"The activation block's fs must equal the engine's fs ({self.settings.fs} Hz), "
                f"{block.fs} is invalid. Resample the activations or set EngineSettings(fs=...)."
            )
        if block.channels != self._cols_key:
            self._map_columns(block.channels)
        n = block.n_samples
        if n > self._max_block:
            logger.info(
                "%s: block of %s samples > max_block %s; growing buffers",
                type(self).__name__,
                n,
                self._max_block,
            )
            self._grow(n)
        out = np.empty((n, self.n_channels), np.float32)
        self._spk_seq = block.seq
        self._run(block.data, out)
        return Block(out, block.timestamps, block.fs, block.seq, self.channels)

    # ------------------------------------------------------------------ internals
    def _run(self, act: np.ndarray, out: np.ndarray) -> None:
        n_spk, self._pos = _engine_block(
            act,
            self._cols,
            self._starts,
            self._table,
            self._state,
            self._n_active,
            self._rng,
            self.pool.isi_cv,
            1.0 / self.settings.fs,
            self._spk_sample,
            self._spk_unit,
            self._ring,
            self._pos,
            self._muaps_flat,
            out,
        )
        self._n_spk = int(n_spk)

    def _map_columns(self, channels: tuple[str, ...]) -> None:
        missing = [m for m in self.settings.muscles if m not in channels]
        if missing:
            raise ValueError(
                f"The activation block must have a channel per engine muscle; {missing} missing from "
                f"{channels}. Label the activation columns with realtime.anatomy.MUSCLES names."
            )
        self._cols = np.array([channels.index(m) for m in self.settings.muscles], dtype=np.int64)
        self._cols_key = tuple(channels)

    def _allocate(self, max_block: int) -> None:
        n_l, n_c = self.settings.muap_samples, self.n_channels
        self._ring = np.zeros((max_block + n_l - 1, n_c), np.float32)
        cap = self.pool.max_spikes(max_block, self.settings.fs)
        self._spk_sample = np.zeros(cap, np.int32)
        self._spk_unit = np.zeros(cap, np.int32)
        self._max_block = max_block

    def _grow(self, n: int) -> None:
        n_l = self.settings.muap_samples
        old, pos = self._ring, self._pos
        rows = (pos + np.arange(n_l - 1)) % old.shape[0]
        tail = old[rows].copy()
        self._allocate(n)
        self._ring[: n_l - 1] = tail
        self._pos = 0


def simulate_emg(
    activation: np.ndarray,
    settings: EngineSettings | None = None,
    *,
    return_discharges: bool = False,
) -> np.ndarray | tuple[np.ndarray, Discharges]:
    """Run the engine offline over a whole activation record in one pass.

    Parameters
    ----------
    activation : ndarray, shape (T, n_muscles)
        Drive of each muscle of ``settings.muscles`` (columns in that order), 0-1, at ``settings.fs``.
    settings : EngineSettings | None
        Engine configuration (defaults if ``None``).
    return_discharges : bool
        Also return every discharge.

    Returns
    -------
    emg : ndarray, shape (T, n_channels), float32
        Surface EMG in microvolts; equal to the streaming engine's output for any block split.
    discharges : Discharges
        Only if ``return_discharges``.
    """
    settings = settings or EngineSettings()
    act = np.asarray(activation)
    if act.ndim != 2 or act.shape[1] != settings.n_muscles:
        raise ValueError(
            f"The argument 'activation' should be (n_samples, {settings.n_muscles}) "
            f"(one column per muscle of {settings.muscles}), {act.shape} is invalid."
        )
    act = np.ascontiguousarray(act, dtype=np.float32)
    n = act.shape[0]
    engine = EmgEngine(settings)
    engine.reset(max(n, 1))
    block = Block(
        act, np.arange(n, dtype=np.float64) / settings.fs, settings.fs, 0, settings.muscles
    )
    emg = engine.process(block).data
    if return_discharges:
        return emg, engine.discharges
    return emg
