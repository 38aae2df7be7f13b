"""Record every myostream stream to CSV files for offline analysis (only pylsl and numpy needed).

Finds all LSL streams whose name starts with ``<prefix>-`` (EMG, IMU,
activations of the ground truth and of the model, status, markers, spikes,
provenance ... whatever the producer publishes: they are discovered, not
listed, and one that appears during the recording is added) and writes one file per
stream, ``<out>/<stream name>.csv``: a header ``timestamp,<channel labels>``
and one row per sample (LSL timestamp in seconds, then the values; marker
strings are quoted). Rows are written as they arrive, so a long recording does
not fill memory. Stop with ``--duration`` or Ctrl-C.

Usage::

    python launch.py run --wait-for-consumer 30 &
    python examples/record_csv.py --prefix myostream --out recording --duration 60

(``--wait-for-consumer`` makes the simulator start its clock once a consumer
is connected, so the recording has EMG sample 0.)
"""

# ruff: noqa: T201  (a command-line example: it prints)
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import pylsl

_DTYPES = {pylsl.cf_float32: np.float32, pylsl.cf_double64: np.float64, pylsl.cf_int8: np.int8,
           pylsl.cf_int16: np.int16, pylsl.cf_int32: np.int32, pylsl.cf_int64: np.int64}


def quiet_liblsl() -> None:
    """Silence liblsl's INFO lines on stderr, unless the user has an LSL configuration of their own.

    Call it before any other pylsl call (as ``launch.py`` does): liblsl reads its
    configuration once, on first use.
    """
    candidates = [Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg", Path("/etc/lsl_api/lsl_api.cfg")]
    if os.environ.get("LSLAPICFG") or any(p.exists() for p in candidates):
        return
    pylsl.set_config_content("[log]\nlevel = -2\n")


def channel_labels(info: pylsl.StreamInfo) -> list[str]:
    """Channel labels from ``desc/channels/channel/label`` (``ch<k>`` where missing)."""
    labels = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    n = info.channel_count()
    labels = (labels + [""] * n)[:n]
    return [label or f"ch{k + 1}" for k, label in enumerate(labels)]


class StreamRecorder:
    """One stream to one CSV file.

    Parameters
    ----------
    info : pylsl.StreamInfo
        The resolved stream.
    out_dir : Path
        Folder of the CSV file.
    """

    def __init__(self, info: pylsl.StreamInfo, out_dir: Path) -> None:
        self.inlet = pylsl.StreamInlet(info, max_buflen=60)
        full = self.inlet.info(timeout=5.0)
        self.name = full.name()
        self.string = full.channel_format() == pylsl.cf_string
        self.path = Path(out_dir) / f"{self.name}.csv"
        self._file = open(self.path, "w", newline="")  # noqa: SIM115 - closed in close()
        self._writer = csv.writer(self._file)
        self._writer.writerow(["timestamp", *channel_labels(full)])
        n = full.channel_count()
        self._buffer = None if self.string else np.empty((1024, n), _DTYPES.get(full.channel_format(), np.float64))
        # Timestamps to the microsecond; values with float32 precision (float64 streams: 15 digits).
        digits = "%.15g" if full.channel_format() == pylsl.cf_double64 else "%.8g"
        self._fmt = ["%.6f"] + [digits] * n
        self.samples = 0
        self.inlet.open_stream(timeout=5.0)

    def poll(self) -> int:
        """Write what has arrived; return the number of new samples."""
        new = 0
        while True:
            if self.string:
                data, ts = self.inlet.pull_chunk(timeout=0.0, max_samples=1024)
                rows = [[repr(t), *values] for t, values in zip(ts, data)]
            else:
                _, ts = self.inlet.pull_chunk(timeout=0.0, max_samples=self._buffer.shape[0], dest_obj=self._buffer)
            if not ts:
                return new
            if self.string:
                self._writer.writerows(rows)
            else:
                table = np.column_stack([np.asarray(ts), self._buffer[: len(ts)].astype(np.float64)])
                np.savetxt(self._file, table, delimiter=",", fmt=self._fmt)
            new += len(ts)
            self.samples += len(ts)

    def close(self) -> None:
        """Flush and close the file and the inlet."""
        self._file.close()
        self.inlet.close_stream()


def prefix_resolver(prefix: str) -> pylsl.ContinuousResolver:
    """A resolver that keeps finding every stream named ``<prefix>-...`` in the background."""
    quoted = prefix.replace("'", "")
    return pylsl.ContinuousResolver(pred=f"starts-with(name,'{quoted}-')", forget_after=5.0)


def find_streams(prefix: str, timeout: float, wait_for: str = "EMG", settle: float = 1.0,
                 resolver: pylsl.ContinuousResolver | None = None) -> list[pylsl.StreamInfo]:
    """Every stream named ``<prefix>-...``, found by discovery (no list of names).

    Waits up to ``timeout`` s for ``<prefix>-<wait_for>`` to appear, then ``settle`` s more,
    so that the streams a producer opens together with it are found too. One per name.
    """
    resolver = resolver if resolver is not None else prefix_resolver(prefix)
    deadline = time.monotonic() + timeout
    settled_at = None
    while True:
        found: dict[str, pylsl.StreamInfo] = {}
        for info in resolver.results():
            found.setdefault(info.name(), info)
        now = time.monotonic()
        if settled_at is None and f"{prefix}-{wait_for}" in found:
            settled_at = now + settle
        if (settled_at is not None and now >= settled_at) or now > deadline:
            return [found[name] for name in sorted(found)]
        time.sleep(0.1)


def record(prefix: str, out_dir: Path, duration: float | None = None, resolve_timeout: float = 10.0,
           poll_interval: float = 0.02) -> dict[str, int]:
    """Record all ``<prefix>-*`` streams to CSV until ``duration`` seconds have passed (or Ctrl-C).

    Streams are discovered, not listed: those present at the start are opened
    at once, and a stream that appears later (a producer that opens it late)
    gets its file as soon as it is found.

    Returns
    -------
    samples : dict
        Samples written per stream name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resolver = prefix_resolver(prefix)
    streams = find_streams(prefix, resolve_timeout, resolver=resolver)
    if not streams:
        raise RuntimeError(f"No stream named {prefix}-* found within {resolve_timeout:g} s; is the simulator "
                           f"running (python launch.py run --name {prefix})?")
    # Open the EMG stream last: a simulator started with --wait-for-consumer starts once it has a consumer.
    streams.sort(key=lambda s: s.name() == f"{prefix}-EMG")
    recorders = {info.name(): StreamRecorder(info, out_dir) for info in streams}
    t_end = None if duration is None else time.monotonic() + duration
    next_look = time.monotonic() + 0.5
    try:
        while t_end is None or time.monotonic() < t_end:
            for rec in recorders.values():
                rec.poll()
            if time.monotonic() >= next_look:  # streams that appeared since
                next_look = time.monotonic() + 0.5
                for info in resolver.results():
                    if info.name() not in recorders:
                        recorders[info.name()] = StreamRecorder(info, out_dir)
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        for rec in recorders.values():
            rec.poll()
            rec.close()
    return {name: rec.samples for name, rec in sorted(recorders.items())}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="myostream", help="Stream-name prefix of the simulator.")
    parser.add_argument("--out", default="recording", help="Output folder (one CSV per stream).")
    parser.add_argument("--duration", type=float, default=None, help="Seconds to record (default: until Ctrl-C).")
    parser.add_argument("--resolve-timeout", type=float, default=10.0, help="Seconds to wait for <prefix>-EMG.")
    args = parser.parse_args(argv)
    quiet_liblsl()
    try:
        counts = record(args.prefix, Path(args.out), args.duration, args.resolve_timeout)
    except RuntimeError as err:
        print(f"record_csv: {err}", file=sys.stderr)
        return 1
    for name, n in counts.items():
        print(f"{name}: {n} samples -> {Path(args.out) / (name + '.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
