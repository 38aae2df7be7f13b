"""The clock boundary: what the source side computed, put onto the EMG grid.

Everything before this point runs at the source's times (IMU samples as they
arrive, activation rows at the model's rate); everything after it runs on the
EMG grid ``t0 + k / fs``, paced by the runner's clock. Each tick the runner
``push``-es the activation block (and the IMU block it came from) and
``pull``-s exactly the EMG-grid samples due; the grid keeps running when the
source stalls (held values, then a decay of the activations to rest).

What crosses, all causally (:class:`~realtime.stages.resample.CausalResampler`):

- the activations (the block's data), **under the labels they came with**:
  the columns keep their names, so a stage downstream that picks muscles by
  name gets the right ones whatever order the activation stage uses;
- the posture (aux ``"angles"``), held when the input stops;
- the source's IMU (aux ``"imu"``, NaN before the first sample), only when a
  later stage needs it (motion artefacts);
- provenance: ``events["provenance"]`` of each pulled block names the newest
  IMU sample behind its last sample, from the activation rows' own
  ``aux["imu_seq"]``/``aux["imu_time"]`` (the activation stage says which
  sample produced each row). An EMG sample at time ``t`` is interpolated
  between the newest row at or before ``t`` and the row after it; the
  provenance is that of the right neighbour when its weight is non-zero,
  else of the left one (or of the newest row when ``t`` is after every row).
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from realtime.core.anatomy import JOINTS
from realtime.core.block import Block
from realtime.core.checks import check_number
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS
from realtime.stages.resample import CausalResampler

PROVENANCE_AUX: dict[str, int] = {"imu_seq": 0, "imu_time": 0}
"""Row-aligned provenance every activation stage attaches (see :mod:`realtime.core.contract`)."""

_NO_PROVENANCE = np.array([np.nan, -1.0, np.nan])


class GridResampler:
    """Put activation blocks (with their posture, IMU and provenance) onto the EMG grid.

    Parameters
    ----------
    fs : float
        Rate of the EMG grid in Hz.
    stale_after : float
        Seconds after the newest activation row beyond which the activations
        decay to rest (the source has stopped: a device was unplugged).
    decay_tau : float
        Time constant of that decay (s).
    imu : bool
        Also put the source's IMU on the grid (aux ``"imu"``).
    """

    name = "engine-grid resampler"

    def __init__(self, fs: float, stale_after: float = 0.25, decay_tau: float = 0.2, imu: bool = False) -> None:
        self.fs = check_number("fs", fs, 0.0, math.inf, "Hz", lo_open=True)
        if not stale_after > 0:  # inf allowed: hold for ever
            raise ValueError(f"The argument 'stale_after' must be > 0 seconds. {stale_after!r} is invalid.")
        self.stale_after = float(stale_after)
        self.decay_tau = check_number("decay_tau", decay_tau, 0.0, math.inf, "s", lo_open=True)
        self.imu = bool(imu)
        self._labels: tuple[str, ...] | None = None
        self._act: CausalResampler | None = None
        self._angles = CausalResampler(JOINTS, self.fs, stale_after=np.inf)
        self._imu = CausalResampler(
            IMU_CHANNELS, self.fs, initial=np.full(len(IMU_CHANNELS), np.nan), stale_after=np.inf
        )
        self._prov_t = np.zeros(0)
        self._prov = np.zeros((0, 3))
        self._provenance = _NO_PROVENANCE.copy()

    @property
    def input_format(self) -> StreamFormat:
        """Activation rows at any rate, any labels, with their provenance."""
        return StreamFormat(fs=None, channels=None, aux=PROVENANCE_AUX)

    @property
    def output_format(self) -> StreamFormat:
        """The input's labels at the EMG rate, with the posture (and the IMU) on the same grid."""
        aux = {"angles": len(JOINTS)}
        if self.imu:
            aux["imu"] = len(IMU_CHANNELS)
        return StreamFormat(fs=self.fs, channels=None, aux=aux)

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64, t0: float = 0.0) -> None:
        """Start a new grid whose sample 0 is at ``t0`` for activation blocks of format ``fmt``.

        Parameters
        ----------
        fmt : StreamFormat
            The activation stage's (resolved) output format; its labels are the output's.
        max_block : int
            Unused (the grid holds what it needs); part of the stage contract.
        t0 : float
            Time of EMG sample 0 on the runner's clock.
        """
        if fmt is None or fmt.channels is None:
            raise ValueError(
                "GridResampler.reset() needs the activation stage's output format with its channel labels; "
                "pass fmt=activation_stage.output_format (resolved)."
            )
        if self._act is None or fmt.channels != self._labels:
            self._labels = fmt.channels
            self._act = CausalResampler(fmt.channels, self.fs, stale_after=self.stale_after, decay_tau=self.decay_tau)
        self._act.reset(t0)
        self._angles.reset(t0)
        self._imu.reset(t0)
        self._prov_t = np.full(1, -np.inf)
        self._prov = _NO_PROVENANCE[None, :].copy()
        self._provenance = _NO_PROVENANCE.copy()

    @property
    def newest_provenance(self) -> np.ndarray:
        """``(imu_time, imu_seq, imu_read_time)`` of the last pulled block's last sample (read-only view)."""
        view = self._provenance.view()
        view.setflags(write=False)
        return view

    def push(self, act: Block, imu: Block, read_time: float) -> None:
        """Add the activation rows of a tick and the IMU block they were computed from.

        Parameters
        ----------
        act : Block
            The activation stage's output (its ``aux["imu_seq"]``/``aux["imu_time"]`` name the
            IMU sample behind each row; ``aux["angles"]`` optional).
        imu : Block
            The IMU block read this tick.
        read_time : float
            When the runner read ``imu`` (clock of the runner).
        """
        if self._act is None:
            raise RuntimeError("The grid resampler is not reset. Use GridResampler.reset(fmt, t0=...) first.")
        if act.channels is not self._labels and act.channels != self._labels:
            raise ValueError(
                f"The activation block's channels {act.channels} are not the ones this grid was reset for "
                f"({self._labels}). Reset the grid with the activation stage's output format."
            )
        if self.imu and imu.n_samples:
            self._imu.push(imu)
        if not act.n_samples:
            return
        t_held = self._prov_t[-1]
        self._act.push(act)
        aux = act.aux
        angles = aux.get("angles")
        if angles is not None:
            # Rows of the activation block (already valid): no validation needed.
            self._angles.push(Block.trusted(np.ascontiguousarray(angles, np.float32), act.timestamps, act.fs, act.seq,
                                            JOINTS))
        t = act.timestamps
        if t.size == 1:  # the usual live case: one row, no array of flags to build
            if not t[0] > t_held:  # the resampler drops rows that are not newer than what it holds
                return
            rows = np.empty((1, 3))
            rows[0, 0] = aux["imu_time"][0]
            rows[0, 1] = aux["imu_seq"][0]
        else:
            keep = t > t_held
            if not keep.any():
                return
            t = t[keep]
            rows = np.empty((t.size, 3))
            rows[:, 0] = aux["imu_time"][keep]
            rows[:, 1] = aux["imu_seq"][keep]
        rows[:, 2] = read_time
        self._prov_t = np.concatenate((self._prov_t, t))
        self._prov = np.concatenate((self._prov, rows))

    def pull(self, n: int) -> Block:
        """Return the next ``n`` samples of the EMG grid (activations, posture, IMU, provenance)."""
        grid = self._act.pull(n)
        aux = {"angles": self._angles.pull(n).data}
        if self.imu:
            aux["imu"] = self._imu.pull(n).data
        if n:
            self._update_provenance(float(grid.timestamps[-1]))
        return Block.trusted(grid.data, grid.timestamps, grid.fs, grid.seq, grid.channels, MappingProxyType(aux),
                             MappingProxyType({"provenance": self._provenance.copy()}))

    def _update_provenance(self, t_last: float) -> None:
        t = self._prov_t
        k = int(np.searchsorted(t, t_last, side="right")) - 1  # row 0 is the -inf sentinel: k >= 0
        # The next row weighs in only between two real rows (before the first row the grid gives its
        # initial value: the sentinel row, no provenance).
        c = k + 1 if (k > 0 or t[0] > -np.inf) and k + 1 < t.size and t[k] < t_last else k
        self._provenance[:] = self._prov[c]
        if k > 0:  # row k stays: it is the left neighbour of every later sample
            self._prov_t = t[k:]
            self._prov = self._prov[k:]


__all__ = ["PROVENANCE_AUX", "GridResampler"]
