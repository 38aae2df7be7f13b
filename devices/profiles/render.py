"""Publish samples the way a device's LSL app does: scaling, counts, extra channels, packets, stamps.

:class:`DeviceEmgWriter` takes EMG blocks already at the device's rate (µV, the
layout's channels, timestamps = the device's true sample times; see
:class:`realtime.stages.output_resample.OutputResampler`) and pushes what the
device's app would: the EMG slots quantised to the device's counts and
saturated at its limits, published as counts (integer formats) or scaled
values (float formats), the extra channels (sample counter, trigger, quaternion),
in packets of the device's size. :class:`DeviceImuWriter` does the same for a
companion IMU stream in the device's units (g, deg/s, µT, quaternion).

:class:`DeviceClock` gives the timestamps: by default the true sample times
(ideal clock); with ``run --device-clock`` the app's arrival stamps: every
``burst`` packets arrive together, ``latency + |N(0, jitter)|`` after the last
one's last sample was taken, and the app stamps them as its ``stamping`` says.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from devices.profiles.orientation import OrientationTracker
from devices.profiles.profile import IMU_KINDS, ClockProfile, EmgProfile, ImuProfile
from realtime.core.block import Block
from realtime.core.schemas import INTEGER_FORMATS, ChannelInfo, StreamSpec, filters_desc

STANDARD_GRAVITY = 9.80665
"""m/s² per g."""

Push = Callable[[np.ndarray, np.ndarray], None]
"""Pushes rows with one timestamp each (``LslOutlet.push_rows``)."""


@njit(cache=True)
def _counts(uv: np.ndarray, out: np.ndarray, resolution: float, lo: float, hi: float, saturate: bool,
            scale: float) -> int:  # pragma: no cover - numba
    """``out[:, :C] = clip(round(uv / resolution)) * scale`` (``resolution`` 0: ``uv * scale``); returns the clipped count."""
    clipped = 0
    for i in range(uv.shape[0]):
        for c in range(uv.shape[1]):
            v = uv[i, c]
            if resolution > 0:
                v = np.rint(v / resolution)
                if saturate:
                    if v < lo:
                        v = lo
                        clipped += 1
                    elif v > hi:
                        v = hi
                        clipped += 1
            out[i, c] = v * scale
    return clipped


class DeviceClock:
    """Timestamps an app gives the packets it receives.

    Parameters
    ----------
    fs : float
        Nominal rate (the app counts back from the arrival stamp at this rate).
    clock : ClockProfile | None
        ``None``: ideal (stamps are the true sample times).
    seed : int
        Seed of the jitter.
    """

    def __init__(self, fs: float, clock: ClockProfile | None, seed: int = 0) -> None:
        self.fs = float(fs)
        self.clock = clock
        self.burst = 1 if clock is None else clock.burst
        self._rng = np.random.default_rng(seed)

    def stamps(self, true_times: np.ndarray, packet: int) -> np.ndarray:
        """Stamps of ``true_times`` (a whole number of packets delivered together)."""
        c = self.clock
        if c is None:
            return true_times
        arrival = true_times[-1] + (c.latency_ms + abs(self._rng.normal(0.0, c.jitter_ms))) * 1e-3
        if c.stamping == "sample_arrival":
            return np.full(true_times.shape, arrival)
        # chunk_last: every packet of the burst is read at `arrival`; its samples are counted back.
        back = (packet - 1 - np.arange(true_times.size) % packet) / self.fs
        return arrival - back


class _Packets:
    """Collects rows and hands out whole bursts of packets (preallocated)."""

    def __init__(self, n_channels: int, dtype: type, packet: int, burst: int, max_rows: int) -> None:
        self.size = packet * burst
        self.packet = packet
        self.rows = np.zeros((self.size + max_rows, n_channels), dtype)
        self.times = np.zeros(self.size + max_rows)
        self.n = 0

    def add(self, rows: np.ndarray, times: np.ndarray) -> None:
        n = rows.shape[0]
        if self.n + n > self.rows.shape[0]:
            grow = self.n + n
            self.rows = np.concatenate([self.rows, np.zeros((grow, self.rows.shape[1]), self.rows.dtype)])
            self.times = np.concatenate([self.times, np.zeros(grow)])
        self.rows[self.n:self.n + n] = rows
        self.times[self.n:self.n + n] = times
        self.n += n

    def take(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The next full burst (copies), or ``None``."""
        if self.n < self.size:
            return None
        rows, times = self.rows[:self.size].copy(), self.times[:self.size].copy()
        self.rows[:self.n - self.size] = self.rows[self.size:self.n]
        self.times[:self.n - self.size] = self.times[self.size:self.n]
        self.n -= self.size
        return rows, times


