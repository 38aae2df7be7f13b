"""LabStreamingLayer outlets: the sinks that publish myostream's streams.

What each stream announces is declared in :mod:`realtime.core.schemas`
(:class:`~realtime.core.schemas.StreamSpec`); :func:`to_stream_info` turns a
declaration into a ``pylsl.StreamInfo`` with XDF-convention metadata
(``desc/channels/channel`` with ``label``, ``unit``, ``type`` and ``location``;
``desc/acquisition``; ``desc/reference``), so that LabRecorder, mne-lsl and
other consumers show channel names and units. See ``docs/streams.md`` for every stream.

Electrode positions are written twice: ``location/{X,Y,Z}`` in millimetres (the
XDF convention) and in mne-lsl's own convention, ``loc/{R0x,R0y,R0z}`` in metres
(``mne_lsl.lsl.StreamInfo.get_channel_info`` reads the 12 FIFF ``loc`` values by
these names) plus one ``desc/dig/point`` per electrode (``kind`` 4 = FIFF extra
point, ``loc/{X,Y,Z}`` in metres), which MNE turns into the montage's points:
MNE attaches named positions only to EEG/iEEG/fNIRS channels, so an EMG stream's
montage carries them as digitised points, in channel order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pylsl

from realtime.core.block import Block
from realtime.core.lifecycle import Lifecycle
from realtime.core.logs import logger
from realtime.core.schemas import StreamSpec

_FORMATS = {
    "float32": pylsl.cf_float32, "double64": pylsl.cf_double64, "string": pylsl.cf_string,
    "int8": pylsl.cf_int8, "int16": pylsl.cf_int16, "int32": pylsl.cf_int32,
}

_FIFF_POINT_EXTRA = 4
"""FIFF digitisation kind of an extra (head-shape) point: how mne-lsl reads ``desc/dig/point/kind``."""


def to_stream_info(spec: StreamSpec) -> pylsl.StreamInfo:
    """Build the ``pylsl.StreamInfo`` of ``spec`` with the XDF-convention metadata."""
    info = pylsl.StreamInfo(
        spec.name, spec.type, len(spec.channels), spec.fs, _FORMATS[spec.channel_format], spec.source_id
    )
    desc = info.desc()
    chans = desc.append_child("channels")
    for ch in spec.channels:
        node = chans.append_child("channel")
        node.append_child_value("label", ch.label)
        node.append_child_value("unit", ch.unit)
        node.append_child_value("type", ch.type)
        if ch.location is not None:
            loc = node.append_child("location")
            for axis, value in zip("XYZ", ch.location):
                loc.append_child_value(axis, f"{value:.3f}")
            mne_loc = node.append_child("loc")  # mne-lsl: FIFF loc[0:3], metres
            for axis, value in zip(("R0x", "R0y", "R0z"), ch.location):
                mne_loc.append_child_value(axis, f"{value / 1000.0:.6f}")
    for section, values in spec.desc.items():
        node = desc.append_child(section)
        for key, value in values.items():
            node.append_child_value(key, str(value))
    for key, value in spec.desc_values.items():
        desc.append_child_value(key, str(value))
    located = [(i, ch.location) for i, ch in enumerate(spec.channels) if ch.location is not None]
    if located:
        dig = desc.append_child("dig")
        for i, location in located:
            point = dig.append_child("point")
            point.append_child_value("kind", str(_FIFF_POINT_EXTRA))
            point.append_child_value("ident", str(i + 1))
            loc = point.append_child("loc")
            for axis, value in zip("XYZ", location):
                loc.append_child_value(axis, f"{value / 1000.0:.6f}")
    return info


class LslOutlet(Lifecycle):
    """A sink that pushes blocks to an LSL outlet (a :class:`~realtime.core.lifecycle.Lifecycle` part).

    Every sample is pushed with its own timestamp, the one the block carries
    (``t0 + n / fs`` for the EMG). LSL's shortcut of stamping only a chunk's
    last sample and deducing the others from the nominal rate is not used:
    deduced stamps go wrong for a block with a gap (samples removed by a
    sample-loss fault), for jittery sources (an IMU), and can leave a consumer
    that connects mid-chunk with no reference to deduce from.

    Parameters
    ----------
    spec : StreamSpec
        What to announce.
    max_buffered : int
        Seconds (or, for irregular streams, hundreds of samples) the outlet
        buffers for slow consumers.
    chunk_size : int
        Samples per transmitted chunk (0: each push as it comes), as a device
        app may set it (the Muovi app: 18).
    """

    def __init__(self, spec: StreamSpec, max_buffered: int = 60, chunk_size: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.max_buffered = int(max_buffered)
        self.chunk_size = int(chunk_size)
        self._outlet: pylsl.StreamOutlet | None = None
        self.samples_pushed = 0

    def _open(self) -> None:
        """Create the outlet (it becomes visible to resolvers)."""
        self._outlet = pylsl.StreamOutlet(to_stream_info(self.spec), self.chunk_size, self.max_buffered)
        logger.info("%s: publishing %r (%s)", type(self).__name__, self.spec.name, self.spec.source_id)

    def _close(self) -> None:
        """Destroy the outlet."""
        self._outlet = None

    def _describe(self) -> str:
        return f"The outlet {self.spec.name!r}"

    def have_consumers(self) -> bool:
        """Whether at least one inlet is connected."""
        return self._outlet is not None and self._outlet.have_consumers()

    def wait_for_consumers(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a consumer to connect."""
        return self._outlet is not None and self._outlet.wait_for_consumers(timeout)

    def write(self, block: Block) -> None:
        """Push ``block`` (an empty block is ignored)."""
        outlet = self._outlet
        if outlet is None:
            self._check_started("write()")
        n = block.n_samples
        if n == 0:
            return
        if block.n_channels != len(self.spec.channels):
            raise ValueError(
                f"Stream {self.spec.name!r} has {len(self.spec.channels)} channels; "
                f"a block with {block.n_channels} channels cannot be pushed."
            )
        outlet.push_chunk(block.data, block.timestamps.tolist())
        self.samples_pushed += n

    def push_rows(self, rows: np.ndarray, timestamps: np.ndarray) -> None:
        """Push rows of numbers with one timestamp each (e.g. the float64 spikes stream).

        Parameters
        ----------
        rows : ndarray, shape (n_samples, n_channels)
            Values, converted to the stream's channel format.
        timestamps : ndarray, shape (n_samples,)
            LSL time of each row.
        """
        if self._outlet is None:
            self._check_started("push_rows()")
        n = rows.shape[0]
        if n == 0:
            return
        if rows.ndim != 2 or rows.shape[1] != len(self.spec.channels) or np.shape(timestamps) != (n,):
            raise ValueError(
                f"Stream {self.spec.name!r} takes rows of shape (n, {len(self.spec.channels)}) and n timestamps; "
                f"{rows.shape} rows with {np.shape(timestamps)} timestamps is invalid."
            )
        self._outlet.push_chunk(rows, np.asarray(timestamps, np.float64).tolist())
        self.samples_pushed += n

    def push_sample(self, values: Sequence[float], timestamp: float) -> None:
        """Push one sample given as a sequence of numbers (for low-rate streams such as status)."""
        if self._outlet is None:
            self._check_started("push_sample()")
        self._outlet.push_sample(list(values), timestamp)
        self.samples_pushed += 1


