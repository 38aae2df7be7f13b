"""The fault stage: scripted and run-time faults applied to EMG blocks, sample-exact.

Each fault is active on the samples ``[onset, offset)`` of the stream
(``onset = round(onset_s * fs)``, ``offset = onset + round(duration_s * fs)``).
When several overlap they are applied in the order of
:data:`~realtime.stages.faults.schedule.FAULT_KINDS` (crosstalk and lift-off at the
electrodes, then gain, clipping, dropout, and sample loss last), then by id.
Every output value depends only on the sample index, the fault's seeded
random stream and the input sample, so the stage gives the same output for
any split of the run into blocks.

Sample loss removes rows from the block: the surviving samples keep their
own timestamps (the block is then not a gap-free run; the LSL outlet pushes
such blocks with one timestamp per sample).

Onsets and offsets are announced in the output block's ``events["markers"]`` as
``("fault start: dropout ch=EMG3 id=2", timestamp)`` where ``timestamp`` is
the timestamp of the onset (or offset) sample.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from realtime.core.block import NO_EVENTS, Block
from realtime.core.checks import check_number, ensure_int
from realtime.core.contract import StreamFormat, check_format
from realtime.core.logs import logger
from realtime.stages.faults.schedule import Fault

_ORDER = {"crosstalk": 0, "liftoff": 1, "gain": 2, "clipping": 3, "dropout": 4, "sample_loss": 5}

# Lift-off swings: three slow sinusoids at these multiples of swing_hz, with these weights.
_SWING_RATIOS = np.array([0.6, 1.0, 1.7])
_SWING_WEIGHTS = np.array([0.5, 1.0, 0.4]) / 1.9


@dataclass(frozen=True)
class ScheduledFault:
    """A fault placed on the sample grid.

    Attributes
    ----------
    id : int
        1, 2, ... in file order, then run-time injections in call order.
    fault : Fault
        The description.
    onset : int
        First affected sample.
    offset : int | None
        First sample no longer affected (``None``: until the end).
    """

    id: int
    fault: Fault
    onset: int
    offset: int | None

    def marker(self, edge: str) -> str:
        """``"fault start: <kind> ch=<channels> id=<id>"`` (``edge`` is ``"start"`` or ``"end"``)."""
        return f"fault {edge}: {self.fault.kind} ch={self.fault.channel_text} id={self.id}"


class _Bursts:
    """Alternating runs of kept and lost samples (geometric lengths), drawn in order from a seeded stream."""

    def __init__(self, onset: int, loss: float, burst: float, rng: np.random.Generator) -> None:
        self.loss, self.burst, self.rng = loss, max(burst, 1.0), rng
        self.run_end = onset
        self.lost_run = False

    def _next_run(self) -> None:
        self.lost_run = True if self.loss >= 1.0 else not self.lost_run
        mean = self.burst if self.lost_run else self.burst * (1.0 - self.loss) / self.loss
        self.run_end += int(self.rng.geometric(1.0 / max(mean, 1.0)))

    def lost(self, k0: int, m: int) -> np.ndarray:
        """Whether each of the samples ``k0 .. k0 + m - 1`` is lost (samples must come in order)."""
        out = np.empty(m, bool)
        i = 0
        while i < m:
            while k0 + i >= self.run_end:
                self._next_run()
            j = min(m, self.run_end - k0)
            out[i:j] = self.lost_run
            i = j
        return out


class _Active:
    """Run-time state of one scheduled fault."""

    def __init__(self, sf: ScheduledFault, channels: tuple[str, ...], fs: float, seed: int) -> None:
        self.sf = sf
        f = sf.fault
        n_ch = len(channels)
        self.cols: slice | np.ndarray = (
            slice(None) if f.channels is None else np.array([channels.index(c) for c in f.channels], np.int64)
        )
        targets = np.arange(n_ch) if f.channels is None else self.cols
        rng = np.random.default_rng([seed, sf.id])
        self.fs = fs
        self.started = False
        if f.kind == "liftoff":
            self.freqs = f.param("swing_hz") * _SWING_RATIOS
            self.phases = rng.uniform(0.0, 2.0 * math.pi, (3, len(targets)))
            self.swing_samples = int(round(f.param("swing_s") * fs))
            self.swing_uv = f.param("swing_uv")
            self.rail = f.param("rail_uv")
            at_end = self._swing(np.array([self.swing_samples / fs]))[0]
            self.rail_sign = np.where(at_end < 0, -1.0, 1.0)
        elif f.kind == "sample_loss":
            self.bursts = _Bursts(sf.onset, f.param("loss"), f.param("burst_ms") * fs / 1000.0, rng)
        elif f.kind == "crosstalk":
            sources = f.param("from")
            mix = np.zeros((len(targets), n_ch))
            for row, c in enumerate(targets):
                if sources is None:  # the neighbours in channel order (a ring)
                    src = sorted({(c - 1) % n_ch, (c + 1) % n_ch} - {int(c)})
                else:
                    src = [channels.index(s) for s in sources if channels.index(s) != c]
                if src:
                    mix[row, src] = 1.0 / len(src)
            self.mix_t = np.ascontiguousarray((f.param("amount") * mix).T.astype(np.float32))

    def _swing(self, t: np.ndarray) -> np.ndarray:
        """Swing shape (unit amplitude) at times ``t`` (s since onset), ``(len(t), n_targets)``."""
        arg = 2.0 * math.pi * self.freqs[None, :, None] * t[:, None, None] + self.phases[None, :, :]
        return np.einsum("tkc,k->tc", np.sin(arg), _SWING_WEIGHTS)

    def apply(self, data: np.ndarray, src: np.ndarray, a: int, b: int, k0: int, keep: np.ndarray) -> None:
        """Apply the fault to rows ``a:b`` of ``data`` (absolute sample of row ``a``: ``k0``)."""
        f, cols = self.sf.fault, self.cols
        kind = f.kind
        if kind == "dropout":
            data[a:b, cols] = f.param("value")
        elif kind == "gain":
            data[a:b, cols] *= np.float32(f.param("factor"))
        elif kind == "clipping":
            r = f.param("range_uv")
            data[a:b, cols] = np.clip(data[a:b, cols], -r, r)
        elif kind == "crosstalk":
            data[a:b, cols] += src[a:b] @ self.mix_t
        elif kind == "sample_loss":
            keep[a:b] &= ~self.bursts.lost(k0, b - a)
        elif kind == "liftoff":
            rel = np.arange(k0 - self.sf.onset, k0 - self.sf.onset + (b - a))
            swinging = rel < self.swing_samples
            out = np.empty((b - a, len(self.rail_sign)))
            if swinging.any():
                t = rel[swinging] / self.fs
                ramp = (rel[swinging] / max(self.swing_samples, 1))[:, None]
                x = data[a:b, cols][swinging] + self.swing_uv * ramp * self._swing(t)
                out[swinging] = np.clip(x, -self.rail, self.rail)
            out[~swinging] = self.rail_sign * self.rail
            data[a:b, cols] = out


class FaultStage:
    """Applies scheduled and injected faults to EMG blocks.

    Parameters
    ----------
    faults : sequence of Fault
        The script (ids 1, 2, ... in this order). Onsets are required.
    fs : float
        EMG rate (Hz): places onsets and durations on the sample grid.
    channels : tuple of str
        EMG channel labels; every fault's channels must be among them.
    seed : int
        Seeds lift-off swings and sample-loss bursts (with each fault's id).

    Notes
    -----
    ``process(block)`` takes consecutive EMG blocks (``seq`` = index of the
    first sample) and returns the faulty block: same labels and rate, the
    rows of lost samples removed (``seq`` then the first surviving sample).
    :meth:`inject` and :meth:`end` may be called from any thread; they act
    at the next block.
    """

    name = "faults"

    def __init__(self, faults: Sequence[Fault], fs: float, channels: tuple[str, ...], seed: int = 0) -> None:
        check_number("fs", fs, 0.0, unit="Hz", lo_open=True)
        if not channels:
            raise ValueError("The argument 'channels' must name at least one EMG channel.")
        self.fs = float(fs)
        self.channels = tuple(channels)
        self.seed = ensure_int("seed", seed, lo=0)
        self.faults = tuple(faults)
        for i, fault in enumerate(self.faults, start=1):
            if fault.onset is None:
                raise ValueError(f"Fault {i} ({fault.kind}) needs an onset in seconds; only inject() may omit it.")
            self._check(fault, f"Fault {i} ({fault.kind})")
        self._lock = threading.Lock()
        self._next_id = len(self.faults) + 1
        self._requests: list[tuple[str, int, Fault | None]] = []
        self._active: list[_Active] = []
        self._next_seq: int | None = None
        self._placed: dict[int, ScheduledFault] = {}

    # ------------------------------------------------------------------ validation
    def _check(self, fault: Fault, what: str) -> None:
        labels = list(fault.channels or ()) + list(fault.param("from") or () if fault.kind == "crosstalk" else ())
        missing = [c for c in labels if c not in self.channels]
        if missing:
            raise ValueError(
                f"{what} names channels {missing} that this layout does not have; "
                f"use labels among {', '.join(self.channels)} or 'all'."
            )
        if fault.duration is not None and round(fault.duration * self.fs) < 1:
            raise ValueError(
                f"{what}: 'duration' must last at least one sample (>= {1 / self.fs:g} s at {self.fs:g} Hz). "
                f"{fault.duration!r} is invalid."
            )

    def _place(self, fault: Fault, fault_id: int, onset: int) -> _Active:
        offset = None if fault.duration is None else onset + int(round(fault.duration * self.fs))
        sf = ScheduledFault(fault_id, fault, onset, offset)
        self._placed[fault_id] = sf
        return _Active(sf, self.channels, self.fs, self.seed)

    # ------------------------------------------------------------------ run-time API
    def inject(
        self,
        kind: str,
        channels: str | Sequence[str] | None = "all",
        duration: float | None = None,
        onset: float | None = None,
        **params: object,
    ) -> int:
        """Schedule a fault while running (thread-safe); it starts at the next block.

        Parameters
        ----------
        kind : str
            One of :data:`~realtime.stages.faults.schedule.FAULT_KINDS`.
        channels : str | sequence of str | None
            Labels, or ``"all"``.
        duration : float | None
            Seconds; ``None`` until :meth:`end` or the end of the run.
        onset : float | None
            Seconds from the run start; ``None`` = the next block. An onset
            already past starts at the next block (with a warning).
        **params
            Kind parameters (``value``, ``factor``, ``range_uv`` ...).

        Returns
        -------
        int
            The fault's id (as in its markers).
        """
        fault = Fault(kind, onset, duration, channels, params)
        self._check(fault, f"The injected {kind} fault")
        with self._lock:
            fault_id = self._next_id
            self._next_id += 1
            self._requests.append(("inject", fault_id, fault))
        return fault_id

    def end(self, fault_id: int) -> None:
        """End fault ``fault_id`` at the next block (thread-safe); a fault not yet started is cancelled."""
        with self._lock:
            ensure_int("fault_id", fault_id, 1, self._next_id - 1, hint="Use an id a schedule or inject() gave.")
            self._requests.append(("end", fault_id, None))

    @property
    def input_format(self) -> StreamFormat:
        """EMG blocks with this stage's channels and rate."""
        return StreamFormat(fs=self.fs, channels=self.channels)

    @property
    def output_format(self) -> StreamFormat:
        """The same channels and rate; the input's aux passed on (rows of lost samples removed)."""
        return StreamFormat(fs=None, channels=None, passes_aux=True)

    @property
    def schedule(self) -> list[ScheduledFault]:
        """Every fault placed on the sample grid this run, by id (file faults from ``reset``,
        injections once the runner has taken them; an ended fault shows its actual offset)."""
        return [self._placed[k] for k in sorted(self._placed)]

    # ------------------------------------------------------------------ stage API
    def reset(self, fmt: StreamFormat | None = None, *, max_block: int = 64) -> None:
        """Start a run: place the scripted faults; forget run-time faults of an earlier run.

        Injections requested before the run starts are kept and start at the first block.
        """
        if check_format(fmt, "FaultStage") is not None:
            why = self.input_format.mismatch(fmt)
            if why is not None:
                raise ValueError(f"The fault stage expects {self.input_format.describe()}: {why}.")
        self._placed = {}
        self._active = [self._place(f, i, int(round(f.onset * self.fs))) for i, f in enumerate(self.faults, start=1)]
        self._next_seq = None

    def _take_requests(self, seq: int) -> None:
        with self._lock:
            requests, self._requests = self._requests, []
        for action, fault_id, fault in requests:
            if action == "inject":
                onset = seq
                if fault.onset is not None:
                    onset = int(round(fault.onset * self.fs))
                    if onset < seq:
                        logger.warning(
                            "%s: fault %s asked to start at sample %s, which is past; it starts at %s.",
                            type(self).__name__, fault_id, onset, seq,
                        )
                        onset = seq
                self._active.append(self._place(fault, fault_id, onset))
                continue
            for i, act in enumerate(self._active):
                if act.sf.id != fault_id:
                    continue
                if act.sf.onset >= seq:  # not started: cancel, nothing to announce
                    del self._active[i]
                    del self._placed[fault_id]
                elif act.sf.offset is None or act.sf.offset > seq:
                    act.sf = ScheduledFault(act.sf.id, act.sf.fault, act.sf.onset, seq)
                    self._placed[fault_id] = act.sf
                break

    def process(self, block: Block) -> Block:
        """Return ``block`` with the faults active on its samples applied (see the class notes)."""
        if block.channels != self.channels:
            raise ValueError(
                f"The fault stage was built for channels {self.channels}; the block has {block.channels}."
            )
        seq, n = block.seq, block.n_samples
        if self._next_seq is not None and seq != self._next_seq:
            raise ValueError(
                f"Blocks must follow each other without gaps: expected seq {self._next_seq}, got {seq}. "
                "Call FaultStage.reset() to start a new run."
            )
        self._next_seq = end = seq + n
        if self._requests:
            self._take_requests(seq)
        if n == 0 or not self._active:
            return block
        markers = self._announce(block)
        events = {"markers": markers} if markers else NO_EVENTS
        hits = [
            a for a in self._active
            if a.sf.onset < end and (a.sf.offset is None or a.sf.offset > seq)
        ]
        # Keep a fault whose offset is the next block's first sample: its end is announced there.
        self._active = [a for a in self._active if a.sf.offset is None or a.sf.offset >= end]
        if not hits:
            return block.replace(events=events) if markers else block
        src = block.data
        data = src.copy()
        keep = np.ones(n, bool)
        for act in sorted(hits, key=lambda a: (_ORDER[a.sf.fault.kind], a.sf.id)):
            a = max(act.sf.onset, seq) - seq
            b = (end if act.sf.offset is None else min(act.sf.offset, end)) - seq
            act.apply(data, src, a, b, seq + a, keep)
        if keep.all():
            return Block(data, block.timestamps, block.fs, seq, block.channels, block.aux, events)
        rows = np.flatnonzero(keep)
        aux = {k: v[rows] for k, v in block.aux.items()}
        first = seq + int(rows[0]) if rows.size else end
        return Block(
            np.ascontiguousarray(data[rows]), block.timestamps[rows], block.fs, first, block.channels, aux, events
        )

    def _announce(self, block: Block) -> tuple[tuple[str, float], ...]:
        """The fault starts and ends that fall on ``block``'s samples, as ``(text, timestamp)`` in time order."""
        seq, end = block.seq, block.seq + block.n_samples
        events = []
        for act in self._active:
            sf = act.sf
            if seq <= sf.onset < end:
                events.append((sf.onset, 1, sf.id, sf.marker("start")))
            if sf.offset is not None and seq <= sf.offset < end:
                events.append((sf.offset, 0, sf.id, sf.marker("end")))
        return tuple((text, float(block.timestamps[sample - seq])) for sample, _, _, text in sorted(events))


@dataclass(frozen=True, eq=False)
class FaultedRecord:
    """The output of :func:`apply_faults`.

    Attributes
    ----------
    data : ndarray, shape (n_kept, n_channels), float32
        The surviving samples.
    samples : ndarray of int64
        Stream index of each surviving sample.
    markers : list of (str, int)
        Marker text and the sample it is stamped with.
    """

    data: np.ndarray
    samples: np.ndarray
    markers: list[tuple[str, int]]


def apply_faults(
    emg: np.ndarray,
    faults: Sequence[Fault],
    fs: float,
    channels: tuple[str, ...] | None = None,
    seed: int = 0,
) -> FaultedRecord:
    """Apply a fault script to a whole record in one pass (the offline twin of :class:`FaultStage`).

    Parameters
    ----------
    emg : ndarray, shape (T, n_channels)
        EMG (µV), row 0 being sample 0 of the run.
    faults : sequence of Fault
        The script.
    fs : float
        Sampling rate (Hz).
    channels : tuple of str | None
        Labels (``EMG1`` ... by default).
    seed : int
        As for :class:`FaultStage`.
    """
    x = np.ascontiguousarray(emg, np.float32)
    if x.ndim != 2:
        raise ValueError(f"The argument 'emg' should be (n_samples, n_channels), {x.shape} is invalid.")
    n, n_ch = x.shape
    labels = tuple(channels) if channels is not None else tuple(f"EMG{k + 1}" for k in range(n_ch))
    stage = FaultStage(faults, fs, labels, seed)
    stage.reset(max_block=max(n, 1))
    t = np.arange(n, dtype=np.float64)
    out = stage.process(Block(x, t, float(fs), 0, labels))
    markers = [(text, int(round(ts))) for text, ts in out.events.get("markers", ())]
    return FaultedRecord(out.data, np.round(out.timestamps).astype(np.int64), markers)
