"""A small stand-alone LSL producer for trying and benchmarking the viewer without the simulator.

It publishes streams with the names and metadata of ``docs/streams.md``
(``<prefix>-EMG`` with per-channel labels, units and electrode locations,
``<prefix>-activation``, ``<prefix>-IMU``, ``<prefix>-status``) or, with
``--layout none``, a bare EMG stream with no metadata at all, as a foreign
amplifier would. The EMG is band-limited-looking noise whose amplitude follows
a slow activation and peaks around a moving spot on the electrode array; it is
a test signal, not a physiological model (that is the simulator's job).

Run ``python -m gui.demo_outlet --help``.
"""

from __future__ import annotations

import argparse
import math
import socket
import time
from dataclasses import dataclass

import numpy as np
import pylsl

from realtime.core.anatomy import MUSCLES

LAYOUTS = ("armband8", "grid64", "none")
IMU_LABELS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
IMU_UNITS = ("m/s^2",) * 3 + ("rad/s",) * 3
STATUS_LABELS = ("samples_sent", "effective_rate_hz", "late_ticks", "loop_load", "latency_ms")


@dataclass(frozen=True)
class Geometry:
    """Electrode labels, positions (mm) and grid shape of a layout."""

    labels: tuple[str, ...]
    locations: np.ndarray | None
    rows: int
    cols: int
    montage: str
    reference: str


def geometry(layout: str, n_channels: int = 8) -> Geometry:
    """Electrode geometry of ``layout`` (``armband8``, ``grid64`` or ``none`` with ``n_channels``)."""
    if layout == "armband8":
        ang = np.arange(8) * 2 * np.pi / 8
        loc = np.column_stack([40 * np.cos(ang), 40 * np.sin(ang), np.zeros(8)])
        return Geometry(tuple(f"EMG{i + 1}" for i in range(8)), loc, 0, 0, "bipolar", "bipolar")
    if layout == "grid64":
        r, c = np.divmod(np.arange(64), 8)
        loc = np.column_stack([c * 10.0, (7 - r) * 10.0, np.zeros(64)])
        return Geometry(
            tuple(f"R{i + 1}C{j + 1}" for i, j in zip(r, c)),
            loc,
            8,
            8,
            "monopolar",
            "common reference",
        )
    if layout == "none":
        if n_channels < 1:
            raise ValueError(
                f"The argument 'n_channels' must be at least 1. {n_channels!r} is invalid."
            )
        return Geometry(tuple(f"Ch{i + 1}" for i in range(n_channels)), None, 0, 0, "", "")
    raise ValueError(f"The argument 'layout' must be one of {LAYOUTS}. {layout!r} is invalid.")


def _add_channels(
    info: pylsl.StreamInfo,
    labels: tuple[str, ...],
    units: tuple[str, ...],
    ctype: str,
    locations: np.ndarray | None = None,
) -> None:
    chans = info.desc().append_child("channels")
    for i, (label, unit) in enumerate(zip(labels, units)):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", ctype)
        if locations is not None:
            loc = ch.append_child("location")
            for k, axis in enumerate("XYZ"):
                loc.append_child_value(axis, f"{locations[i, k]:.3f}")


def emg_info(
    name: str, layout: str, fs: float, n_channels: int = 8, source_id: str | None = None
) -> pylsl.StreamInfo:
    """An EMG StreamInfo; with metadata per docs/streams.md unless ``layout == 'none'``."""
    geo = geometry(layout, n_channels)
    n = len(geo.labels)
    sid = (
        source_id
        if source_id is not None
        else (f"{name}-{socket.gethostname()}" if layout != "none" else "")
    )
    info = pylsl.StreamInfo(name, "EMG", n, fs, "float32", sid)
    if layout == "none":
        return info
    _add_channels(info, geo.labels, ("microvolts",) * n, "EMG", geo.locations)
    acq = info.desc().append_child("acquisition")
    acq.append_child_value("manufacturer", "myostream")
    acq.append_child_value("model", layout)
    acq.append_child_value("compensated_lag", "0")
    acq.append_child_value("precision", "32")
    ref = info.desc().append_child("reference")
    ref.append_child_value("label", geo.reference)
    ref.append_child_value("subtracted", "Yes")
    lay = info.desc().append_child("layout")
    lay.append_child_value("name", layout)
    lay.append_child_value("montage", geo.montage)
    if geo.rows:
        lay.append_child_value("rows", str(geo.rows))
        lay.append_child_value("cols", str(geo.cols))
    return info


def companion_info(prefix: str, role: str, fs: float) -> pylsl.StreamInfo:
    """StreamInfo of ``<prefix>-activation``, ``-activation-model``, ``-IMU`` or ``-status``."""
    host = socket.gethostname()
    if role in ("activation", "activation-model"):
        info = pylsl.StreamInfo(
            f"{prefix}-{role}", "Activation", len(MUSCLES), fs, "float32", f"{prefix}-{role}-{host}"
        )
        _add_channels(info, MUSCLES, ("normalized",) * len(MUSCLES), "Activation")
    elif role == "IMU":
        info = pylsl.StreamInfo(f"{prefix}-IMU", "IMU", 6, fs, "float32", f"{prefix}-IMU-{host}")
        _add_channels(info, IMU_LABELS, IMU_UNITS, "IMU")
    elif role == "status":
        info = pylsl.StreamInfo(
            f"{prefix}-status", "Status", 5, 1.0, "float32", f"{prefix}-status-{host}"
        )
        _add_channels(info, STATUS_LABELS, ("count", "Hz", "count", "fraction", "ms"), "Status")
    else:
        raise ValueError(
            f"The argument 'role' must be activation, activation-model, IMU or status. {role!r} is invalid."
        )
    return info


