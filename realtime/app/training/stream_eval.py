"""``stream_r``: replay a held-out recording's IMU through the streaming simulator and compare EMG envelopes.

The end-to-end test of physics in the loop (issue 15): the recording's own IMU
samples, at their own times, go through exactly what ``launch.py run --model``
runs — the input guard, the activation stage (network, plus the envelope
inversion for a checkpoint of channel envelopes), the engine-grid resampler,
the engine and the default artefacts (1 µV white noise) — paced by a simulated
clock so it runs faster than real time. Each simulated EMG channel's envelope
(the training targets' filters and scales) is put on the model grid and
compared with the recording's own EMG envelope: Pearson r per channel, pooled
over the held-out recordings and median within recordings, the same
definitions as the offline scores (:mod:`realtime.app.training.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from realtime.app.physics import envelope_stage
from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings
from realtime.app.training.data import Recording, emg_envelope
from realtime.app.training.evaluate import MIN_STD, pearson
from realtime.core.block import Block
from realtime.core.contract import StreamFormat
from realtime.core.units import EMG_FS_MAX, EMG_FS_MIN, IMU_CHANNELS
from realtime.stages.artefacts import ArtefactSettings, ArtefactStage
from realtime.stages.engine import EmgEngine, EngineSettings, get_layout
from realtime.stages.model.checkpoint import Checkpoint
from realtime.stages.model.resample import resample_imu
from realtime.stages.model.stage import ModelActivationStage


class SimClock:
    """A clock that advances only when the runner sleeps (runs as fast as the CPU allows)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = float(t)

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        """Advance the clock by ``dt`` seconds."""
        if dt > 0:
            self.t += dt


class RecordingSource:
    """Play a recording's IMU samples at their own times on ``clock`` (the replay source's rule)."""

    def __init__(self, rec: Recording, clock: Callable[[], float]) -> None:
        self._t = np.asarray(rec.t_imu, np.float64) - float(rec.t_imu[0])
        self._x = np.ascontiguousarray(rec.imu, np.float32)
        self._clock = clock
        self.fs = float(rec.imu_fs)
        self.running = False
        self.t_start = 0.0
        self._k = 0

    @property
    def output_format(self) -> StreamFormat:
        """The six IMU channels at the recording's rate."""
        return StreamFormat(fs=self.fs, channels=IMU_CHANNELS)

    def start(self) -> None:
        """Sample 0 is due now."""
        self.running, self.t_start, self._k = True, float(self._clock()), 0

    def stop(self) -> None:
        """Stop playing."""
        self.running = False

    def read(self) -> Block:
        """Every sample due and not yet returned."""
        end = int(np.searchsorted(self._t, self._clock() - self.t_start, side="right"))
        k0, self._k = self._k, max(end, self._k)
        return Block(self._x[k0:self._k], self.t_start + self._t[k0:self._k], self.fs, k0, IMU_CHANNELS)


