"""Save and load activation-network checkpoints.

A checkpoint is one file, in one of two formats holding the same values: a
torch file (``.pt``, for training; it loads with ``weights_only=True``) or a
numpy ``.npz`` (weights ``state/<name>``, the rest as JSON in
``__checkpoint__``) that loads without torch, which is what a run uses: the
shipped default has both, ``default.pt`` and ``default.npz``. The values::

    {"format": "myostream.activation-net", "version": 1,
     "config": NetConfig.to_dict(), "state": {name: tensor}, "meta": {...}}

``meta`` holds the channel names (inputs, activation outputs, posture
outputs), the model rate, the IMU rates seen in training, the anti-alias
corner of the input resampler, what the outputs were trained on, EMG envelope
scales (recordings only), training metrics and how the model was trained
(command, seed, data). The input normaliser is part of ``state``
(``norm_mean``, ``norm_std``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from realtime.stages.model import DEFAULT_CHECKPOINT, DEFAULT_RUNTIME_CHECKPOINT
from realtime.stages.model.config import NetConfig
from realtime.stages.model.streaming import StreamingNet, pack_weights

FORMAT = "myostream.activation-net"
VERSION = 1
"""Version of the checkpoint layout written by this code (older ones still load)."""

TARGET_KINDS: tuple[str, ...] = ("teacher", "emg-envelope")

OUTPUT_KINDS: tuple[str, ...] = ("activation", "envelope")
"""What a checkpoint's outputs are: muscle activations (the engine's muscles, by name) or
normalised channel envelopes of a recording layout (``Checkpoint.layout``)."""


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit what it is used for."""


