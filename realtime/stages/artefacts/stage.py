"""The artefact stage: noise and artefacts added to the engine's EMG, and its offline twin.

Components, each switched on by a non-zero amplitude in
:class:`~realtime.stages.artefacts.settings.ArtefactSettings` and each with its own
random stream (``SeedSequence(seed).spawn`` in a fixed order), are summed in
float64 and added to the EMG block:

====================  ==========================================================
``noise``             white amplifier/electrode noise, ``noise_uv`` RMS
``pink``              1/f noise, ``pink_uv`` RMS (``pink_min_hz`` to Nyquist)
``powerline``         50/60 Hz and harmonics, phase from the sample index
``wander``            baseline wander, ``wander_uv`` RMS below ``wander_hz``
``motion``            IMU-driven motion artefact (needs aux ``"imu"``)
``ecg``               ECG crosstalk, ``ecg_uv`` R wave at ``ecg_bpm``
====================  ==========================================================

Every component depends only on the sample index and on samples already
seen, so the stage gives the same output for any split of a run into blocks.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from realtime.core.block import Block
from realtime.core.checks import check_number, check_type
from realtime.core.contract import StreamFormat, check_format
from realtime.stages.artefacts.ecg import EcgCrosstalk
from realtime.stages.artefacts.motion import MotionArtefact
from realtime.stages.artefacts.noise import GaussianNoise, pink_sos, wander_sos
from realtime.stages.artefacts.powerline import Powerline
from realtime.stages.artefacts.settings import ArtefactSettings

COMPONENTS: tuple[str, ...] = ("noise", "pink", "powerline", "wander", "motion", "ecg")
"""Every component, in the order their seeds are spawned and their samples summed."""


class _Component(Protocol):
    def reset(self) -> None: ...

    def add(self, acc: np.ndarray, seq: int, imu: np.ndarray | None) -> None: ...


class ArtefactStage:
    """Adds noise and artefacts to EMG blocks.

    Parameters
    ----------
    settings : ArtefactSettings
        Which components, how strong, and the seed.
    fs : float
        EMG sampling rate (Hz).
    channels : tuple of str
        EMG channel labels (the blocks must carry these).

    Notes
    -----
    ``process(block)`` takes an EMG block ``(n, n_channels)`` float32 µV whose
    ``seq`` is the index of its first sample in the stream (blocks must follow
    each other without gaps) and, when motion artefacts are on, aux ``"imu"``
    ``(n, 6)`` on the same grid (NaN rows before the first IMU sample). It
    returns a new block with the same timestamps, ``seq``, labels and aux.
    """

    name = "artefacts"

    def __init__(self, settings: ArtefactSettings, fs: float, channels: tuple[str, ...]) -> None:
        check_type("settings", settings, ArtefactSettings, "an ArtefactSettings")
        check_number("fs", fs, 0.0, unit="Hz", lo_open=True)
        if not channels:
            raise ValueError("The argument 'channels' must name at least one EMG channel.")
        self.settings = settings
        self.fs = float(fs)
        self.channels = tuple(channels)
        self.components: dict[str, _Component] = self._build()
        self._next_seq: int | None = None
        self._acc = np.zeros((0, len(self.channels)))

    @property
    def input_format(self) -> StreamFormat:
        """EMG blocks with this stage's channels and rate; aux ``"imu"`` when motion artefacts are on."""
        aux = {"imu": 6} if "motion" in self.components else {}
        return StreamFormat(fs=self.fs, channels=self.channels, aux=aux)

    @property
    def output_format(self) -> StreamFormat:
        """The same channels and rate; the input's aux passed on."""
        return StreamFormat(fs=None, channels=None, passes_aux=True)

    def _build(self) -> dict[str, _Component]:
        s, fs, n_ch = self.settings, self.fs, len(self.channels)
        seeds = dict(zip(COMPONENTS, np.random.SeedSequence(s.seed).spawn(len(COMPONENTS))))
        built: dict[str, _Component] = {}
        for name in s.enabled:
            if name == "noise":
                built[name] = GaussianNoise(s.noise_uv, n_ch, seeds[name])
            elif name == "pink":
                built[name] = GaussianNoise(s.pink_uv, n_ch, seeds[name], pink_sos(fs, s.pink_min_hz), fs,
                                            s.pink_min_hz)
            elif name == "powerline":
                built[name] = Powerline(s.powerline_hz, s.powerline_uv, s.powerline_harmonics, fs, n_ch,
                                        seeds[name])
            elif name == "wander":
                built[name] = GaussianNoise(s.wander_uv, n_ch, seeds[name], wander_sos(fs, s.wander_hz), fs,
                                            s.wander_hz / math.sqrt(2.0))
            elif name == "motion":
                built[name] = MotionArtefact(s.motion_uv, s.motion_band_hz, fs, n_ch, seeds[name])
            elif name == "ecg":
                built[name] = EcgCrosstalk(s.ecg_uv, s.ecg_bpm, s.ecg_hrv, fs, n_ch, seeds[name])
        return built

    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Restart every component at its seed and preallocate for blocks of ``max_block`` samples."""
        if check_format(fmt, "ArtefactStage") is not None:
            why = self.input_format.mismatch(fmt)
            if why is not None:
                raise ValueError(f"The artefact stage expects {self.input_format.describe()}: {why}.")
        if not (isinstance(max_block, (int, np.integer)) and max_block >= 1):
            raise ValueError(f"The argument 'max_block' must be a positive integer. {max_block!r} is invalid.")
        for component in self.components.values():
            component.reset()
        self._acc = np.zeros((int(max_block), len(self.channels)))
        self._next_seq = None

    def process(self, block: Block) -> Block:
        """Return ``block`` plus the enabled artefacts (see the class notes)."""
        if block.channels != self.channels:
            raise ValueError(
                f"The artefact stage was built for channels {self.channels}; the block has {block.channels}. "
                "Build ArtefactStage with the engine's channel labels."
            )
        if not math.isclose(block.fs, self.fs, rel_tol=1e-9):
            raise ValueError(f"The block's fs must be the stage's {self.fs} Hz, {block.fs} is invalid.")
        if self._next_seq is not None and block.seq != self._next_seq:
            raise ValueError(
                f"Blocks must follow each other without gaps: expected seq {self._next_seq}, got {block.seq}. "
                "Call ArtefactStage.reset() to start a new run."
            )
        n = block.n_samples
        self._next_seq = block.seq + n
        if n == 0 or not self.components:
            return block
        if n > self._acc.shape[0]:
            self._acc = np.zeros((n, len(self.channels)))
        acc = self._acc[:n]
        acc[:] = 0.0
        imu = block.aux.get("imu")
        for component in self.components.values():
            component.add(acc, block.seq, imu)
        out = (block.data + acc).astype(np.float32)
        # The input block is valid and ``out`` has its shape, float32, C-contiguous: no validation needed.
        return Block.trusted(out, block.timestamps, block.fs, block.seq, block.channels, block.aux)


def add_artefacts(
    emg: np.ndarray,
    settings: ArtefactSettings,
    fs: float,
    imu: np.ndarray | None = None,
    channels: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Add noise and artefacts to a whole record in one pass (the offline twin of :class:`ArtefactStage`).

    Parameters
    ----------
    emg : ndarray, shape (T, n_channels)
        Clean EMG (µV), sample 0 being the first sample of the run.
    settings : ArtefactSettings
        Components and seed.
    fs : float
        Sampling rate (Hz).
    imu : ndarray, shape (T, 6) | None
        IMU on the EMG grid (needed when ``settings.motion_uv > 0``).
    channels : tuple of str | None
        Channel labels (``EMG1`` ... by default).

    Returns
    -------
    ndarray, shape (T, n_channels), float32
        Equal to streaming the record through :class:`ArtefactStage` in any blocks.
    """
    x = np.ascontiguousarray(emg, np.float32)
    if x.ndim != 2:
        raise ValueError(f"The argument 'emg' should be (n_samples, n_channels), {x.shape} is invalid.")
    n, n_ch = x.shape
    labels = tuple(channels) if channels is not None else tuple(f"EMG{k + 1}" for k in range(n_ch))
    aux = {}
    if imu is not None:
        imu = np.asarray(imu)
        if imu.shape[:1] != (n,) or imu.ndim != 2 or imu.shape[1] < 3:
            raise ValueError(f"The argument 'imu' should be ({n}, 6) (the IMU on the EMG grid), {imu.shape} is invalid.")
        aux["imu"] = imu
    stage = ArtefactStage(settings, fs, labels)
    stage.reset(max_block=max(n, 1))
    return stage.process(Block(x, np.arange(n) / float(fs), float(fs), 0, labels, aux)).data
