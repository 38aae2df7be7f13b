"""The simulator's outputs when a device profile (``run --profile``) replaces myostream's own EMG stream.

:class:`DeviceOutputs` wires, for a non-native :class:`devices.profiles.Profile`:

- EMG: engine blocks -> :class:`~realtime.stages.output_resample.OutputResampler`
  (the device's band, rate and, with ``device_clock``, its clock drift) ->
  :class:`~devices.profiles.render.DeviceEmgWriter` (counts, saturation, extra
  channels, packets, stamps) -> the device's LSL outlet;
- IMU: every source IMU block updates the orientation (quaternion channels,
  magnetometer); with an ``[imu]`` section it is also resampled causally to the
  device's IMU rate and published in the device's units by
  :class:`~devices.profiles.render.DeviceImuWriter`;
- provenance: with ``device_clock`` each row gets the newest published device
  sample's index, true time and stamp.
"""

from __future__ import annotations

import numpy as np

from devices.lsl_outlet import LslOutlet
from devices.profiles import Profile
from devices.profiles.orientation import OrientationTracker
from devices.profiles.render import (
    DeviceClock,
    DeviceEmgWriter,
    DeviceImuWriter,
    emg_spec,
    imu_spec,
)
from realtime.core.block import Block
from realtime.core.contract import Sink
from realtime.core.units import IMU_CHANNELS
from realtime.stages.output_resample import OutputResampler
from realtime.stages.resample import CausalResampler


class _EmgSink:
    """Engine EMG blocks -> device samples -> device packets."""

    def __init__(self, resampler: OutputResampler, writer: DeviceEmgWriter) -> None:
        self.resampler, self.writer = resampler, writer

    def write(self, block: Block) -> None:
        self.writer.write(self.resampler.process(block))


class _ImuSink:
    """Source IMU blocks -> the native IMU outlet, the orientation and the device's IMU stream."""

    def __init__(self, native: Sink | None, orientation: OrientationTracker, fs: float | None,
                 writer: DeviceImuWriter | None) -> None:
        self.native, self.orientation, self.writer = native, orientation, writer
        self.resampler = CausalResampler(IMU_CHANNELS, fs) if fs else None
        self.fs = fs
        self._t0: float | None = None
        self._pulled = 0

    def write(self, block: Block) -> None:
        if self.native is not None:
            self.native.write(block)
        n = block.n_samples
        if n == 0:
            return
        acc, gyr = block.data[:, :3], block.data[:, 3:6]
        self.orientation.update(block.timestamps, acc, gyr)
        if self.resampler is None or self.writer is None:
            return
        if self._t0 is None:
            self._t0 = float(block.timestamps[0])
            self.resampler.reset(self._t0)
        self.resampler.push(block)
        # Device IMU samples due: those at or before the newest source sample.
        due = int(np.floor((float(block.timestamps[-1]) - self._t0) * self.fs + 1e-9)) + 1
        k = due - self._pulled
        if k > 0:
            out = self.resampler.pull(k)
            self._pulled += k
            self.writer.write(out.timestamps, out.data[:, :3].astype(float), out.data[:, 3:6].astype(float))


class DeviceOutputs:
    """The outlets and sinks of a device profile.

    Parameters
    ----------
    profile : Profile
        A non-native profile.
    prefix : str
        ``run --name`` (replaces ``{prefix}`` in the profile's names).
    layout_channels : tuple of str
        The engine's EMG channels (they fill the profile's first slots).
    locations_mm : ndarray | None
        Their positions (mm).
    layout_name : str
        For the metadata.
    engine_fs : float
        The engine's rate.
    device_clock : bool
        Use the profile's ``[clock]``: drift, delivery latency and jitter, bursts.
    seed : int
        Seed of the jitter.
    max_block : int
        Largest engine block.
    """

    def __init__(self, profile: Profile, prefix: str, layout_channels: tuple[str, ...],
                 locations_mm: np.ndarray | None, layout_name: str, engine_fs: float, device_clock: bool = False,
                 seed: int = 0, max_block: int = 64) -> None:
        if profile.emg is None:
            raise ValueError(f"Profile {profile.name!r} is native: it uses myostream's own streams.")
        emg = profile.emg
        clock = profile.clock if device_clock else None
        drift = clock.drift_ppm if clock is not None else 0.0
        self.profile = profile
        self.device_clock = device_clock
        self.resampler = OutputResampler(layout_channels, engine_fs, emg.fs, drift, emg.band, max_block=max_block)
        self.emg_outlet = LslOutlet(emg_spec(emg, prefix, locations_mm, layout_name), chunk_size=emg.packet)
        self.orientation = OrientationTracker()
        out_block = int(np.ceil(max_block * emg.fs / engine_fs)) + 2
        self.emg_writer = DeviceEmgWriter(emg, len(layout_channels), self.emg_outlet.push_rows,
                                          DeviceClock(emg.fs, clock, seed), self.orientation, max_block=out_block)
        self.emg_sink = _EmgSink(self.resampler, self.emg_writer)
        self.imu_outlet: LslOutlet | None = None
        self.imu_writer: DeviceImuWriter | None = None
        if profile.imu is not None:
            self.imu_outlet = LslOutlet(imu_spec(profile.imu, prefix), chunk_size=profile.imu.packet)
            n_active = min(profile.imu.sensors, len(layout_channels))
            imu_fs_true = profile.imu.fs * (1.0 + drift * 1e-6)
            self.imu_writer = DeviceImuWriter(profile.imu, self.imu_outlet.push_rows,
                                              DeviceClock(profile.imu.fs, clock, seed + 1), self.orientation, n_active)
            self._imu_fs = imu_fs_true
        else:
            self._imu_fs = None
        self._row = np.zeros(0)

    @property
    def outlets(self) -> list[LslOutlet]:
        """The device's outlets."""
        return [self.emg_outlet] + ([self.imu_outlet] if self.imu_outlet is not None else [])

    def imu_sink(self, native: Sink | None) -> Sink:
        """The sink for source IMU blocks (``native``: myostream's own IMU outlet, also fed)."""
        return _ImuSink(native, self.orientation, self._imu_fs, self.imu_writer)

    def provenance(self, push: callable) -> callable:
        """Wrap a provenance push so each row also carries the newest device sample (index, true time, stamp)."""

        def push_with_device(row: np.ndarray, timestamp: float) -> None:
            if self._row.shape[0] != row.shape[0] + 3:
                self._row = np.zeros(row.shape[0] + 3)
            self._row[:row.shape[0]] = row
            newest = self.emg_writer.newest
            self._row[row.shape[0]:] = (-1.0, np.nan, np.nan) if newest is None else newest
            push(self._row, timestamp)

        return push_with_device