@dataclass(frozen=True)
class Checkpoint:
    """A trained activation network and everything needed to run it.

    Parameters
    ----------
    config : NetConfig
        Shape of the network.
    state : Mapping[str, ndarray]
        Weights (torch layout, float32) including the normaliser ``norm_mean``/``norm_std``.
    inputs : tuple of str
        Input channel names (``realtime.core.units.IMU_CHANNELS``).
    outputs : tuple of str
        Activation output names (muscles, or EMG channels for a model trained on recordings).
    posture : tuple of str
        Posture output names (``realtime.core.anatomy.JOINTS``) or ``()``.
    fs : float
        Model rate in Hz.
    input_fs_range : tuple of float
        Lowest and highest IMU rate seen in training (Hz).
    cutoff_hz : float
        Anti-alias corner of the IMU → model-rate resampler (0 = off).
    target : str
        ``"teacher"`` (physics teacher activations) or ``"emg-envelope"``.
    target_scale : tuple of float
        EMG envelope scale per output (recordings; ``()`` for the teacher).
    metrics : Mapping
        Training metrics (losses, epochs, validation scores).
    training : Mapping
        How the model was trained (command, seed, data description, duration).
    output_kind : str
        ``"activation"`` (outputs are muscle activations named like the engine's muscles) or
        ``"envelope"`` (outputs are channel envelopes of the recording layout ``layout``);
        ``""`` derives it from ``target`` (teacher → activation, EMG envelope → envelope).
    layout : str
        For ``"envelope"`` outputs: the recording layout they belong to (an engine layout name
        such as ``armband8``, or the recorded EMG stream's name); ``""`` when unknown.
    version : int
        Layout version of the file it came from.
    """

    config: NetConfig
    state: Mapping[str, np.ndarray]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    posture: tuple[str, ...]
    fs: float
    input_fs_range: tuple[float, float]
    cutoff_hz: float
    target: str = "teacher"
    target_scale: tuple[float, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    output_kind: str = ""
    layout: str = ""
    version: int = VERSION

    def __post_init__(self) -> None:
        cfg = self.config
        if not self.output_kind:
            object.__setattr__(self, "output_kind", "activation" if self.target == "teacher" else "envelope")
        if self.output_kind not in OUTPUT_KINDS:
            raise CheckpointError(
                f"The checkpoint's output kind must be one of {OUTPUT_KINDS}. {self.output_kind!r} is invalid."
            )
        if len(set(self.outputs)) != len(self.outputs):
            raise CheckpointError(f"The checkpoint's output names must be unique, got {list(self.outputs)}.")
        if len(self.inputs) != cfg.n_inputs:
            raise CheckpointError(f"The checkpoint names {len(self.inputs)} inputs, its network has {cfg.n_inputs}.")
        if len(self.outputs) != cfg.n_outputs:
            raise CheckpointError(
                f"The checkpoint names {len(self.outputs)} outputs, its network has {cfg.n_outputs}."
            )
        if len(self.posture) != cfg.n_posture:
            raise CheckpointError(
                f"The checkpoint names {len(self.posture)} posture outputs, its network has {cfg.n_posture}."
            )
        if not (math.isfinite(self.fs) and self.fs > 0):
            raise CheckpointError(f"The checkpoint's model rate must be > 0 Hz. {self.fs!r} is invalid.")
        lo, hi = self.input_fs_range
        if not (0 < lo <= hi):
            raise CheckpointError(f"The checkpoint's input rate range must be 0 < lo <= hi. {(lo, hi)} is invalid.")
        if self.target not in TARGET_KINDS:
            raise CheckpointError(f"The checkpoint's target must be one of {TARGET_KINDS}. {self.target!r} is invalid.")
        if self.target_scale and len(self.target_scale) != cfg.n_outputs:
            raise CheckpointError(
                f"The checkpoint has {len(self.target_scale)} target scales for {cfg.n_outputs} outputs."
            )
        state = {k: np.ascontiguousarray(v, np.float32) for k, v in self.state.items()}
        for k, v in state.items():
            if not np.all(np.isfinite(v)):
                raise CheckpointError(f"The checkpoint's weight '{k}' holds NaN or inf: the model diverged. Retrain it.")
        # Raises if a weight is missing or has the wrong shape.
        try:
            pack_weights(cfg, state)
        except ValueError as err:
            raise CheckpointError(str(err)) from None
        object.__setattr__(self, "state", MappingProxyType(state))
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "training", MappingProxyType(dict(self.training)))

    @property
    def receptive_field(self) -> int:
        """Receptive field in model samples."""
        return self.config.receptive_field

    @property
    def receptive_field_s(self) -> float:
        """Receptive field in seconds."""
        return self.config.receptive_field / self.fs

    @property
    def normaliser(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` of the inputs, shape (n_inputs,) each."""
        return np.asarray(self.state["norm_mean"]), np.asarray(self.state["norm_std"])

    def streaming_net(self) -> StreamingNet:
        """A fresh :class:`~realtime.stages.model.streaming.StreamingNet` with these weights.

        (The torch network for training: :func:`realtime.app.training.network.net_from_checkpoint`.)
        """
        return StreamingNet(self.config, self.state)

    def check_source(self, channels: tuple[str, ...], fs: float) -> None:
        """Raise :class:`CheckpointError` if an IMU source does not fit this model.

        Parameters
        ----------
        channels : tuple of str
            Channel names of the source's blocks.
        fs : float
            The source's nominal rate in Hz (0 if unknown: not checked).
        """
        if tuple(channels) != tuple(self.inputs):
            raise CheckpointError(
                f"The model expects input channels {list(self.inputs)}, the source gives {list(channels)}. "
                "Map the source's columns to these channels (e.g. --imu-cols) or train a model on this source."
            )
        lo = self.input_fs_range[0]
        if fs and fs < 0.5 * lo:
            raise CheckpointError(
                f"The source runs at {fs:g} Hz, but the model was trained on IMU rates "
                f"{lo:g}-{self.input_fs_range[1]:g} Hz (model rate {self.fs:g} Hz). Raise the source rate "
                f"to at least {0.5 * lo:g} Hz, or train a model at this rate (python launch.py train --imu-fs {fs:g} ...)."
            )

    def to_dict(self) -> dict[str, Any]:
        """The on-disk representation (numpy weights; :func:`save_checkpoint` converts to tensors)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config.to_dict(),
            "state": dict(self.state),
            "meta": {
                "inputs": list(self.inputs),
                "outputs": list(self.outputs),
                "posture": list(self.posture),
                "fs": float(self.fs),
                "input_fs_range": [float(v) for v in self.input_fs_range],
                "cutoff_hz": float(self.cutoff_hz),
                "target": self.target,
                "target_scale": [float(v) for v in self.target_scale],
                "metrics": _plain(dict(self.metrics)),
                "training": _plain(dict(self.training)),
                "output_kind": self.output_kind,
                "layout": self.layout,
            },
        }


def _plain(obj: Any) -> Any:
    """Convert ``obj`` to plain Python values (dict, list, str, int, float, bool, None).

    ``torch.load(weights_only=True)`` refuses anything else (numpy scalars,
    str subclasses such as ``torch.__version__``, paths ...).
    """
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    return str(obj)


NPZ_META = "__checkpoint__"
"""Name of the entry of a ``.npz`` checkpoint holding everything but the weights (UTF-8 JSON bytes)."""

NPZ_STATE = "state/"
"""Prefix of the weight entries of a ``.npz`` checkpoint (``state/<name>``)."""


def save_checkpoint(ckpt: Checkpoint, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``ckpt`` to ``path`` atomically, as a torch file or, for a ``.npz`` path, without torch.

    The two formats hold the same values: ``.pt`` (``torch.save``, loads with
    ``weights_only=True``) and ``.npz`` (numpy arrays ``state/<name>`` plus the
    rest as JSON in ``__checkpoint__``; it loads with numpy alone, so a run
    never needs torch).

    Parameters
    ----------
    ckpt : Checkpoint
        What to save.
    path : str | Path
        Destination file (parent folders are created); ``.npz`` selects the torch-free format.
    overwrite : bool
        Replace an existing file. Without it an existing file raises
        ``FileExistsError`` and is left untouched.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"The checkpoint '{path}' already exists and was left untouched. "
            "Choose another --out path or pass --force to replace it."
        )
    if path.is_dir():
        raise IsADirectoryError(f"The checkpoint path '{path}' is a folder. Give a file name such as model.pt.")
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = ckpt.to_dict()
    state = {k: np.array(v, np.float32) for k, v in blob.pop("state").items()}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix == ".npz":
            meta = np.frombuffer(json.dumps(blob).encode("utf-8"), np.uint8)
            with open(tmp, "wb") as f:
                np.savez(f, **{NPZ_META: meta}, **{NPZ_STATE + k: v for k, v in state.items()})
        else:
            import torch  # deferred: torch (~3 s) only to write a torch checkpoint file

            blob["state"] = {k: torch.from_numpy(v) for k, v in state.items()}
            torch.save(blob, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def runtime_twin(path: str | Path) -> Path:
    """The torch-free ``.npz`` copy that belongs beside a ``.pt`` checkpoint (same name, ``.npz``)."""
    return Path(path).with_suffix(".npz")


def _read_npz(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # our handle: closed even on a bad zip
        blob = json.loads(bytes(z[NPZ_META]).decode("utf-8"))
        blob["state"] = {k[len(NPZ_STATE):]: z[k] for k in z.files if k.startswith(NPZ_STATE)}
    return blob


def _read_torch(path: Path) -> dict[str, Any]:
    try:
        import torch  # deferred: torch (~3 s) only to read a torch checkpoint file
    except ImportError:
        raise CheckpointError(
            f"The checkpoint '{path}' is a torch file and torch is not installed. Install it "
            "(pip install torch --index-url https://download.pytorch.org/whl/cpu), or use the torch-free "
            f"copy '{runtime_twin(path).name}' that `python launch.py train` writes beside it."
        ) from None
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(blob, dict) and isinstance(blob.get("state"), dict):
        blob["state"] = {k: v.detach().cpu().numpy() for k, v in blob["state"].items()}
    return blob


def load_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``.npz`` with numpy alone, else with torch).

    Parameters
    ----------
    path : str | Path | None
        The file; ``None`` loads the shipped default's torch-free copy
        (``realtime/stages/model/default.npz``, the same weights as ``default.pt``).

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        The file is missing, unreadable, not a myostream checkpoint, written by a
        newer version, or inconsistent. The message says what to do.
    """
    path = Path(DEFAULT_RUNTIME_CHECKPOINT if path is None else path)
    if not path.is_file():
        hint = (
            "The shipped default is missing from this installation: reinstall myostream, or train one "
            "(see docs/model.md)."
            if path in (DEFAULT_CHECKPOINT, DEFAULT_RUNTIME_CHECKPOINT)
            else "Check the path, or train one with `python launch.py train --out PATH` (docs/model.md)."
        )
        raise CheckpointError(f"The checkpoint '{path}' does not exist. {hint}")
    try:
        blob = _read_npz(path) if path.suffix == ".npz" else _read_torch(path)
    except CheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - any unpickling/zip/JSON error means the same to the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"The checkpoint '{path}' could not be read ({type(err).__name__}: {first[:200]}). "
            "It is corrupt or not a myostream checkpoint: restore it or train a new one."
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(
            f"The file '{path}' is not a myostream activation-network checkpoint (format {found!r}, "
            f"expected {FORMAT!r}). Pass a file written by `python launch.py train`."
        )
    version = blob.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise CheckpointError(
            f"The checkpoint '{path}' has layout version {version!r}; this myostream reads versions 1-{VERSION}. "
            "Upgrade myostream or retrain the model with this version."
        )
    try:
        meta = blob["meta"]
        config = NetConfig.from_dict(dict(blob["config"]))
        state = {k: np.asarray(v) for k, v in blob["state"].items()}
        return Checkpoint(
            config=config,
            state=state,
            inputs=tuple(meta["inputs"]),
            outputs=tuple(meta["outputs"]),
            posture=tuple(meta["posture"]),
            fs=float(meta["fs"]),
            input_fs_range=(float(meta["input_fs_range"][0]), float(meta["input_fs_range"][1])),
            cutoff_hz=float(meta["cutoff_hz"]),
            target=str(meta.get("target", "teacher")),
            target_scale=tuple(float(v) for v in meta.get("target_scale", ())),
            metrics=dict(meta.get("metrics", {})),
            training=dict(meta.get("training", {})),
            output_kind=str(meta.get("output_kind", "")),
            layout=str(meta.get("layout", "")),
            version=version,
        )
    except CheckpointError as err:
        raise CheckpointError(f"The checkpoint '{path}' is inconsistent: {err}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise CheckpointError(
            f"The checkpoint '{path}' is incomplete or damaged ({type(err).__name__}: {err}). "
            "Restore it or train a new one."
        ) from None