def emg_spec(profile: EmgProfile, prefix: str, locations_mm: np.ndarray | None, layout_name: str) -> StreamSpec:
    """The EMG stream a profile declares (locations of the slots the layout fills, in mm)."""
    channels = []
    for i, label in enumerate(profile.labels):
        loc = None if locations_mm is None or i >= len(locations_mm) else tuple(float(v) for v in locations_mm[i])
        channels.append(ChannelInfo(label, profile.unit, profile.channel_type, loc))
    channels += [ChannelInfo(e.label, e.unit, e.type) for e in profile.extras]
    desc = {k: dict(v) for k, v in profile.desc.items()}
    if profile.band is not None:
        desc["filters"] = filters_desc(*profile.band)
    desc.setdefault("acquisition", {}).setdefault("simulated_by", f"myostream (layout {layout_name})")
    return StreamSpec(
        profile.name.replace("{prefix}", prefix), profile.type, tuple(channels), profile.fs,
        profile.source_id.replace("{prefix}", prefix), channel_format=profile.channel_format, desc=desc,
        desc_values=dict(profile.desc_values),
    )


def imu_spec(profile: ImuProfile, prefix: str) -> StreamSpec:
    """The companion IMU stream a profile declares."""
    types = [IMU_KINDS[k][1] for k in profile.kinds] * profile.sensors
    channels = tuple(ChannelInfo(label, unit, t) for label, unit, t in zip(profile.labels, profile.units, types))
    return StreamSpec(
        profile.name.replace("{prefix}", prefix), profile.type, channels, profile.fs,
        profile.source_id.replace("{prefix}", prefix), channel_format=profile.channel_format,
        desc_values=dict(profile.desc_values),
    )