class DemoSignal:
    """Test EMG: noise scaled by a slow activation that peaks around a moving spot.

    Parameters
    ----------
    geo : Geometry
        Electrode geometry (positions decide where the spot is).
    fs : float
        Sampling rate in Hz.
    seed : int
        Random seed.
    """

    def __init__(self, geo: Geometry, fs: float, seed: int = 0) -> None:
        self.fs = fs
        self.rng = np.random.default_rng(seed)
        n = len(geo.labels)
        if geo.locations is not None:
            loc = geo.locations[:, :2] - geo.locations[:, :2].mean(axis=0)
        else:
            ang = np.arange(n) * 2 * np.pi / n
            loc = np.column_stack([np.cos(ang), np.sin(ang)])
        scale = max(float(np.abs(loc).max()), 1e-9)
        self.loc = (loc / scale).astype(np.float32)
        self.n = 0
        self._prev = np.zeros(n, dtype=np.float32)

    def activation(self, t: float) -> float:
        """Slow contraction pattern in [0, 1]."""
        return 0.5 + 0.5 * math.sin(2 * math.pi * 0.25 * t) ** 3

    def next(self, k: int) -> np.ndarray:
        """The next ``k`` samples, (k, n_channels) float32 in µV."""
        t = self.n / self.fs
        a = self.activation(t)
        spot = np.array([math.cos(0.4 * t), math.sin(0.4 * t)], dtype=np.float32) * 0.6
        d2 = np.sum((self.loc - spot) ** 2, axis=1)
        amp = 8.0 + 180.0 * a * np.exp(-d2 / 0.25)
        white = self.rng.standard_normal((k, amp.size), dtype=np.float32)
        self.n += k
        return (white * amp.astype(np.float32)).astype(np.float32)


def run(
    prefix: str = "myostream",
    layout: str = "grid64",
    fs: float = 2000.0,
    duration: float = math.inf,
    chunk: int = 20,
    n_channels: int = 8,
    companions: bool = True,
    imu_fs: float = 100.0,
) -> int:
    """Publish until ``duration`` seconds have passed; return the number of EMG samples sent."""
    if chunk < 1:
        raise ValueError(f"The argument 'chunk' must be a positive integer. {chunk!r} is invalid.")
    geo = geometry(layout, n_channels)
    emg_out = pylsl.StreamOutlet(
        emg_info(f"{prefix}-EMG", layout, fs, n_channels), chunk_size=chunk
    )
    sig = DemoSignal(geo, fs)
    extra: dict[str, pylsl.StreamOutlet] = {}
    if companions and layout != "none":
        for role in ("activation", "IMU", "status"):
            extra[role] = pylsl.StreamOutlet(companion_info(prefix, role, imu_fs))
    t0 = pylsl.local_clock()
    target = t0
    sent = 0
    imu_sent = 0
    late = 0
    next_status = t0 + 1.0
    while True:
        now = pylsl.local_clock()
        if now - t0 >= duration:
            break
        target += chunk / fs
        delay = target - pylsl.local_clock()
        if delay > 0:
            time.sleep(delay)
        elif delay < -chunk / fs:
            late += 1
        data = sig.next(chunk)
        emg_out.push_chunk(data, timestamp=t0 + (sent + chunk - 1) / fs)
        sent += chunk
        t_now = t0 + sent / fs
        if extra:
            n_imu = int(t_now * imu_fs - t0 * imu_fs) - imu_sent
            if n_imu > 0:
                ts = t0 + (imu_sent + np.arange(n_imu) + 1) / imu_fs
                act = np.empty((n_imu, len(MUSCLES)), dtype=np.float32)
                imu = np.empty((n_imu, 6), dtype=np.float32)
                for i, t in enumerate(ts - t0):
                    a = sig.activation(t)
                    act[i] = np.clip(
                        a * (0.3 + 0.7 * np.cos(np.arange(len(MUSCLES)) + 0.3 * t) ** 2), 0, 1
                    )
                    imu[i, :3] = (0.0, 9.81 * math.cos(0.5 * t), 9.81 * math.sin(0.5 * t))
                    imu[i, 3:] = (0.5 * math.sin(t), 0.3 * math.cos(1.3 * t), 0.1)
                extra["activation"].push_chunk(act, timestamp=float(ts[-1]))
                extra["IMU"].push_chunk(imu, timestamp=float(ts[-1]))
                imu_sent += n_imu
            if now >= next_status:
                rate = sent / max(now - t0, 1e-9)
                extra["status"].push_sample(
                    [float(sent), rate, float(late), 0.1, 1.0], timestamp=now
                )
                next_status += 1.0
    return sent


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--name", default="myostream", help="stream-name prefix (default myostream)"
    )
    parser.add_argument("--layout", choices=LAYOUTS, default="grid64")
    parser.add_argument("--channels", type=int, default=8, help="channel count for --layout none")
    parser.add_argument("--fs", type=float, default=2000.0, help="EMG rate in Hz")
    parser.add_argument(
        "--duration", type=float, default=math.inf, help="seconds (default: forever)"
    )
    parser.add_argument("--no-companions", action="store_true", help="publish the EMG stream only")
    args = parser.parse_args(argv)
    try:
        run(
            args.name,
            args.layout,
            args.fs,
            args.duration,
            n_channels=args.channels,
            companions=not args.no_companions,
        )
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
