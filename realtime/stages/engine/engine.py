"""The EMG engine stage: muscle activations (and posture) in, multichannel surface EMG out.

Per block, one numba call advances every motor unit sample by sample
(:func:`~realtime.stages.engine.pool.advance_pool`), adds the posture-blended MUAP of
each discharge into an accumulator (:func:`~realtime.stages.engine.overlap_add.add_discharges`)
and moves the finished samples out (:func:`~realtime.stages.engine.overlap_add.read_block`).
The per-unit state and the accumulator carry everything across blocks, so
any split of the input into blocks gives bit-identical output.

At 2 kHz in blocks of 4 samples ``process`` runs 500 times a second, so its
Python side is kept to the checks that can fail (rate, labels, block length,
angles) and builds its output with :meth:`Block.trusted`.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit, types

from realtime.core.anatomy import JOINTS
from realtime.core.block import NO_EVENTS, Block
from realtime.core.contract import StreamFormat, check_format
from realtime.core.logs import logger
from realtime.stages.engine.layout import Layout
from realtime.stages.engine.layouts import get_layout
from realtime.stages.engine.muaps import UnitGeometry, sample_geometry
from realtime.stages.engine.overlap_add import add_discharges, read_block
from realtime.stages.engine.pointer_table import PointerTable, slot_1d, slot_2d, slot_3d
from realtime.stages.engine.pool import PoolParameters, advance_pool, build_pools, initial_state
from realtime.stages.engine.posture import MAX_AXES, NEUTRAL_ANGLES, NEUTRAL_POSTURE
from realtime.stages.engine.settings import EngineSettings
from realtime.stages.engine.tables import PAD, MuapTables, load_or_build_tables

_FLOAT32 = np.dtype(np.float32)
_N_JOINTS = len(JOINTS)
_ANGLE_STRIDES = (_N_JOINTS * 4, 4)


class Discharges:
    """Motor-unit discharges, one entry per discharge, in time order.

    The three fields are the rows of one ``(3, n)`` int64 array, so the engine
    builds a block's discharges with one allocation (it does so up to 500
    times a second).

    Attributes
    ----------
    sample : ndarray of int64
        Index of the discharge sample in the stream (``Block.seq`` based): the
        instant the motor neuron's action potential reaches the neuromuscular
        junction, the same for every layout (it depends on the seed and the
        drive only). Sample 0 of every MUAP table is this instant; where the
        potential becomes visible on a channel depends on the layout and
        the posture (:meth:`EmgEngine.muap_onsets`).
    muscle : ndarray of int64
        Index into ``EngineSettings.muscles``.
    unit : ndarray of int64
        Rank of the unit within its muscle (0 = first recruited).
    """

    __slots__ = ("rows",)

    def __init__(self, sample: np.ndarray, muscle: np.ndarray, unit: np.ndarray) -> None:
        self.rows = np.stack([np.asarray(a, np.int64).reshape(-1) for a in (sample, muscle, unit)])

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> Discharges:
        """Wrap a ``(3, n)`` int64 array of (sample, muscle, unit) rows without copying."""
        made = object.__new__(cls)
        made.rows = rows
        return made

    @property
    def sample(self) -> np.ndarray:
        return self.rows[0]

    @property
    def muscle(self) -> np.ndarray:
        return self.rows[1]

    @property
    def unit(self) -> np.ndarray:
        return self.rows[2]

    def __len__(self) -> int:
        return int(self.rows.shape[1])

    @classmethod
    def empty(cls) -> Discharges:
        """No discharges."""
        return cls.from_rows(np.zeros((3, 0), np.int64))

    @classmethod
    def concatenate(cls, parts: list[Discharges]) -> Discharges:
        """The discharges of several consecutive blocks, in order."""
        if not parts:
            return cls.empty()
        return cls.from_rows(np.concatenate([p.rows for p in parts], axis=1))


@njit(cache=True)
def _discharge_rows(seq, spk_sample, spk_unit, n, muscle_index, unit_index):  # pragma: no cover - numba
    """The first ``n`` discharges of a block as (sample, muscle, unit) rows, in one new array."""
    rows = np.empty((3, n), np.int64)
    for i in range(n):
        u = spk_unit[i]
        rows[0, i] = seq + spk_sample[i]
        rows[1, i] = muscle_index[u]
        rows[2, i] = unit_index[u]
    return rows


# Slots of the kernel's state in its pointer table: the contract between EmgEngine._pack_args
# (which checks each array's dtype and dimensions) and _engine_block.
(
    S_COLS, S_STARTS, S_KTAB, S_REMAINING, S_N_ACTIVE, S_RNG, S_CV, S_SPK_SAMPLE, S_SPK_UNIT,
    S_UNIT_INFO, S_GRID_INT, S_GRID_FLOAT, S_NEUTRAL, S_DATA, S_SCALE, S_W_NODE, S_W_VALUE, S_ACC,
    S_N_TAIL,
) = range(19)  # fmt: skip


@njit(cache=True)
def _engine_block(act, angles, out, state):  # pragma: no cover - numba
    f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64
    spk_sample = slot_1d(state, S_SPK_SAMPLE, i32)
    spk_unit = slot_1d(state, S_SPK_UNIT, i32)
    acc = slot_1d(state, S_ACC, f32)
    n_spk = advance_pool(
        act,
        slot_1d(state, S_COLS, i64),
        slot_1d(state, S_STARTS, i64),
        slot_2d(state, S_KTAB, f32),
        slot_1d(state, S_REMAINING, f32),
        slot_1d(state, S_N_ACTIVE, i64),
        slot_1d(state, S_RNG, np.uint64),
        slot_1d(state, S_CV, f64)[0],
        spk_sample,
        spk_unit,
    )
    add_discharges(
        acc,
        out.shape[1],
        spk_sample,
        spk_unit,
        n_spk,
        angles,
        slot_2d(state, S_UNIT_INFO, i64),
        slot_3d(state, S_GRID_INT, i64),
        slot_3d(state, S_GRID_FLOAT, f64),
        slot_1d(state, S_NEUTRAL, f64),
        slot_1d(state, S_DATA, np.int16),
        slot_1d(state, S_SCALE, f32),
        slot_2d(state, S_W_NODE, i64),
        slot_2d(state, S_W_VALUE, f32),
    )
    read_block(acc, out, slot_1d(state, S_N_TAIL, i64)[0])
    return n_spk


def compile_kernels() -> None:
    """Compile the engine's block kernel now (or load it from the numba cache); no tables needed.

    The kernel reads every table through a pointer table, so its signature does
    not depend on the layout or the tables: a caller can compile it while the
    MUAP tables are being built (:meth:`realtime.app.runner.Pipeline.warm_up`),
    instead of after. The types are those :meth:`EmgEngine.process` passes
    (C-contiguous float32 activation, angles and output, int64 pointer table),
    so the live call finds this compilation and never compiles a second one.
    """
    f32 = types.float32[:, ::1]
    _engine_block.compile((f32, f32, f32, types.int64[:, ::1]))


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
    ``seq`` and the layout's channel labels. With ``muaps="dynamic"`` the
    block's ``aux["angles"]`` (``(n, 3)`` rad, :data:`realtime.core.anatomy.JOINTS`
    order) sets the posture of each sample; without it, or for NaN angles,
    the posture is :data:`~realtime.stages.engine.posture.NEUTRAL_POSTURE`. The
    output block passes the input's ``aux`` on, and its ``events["discharges"]``
    (:class:`Discharges`) lists the discharges of the block (absent when there
    are none).

    Examples
    --------
    >>> engine = EmgEngine(EngineSettings(layout="armband8", fs=2000.0, muaps="dynamic"))
    >>> engine.reset(max_block=40)
    >>> emg = engine.process(activation_block)  # doctest: +SKIP
    """

    name = "EMG engine"

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
        self.timings: dict[str, float] = {}
        self.tables_source = ""
        self._tables: MuapTables | None = None
        self._muaps: np.ndarray | None = None
        self._max_block = 0
        self._capacity = -1
        self._n_spk = 0
        self._spk_seq = 0
        self._dynamic = settings.muaps == "dynamic"
        self._fs = float(settings.fs)
        self._ktab = self.pool.kernel_table(settings.fs)
        self._cols_key: tuple[str, ...] | None = None
        self._cols = np.arange(settings.n_muscles, dtype=np.int64)
        self._neutral = NEUTRAL_ANGLES
        self._n_channels = self.layout.n_channels
        self._channels = self.layout.channels

    # ------------------------------------------------------------------ properties
    @property
    def fs(self) -> float:
        """Sampling rate of input and output (Hz)."""
        return self._fs

    @property
    def channels(self) -> tuple[str, ...]:
        """Labels of the EMG channels (the layout's)."""
        return self.layout.channels

    @property
    def n_channels(self) -> int:
        """Number of EMG channels."""
        return self.layout.n_channels

    @property
    def input_format(self) -> StreamFormat:
        """One activation column per engine muscle, picked by name, at the engine's rate."""
        return StreamFormat(fs=self._fs, channels=self.settings.muscles, by_name=True)

    @property
    def output_format(self) -> StreamFormat:
        """The layout's EMG channels (µV) at the engine's rate; the input's aux passed on."""
        return StreamFormat(fs=self._fs, channels=self._channels, passes_aux=True)

    @property
    def tables(self) -> MuapTables:
        """The quantised MUAP tables (loaded from the disk cache or built on first use)."""
        if self._tables is None:
            t0 = time.perf_counter()
            self._tables, self.tables_source = load_or_build_tables(
                self.settings, self.layout, self.pool, self.geometry, use_cache=self.settings.cache
            )
            self.timings["muap_tables_s"] = time.perf_counter() - t0
            logger.info(
                "%s: %s MUAP tables (%s units, %s MB) %s in %.2f s",
                type(self).__name__,
                self._tables.n_tables,
                self.pool.n_units,
                round(self._tables.nbytes / 2**20, 1),
                self.tables_source,
                self.timings["muap_tables_s"],
            )
        return self._tables

    @property
    def table_mb(self) -> float:
        """Memory of the MUAP tables (MiB)."""
        return self.tables.nbytes / 2**20

    @property
    def muaps(self) -> np.ndarray:
        """Each unit's MUAP at the neutral posture, ``(n_units, L, n_channels)`` float32 µV, read-only.

        Exactly what a discharge adds in ``"static"`` mode (and in ``"dynamic"``
        mode at the neutral posture).
        """
        if self._muaps is None:
            self._muaps = self.tables.at(NEUTRAL_POSTURE)
            self._muaps.setflags(write=False)
        return self._muaps

    def muaps_at(self, posture: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Each unit's MUAP at ``posture`` (rad, ``JOINTS`` order) as the engine blends it, ``(n_units, L, C)``.

        In ``"static"`` mode this is :attr:`muaps` for any posture.
        """
        q = np.asarray(posture, np.float64)
        if q.shape != (len(JOINTS),):
            raise ValueError(
                f"The argument 'posture' should have shape ({len(JOINTS)},) (angles of {JOINTS}), "
                f"{q.shape} is invalid."
            )
        return self.tables.at(q) if self._dynamic else self.muaps

    def muap_onsets(self, fraction: float = 0.05, posture: np.ndarray | tuple[float, float, float] | None = None
                    ) -> np.ndarray:
        """Samples from each discharge to its MUAP's onset on each channel, ``(n_units, C)`` int64.

        The onset is the first sample at which the MUAP's magnitude reaches
        ``fraction`` of its peak on that channel (``-1`` for a channel where it
        is zero). A discharge of unit ``u`` at ``Discharges.sample`` ``s``
        starts to show on channel ``c`` at ``s + muap_onsets()[u, c]``.

        Parameters
        ----------
        fraction : float
            Onset threshold, a fraction of each channel's peak in (0, 1).
        posture : array-like of 3 floats | None
            Joint angles (rad) for dynamic MUAPs; ``None``: the neutral posture.
        """
        if not 0.0 < float(fraction) < 1.0:
            raise ValueError(f"The argument 'fraction' must be within (0, 1), {fraction!r} is invalid.")
        m = np.abs(self.muaps if posture is None else self.muaps_at(posture))  # (U, L, C)
        peak = m.max(axis=1)
        above = m >= float(fraction) * peak[:, None, :]
        onset = above.argmax(axis=1).astype(np.int64)
        onset[peak <= 0.0] = -1
        return onset

    def _discharges(self) -> Discharges:
        """Discharges of the block just processed (``_n_spk`` of them, at least one)."""
        pool = self.pool
        return Discharges.from_rows(
            _discharge_rows(
                self._spk_seq, self._spk_sample, self._spk_unit, self._n_spk,
                pool.muscle_index, pool.unit_index,
            )
        )  # fmt: skip

    # ------------------------------------------------------------------ stage API
    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Allocate buffers for blocks of up to ``max_block`` samples and restart from rest.

        Loads or builds the MUAP tables on the first call, and compiles (or
        loads from the numba cache) the kernel, so the first ``process`` call
        is fast. Afterwards every unit is de-recruited, the random streams are
        back at the seed and the overlap-add buffer is empty. Larger blocks are
        still accepted later (buffers grow, with an INFO log).

        Parameters
        ----------
        fmt : StreamFormat | None
            Format of the activation blocks to come: its rate must be the
            engine's and its labels must include every engine muscle (the
            columns are then picked by name). ``None``: checked on each block.
        max_block : int
            Largest expected block length in samples (>= 1).
        """
        if check_format(fmt, "EmgEngine") is not None:
            why = self.input_format.mismatch(fmt)
            if why is not None:
                raise ValueError(
                    f"The EMG engine expects {self.input_format.describe()}; the format given has "
                    f"{fmt.describe()}: {why}."
                )
        if (
            not isinstance(max_block, (int, np.integer))
            or isinstance(max_block, bool)
            or max_block < 1
        ):
            raise ValueError(
                f"The argument 'max_block' must be a strictly positive integer. {max_block!r} is invalid."
            )
        tables = self.tables
        g = tables.grid
        self._unit_info = tables.unit_info
        self._grid_int, self._grid_float = g.kernel_arrays()
        self._remaining, self._n_active, self._rng = initial_state(self.pool, self.settings.seed)
        self._allocate(int(max_block))
        self._acc[:] = 0.0
        self._n_spk = 0
        self._spk_seq = 0
        if fmt is not None and fmt.channels is not None and fmt.channels != self._cols_key:
            self._map_columns(fmt.channels)
        self._pack_args()
        t0 = time.perf_counter()
        self._run(
            np.zeros((0, max(int(self._cols.max()) + 1, 1)), np.float32),
            self._neutral_angles,
            np.zeros((0, self.n_channels), np.float32),
        )
        self.timings["jit_s"] = time.perf_counter() - t0

    def process(self, block: Block) -> Block:
        """Turn an activation block into an EMG block (see the class notes)."""
        # Runs 500 times a second: every line here is a check that can fail or work that must be done.
        fs = block.fs
        if fs != self._fs and not math.isclose(fs, self._fs, rel_tol=1e-9):
            raise ValueError(
                f"The activation block's fs must equal the engine's fs ({self.settings.fs} Hz), "
                f"{fs} is invalid. Resample the activations or set EngineSettings(fs=...)."
            )
        channels = block.channels
        if channels is not self._cols_key and channels != self._cols_key:
            self._map_columns(channels)
        data = block.data
        n = len(data)
        if n > self._capacity:  # capacity is -1 before the first reset: _grow raises
            self._grow(n)
        angles = self._neutral_angles
        if self._dynamic:
            given = block.aux.get("angles")
            if given is not None:
                # Strides (12, 4) and n * 3 values: C-contiguous (n, 3). Anything else: checked, converted.
                if (
                    given.dtype is _FLOAT32
                    and given.strides == _ANGLE_STRIDES
                    and len(given) == n
                    and given.size == n * _N_JOINTS
                ):
                    angles = given
                else:
                    angles = self._checked_angles(given, n)
        out = np.empty((n, self._n_channels), _FLOAT32)
        seq = block.seq
        self._spk_seq = seq
        self._n_spk = _engine_block(data, angles, out, self._state_table)
        events = {"discharges": self._discharges()} if self._n_spk else NO_EVENTS
        # Every field is valid by construction: a fresh C-contiguous float32 array with one column
        # per label; timestamps, fs, seq and aux from the validated input block.
        return Block.trusted(out, block.timestamps, fs, seq, self._channels, block.aux, events)

    # ------------------------------------------------------------------ internals
    def _run(self, act: np.ndarray, angles: np.ndarray, out: np.ndarray) -> None:
        self._n_spk = _engine_block(act, angles, out, self._state_table)

    def _pack_args(self) -> None:
        """Build the kernel's pointer table (in reset, grow and column mapping only).

        The table holds the state arrays themselves (the kernel writes into
        them in place), so Python reads what the kernel wrote; the arrays are
        only ever replaced here, together with the table.
        """
        t = self._tables
        i64, f32, f64 = np.int64, np.float32, np.float64
        # Scalars go in as 1-element arrays (the table keeps every array alive).
        cv = np.array([self.pool.isi_cv], f64)
        n_tail = np.array([self._n_tail], i64)
        state = [  # slot, array, dtype and dimensions as _engine_block reads them
            (S_COLS, self._cols, i64, 1),
            (S_STARTS, self.pool.starts, i64, 1),
            (S_KTAB, self._ktab, f32, 2),
            (S_REMAINING, self._remaining, f32, 1),
            (S_N_ACTIVE, self._n_active, i64, 1),
            (S_RNG, self._rng, np.uint64, 1),
            (S_CV, cv, f64, 1),
            (S_SPK_SAMPLE, self._spk_sample, np.int32, 1),
            (S_SPK_UNIT, self._spk_unit, np.int32, 1),
            (S_UNIT_INFO, self._unit_info, i64, 2),
            (S_GRID_INT, self._grid_int, i64, 3),
            (S_GRID_FLOAT, self._grid_float, f64, 3),
            (S_NEUTRAL, self._neutral, f64, 1),
            (S_DATA, t.data, np.int16, 1),
            (S_SCALE, t.scale, f32, 1),
            (S_W_NODE, self._w_node, i64, 2),
            (S_W_VALUE, self._w_value, f32, 2),
            (S_ACC, self._acc, f32, 1),
            (S_N_TAIL, n_tail, i64, 1),
        ]
        if [slot for slot, *_ in state] != list(range(len(state))):  # pragma: no cover
            raise AssertionError("EmgEngine._pack_args: pointer-table slots out of order")
        self._state = PointerTable([(a, dtype, ndim) for _, a, dtype, ndim in state])
        self._state_table = self._state.table

    @staticmethod
    def _checked_angles(angles: np.ndarray, n: int) -> np.ndarray:
        """Angles of a block that are not already C-contiguous float32 ``(n, 3)``: checked, converted."""
        if angles.shape != (n, len(JOINTS)):
            raise ValueError(
                f"The block's aux 'angles' should be (n_samples, {len(JOINTS)}) = ({n}, {len(JOINTS)}) "
                f"(joint angles of {JOINTS} in rad), {angles.shape} is invalid."
            )
        if angles.dtype != np.float32 or not angles.flags.c_contiguous:
            angles = np.ascontiguousarray(angles, np.float32)
        return angles

    def _map_columns(self, channels: tuple[str, ...]) -> None:
        missing = [m for m in self.settings.muscles if m not in channels]
        if missing:
            raise ValueError(
                f"The activation block must have a channel per engine muscle; {missing} missing from "
                f"{channels}. Label the activation columns with realtime.core.anatomy.MUSCLES names."
            )
        self._cols = np.array([channels.index(m) for m in self.settings.muscles], dtype=np.int64)
        self._cols_key = channels
        if self._max_block:
            self._pack_args()

    def _allocate(self, max_block: int) -> None:
        n_l, n_c = self.settings.muap_samples, self.n_channels
        self._n_tail = n_l - 1
        self._acc = np.zeros((max_block + n_l - 1) * n_c + PAD, np.float32)
        cap = self.pool.max_spikes(max_block, self.settings.fs)
        self._spk_sample = np.zeros(cap, np.int32)
        self._spk_unit = np.zeros(cap, np.int32)
        n_m = self.settings.n_muscles
        self._w_node = np.zeros((max_block * n_m, MAX_AXES + 2), np.int64)
        self._w_value = np.zeros((max_block * n_m, MAX_AXES + 1), np.float32)
        self._neutral_angles = np.tile(self._neutral.astype(np.float32), (max_block, 1))
        self._max_block = max_block
        self._capacity = max_block

    def _grow(self, n: int) -> None:
        if self._max_block == 0:
            raise RuntimeError(
                "EmgEngine.process() was called before reset(). Use EmgEngine.reset(max_block=...) first."
            )
        logger.info(
            "%s: block of %s samples > max_block %s; growing buffers",
            type(self).__name__,
            n,
            self._max_block,
        )
        size = self._n_tail * self.n_channels
        tail = self._acc[:size].copy()
        self._allocate(n)
        self._acc[:size] = tail
        self._pack_args()


def simulate_emg(
    activation: np.ndarray,
    settings: EngineSettings | None = None,
    *,
    angles: np.ndarray | None = None,
    return_discharges: bool = False,
) -> np.ndarray | tuple[np.ndarray, Discharges]:
    """Run the engine offline over a whole activation record in one pass.

    Parameters
    ----------
    activation : ndarray, shape (T, n_muscles)
        Drive of each muscle of ``settings.muscles`` (columns in that order), 0-1, at ``settings.fs``.
    settings : EngineSettings | None
        Engine configuration (defaults if ``None``).
    angles : ndarray, shape (T, 3) | None
        Joint angles (rad, :data:`realtime.core.anatomy.JOINTS` order) for dynamic
        MUAPs; ``None`` keeps the neutral posture.
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
    aux = {}
    if angles is not None:
        ang = np.ascontiguousarray(angles, dtype=np.float32)
        if ang.shape != (n, len(JOINTS)):
            raise ValueError(
                f"The argument 'angles' should be (n_samples, {len(JOINTS)}) = ({n}, {len(JOINTS)}), "
                f"{ang.shape} is invalid."
            )
        aux["angles"] = ang
    engine = EmgEngine(settings)
    engine.reset(max_block=max(n, 1))
    block = Block(
        act, np.arange(n, dtype=np.float64) / settings.fs, settings.fs, 0, settings.muscles, aux
    )
    out = engine.process(block)
    if return_discharges:
        return out.data, out.events.get("discharges", Discharges.empty())
    return out.data
