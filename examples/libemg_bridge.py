"""Feed libemg's online pipeline from an LSL EMG stream (only pylsl and numpy needed).

libemg (LibEMG, Eddy et al. 2023) reads live data from shared memory that its
streamers write. This bridge is such a streamer for any LSL EMG stream
(myostream's ``<prefix>-EMG``, or an amplifier's), following libemg's convention
(``libemg/shared_memory_manager.py``, ``libemg/_streamers/*``, version 2.0.3):

- ``<tag>``: float64 buffer of shape ``(rows, channels)``, **newest sample in row
  0** (each write shifts the older rows down and drops the oldest);
- ``<tag>_count``: int32 of shape ``(1, 1)``, the number of samples written since
  the start (or since the reader's ``OnlineDataHandler.reset()``, which zeroes it:
  the bridge adds to the value it finds, so a reset is honoured);
- the data are written before the count, each under the item's lock.

``<tag>`` is ``<prefix>emg``. With the default empty prefix the names are
libemg's own (``emg``, ``emg_count``), so libemg's filters (which it applies to the
``emg`` modality only) work unchanged. Give each pipeline on one machine its
own ``--prefix`` (``left_`` → ``left_emg``, ``left_emg_count``): shared-memory names
are machine-wide. The bridge refuses to start when its names are taken
(another bridge or streamer is using them; ``--replace`` takes over names left
by a crashed process) and removes its shared memory when it ends: normally, on
Ctrl-C (SIGINT) and on SIGTERM.

Two ways to use it:

1. **In libemg's own process model** (locks shared with the reader), like
   ``libemg.streamers.myo_streamer()``; the bridge process is spawned (liblsl does
   not survive a fork), so keep the script's body under ``if __name__ == "__main__":``::

       from libemg_bridge import lsl_streamer           # this file, on sys.path
       from libemg.data_handler import OnlineDataHandler
       process, smi = lsl_streamer("myostream-EMG", prefix="")
       odh = OnlineDataHandler(smi)
       ...
       process.stop()                                   # or let the program end

2. **As a separate program**::

       python examples/libemg_bridge.py --stream myostream-EMG --prefix left_

   It prints the shared-memory items; the libemg side builds matching ones
   with :func:`shared_memory_items` (its own locks: the two processes then
   do not share a lock; the write order, data before count, is what keeps a
   reader consistent).

libemg pins ``numpy<2``; this file imports nothing of myostream and works with
numpy 1.2x and 2.x, so it runs inside libemg's environment.
"""

# ruff: noqa: T201  (a command-line example: it prints)
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import numpy as np
import pylsl

MODALITY = "emg"
"""libemg's name for the EMG modality (the tag is ``<prefix>emg``)."""

COUNT_SUFFIX = "_count"
"""libemg's suffix of a modality's sample counter."""

_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]{0,40}")

_SPAWN = multiprocessing.get_context("spawn")
"""The bridge process starts a fresh interpreter: liblsl's threads do not survive a fork (the parent has
already resolved the stream), so a forked child could not find it."""


