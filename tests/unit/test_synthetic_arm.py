"""Tests of the synthetic arm: motion programs, IMU physics, noise, live source == offline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from realtime.body.musculoskeletal import ArmParams
from realtime.body.synthetic import (
    MOTIONS,
    Segment,
    SensorMount,
    SyntheticArm,
    SyntheticSettings,
    Trajectory,
    imu_signals,
    motion_program,
    simulate,
)
from realtime.body.synthetic.imu import rotation_matrix
from realtime.core.anatomy import JOINT_LIMITS, MUSCLES
from realtime.core.contract import Source
from realtime.core.units import IMU_CHANNELS, STANDARD_GRAVITY

G = STANDARD_GRAVITY
QUIET = {"noise": False}


def _mount(**kw: object) -> SensorMount:
    return SensorMount(forearm_length=ArmParams().forearm_length, shoulder_flexion=0.0, **kw)


# --- independent kinematics with rotation matrices -------------------------------------------------

def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


R0 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # forearm frame, arm hanging


def _sensor_pose(q: np.ndarray, mount: SensorMount) -> tuple[np.ndarray, np.ndarray]:
    """World position of the sensor and world<-sensor rotation."""
    rf = R0 @ _rz(mount.shoulder_flexion + q[0]) @ _rx(-q[1])
    pos = rf @ np.array([mount.position * mount.forearm_length, 0.0, mount.offset])
    return pos, rf @ rotation_matrix(mount.rotation)


# --- settings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "exc", "pattern"), [
    ("motion", "jogging", ValueError, r"'motion'.*rest,.*random-reaches.*'jogging'"),
    ("fs", 20.0, ValueError, r"'fs'.*\[50, 1000\] Hz.*20"),
    ("fs", 5000, ValueError, r"'fs'.*5000"),
    ("fs", "fast", TypeError, r"'fs'.*\[50, 1000\] Hz.*'fast' \(str\)"),
    ("speed", 0.0, ValueError, r"'speed'.*\(0, 10\].*0.0"),
    ("amplitude", 2.0, ValueError, r"'amplitude'.*\[0, 1.5\].*2.0"),
    ("seed", -1, ValueError, r"'seed'.*integer >= 0.*-1"),
    ("seed", 1.5, TypeError, r"'seed'.*integer >= 0.*1.5 \(float\)"),
    ("noise", "yes", TypeError, r"'noise'.*True or False"),
    ("sensor_position", 0.0, ValueError, r"'sensor_position'.*\[0.1, 1\]"),
    ("sensor_rotation", (0.0, 0.0, 90.0), ValueError, r"'sensor_rotation\[2\]'.*\[-45, 45\] degrees.*90"),
    ("arm", "long", TypeError, r"'arm'.*ArmParams"),
])
def test_bad_settings_name_the_field_and_the_allowed_values(
    field: str, value: object, exc: type[Exception], pattern: str
) -> None:
    with pytest.raises(exc, match=pattern):
        SyntheticSettings(**{field: value})


def test_simulate_rejects_bad_duration() -> None:
    with pytest.raises(ValueError, match=r"'duration_s'.*-1"):
        simulate(SyntheticSettings(), -1.0)


# --- minimum-jerk trajectories ------------------------------------------------------------------------

def test_minimum_jerk_segments_join_smoothly() -> None:
    segs = [Segment(0.8, (1.0, -0.5)), Segment(0.3, (1.0, -0.5)), Segment(1.1, (0.2, 0.7)), Segment(0.5, (0.0, 0.0))]
    traj = Trajectory((0.0, 0.0), iter(segs + [Segment(10.0, (0.0, 0.0))]))
    bounds = np.cumsum([0.0] + [s.duration for s in segs])
    x, xd, xdd = traj.evaluate(bounds)
    assert_allclose(x, [[0, 0], [1, -0.5], [1, -0.5], [0.2, 0.7], [0, 0]], atol=1e-12)
    assert_allclose(xd, 0.0, atol=1e-12)
    assert_allclose(xdd, 0.0, atol=1e-9)
    # Continuity across each boundary, and the derivatives are those of the position.
    traj = Trajectory((0.0, 0.0), iter(segs + [Segment(10.0, (0.0, 0.0))]))
    h = 1e-6
    t = np.sort(np.concatenate([bounds[1:-1] - h, bounds[1:-1] + h, np.linspace(0.01, 2.6, 200)]))
    x, xd, xdd = traj.evaluate(t)
    pairs = np.searchsorted(t, bounds[1:-1] - h)
    assert_allclose(x[pairs], x[pairs + 1], atol=1e-5)
    assert_allclose(xd[pairs], xd[pairs + 1], atol=1e-4)
    fine = np.linspace(0.05, 2.5, 5001)
    x, xd, xdd = Trajectory((0.0, 0.0), iter(segs + [Segment(10.0, (0.0, 0.0))])).evaluate(fine)
    dt = fine[1] - fine[0]
    inside = np.abs(fine[:, None] - bounds[None, :]).min(axis=1) > 2 * dt   # the jerk jumps at boundaries
    inside[[0, -1]] = False
    assert_allclose(np.gradient(x, dt, axis=0)[inside], xd[inside], atol=5e-5)
    assert_allclose(np.gradient(xd, dt, axis=0)[inside], xdd[inside], atol=1e-3)


def test_trajectory_refuses_to_go_back_in_time() -> None:
    traj = Trajectory((0.0,), itertools.repeat(Segment(1.0, (1.0,))))
    traj.evaluate(np.array([5.0, 6.0]))
    with pytest.raises(ValueError, match="must not go back"):
        traj.evaluate(np.array([2.0]))


def test_motion_programs_are_seeded() -> None:
    a = simulate(SyntheticSettings(motion="random-reaches", seed=5, **QUIET), 15.0)
    b = simulate(SyntheticSettings(motion="random-reaches", seed=5, **QUIET), 15.0)
    c = simulate(SyntheticSettings(motion="random-reaches", seed=6, **QUIET), 15.0)
    assert_array_equal(a.angles, b.angles)
    assert np.abs(a.angles - c.angles).max() > 0.3


@pytest.mark.parametrize("motion", MOTIONS)
@pytest.mark.parametrize(("speed", "amplitude"), [(1.0, 1.0), (0.3, 0.0), (10.0, 1.5)])
def test_every_program_runs_within_limits(motion: str, speed: float, amplitude: float) -> None:
    rec = simulate(SyntheticSettings(motion=motion, speed=speed, amplitude=amplitude, seed=2), 12.0)
    n = 1200
    assert rec.imu.shape == (n, 6)
    assert rec.imu.dtype == np.float32
    assert rec.angles.shape == (n, 3)
    assert rec.torques.shape == (n, 3)
    assert rec.activation.shape == (n, 8)
    assert_allclose(rec.t, np.arange(n) / 100.0)
    low, high = np.array(JOINT_LIMITS).T
    assert np.all(rec.angles >= low - 1e-9)
    assert np.all(rec.angles <= high + 1e-9)
    assert np.all(np.isfinite(rec.imu))
    assert np.all(np.isfinite(rec.torques))
    assert np.all((rec.activation >= 0) & (rec.activation <= 1))
    moved = np.ptp(rec.angles, axis=0).max()
    if motion == "rest" or amplitude == 0.0:
        assert moved == 0.0         # amplitude scales the jitter too: the arm stays at home
    else:
        assert moved > 0.5


def test_extreme_speed_saturates_but_stays_in_range() -> None:
    rec = simulate(SyntheticSettings(motion="elbow-curls-loaded", speed=10.0, amplitude=1.5, **QUIET), 10.0)
    assert np.abs(rec.torques[:, 0]).max() > 150.0                 # far beyond what the muscles can do
    assert 0.9 < rec.activation.max() <= 1.0
    assert rec.activation.min() >= 0.0


def test_loaded_programs_carry_their_load() -> None:
    curls = simulate(SyntheticSettings(motion="elbow-curls", **QUIET), 30.0)
    loaded = simulate(SyntheticSettings(motion="elbow-curls-loaded", **QUIET), 30.0)
    assert_allclose(loaded.load_kg, 2.0)
    assert_allclose(curls.load_kg, 0.0)
    biceps = MUSCLES.index("biceps")
    assert loaded.activation[:, biceps].mean() > 2 * curls.activation[:, biceps].mean()
    lift = simulate(SyntheticSettings(motion="grasp-lift", **QUIET), 12.0).load_kg
    assert lift[0] == 0.0
    assert lift.max() == pytest.approx(1.0)
    assert np.any(lift[np.argmax(lift):] == 0.0)
    extra = simulate(SyntheticSettings(motion="rest", arm=ArmParams(load_kg=0.5), **QUIET), 2.0)
    assert_allclose(extra.load_kg, 0.5)


def test_programs_hold_task_specific_postures() -> None:
    pron, wrist = 1, 2
    curls = simulate(SyntheticSettings(motion="elbow-curls", **QUIET), 20.0).angles
    loaded = simulate(SyntheticSettings(motion="elbow-curls-loaded", **QUIET), 20.0).angles
    # Free flexion in the resting (thumb-forward) rotation; the dumbbell curl supinated, wrist extended by the grip.
    assert np.abs(curls[:, pron]).max() < 0.25
    assert loaded[:, pron].max() < -1.0
    assert np.all((loaded[:, wrist] < -0.1) & (loaded[:, wrist] > -0.45))
    # While it holds the object, the grasp keeps the wrist extended.
    lift = simulate(SyntheticSettings(motion="grasp-lift", **QUIET), 30.0)
    held = lift.load_kg > 0.99
    assert held.sum() > 100
    assert lift.angles[held, wrist].max() < -0.15
    # Random reaches keep the wrist within its functional range (about ±40°).
    reaches = simulate(SyntheticSettings(motion="random-reaches", amplitude=1.0, **QUIET), 120.0).angles
    assert np.abs(reaches[:, wrist]).max() <= 0.7 + 1e-9
    assert np.ptp(reaches[:, wrist]) > 0.8


# --- IMU physics --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shoulder", [0.0, 0.8])
def test_accelerometer_reads_gravity_at_rest_in_any_posture(shoulder: float) -> None:
    grid = np.array(list(itertools.product([0.0, 0.5, 1.57, 2.3], [-1.3, -0.5, 0.0, 0.7, 1.3], [-1.0, 0.0, 1.2])))
    mount = SensorMount(0.27, shoulder, 0.6, 0.03, (5.0, -8.0, 12.0))
    imu = imu_signals(grid, np.zeros_like(grid), np.zeros_like(grid), mount)
    assert_allclose(np.linalg.norm(imu[:, :3], axis=1), G, atol=1e-9)
    assert_allclose(imu[:, 3:], 0.0, atol=1e-12)


def test_accelerometer_axes_in_known_postures() -> None:
    postures = np.array([[0.0, 0.0, 0.0], [np.pi / 2, 0.0, 0.0], [np.pi / 2, np.pi / 2, 0.0],
                         [np.pi / 2, -np.pi / 2, 0.5]])
    acc = imu_signals(postures, np.zeros((4, 3)), np.zeros((4, 3)), _mount())[:, :3]
    # Hanging: x points down so it reads -g; forearm forward thumb up: y reads +g;
    # palm down: the dorsal z axis points up; palm up: it points down.
    assert_allclose(acc, [[-G, 0, 0], [0, G, 0], [0, 0, G], [0, 0, -G]], atol=1e-9)


def test_rest_program_reads_gravity_without_noise() -> None:
    rec = simulate(SyntheticSettings(motion="rest", **QUIET), 5.0)
    assert_allclose(np.linalg.norm(rec.imu[:, :3], axis=1), G, atol=0.05)
    assert np.abs(rec.imu[:, 3:]).max() < 1e-6


@pytest.mark.parametrize("motion", ["random-reaches", "pronation", "grasp-lift"])
def test_imu_matches_finite_differences_of_the_sensor_pose(motion: str) -> None:
    start, segments = motion_program(motion, np.random.default_rng(3), speed=1.5)
    traj = Trajectory(start, segments)
    mount = _mount(position=0.7, offset=0.035, rotation=(10.0, -5.0, 20.0))
    h = 1e-4
    centres = np.linspace(0.3, 6.0, 40)
    t = (centres[:, None] + np.array([-h, 0.0, h])).ravel()
    x, xd, xdd = traj.evaluate(t)
    imu = imu_signals(x[1::3, :3], xd[1::3, :3], xdd[1::3, :3], mount)
    poses = [_sensor_pose(q, mount) for q in x[:, :3]]
    for i in range(len(centres)):
        (p0, r0), (p1, r1), (p2, r2) = poses[3 * i:3 * i + 3]
        accel = (p2 - 2 * p1 + p0) / h**2
        specific_force = r1.T @ (accel - np.array([0.0, 0.0, -G]))
        skew = r1.T @ (r2 - r0) / (2 * h)                      # sensor-frame angular velocity
        gyro = np.array([skew[2, 1], skew[0, 2], skew[1, 0]])
        assert_allclose(imu[i, :3], specific_force, atol=2e-3)
        assert_allclose(imu[i, 3:], gyro, atol=1e-5)
    assert np.abs(imu[:, 3:]).max() > 1.0                        # the test saw real motion


def test_wrist_motion_does_not_move_the_forearm_sensor() -> None:
    t = np.linspace(0, 2, 50)
    q = np.stack([np.full_like(t, 1.2), np.full_like(t, 0.4), np.sin(3 * t)], axis=1)
    qd = np.stack([np.zeros_like(t), np.zeros_like(t), 3 * np.cos(3 * t)], axis=1)
    qdd = np.stack([np.zeros_like(t), np.zeros_like(t), -9 * np.sin(3 * t)], axis=1)
    imu = imu_signals(q, qd, qdd, _mount())
    assert_allclose(imu, np.broadcast_to(imu[0], imu.shape), atol=1e-12)
    assert_allclose(imu[:, 3:], 0.0, atol=1e-12)


def test_integrated_gyro_matches_the_joint_angle_change() -> None:
    fs = 200.0
    curls = simulate(SyntheticSettings(motion="elbow-curls", fs=fs, **QUIET), 8.0)
    rot = simulate(SyntheticSettings(motion="pronation", fs=fs, **QUIET), 8.0)
    # Elbow: in the sensor frame the flexion axis is (0, -sin p, cos p).
    p = curls.angles[:, 1]
    rate = -curls.imu[:, 4] * np.sin(p) + curls.imu[:, 5] * np.cos(p)
    up = slice(0, int(np.argmax(curls.angles[:, 0])) + 1)      # the first flexion
    integral = np.trapezoid(rate[up], dx=1 / fs)
    change = curls.angles[up, 0][-1] - curls.angles[up, 0][0]
    assert change > 1.5
    assert integral == pytest.approx(change, rel=0.02)
    # Pronation: the sensor spins about its -x axis.
    pron = slice(0, int(np.argmax(rot.angles[:, 1])) + 1)
    change = rot.angles[pron, 1][-1] - rot.angles[pron, 1][0]
    assert change > 1.0
    assert np.trapezoid(-rot.imu[pron, 3], dx=1 / fs) == pytest.approx(change, rel=0.02)


def test_noise_and_bias_have_the_requested_size() -> None:
    settings = SyntheticSettings(motion="rest", acc_noise=0.02, gyro_noise=0.005, acc_bias=0.1, gyro_bias=0.02,
                                 seed=9)
    noisy = simulate(settings, 60.0).imu.astype(float)
    clean = simulate(SyntheticSettings(motion="rest", noise=False), 60.0).imu.astype(float)
    err = noisy - clean
    assert_allclose(err.std(axis=0), [0.02] * 3 + [0.005] * 3, rtol=0.05)
    bias = err.mean(axis=0)
    assert np.all(np.abs(bias[:3]) < 0.4)
    assert np.all(np.abs(bias[3:]) < 0.08)
    assert np.abs(bias).max() > 0.005                              # a bias was drawn
    other = simulate(SyntheticSettings(motion="rest", acc_bias=0.1, gyro_bias=0.02, seed=10), 60.0).imu
    assert not np.allclose(other, noisy.astype(np.float32))


# --- live source --------------------------------------------------------------------------------------

class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _stream(settings: SyntheticSettings, steps: list[float], t0: float = 1234.5) -> list:
    clock = _Clock(t0)
    arm = SyntheticArm(settings, clock=clock)
    arm.start()
    blocks = []
    for dt in steps:
        clock.t += dt
        blocks.append(arm.read())
    arm.stop()
    return blocks


@pytest.mark.parametrize("step", ["1", "7", "40", "irregular"])
@pytest.mark.parametrize("motion", ["grasp-lift", "random-reaches"])
def test_live_stream_equals_simulate(step: str, motion: str) -> None:
    settings = SyntheticSettings(motion=motion, fs=100.0, seed=4)
    if step == "irregular":
        steps = list(np.random.default_rng(1).exponential(0.04, 400))
    else:
        steps = [int(step) / settings.fs] * (1200 // int(step))
    t0 = 1234.5
    blocks = _stream(settings, steps, t0)
    n = sum(b.n_samples for b in blocks)
    rec = simulate(settings, n / settings.fs)
    assert n >= 1000
    assert rec.t.size == n
    data = np.concatenate([b.data for b in blocks])
    assert_array_equal(data, rec.imu)
    for key in ("angles", "torques", "activation"):
        streamed = np.concatenate([b.aux[key] for b in blocks])
        assert streamed.dtype == np.float32
        assert_allclose(streamed, getattr(rec, key), rtol=1e-6, atol=1e-6)
    stamps = np.concatenate([b.timestamps for b in blocks])
    assert_array_equal(stamps, t0 + np.arange(n) / settings.fs)
    seqs = [b.seq for b in blocks]
    assert seqs == list(np.cumsum([0] + [b.n_samples for b in blocks[:-1]]))
    for b in blocks:
        assert b.channels == IMU_CHANNELS
        assert b.fs == 100.0
        assert b.data.flags.c_contiguous


def test_read_returns_exactly_the_due_samples(myostream_log: pytest.LogCaptureFixture) -> None:
    clock = _Clock(50.0)
    arm = SyntheticArm(SyntheticSettings(fs=200.0), clock=clock)
    assert isinstance(arm, Source)
    with pytest.raises(RuntimeError, match=r"Use SyntheticArm.start\(\)"):
        arm.read()
    arm.start()
    assert arm.running
    assert arm.fs == 200.0
    first = arm.read()                      # sample 0 is due at t_start
    assert first.n_samples == 1
    assert first.timestamps[0] == 50.0
    empty = arm.read()
    assert empty.n_samples == 0
    assert empty.seq == 1
    assert empty.data.shape == (0, 6)
    assert empty.aux["activation"].shape == (0, 8)
    assert empty.aux["angles"].shape == (0, 3)
    clock.t = 50.0 + 0.0049
    assert arm.read().n_samples == 0
    clock.t = 50.0 + 0.005
    blk = arm.read()
    assert blk.n_samples == 1
    assert blk.seq == 1
    assert blk.timestamps[0] == 50.0 + 1 / 200.0
    clock.t = 50.0 + 30.0                    # a long stall: everything owed comes at once
    blk = arm.read()
    assert blk.n_samples == 6000 - 2 + 1
    assert blk.seq == 2
    assert blk.t_last == 80.0
    arm.start()  # a second start() warns through the package logger, nothing else
    assert "already started; start() ignored" in myostream_log.text
    arm.stop()
    assert not arm.running
    with pytest.raises(RuntimeError, match=r"Use SyntheticArm.start\(\)"):
        arm.read()
    with pytest.raises(RuntimeError, match=r"not started. Use SyntheticArm.start\(\) first."):
        arm.stop()


def test_restart_begins_a_new_identical_stream() -> None:
    clock = _Clock(0.0)
    with SyntheticArm(SyntheticSettings(seed=3), clock=clock) as arm:
        clock.t = 1.0
        first = arm.read()
    assert not arm.running
    arm.start()
    clock.t = 2.0
    again = arm.read()
    assert again.seq == 0
    assert arm.t_start == 1.0
    assert_array_equal(again.data, first.data)