def stream_emg(activation_stage: object, rec: Recording, engine: EngineSettings,
               block_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Stream ``rec``'s IMU through the simulator; return the EMG ``(t, data)`` on the recording's clock."""
    clock = SimClock()
    source = RecordingSource(rec, clock)
    blocks: list[Block] = []

    class Sink:
        def write(self, block: Block) -> None:
            blocks.append(Block(block.data.copy(), block.timestamps.copy(), block.fs, block.seq, block.channels))

    eng = EmgEngine(engine)
    art = ArtefactStage(ArtefactSettings(seed=engine.seed), engine.fs, eng.channels)
    duration = float(rec.t_imu[-1] - rec.t_imu[0])
    pipe = Pipeline(source, activation_stage, [eng, art], PipelineOutputs(emg=Sink()),
                    PipelineSettings(fs=engine.fs, block_size=block_size, duration=duration),
                    clock=clock, sleep=clock.sleep)
    pipe.run()
    t = np.concatenate([b.timestamps for b in blocks]) - source.t_start + float(rec.t_imu[0])
    return t, np.concatenate([b.data for b in blocks])


def stream_scores(ckpt: Checkpoint, recordings: list[Recording], layout: str, seed: int = 0,
                  make_stage: Callable[[ModelActivationStage, EngineSettings], object] | None = None,
                  ) -> dict[str, Any]:
    """``stream_r`` per output channel over ``recordings`` (see module docs).

    Parameters
    ----------
    ckpt : Checkpoint
        The model; its outputs must be EMG channels of ``layout`` (matched by name).
    recordings : list of Recording
        Held-out recordings (raw IMU and EMG).
    layout : str
        Engine layout the recordings' channels belong to.
    seed : int
        Engine and noise seed.
    make_stage : callable(model_stage, engine_settings) | None
        Builds the activation stage (default: :func:`realtime.app.physics.envelope_stage` for a
        checkpoint of envelopes, the network alone for one of activations).

    Returns
    -------
    dict
        ``{"channels": {name: {"stream_r", "stream_r_within"}}, "median_stream_r",
        "median_stream_r_within", "recordings": [...], "layout": ...}``.
    """
    lay = get_layout(layout)
    names = [n for n in ckpt.outputs if n in lay.channels]
    if not names:
        raise ValueError(f"The checkpoint's outputs {list(ckpt.outputs)} are not channels of layout {layout!r}.")
    scale = dict(zip(ckpt.outputs, ckpt.target_scale)) if ckpt.target_scale else {}
    preds: dict[str, list[np.ndarray]] = {n: [] for n in names}
    targets: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for rec in recordings:
        fs = float(min(max(rec.emg_fs, EMG_FS_MIN), EMG_FS_MAX))
        fs = 2000.0 if fs > 1000.0 else 1000.0
        settings = EngineSettings(layout=layout, fs=fs, seed=seed)
        model = ModelActivationStage(ckpt)
        if make_stage is not None:
            stage = make_stage(model, settings)
        else:
            stage = envelope_stage(model, settings) if ckpt.output_kind == "envelope" else model
        t_sim, emg_sim = stream_emg(stage, rec, settings)
        env_sim = emg_envelope(emg_sim, fs)
        env_rec = emg_envelope(rec.emg, rec.emg_fs)
        t_grid, _ = resample_imu(rec.t_imu, rec.imu, ckpt.fs, ckpt.cutoff_hz)
        lo, hi = max(rec.t_emg[0], t_sim[0]), min(rec.t_emg[-1], t_sim[-1])
        t_grid = t_grid[(t_grid >= lo) & (t_grid <= hi)]
        for name in names:
            c_sim, c_rec = lay.channels.index(name), rec.emg_names.index(name) if name in rec.emg_names else None
            if c_rec is None:
                raise ValueError(f"'{rec.name}' has no EMG channel {name!r} (it has {list(rec.emg_names)}).")
            s = scale.get(name, 1.0)
            preds[name].append(np.interp(t_grid, t_sim, env_sim[:, c_sim]) / s)
            targets[name].append(np.clip(np.interp(t_grid, rec.t_emg, env_rec[:, c_rec]) / s, 0.0, 1.0))
    out: dict[str, Any] = {"channels": {}, "layout": layout, "recordings": [r.name for r in recordings]}
    for name in names:
        p, t = np.concatenate(preds[name]), np.concatenate(targets[name])
        within = [pearson(a, b) for a, b in zip(preds[name], targets[name]) if np.std(b) > MIN_STD]
        within = [w for w in within if np.isfinite(w)]
        out["channels"][name] = {
            "stream_r": pearson(p, t) if np.std(t) > MIN_STD else float("nan"),
            "stream_r_within": float(np.median(within)) if within else float("nan"),
        }
    vals = [v["stream_r"] for v in out["channels"].values() if np.isfinite(v["stream_r"])]
    vin = [v["stream_r_within"] for v in out["channels"].values() if np.isfinite(v["stream_r_within"])]
    out["median_stream_r"] = float(np.median(vals)) if vals else float("nan")
    out["median_stream_r_within"] = float(np.median(vin)) if vin else float("nan")
    return out


__all__ = ["RecordingSource", "SimClock", "stream_emg", "stream_scores"]
