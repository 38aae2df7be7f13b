"""What a checkpoint's outputs mean to the engine: matched by name, never by position.

A checkpoint states its output kind (:attr:`Checkpoint.output_kind
<realtime.stages.model.checkpoint.Checkpoint>`):

- ``"activation"``: one output per muscle, named like the engine's muscles
  (:data:`realtime.core.anatomy.MUSCLES`). The engine picks its columns by
  name, so a checkpoint whose outputs are in another order drives the same
  muscles. A missing muscle name is an error.
- ``"envelope"``: one output per EMG channel of a recording layout
  (``Checkpoint.layout``). These are not activations: they drive the engine
  only through a physics inversion (:mod:`realtime.stages.model.inversion`).
"""

from __future__ import annotations

from realtime.stages.model.checkpoint import Checkpoint, CheckpointError


def checkpoint_label(ckpt: Checkpoint, path: object = None) -> str:
    """How messages name a checkpoint: its path, or ``the shipped model``."""
    return "the shipped model" if path is None else f"the checkpoint '{path}'"


def check_activation_outputs(ckpt: Checkpoint, muscles: tuple[str, ...], path: object = None) -> None:
    """Raise a one-line :class:`CheckpointError` unless ``ckpt`` gives an activation for every muscle by name.

    Parameters
    ----------
    ckpt : Checkpoint
        The model.
    muscles : tuple of str
        The engine's muscles.
    path : object
        Where the checkpoint came from (for the message); ``None`` for the shipped model.
    """
    who = checkpoint_label(ckpt, path)
    if ckpt.output_kind != "activation":
        raise CheckpointError(
            f"{who.capitalize()} outputs channel envelopes of the recording layout {ckpt.layout or '(unnamed)'} "
            f"{list(ckpt.outputs)}, not muscle activations; drive the engine through the envelope inversion."
        )
    missing = [m for m in muscles if m not in ckpt.outputs]
    if missing:
        raise CheckpointError(
            f"{who.capitalize()} outputs {list(ckpt.outputs)}, which lack the engine's muscles {missing} "
            f"(it needs activations named {list(muscles)}); retrain it on the teacher or rename its outputs."
        )


__all__ = ["check_activation_outputs", "checkpoint_label"]
