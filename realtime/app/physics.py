"""Calibrate the envelope gain model from the engine, and build the stage that drives the engine from any checkpoint.

See :mod:`realtime.stages.model.inversion` for the method. The calibration
runs the engine offline (:func:`realtime.stages.engine.simulate_emg`, the
run's own settings: layout, rate, seed, units, so the same motor units and
MUAPs) with one muscle at a time held at each activation level, and measures
each channel's mean envelope with the filters of the training targets
(:func:`realtime.app.training.data.emg_envelope`). Cost: about 60 s of
simulated EMG per muscle set, well under a second.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from realtime.app.training.data import emg_envelope
from realtime.core.logs import logger
from realtime.stages.engine import EngineSettings, get_layout, simulate_emg
from realtime.stages.model.inversion import EnvelopeInversionStage, GainModel

LEVELS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 1.0)
"""Activation levels of the calibration."""
HOLD_S = 1.5
"""Seconds each level is held."""
SETTLE_S = 0.4
"""Seconds discarded at the start and end of each hold (envelope filter transients)."""


def calibrate_gains(settings: EngineSettings, levels: tuple[float, ...] = LEVELS) -> GainModel:
    """The :class:`GainModel` of the engine with ``settings`` (MUAPs at the neutral posture).

    Parameters
    ----------
    settings : EngineSettings
        The run's engine settings (``muaps`` is forced to ``static``: the neutral posture).
    levels : tuple of float
        Activation levels from 0 to 1.
    """
    t0 = time.perf_counter()
    settings = replace(settings, muaps="static")
    fs = settings.fs
    hold, settle = int(round(HOLD_S * fs)), int(round(SETTLE_S * fs))
    n_l, n_k = len(levels), settings.n_muscles
    layout = get_layout(settings.layout)
    power = np.zeros((n_l, layout.n_channels, n_k))
    for k in range(n_k):
        act = np.zeros((n_l * hold, n_k), np.float32)
        for li, a in enumerate(levels):
            act[li * hold : (li + 1) * hold, k] = a
        env = emg_envelope(simulate_emg(act, settings), fs)
        for li in range(n_l):
            seg = env[li * hold + settle : (li + 1) * hold - settle]
            power[li, :, k] = seg.mean(axis=0) ** 2
    logger.info("physics: gain model of %s (%s muscles, %s levels) calibrated in %.2f s", layout.name, n_k, n_l,
                time.perf_counter() - t0)
    return GainModel(layout.name, layout.channels, tuple(settings.muscles), np.asarray(levels), power)


def envelope_stage(model: object, settings: EngineSettings) -> EnvelopeInversionStage:
    """Wrap a network stage whose checkpoint predicts channel envelopes so that it drives the engine's muscles.

    The checkpoint's ``layout`` must be the engine's (the run's ``--layout``):
    its outputs are that layout's channels.

    Raises
    ------
    ValueError
        The checkpoint was trained on another layout, or its output names are not the layout's channels.
    """
    ck = model.checkpoint
    layout = get_layout(settings.layout)
    if ck.layout and ck.layout != layout.name:
        raise ValueError(
            f"The checkpoint's outputs are envelopes of layout {ck.layout!r}, the run uses {layout.name!r}: "
            f"run with --layout {ck.layout}."
        )
    return EnvelopeInversionStage(model, calibrate_gains(settings))


__all__ = ["LEVELS", "calibrate_gains", "envelope_stage"]
