"""Settings of the synthetic arm."""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime.body.musculoskeletal import ArmParams, MuscleParams, TeacherSettings
from realtime.body.synthetic.imu import SensorMount
from realtime.body.synthetic.motions import MOTIONS
from realtime.core.checks import (
    check_bool,
    check_choice,
    check_number,
    check_seed,
    check_type,
    check_vector,
)


@dataclass(frozen=True)
class SyntheticSettings:
    """What the synthetic arm does and what its IMU measures.

    Parameters
    ----------
    motion : str
        Motion program, one of ``MOTIONS``.
    fs : float
        IMU rate, 50-1000 Hz.
    speed : float
        Movement speed factor, (0, 10]: 2 moves twice as fast.
    amplitude : float
        Joint excursion factor, [0, 1.5] (0 stays at the home posture).
    seed : int
        Seed of the motion jitter, random targets, noise and bias.
    noise : bool
        Add IMU noise and bias (``False`` gives exact kinematics).
    acc_noise : float
        Accelerometer white noise, RMS m/s² per sample (MPU-6050 at 100 Hz: about 0.02).
    gyro_noise : float
        Gyroscope white noise, RMS rad/s per sample.
    acc_bias : float
        Standard deviation of the constant accelerometer bias per axis, m/s².
    gyro_bias : float
        Standard deviation of the constant gyroscope bias per axis, rad/s.
    arm : ArmParams
        Segments, shoulder posture and a constant load in the hand (programs may add more).
    muscles : MuscleParams
        Co-contraction and activation dynamics of the physics teacher.
    sensor_position : float
        Sensor position along the forearm, fraction of its length from the elbow, [0.1, 1].
    sensor_offset : float
        Sensor distance from the forearm axis on the dorsal side, [0, 0.08] m.
    sensor_rotation : tuple of 3 float
        Mounting error about the sensor x, y, z axes, each in [-45, 45] degrees.
    """

    motion: str = "random-reaches"
    fs: float = 100.0
    speed: float = 1.0
    amplitude: float = 1.0
    seed: int = 0
    noise: bool = True
    acc_noise: float = 0.02
    gyro_noise: float = 0.005
    acc_bias: float = 0.05
    gyro_bias: float = 0.01
    arm: ArmParams = field(default_factory=ArmParams)
    muscles: MuscleParams = field(default_factory=MuscleParams)
    sensor_position: float = 2.0 / 3.0
    sensor_offset: float = 0.03
    sensor_rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        check_choice("motion", self.motion, MOTIONS)
        object.__setattr__(self, "fs", check_number("fs", self.fs, 50.0, 1000.0, "Hz"))
        check_number("speed", self.speed, 0.0, 10.0, lo_open=True)
        check_number("amplitude", self.amplitude, 0.0, 1.5)
        check_seed("seed", self.seed)
        check_bool("noise", self.noise)
        check_number("acc_noise", self.acc_noise, 0.0, 5.0, "m/s^2")
        check_number("gyro_noise", self.gyro_noise, 0.0, 1.0, "rad/s")
        check_number("acc_bias", self.acc_bias, 0.0, 5.0, "m/s^2")
        check_number("gyro_bias", self.gyro_bias, 0.0, 1.0, "rad/s")
        check_type("arm", self.arm, ArmParams, "an ArmParams")
        check_type("muscles", self.muscles, MuscleParams, "a MuscleParams")
        check_number("sensor_position", self.sensor_position, 0.1, 1.0)
        check_number("sensor_offset", self.sensor_offset, 0.0, 0.08, "m")
        rotation = check_vector("sensor_rotation", self.sensor_rotation, 3, -45.0, 45.0, "degrees")
        object.__setattr__(self, "sensor_rotation", rotation)

    @property
    def teacher(self) -> TeacherSettings:
        """Settings of the physics teacher for this arm."""
        return TeacherSettings(arm=self.arm, muscles=self.muscles)

    @property
    def mount(self) -> SensorMount:
        """Sensor placement on this arm."""
        return SensorMount(self.arm.forearm_length, self.arm.shoulder_flexion, self.sensor_position,
                           self.sensor_offset, self.sensor_rotation)