class MarkerOutlet(Lifecycle):
    """A string stream of events (type ``Markers``, irregular rate; a :class:`~realtime.core.lifecycle.Lifecycle` part).

    Parameters
    ----------
    spec : StreamSpec
        A one-channel string stream, e.g. :func:`realtime.core.schemas.markers_stream_spec`.
    """

    def __init__(self, spec: StreamSpec) -> None:
        super().__init__()
        if spec.channel_format != "string" or len(spec.channels) != 1:
            raise ValueError(
                f"The argument 'spec' must declare one string channel; {spec.name!r} has {len(spec.channels)} "
                f"{spec.channel_format} channels. Use realtime.core.schemas.markers_stream_spec()."
            )
        self.spec = spec
        self._outlet: pylsl.StreamOutlet | None = None

    def _open(self) -> None:
        """Create the outlet."""
        self._outlet = pylsl.StreamOutlet(to_stream_info(self.spec))

    def _close(self) -> None:
        """Destroy the outlet."""
        self._outlet = None

    def _describe(self) -> str:
        return f"The outlet {self.spec.name!r}"

    def have_consumers(self) -> bool:
        """Whether at least one inlet is connected."""
        return self._outlet is not None and self._outlet.have_consumers()

    def __call__(self, text: str, timestamp: float) -> None:
        """Push one event with its LSL timestamp."""
        if self._outlet is None:
            self._check_started("pushing a marker")
        self._outlet.push_sample([text], timestamp)