def quiet_liblsl() -> None:
    """Silence liblsl's INFO lines unless the user has an LSL configuration of their own."""
    candidates = [Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg", Path("/etc/lsl_api/lsl_api.cfg")]
    if os.environ.get("LSLAPICFG") or any(p.exists() for p in candidates):
        return
    pylsl.set_config_content("[log]\nlevel = -2\n")


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start a shared-memory name; raise a one-line ValueError otherwise."""
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"The tag prefix must be at most 40 letters, digits, '_', '.' or '-' (e.g. 'left_'). {prefix!r} is invalid."
        )
    return prefix


def tags(prefix: str = "") -> tuple[str, str]:
    """The two shared-memory names of a bridge: ``(<prefix>emg, <prefix>emg_count)``."""
    tag = check_prefix(prefix) + MODALITY
    return tag, tag + COUNT_SUFFIX


def shared_memory_items(prefix: str, channels: int, rows: int, locks: bool = True) -> list[list]:
    """libemg's ``shared_memory_items`` for a bridge: ``[[tag, shape, dtype, lock], ...]``.

    Parameters
    ----------
    prefix : str
        The bridge's tag prefix.
    channels : int
        EMG channels.
    rows : int
        Samples the buffer holds (newest first).
    locks : bool
        Append a new lock to each item (what ``libemg.data_handler.OnlineDataHandler``
        expects), one per item, made so that :class:`BridgeProcess` can share it.

    Returns
    -------
    list of list
        ``[[<prefix>emg, (rows, channels), np.double, lock], [<prefix>emg_count, (1, 1), np.int32, lock]]``.
    """
    tag, count_tag = tags(prefix)
    items = [[tag, (int(rows), int(channels)), np.double], [count_tag, (1, 1), np.int32]]
    if locks:
        for item in items:
            item.append(_SPAWN.Lock())
    return items


class _NoLock:
    """Stands in for a lock when the reader is another program (nothing to share)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class LibemgBridge:
    """Copy an LSL EMG stream into libemg's shared memory, newest sample first.

    Parameters
    ----------
    stream : str
        Name of the LSL stream (``myostream-EMG``, or an amplifier's).
    prefix : str
        Tag prefix of the shared-memory names (``<prefix>emg``, ``<prefix>emg_count``).
    seconds : float
        Length of the buffer in seconds of EMG (rows = seconds * rate).
    resolve_timeout : float
        Seconds to wait for the stream.
    replace : bool
        Take over shared memory of the same names left by a crashed process
        (default: refuse, so two pipelines never clobber each other).
    locks : tuple | None
        Locks of the data and count items (the reader's, when it runs in the
        same process family); ``None``: no locking.
    info : pylsl.StreamInfo | None
        An already resolved stream (skips resolving ``stream``).
    """

    def __init__(
        self,
        stream: str,
        prefix: str = "",
        seconds: float = 5.0,
        resolve_timeout: float = 10.0,
        replace: bool = False,
        locks: tuple | None = None,
        info: pylsl.StreamInfo | None = None,
    ) -> None:
        self.stream = stream
        self.tag, self.count_tag = tags(prefix)
        if not (isinstance(seconds, (int, float)) and 0.05 <= seconds <= 600):
            raise ValueError(f"The buffer length 'seconds' must be between 0.05 and 600. {seconds!r} is invalid.")
        self.seconds = float(seconds)
        self.resolve_timeout = float(resolve_timeout)
        self.replace = bool(replace)
        self._locks = locks or (_NoLock(), _NoLock())
        self._info = info
        self._inlet: pylsl.StreamInlet | None = None
        self._shm: list[SharedMemory] = []
        self.data: np.ndarray | None = None
        self.count: np.ndarray | None = None
        self._chunk: np.ndarray | None = None
        self.samples = 0
        """Samples written since :meth:`open`."""

    # ---------------------------------------------------------------- set-up
    def resolve(self) -> pylsl.StreamInfo:
        """Find the stream (short resolves, repeated, until ``resolve_timeout``)."""
        if self._info is not None:
            return self._info
        deadline = time.monotonic() + self.resolve_timeout
        found: list = []
        while not found and time.monotonic() < deadline:
            found = pylsl.resolve_byprop("name", self.stream, 1, min(0.5, self.resolve_timeout))
        if not found:
            raise RuntimeError(f"No LSL stream named {self.stream!r} found within {self.resolve_timeout:g} s.")
        self._info = found[0]
        return self._info

    @property
    def rows(self) -> int:
        """Samples the buffer holds."""
        info = self.resolve()
        rate = info.nominal_srate() or 1000.0
        return max(1, int(round(self.seconds * rate)))

    def _create(self, name: str, nbytes: int) -> SharedMemory:
        try:
            return SharedMemory(name, create=True, size=nbytes)
        except FileExistsError:
            if not self.replace:
                raise RuntimeError(
                    f"Shared memory {name!r} exists: another bridge or libemg streamer uses this tag prefix. "
                    "Give this bridge another --prefix, or --replace if a crashed process left it."
                ) from None
            old = SharedMemory(name, create=False)
            old.close()
            old.unlink()
            return SharedMemory(name, create=True, size=nbytes)

    def _refuse_a_taken_prefix(self) -> None:
        """Fail at once, before looking for the stream, when this tag prefix is in use (Linux: /dev/shm).

        Attaching to check would register the memory with this process's resource
        tracker (Python < 3.13), which would then remove the other owner's memory at exit.
        """
        if self.replace or not os.path.isdir("/dev/shm"):
            return  # elsewhere _create finds out when it creates the memory
        for name in (self.tag, self.count_tag):
            if os.path.exists(os.path.join("/dev/shm", name)):
                raise RuntimeError(
                    f"Shared memory {name!r} exists: another bridge or libemg streamer uses this tag prefix. "
                    "Give this bridge another --prefix, or --replace if a crashed process left it."
                )

    def open(self) -> None:
        """Resolve the stream, open an inlet and create the shared memory (zeroed)."""
        self._refuse_a_taken_prefix()
        info = self.resolve()
        if info.channel_format() == pylsl.cf_string:
            raise RuntimeError(f"Stream {self.stream!r} carries strings; the bridge needs a numeric EMG stream.")
        channels, rows = info.channel_count(), self.rows
        try:
            data_shm = self._create(self.tag, rows * channels * np.dtype(np.double).itemsize)
            self._shm.append(data_shm)
            count_shm = self._create(self.count_tag, np.dtype(np.int32).itemsize)
            self._shm.append(count_shm)
        except BaseException:
            self.close()
            raise
        self.data = np.ndarray((rows, channels), np.double, buffer=data_shm.buf)
        self.count = np.ndarray((1, 1), np.int32, buffer=count_shm.buf)
        self.data.fill(0.0)
        self.count.fill(0)
        max_buflen = max(1, int(np.ceil(max(self.seconds, 10.0))))
        self._inlet = pylsl.StreamInlet(info, max_buflen=max_buflen, recover=False)
        self._inlet.open_stream(timeout=max(self.resolve_timeout, 1.0))
        self._chunk = np.empty((rows, channels), np.float32 if info.channel_format() == pylsl.cf_float32 else
                               np.float64)
        self.samples = 0

    # ---------------------------------------------------------------- the hot path
    def write(self, rows_oldest_first: np.ndarray) -> None:
        """Put samples (oldest first, as LSL delivers them) into the buffer, newest first, and count them."""
        data, n = self.data, rows_oldest_first.shape[0]
        if n == 0:
            return
        total = data.shape[0]
        lock_data, lock_count = self._locks
        with lock_data:
            if n >= total:
                data[:] = rows_oldest_first[n - total:][::-1]
            else:
                data[n:] = data[: total - n]  # numpy copies overlapping ranges correctly
                data[:n] = rows_oldest_first[::-1]
        with lock_count:
            self.count[0, 0] += n
        self.samples += n

    def pump(self, timeout: float = 0.0) -> int:
        """Pull what the inlet has (waiting up to ``timeout`` s for the first sample) and write it; return its count."""
        chunk = self._chunk
        _, stamps = self._inlet.pull_chunk(timeout=timeout, max_samples=chunk.shape[0], dest_obj=chunk)
        n = len(stamps)
        self.write(chunk[:n])
        return n

    def run(self, should_stop: Callable[[], bool], period: float = 0.005) -> None:
        """Pump every ``period`` seconds until ``should_stop()``."""
        while not should_stop():
            self.pump(timeout=period)

    # ---------------------------------------------------------------- tear-down
    def close(self) -> None:
        """Close the inlet and remove the shared memory (safe to call twice)."""
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
        self.data = self.count = None
        for shm in self._shm:
            shm.close()
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
        self._shm = []

    def __enter__(self) -> LibemgBridge:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class BridgeProcess(_SPAWN.Process):
    """A bridge in its own process, as libemg runs its streamers (``stop()`` ends it and cleans up).

    Started with ``spawn`` (a fresh interpreter), so import this file as ``libemg_bridge`` (its folder
    on ``sys.path``) and guard the main script with ``if __name__ == "__main__":``.
    """

    def __init__(self, stream: str, prefix: str, seconds: float, replace: bool, locks: tuple,
                 resolve_timeout: float = 10.0) -> None:
        super().__init__(daemon=True)
        self._stream, self._prefix = stream, prefix
        self._seconds, self._replace, self._locks = seconds, replace, locks
        self._resolve_timeout = resolve_timeout
        self._stop_event = _SPAWN.Event()
        self.ready = _SPAWN.Event()

    def run(self) -> None:
        """Bridge until :meth:`stop` or SIGTERM/SIGINT; always remove the shared memory."""
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        quiet_liblsl()
        bridge = LibemgBridge(self._stream, self._prefix, self._seconds, self._resolve_timeout, self._replace,
                              self._locks)
        try:
            bridge.open()
            self.ready.set()
            bridge.run(self._stop_event.is_set)
        except KeyboardInterrupt:
            pass
        finally:
            bridge.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the bridge to end and wait for it (libemg's streamers have the same method)."""
        self._stop_event.set()
        self.join(timeout)


def lsl_streamer(
    stream: str = "myostream-EMG",
    prefix: str = "",
    seconds: float = 5.0,
    resolve_timeout: float = 10.0,
    replace: bool = False,
) -> tuple[BridgeProcess, list[list]]:
    """Start a bridge process; return it and libemg's ``shared_memory_items`` (like ``libemg.streamers.*``).

    Parameters
    ----------
    stream, prefix, seconds, resolve_timeout, replace
        As for :class:`LibemgBridge`.

    Returns
    -------
    process : BridgeProcess
        The running bridge; ``process.stop()`` ends it and removes its shared memory.
    shared_memory_items : list of list
        Pass to ``libemg.data_handler.OnlineDataHandler``.
    """
    probe = LibemgBridge(stream, prefix, seconds, resolve_timeout)
    info = probe.resolve()
    items = shared_memory_items(prefix, info.channel_count(), probe.rows)
    process = BridgeProcess(stream, prefix, seconds, replace, (items[0][3], items[1][3]), resolve_timeout)
    process.start()
    deadline = time.monotonic() + resolve_timeout + 5.0
    while not process.ready.wait(0.1):
        if not process.is_alive() or time.monotonic() > deadline:
            process.stop(1.0)
            raise RuntimeError(f"The libemg bridge for {stream!r} did not start (exit code {process.exitcode}).")
    return process, items


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: bridge until Ctrl-C, SIGTERM or ``--duration``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stream", default="myostream-EMG", help="LSL stream name (default: myostream-EMG).")
    parser.add_argument("--prefix", default="", help="Tag prefix: shared memory <prefix>emg, <prefix>emg_count.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Buffer length in seconds of EMG (default 5).")
    parser.add_argument("--duration", type=float, default=None, help="Seconds to run (default: until Ctrl-C).")
    parser.add_argument("--resolve-timeout", type=float, default=10.0, help="Seconds to wait for the stream.")
    parser.add_argument("--replace", action="store_true", help="Take over shared memory a crashed process left.")
    args = parser.parse_args(argv)
    quiet_liblsl()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        bridge = LibemgBridge(args.stream, args.prefix, args.seconds, args.resolve_timeout, args.replace)
        bridge.open()
    except (RuntimeError, ValueError) as err:
        print(f"libemg_bridge: {err}", file=sys.stderr)
        return 1
    end = None if args.duration is None else time.monotonic() + args.duration
    try:
        rows, channels = bridge.data.shape
        print(f"libemg_bridge: {args.stream} -> shared memory [[{bridge.tag!r}, ({rows}, {channels}), float64], "
              f"[{bridge.count_tag!r}, (1, 1), int32]]; in libemg: "
              f"shared_memory_items({args.prefix!r}, {channels}, {rows})", flush=True)
        bridge.run(lambda: end is not None and time.monotonic() >= end)
    except KeyboardInterrupt:
        pass
    except pylsl.LostError:
        print(f"libemg_bridge: stream {args.stream!r} lost.", file=sys.stderr)
        return 1
    finally:
        samples = bridge.samples
        bridge.close()
    print(f"libemg_bridge: {samples} samples bridged; shared memory removed.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
