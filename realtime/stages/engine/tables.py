"""MUAP tables: one waveform per unit and posture node, quantised to int16, built once and cached.

For each unit and each node of its muscle's posture grid
(:class:`~realtime.stages.engine.posture.PostureGrid`; a single node in ``"static"``
mode), the volume conductor gives a ``(L, C)`` MUAP. A unit's tables are then

- **truncated** after the last sample at which any channel of any of its
  postures exceeds ``muap_floor`` of the unit's peak (the rest of the window
  is only the decaying tail), so ``rows[u] <= L``;
- **quantised** to int16 with one float32 scale per unit (µV per step; the
  error is below 1/65534 of the unit's peak), which halves the memory
  traffic of the overlap-add, the engine's bottleneck.

The membrane currents of a unit depend on its fibre length but not on its
rotation around the limb, so they are computed once per length and reused
for every rotation node. Built tables are stored in the disk cache
(:mod:`realtime.stages.engine.cache`) under a hash of all their inputs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from realtime.core.logs import logger
from realtime.stages.engine.cache import load_arrays, save_arrays, table_key
from realtime.stages.engine.muscles import MUSCLE_GEOMETRY, SKIN_FAT_THICKNESS
from realtime.stages.engine.posture import (
    MAX_LENGTH,
    MIN_LENGTH,
    NEUTRAL_POSTURE,
    PostureGrid,
    build_grid,
    muscle_pose,
    pose_units,
)
from realtime.stages.engine.volume_conductor import (
    LAYER_GRID_SIZE,
    LAYER_GRID_STEP,
    LAYER_MAX_DEPTH,
    LAYER_TAPER,
    MIN_INTERNAL_RATE,
    NODE_SPACING,
    Tissue,
    axial_distances,
    decimated_currents,
    electrode_points,
    surface_potentials,
)

if TYPE_CHECKING:
    from realtime.stages.engine.layout import Layout
    from realtime.stages.engine.muaps import UnitGeometry
    from realtime.stages.engine.pool import PoolParameters
    from realtime.stages.engine.settings import EngineSettings

TABLES_VERSION = "muap-tables-5"
"""Bump when the volume conductor or the table format changes: old cache files are then ignored."""

Q_MAX = 32767.0

PAD = 16
"""Each table's flat length is padded with zeros to a multiple of this (one AVX-512 vector of
float32), so the overlap-add loop has no scalar remainder."""


U_ROWS, U_OFFSET, U_MUSCLE, U_SEG = 0, 1, 2, 3
"""Columns of :attr:`MuapTables.unit_info`."""


@dataclass(frozen=True, eq=False)
class MuapTables:
    """The quantised MUAP tables of every unit at every posture node.

    Attributes
    ----------
    data : ndarray of int16, 1-D
        All tables back to back. Unit ``u``'s table at node ``k`` of its
        muscle's grid starts at ``offset[u] + k * seg[u]``: ``rows[u] * C``
        values, time-major ``(rows[u], C)``, then zeros up to ``seg[u]``.
    scale : ndarray of float32, shape (n_units,)
        Microvolts per int16 step of each unit's tables.
    unit_info : ndarray of int64, shape (n_units, 4)
        Per unit (columns :data:`U_ROWS`, :data:`U_OFFSET`, :data:`U_MUSCLE`,
        :data:`U_SEG`): rows kept, start of its first table in ``data``,
        muscle index, padded length of each of its tables (a multiple of :data:`PAD`).
    grid : PostureGrid
        The posture nodes of each muscle.
    n_samples : int
        Full table length ``L`` (rows beyond ``rows[u]`` are zero).
    n_channels : int
        Channels ``C``.
    """

    data: np.ndarray
    scale: np.ndarray
    unit_info: np.ndarray
    grid: PostureGrid
    n_samples: int
    n_channels: int

    @property
    def n_units(self) -> int:
        """Number of motor units."""
        return int(self.unit_info.shape[0])

    @property
    def n_tables(self) -> int:
        """Number of (unit, posture node) tables."""
        return int(self.grid.n_nodes[self.unit_info[:, U_MUSCLE]].sum())

    @property
    def rows(self) -> np.ndarray:
        """Samples kept per unit (after truncation)."""
        return self.unit_info[:, U_ROWS]

    @property
    def nbytes(self) -> int:
        """Memory held by the tables (bytes)."""
        return int(self.data.nbytes + self.scale.nbytes + self.unit_info.nbytes)

    def table(self, u: int, node: int) -> np.ndarray:
        """Unit ``u``'s MUAP at node ``node`` of its grid, ``(L, C)`` float64 µV (zero-padded)."""
        rows, off, m, seg = (int(v) for v in self.unit_info[u])
        if not 0 <= node < int(self.grid.n_nodes[m]):
            raise ValueError(
                f"The argument 'node' must be within [0, {int(self.grid.n_nodes[m]) - 1}] for unit {u}, "
                f"{node} is invalid."
            )
        start = off + node * seg
        out = np.zeros((self.n_samples, self.n_channels))
        values = self.data[start : start + rows * self.n_channels]
        out[:rows] = values.reshape(rows, self.n_channels) * float(self.scale[u])
        return out

    def blended(self, u: int, posture: np.ndarray | tuple[float, ...]) -> np.ndarray:
        """Unit ``u``'s MUAP at ``posture`` as the engine blends it, ``(L, C)`` float64 µV."""
        m = int(self.unit_info[u, U_MUSCLE])
        vert, w = self.grid.weights(m, np.asarray(posture, np.float32))
        out = np.zeros((self.n_samples, self.n_channels))
        for k, wk in zip(vert, w):
            if wk != 0.0:
                out += float(wk) * self.table(u, int(k))
        return out

    def at(self, posture: np.ndarray | tuple[float, ...] = NEUTRAL_POSTURE) -> np.ndarray:
        """Every unit's MUAP at ``posture``, ``(n_units, L, C)`` float32 µV."""
        return np.stack([self.blended(u, posture) for u in range(self.n_units)]).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays to store in the cache."""
        g = self.grid
        return {
            "data": self.data,
            "scale": self.scale,
            "unit_info": self.unit_info,
            "grid_int": np.stack([g.joint, g.size, g.stride]),
            "grid_float": np.stack([g.low, g.step]),
            "grid_nodes": g.n_nodes,
            "shape": np.array([self.n_samples, self.n_channels], np.int64),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> MuapTables:
        """Inverse of :meth:`to_arrays`."""
        gi, gf = a["grid_int"], a["grid_float"]
        grid = PostureGrid(gi[0], gf[0], gf[1], gi[1], gi[2], a["grid_nodes"])
        return cls(
            a["data"], a["scale"], a["unit_info"], grid, int(a["shape"][0]), int(a["shape"][1])
        )


def tables_key(
    settings: EngineSettings,
    layout: Layout,
    geometry: UnitGeometry,
    grid: PostureGrid,
    tissue: Tissue,
) -> str:
    """Cache key of the tables of ``settings`` (hash of every input of :func:`build_tables`)."""
    parts = {
        "version": TABLES_VERSION,
        "pad": PAD,
        "layout": _rounded(layout.to_dict()),
        "fs": settings.fs,
        "n_samples": settings.muap_samples,
        "muap_floor": settings.muap_floor,
        "muscles": list(settings.muscles),
        "geometry": {m: dataclasses.asdict(MUSCLE_GEOMETRY[m]) for m in settings.muscles},
        "neutral": list(NEUTRAL_POSTURE),
        "length_bounds": [MIN_LENGTH, MAX_LENGTH],
        "skin_fat": SKIN_FAT_THICKNESS,
        "tissue": dataclasses.asdict(tissue),
        "node_spacing": NODE_SPACING,
        "internal_rate": MIN_INTERNAL_RATE,
        "layer_grid": [LAYER_GRID_STEP, LAYER_GRID_SIZE, LAYER_MAX_DEPTH, list(LAYER_TAPER)],
    }
    arrays = [
        grid.joint, grid.low, grid.step, grid.size, grid.stride, grid.n_nodes,
        geometry.centre_yz, geometry.depth, geometry.territory_radius, geometry.n_fibres,
        geometry.velocity, geometry.x_iz, geometry.x_proximal, geometry.x_distal,
    ]  # fmt: skip
    return table_key(parts, arrays)


def _rounded(d: dict) -> dict:
    """Layout values rounded to 1e-12 (and -0 made 0), so a layout read back from a file keeps its key."""
    return {
        k: (np.round(np.asarray(v, np.float64), 12) + 0.0).tolist()
        if k in ("electrode_x", "electrode_angle", "montage")
        else v
        for k, v in d.items()
    }


def load_or_build_tables(
    settings: EngineSettings,
    layout: Layout,
    pool: PoolParameters,
    geometry: UnitGeometry,
    tissue: Tissue | None = None,
    use_cache: bool = True,
) -> tuple[MuapTables, str]:
    """The tables of ``settings``: from the disk cache if there, else built (and stored).

    Returns
    -------
    tables : MuapTables
    source : str
        ``"cache"`` or ``"built"``.
    """
    tissue = tissue or Tissue(model=settings.volume_conductor)
    grid = build_grid(settings.muscles, settings.posture_points, settings.muaps == "dynamic")
    key = tables_key(settings, layout, geometry, grid, tissue) if use_cache else ""
    if use_cache:
        arrays = load_arrays(key)
        if arrays is not None:
            try:
                tables = MuapTables.from_arrays(arrays)
            except (KeyError, IndexError, ValueError) as exc:
                logger.warning("MUAP cache: entry %s is malformed (%s); rebuilding", key[:12], exc)
            else:
                if tables.n_units == pool.n_units and tables.n_channels == layout.n_channels:
                    logger.info(
                        "MUAP tables: loaded %s tables from the cache (%s)",
                        tables.n_tables,
                        key[:12],
                    )
                    return tables, "cache"
    tables = build_tables(settings, layout, pool, geometry, grid, tissue)
    if use_cache:
        path = save_arrays(key, tables.to_arrays())
        if path is not None:
            logger.info("MUAP tables: stored in %s", path)
    return tables, "built"


def build_tables(
    settings: EngineSettings,
    layout: Layout,
    pool: PoolParameters,
    geometry: UnitGeometry,
    grid: PostureGrid,
    tissue: Tissue | None = None,
) -> MuapTables:
    """Compute, truncate and quantise the tables of every unit at every node of ``grid``."""
    tissue = tissue or Tissue(model=settings.volume_conductor)
    t_start = time.perf_counter()
    fs, n_l, n_c = settings.fs, settings.muap_samples, layout.n_channels
    points, p_w = electrode_points(
        layout.electrode_x, layout.electrode_angle, layout.electrode_radius, layout.radius
    )
    montage, e_radius = layout.montage, layout.electrode_radius
    n_u = pool.n_units
    unit_info = np.zeros((n_u, 4), np.int64)
    scale = np.zeros(n_u, np.float32)
    chunks: list[np.ndarray] = []
    n_data = 0
    for m, name in enumerate(settings.muscles):
        s0, s1 = int(pool.starts[m]), int(pool.starts[m + 1])
        sl = slice(s0, s1)
        nodes = grid.nodes(m)
        if int(grid.n_nodes[m]) == 1 and settings.muaps == "static":
            poses = [None]
            posed = [_slice_geometry(geometry, sl)]
        else:
            poses = [muscle_pose(name, q) for q in nodes]
            posed = [pose_units(geometry, sl, name, p, layout.radius) for p in poses]
        groups: dict[float, list[int]] = {}
        for k, p in enumerate(poses):
            groups.setdefault(1.0 if p is None else p.length, []).append(k)
        for i in range(s1 - s0):
            f = np.empty((len(posed), n_l, n_c))
            for idx in groups.values():
                cur, x_nodes = decimated_currents(posed[idx[0]].bundle(i), fs, n_l, tissue)
                dx2 = axial_distances(x_nodes, points, tissue.sigma_trans)
                for k in idx:
                    b = posed[k].bundle(i)
                    f[k] = surface_potentials(
                        cur,
                        x_nodes,
                        b.fibre_yz,
                        b.fibre_w,
                        points,
                        p_w,
                        montage,
                        e_radius,
                        tissue,
                        dx2,
                    )
            rows, q, scale[s0 + i] = quantise(f, settings.muap_floor)
            seg = -(-rows * n_c // PAD) * PAD
            padded = np.zeros((len(posed), seg), np.int16)
            padded[:, : rows * n_c] = q.reshape(len(posed), -1)
            unit_info[s0 + i] = (rows, n_data, m, seg)
            chunks.append(padded.reshape(-1))
            n_data += padded.size
        logger.info(
            "MUAP tables: %s x %s posture nodes done (%.1f s)",
            name,
            len(posed),
            time.perf_counter() - t_start,
        )
    return MuapTables(np.concatenate(chunks), scale, unit_info, grid, n_l, n_c)


def quantise(f: np.ndarray, floor: float) -> tuple[int, np.ndarray, float]:
    """Truncate a unit's tables ``(n_nodes, L, C)`` below ``floor`` of its peak and quantise to int16.

    Returns
    -------
    rows : int
        Samples kept (at least 1).
    q : ndarray of int16, shape (n_nodes, rows, C)
    scale : float
        Microvolts per step (the unit's peak / 32767; 1 for an all-zero unit).
    """
    mag = np.abs(f).max(axis=(0, 2))  # per sample, over nodes and channels
    peak = float(mag.max()) if mag.size else 0.0
    above = np.flatnonzero(mag > floor * peak) if peak > 0.0 else np.zeros(0, np.int64)
    rows = int(above[-1]) + 1 if above.size else 1
    scale = float(np.float32(peak / Q_MAX)) if peak > 0.0 else 1.0
    q = np.clip(np.rint(f[:, :rows] / scale), -Q_MAX, Q_MAX).astype(np.int16)
    return rows, q, scale


def _slice_geometry(geometry: UnitGeometry, sl: slice) -> UnitGeometry:
    fields = {
        f.name: (None if getattr(geometry, f.name) is None else getattr(geometry, f.name)[sl])
        for f in dataclasses.fields(geometry)
    }
    return type(geometry)(**fields)