def linger(outlets: Sequence[LslOutlet | MarkerOutlet], timeout: float,
           sleep: Callable[[float], None] = time.sleep, poll_s: float = 0.02) -> float:
    """Keep ``outlets`` open until their consumers have left, at most ``timeout`` seconds.

    LSL gives no acknowledgement that an inlet has pulled what was pushed, and
    destroying an outlet makes an inlet without ``recover`` raise ``LostError``
    on its next pull, losing what it had not yet pulled. So after the last push
    a run waits while any consumer is connected: a consumer that reads the stop
    marker and closes its inlet ends the wait at once; others get ``timeout``
    seconds to pull the rest.

    Parameters
    ----------
    outlets : sequence of LslOutlet | MarkerOutlet
        The running outlets (stopped ones are ignored).
    timeout : float
        Longest wait in seconds (0: none).
    sleep : Callable[[float], None]
        Sleeps for the given seconds (injected in tests).
    poll_s : float
        Interval between two checks for consumers.

    Returns
    -------
    waited : float
        Seconds waited (0 when no outlet had a consumer).
    """
    waited = 0.0
    while waited < timeout and any(o.running and o.have_consumers() for o in outlets):
        step = min(poll_s, timeout - waited)
        sleep(step)
        waited += step
    return waited


def find_collisions(specs: Sequence[StreamSpec], timeout: float = 1.0) -> list[str]:
    """Streams already on the network with the name or ``source_id`` of one of ``specs``.

    Two publishers with one name (or one ``source_id``) make recorders and
    viewers pick either at random, and LSL's recovery reconnects an inlet to the
    wrong one. Resolves once, for ``timeout`` seconds.

    Parameters
    ----------
    specs : sequence of StreamSpec
        The streams about to be published.
    timeout : float
        Seconds to look for streams (about 1 s finds the streams of a local network).

    Returns
    -------
    collisions : list of str
        One description per stream found that collides, e.g.
        ``"myostream-EMG (source_id myostream-emg-armband8-host) on host"``; empty if none.
    """
    names = {spec.name for spec in specs}
    ids = {spec.source_id for spec in specs if spec.source_id}
    # One query for just these names and ids: on a busy network (hundreds of outlets) an answer for
    # every stream would not all arrive within the timeout.
    terms = [f"name='{n}'" for n in sorted(names) if "'" not in n]
    terms += [f"source_id='{i}'" for i in sorted(ids) if "'" not in i]
    found = []
    for info in pylsl.resolve_bypred(" or ".join(terms), 0, timeout):
        name, source_id = info.name(), info.source_id()
        if name in names or (source_id and source_id in ids):
            found.append(f"{name} (source_id {source_id}) on {info.hostname()}")
    return sorted(set(found))
