"""A small stand-alone LSL producer for trying and benchmarking the viewer without the simulator.

It publishes streams declared by :mod:`realtime.core.schemas` (``<prefix>-EMG``
with per-channel labels, units and electrode locations, ``<prefix>-activation``,
``<prefix>-IMU``, ``<prefix>-status``) or, with ``layout="none"``, a bare EMG
stream with no metadata at all, as a foreign amplifier would. The EMG is
band-limited-looking noise whose amplitude follows a slow activation and peaks
around a moving spot on the electrode array; it is a test signal, not a
physiological model (that is the simulator's job).

Run it with ``python launch.py demo-outlet --help``.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import time
from dataclasses import dataclass

import numpy as np
import pylsl

from devices.lsl_outlet import LslOutlet, to_stream_info
from realtime.core.anatomy import MUSCLES
from realtime.core.block import Block, regular_timestamps
from realtime.core.checks import check_choice, ensure_int
from realtime.core.schemas import (
    STREAM_TYPES,
    StreamSpec,
    activation_stream_spec,
    emg_stream_spec,
    imu_stream_spec,
    status_stream_spec,
)
from realtime.core.units import IMU_CHANNELS, STANDARD_GRAVITY

LAYOUTS = ("armband8", "grid64", "none")
"""Electrode arrays of the demo: an 8-channel band, an 8x8 grid, or a bare stream of ``n_channels``."""


@dataclass(frozen=True)
class Geometry:
    """Electrode labels, positions (mm), grid shape and montage of a demo layout."""

    labels: tuple[str, ...]
    locations: np.ndarray | None
    rows: int
    cols: int
    montage: str
    reference: str


def geometry(layout: str, n_channels: int = 8) -> Geometry:
    """Electrode geometry of ``layout`` (``armband8``, ``grid64`` or ``none`` with ``n_channels``)."""
    check_choice("layout", layout, LAYOUTS)
    if layout == "armband8":
        ang = np.arange(8) * 2 * np.pi / 8
        loc = np.column_stack([40 * np.cos(ang), 40 * np.sin(ang), np.zeros(8)])
        return Geometry(tuple(f"EMG{i + 1}" for i in range(8)), loc, 0, 0, "bipolar", "bipolar")
    if layout == "grid64":
        r, c = np.divmod(np.arange(64), 8)
        loc = np.column_stack([c * 10.0, (7 - r) * 10.0, np.zeros(64)])
        labels = tuple(f"R{i + 1}C{j + 1}" for i, j in zip(r, c))
        return Geometry(labels, loc, 8, 8, "monopolar", "common reference")
    ensure_int("n_channels", n_channels, lo=1)
    return Geometry(tuple(f"Ch{i + 1}" for i in range(n_channels)), None, 0, 0, "", "")


def emg_spec(name: str, layout: str, fs: float, source_id: str | None = None) -> StreamSpec:
    """The demo's EMG stream as :func:`realtime.core.schemas.emg_stream_spec` declares it, named ``name``.

    ``layout`` is ``armband8`` or ``grid64`` (a ``none`` stream has no metadata: see :func:`emg_info`).
    """
    geo = geometry(layout)
    spec = emg_stream_spec(
        "demo", fs, geo.labels, geo.locations, layout=layout, montage=geo.montage, reference=geo.reference,
        differential=geo.montage == "bipolar", grid=(geo.rows, geo.cols) if geo.rows else None,
    )
    sid = source_id if source_id is not None else f"{name}-{socket.gethostname()}"
    return dataclasses.replace(spec, name=name, source_id=sid)


def emg_info(
    name: str, layout: str, fs: float, n_channels: int = 8, source_id: str | None = None
) -> pylsl.StreamInfo:
    """An EMG ``StreamInfo``: metadata per ``docs/streams.md``, or none at all for ``layout == 'none'``."""
    if layout == "none":
        n = len(geometry(layout, n_channels).labels)
        return pylsl.StreamInfo(name, STREAM_TYPES["emg"], n, fs, "float32", source_id or "")
    return to_stream_info(emg_spec(name, layout, fs, source_id))


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


def _companion_rows(sig: DemoSignal, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Activation (n, muscles) and IMU (n, 6) rows of the demo at times ``t`` (s from the start)."""
    act = np.empty((t.size, len(MUSCLES)), dtype=np.float32)
    imu = np.empty((t.size, len(IMU_CHANNELS)), dtype=np.float32)
    for i, ti in enumerate(t):
        a = sig.activation(ti)
        act[i] = np.clip(a * (0.3 + 0.7 * np.cos(np.arange(len(MUSCLES)) + 0.3 * ti) ** 2), 0, 1)
        imu[i, :3] = (0.0, STANDARD_GRAVITY * math.cos(0.5 * ti), STANDARD_GRAVITY * math.sin(0.5 * ti))
        imu[i, 3:] = (0.5 * math.sin(ti), 0.3 * math.cos(1.3 * ti), 0.1)
    return act, imu


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
    ensure_int("chunk", chunk, lo=1)
    geo = geometry(layout, n_channels)
    emg_out = pylsl.StreamOutlet(emg_info(f"{prefix}-EMG", layout, fs, n_channels), chunk_size=chunk)
    sig = DemoSignal(geo, fs)
    extra: dict[str, LslOutlet] = {}
    if companions and layout != "none":
        extra = {
            "activation": LslOutlet(activation_stream_spec(prefix, MUSCLES, imu_fs)),
            "IMU": LslOutlet(imu_stream_spec(prefix, imu_fs)),
            "status": LslOutlet(status_stream_spec(prefix)),
        }
        for outlet in extra.values():
            outlet.start()
    t0 = pylsl.local_clock()
    target = t0
    sent = imu_sent = late = 0
    next_status = t0 + 1.0
    try:
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
            emg_out.push_chunk(sig.next(chunk), timestamp=t0 + (sent + chunk - 1) / fs)
            sent += chunk
            if not extra:
                continue
            n_imu = int((sent / fs) * imu_fs) - imu_sent
            if n_imu > 0:
                stamps = regular_timestamps(t0, imu_fs, imu_sent + 1, n_imu)
                act, imu = _companion_rows(sig, stamps - t0)
                extra["activation"].write(Block(act, stamps, imu_fs, imu_sent, MUSCLES))
                extra["IMU"].write(Block(imu, stamps, imu_fs, imu_sent, IMU_CHANNELS))
                imu_sent += n_imu
            if now >= next_status:
                extra["status"].push_sample([float(sent), sent / max(now - t0, 1e-9), float(late), 0.1, 1.0], now)
                next_status += 1.0
    finally:
        for outlet in extra.values():
            outlet.stop()
    return sent