class DeviceEmgWriter:
    """Turns device-rate µV blocks into the device's packets and pushes them.

    Parameters
    ----------
    profile : EmgProfile
    n_inputs : int
        EMG channels the blocks carry (the layout's; they fill the first slots).
    push : Push
        Where the packets go (``LslOutlet.push_rows``).
    clock : DeviceClock
        Stamps.
    orientation : OrientationTracker | None
        Source of the quaternion extras.
    max_block : int
        Largest block expected (preallocation).
    """

    def __init__(self, profile: EmgProfile, n_inputs: int, push: Push, clock: DeviceClock,
                 orientation: OrientationTracker | None = None, max_block: int = 64) -> None:
        if n_inputs > profile.slots:
            raise ValueError(
                f"The layout has {n_inputs} channels; the profile's EMG stream has only {profile.slots} slots. "
                "Choose a layout with at most that many channels (--layout)."
            )
        self.profile = profile
        self.n_inputs = int(n_inputs)
        self.push = push
        self.clock = clock
        self.orientation = orientation
        self.integer = profile.channel_format in INTEGER_FORMATS
        dtype = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "double64": np.float64}.get(
            profile.channel_format, np.float32)
        self.n_channels = profile.slots + len(profile.extras)
        limits = profile.count_limits
        self._saturate = limits is not None
        self._lo, self._hi = (float(limits[0]), float(limits[1])) if limits is not None else (0.0, 0.0)
        self._resolution = float(profile.resolution_uv)
        # Published value per count (float formats: back to µV, then the unit's scale) or per µV.
        if self.integer:
            self._scale = 1.0
        elif profile.resolution_uv > 0:
            self._scale = profile.resolution_uv * profile.scale
        else:
            self._scale = profile.scale
        self._out = np.zeros((max_block, self.n_channels), np.float64)
        self._packets = _Packets(self.n_channels, dtype, profile.packet, clock.burst, max_block)
        self.dtype = dtype
        self.samples_in = 0
        self.saturated = 0
        self.newest: tuple[int, float, float] | None = None
        """(index, true time, stamp) of the newest sample pushed."""

    def write(self, block: Block) -> None:
        """Add ``block`` (device rate, µV) and push every complete burst of packets."""
        n = block.n_samples
        if n == 0:
            return
        p = self.profile
        if n > self._out.shape[0]:
            self._out = np.zeros((n, self.n_channels))
        out = self._out[:n]
        out[:, self.n_inputs:p.slots] = 0.0
        self.saturated += _counts(block.data, out, self._resolution, self._lo, self._hi, self._saturate, self._scale)
        first = block.seq
        for j, extra in enumerate(p.extras):
            col = out[:, p.slots + j]
            if extra.kind == "counter":
                idx = np.arange(first, first + n, dtype=np.int64)
                if extra.wrap:
                    idx %= extra.wrap
                    if extra.signed:
                        idx = np.where(idx >= extra.wrap // 2, idx - extra.wrap, idx)
                col[:] = idx
            elif extra.kind == "constant":
                col[:] = extra.value
            else:
                q = self.orientation.q if self.orientation is not None else np.array([1.0, 0.0, 0.0, 0.0])
                col[:] = q["wxyz".index(extra.kind[-1])]
        self.samples_in += n
        self._packets.add(out.astype(self.dtype, copy=False) if self.integer else out, block.timestamps)
        while (burst := self._packets.take()) is not None:
            rows, true_times = burst
            stamps = self.clock.stamps(true_times, p.packet)
            for start in range(0, rows.shape[0], p.packet):  # the app pushes packet by packet
                self.push(rows[start:start + p.packet], stamps[start:start + p.packet])
            index = self.samples_in - self._packets.n - 1
            self.newest = (index, float(true_times[-1]), float(stamps[-1]))


class DeviceImuWriter:
    """Turns IMU samples (m/s², rad/s, at the device's IMU rate) into the device's IMU packets.

    Parameters
    ----------
    profile : ImuProfile
    push : Push
    clock : DeviceClock
    orientation : OrientationTracker
        Source of quaternion and magnetometer channels (updated elsewhere).
    n_active : int
        Sensors that carry data (the rest, unpaired slots, carry zeros).
    """

    def __init__(self, profile: ImuProfile, push: Push, clock: DeviceClock, orientation: OrientationTracker,
                 n_active: int) -> None:
        self.profile = profile
        self.push = push
        self.clock = clock
        self.orientation = orientation
        self.n_active = max(1, min(int(n_active), profile.sensors))
        n = len(profile.labels)
        dtype = np.float64 if profile.channel_format == "double64" else np.float32
        self._packets = _Packets(n, dtype, profile.packet, clock.burst, 64)
        self._sources = []
        for kind in profile.kinds:
            axis = "xyz".index(kind[-1]) if kind[-1] in "xyz" and not kind.startswith("quat") else None
            self._sources.append((kind[:3], axis, kind))

    def write(self, timestamps: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        """Add samples (``acc`` m/s² and ``gyr`` rad/s, shape (n, 3)) and push every complete burst."""
        n = len(timestamps)
        if n == 0:
            return
        p = self.profile
        rows = np.zeros((n, len(p.labels)))
        q = self.orientation.q
        mag = self.orientation.magnetometer()
        per_sensor = np.zeros((n, len(p.kinds)))
        for j, (group, axis, kind) in enumerate(self._sources):
            if group == "acc":
                per_sensor[:, j] = acc[:, axis] / STANDARD_GRAVITY
            elif group == "gyr":
                per_sensor[:, j] = np.degrees(gyr[:, axis])
            elif group == "mag":
                per_sensor[:, j] = mag[axis]
            else:
                per_sensor[:, j] = q["wxyz".index(kind[-1])]
        width = len(p.kinds)
        for s in range(self.n_active):
            rows[:, s * width:(s + 1) * width] = per_sensor
        self._packets.add(rows, timestamps)
        while (burst := self._packets.take()) is not None:
            data, true_times = burst
            stamps = self.clock.stamps(true_times, p.packet)
            for start in range(0, data.shape[0], p.packet):
                self.push(data[start:start + p.packet], stamps[start:start + p.packet])
