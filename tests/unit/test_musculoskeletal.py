"""Tests of the physics teacher: inverse dynamics, load sharing, activation dynamics, streaming."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from realtime.body.musculoskeletal import (
    MAX_FORCE_N,
    ActivationDynamics,
    ArmParams,
    MuscleParams,
    MuscleTeacher,
    TeacherSettings,
    activation_dynamics,
    cocontraction_floor,
    inverse_dynamics,
    joint_positions,
    moment_arms,
    muscle_excitation,
    static_optimisation,
    teach,
)
from realtime.body.musculoskeletal.arm import (
    FOREARM_COM,
    FOREARM_GYRATION,
    GRIP_FRACTION,
    HAND_COM,
    HAND_GYRATION,
    LOAD_GYRATION_M,
)
from realtime.core.anatomy import JOINT_LIMITS, MUSCLES
from realtime.core.units import STANDARD_GRAVITY

FLEXORS = [MUSCLES.index(m) for m in ("biceps", "brachialis", "brachioradialis")]
TRICEPS = MUSCLES.index("triceps")
WRIST_FLEX, WRIST_EXT = MUSCLES.index("wrist_flexors"), MUSCLES.index("wrist_extensors")


def _still(*posture: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = np.array([posture], dtype=float)
    return q, np.zeros_like(q), np.zeros_like(q)


# --- independent rigid-body reference (rotation matrices + Lagrange's equations) ----------------

def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# Forearm frame at zero angles, arm hanging: x down, y forward, z to the right (world: x fwd, y left, z up).
R0 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])


def _bodies(q: np.ndarray, arm: ArmParams, load: float) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    """(mass, centre of mass in world, rotation world<-body, principal inertia) of each moving body."""
    rf = R0 @ _rz(arm.shoulder_flexion + q[0]) @ _rx(-q[1])
    rh = rf @ _ry(q[2])
    length, hand = arm.forearm_length, arm.hand_length
    wrist = rf @ np.array([length, 0, 0])
    return [
        (arm.forearm_mass, rf @ np.array([FOREARM_COM * length, 0, 0]), rf,
         arm.forearm_mass * (np.array(FOREARM_GYRATION) * length) ** 2),
        (arm.hand_mass, wrist + rh @ np.array([HAND_COM * hand, 0, 0]), rh,
         arm.hand_mass * (np.array(HAND_GYRATION) * hand) ** 2),
        (load, wrist + rh @ np.array([GRIP_FRACTION * hand, 0, 0]), rh, load * LOAD_GYRATION_M**2 * np.ones(3)),
    ]


def _mass_matrix(q: np.ndarray, arm: ArmParams, load: float, h: float = 1e-6) -> np.ndarray:
    m = np.zeros((3, 3))
    base = _bodies(q, arm, load)
    plus = [_bodies(q + h * e, arm, load) for e in np.eye(3)]
    minus = [_bodies(q - h * e, arm, load) for e in np.eye(3)]
    for b, (mass, _, rot, inertia) in enumerate(base):
        jv = np.stack([(plus[j][b][1] - minus[j][b][1]) / (2 * h) for j in range(3)], axis=1)
        jw = np.zeros((3, 3))
        for j in range(3):
            skew = (plus[j][b][2] - minus[j][b][2]) / (2 * h) @ rot.T
            jw[:, j] = [skew[2, 1], skew[0, 2], skew[1, 0]]
        m += mass * jv.T @ jv + jw.T @ (rot @ np.diag(inertia) @ rot.T) @ jw
    return m


def _potential(q: np.ndarray, arm: ArmParams, load: float) -> float:
    return sum(mass * STANDARD_GRAVITY * com[2] for mass, com, _, _ in _bodies(q, arm, load))


def _lagrange_torque(q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, arm: ArmParams, load: float) -> np.ndarray:
    """tau = M qdd + dM/dt qd - 1/2 d(qd' M qd)/dq + dV/dq + damping, all by central differences."""
    h = 1e-4
    dm = [(_mass_matrix(q + h * e, arm, load) - _mass_matrix(q - h * e, arm, load)) / (2 * h) for e in np.eye(3)]
    m_dot = sum(dm[k] * qd[k] for k in range(3))
    coriolis = m_dot @ qd - 0.5 * np.array([qd @ dm[k] @ qd for k in range(3)])
    grav = np.array([(_potential(q + h * e, arm, load) - _potential(q - h * e, arm, load)) / (2 * h)
                     for e in np.eye(3)])
    return _mass_matrix(q, arm, load) @ qdd + coriolis + grav + np.asarray(arm.joint_damping) * qd


# --- arm parameters --------------------------------------------------------------------------------

def test_arm_params_reject_bad_values_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"'forearm_length'.*\[0.15, 0.45\] m.*0.9"):
        ArmParams(forearm_length=0.9)
    with pytest.raises(ValueError, match=r"'load_kg'.*-1"):
        ArmParams(load_kg=-1.0)
    with pytest.raises(ValueError, match=r"'joint_damping'"):
        ArmParams(joint_damping=(0.1, 0.1))
    with pytest.raises(ValueError, match=r"'tau_act'"):
        MuscleParams(tau_act=0.0)
    with pytest.raises(ValueError, match=r"'dynamic_cocontraction'.*0.7"):
        MuscleParams(dynamic_cocontraction=0.7)
    with pytest.raises(ValueError, match=r"'cocontraction_acc'.*rad/s\^2.*0.5"):
        MuscleParams(cocontraction_acc=0.5)


def test_randomised_subjects_stay_within_the_documented_spread() -> None:
    rng = np.random.default_rng(4)
    base = ArmParams()
    arms = [ArmParams.randomised(rng) for _ in range(200)]
    lengths = np.array([a.forearm_length for a in arms]) / base.forearm_length
    masses = np.array([a.hand_mass for a in arms]) / base.hand_mass
    assert 0.9 <= lengths.min() < 0.93
    assert 1.07 < lengths.max() <= 1.1
    assert 0.85 <= masses.min() < 0.9
    assert 1.1 < masses.max() <= 1.15
    assert ArmParams.randomised(np.random.default_rng(1)) == ArmParams.randomised(np.random.default_rng(1))
    assert ArmParams.randomised(rng, load_kg=2.0).load_kg == 2.0


def test_joint_positions_of_the_hanging_arm() -> None:
    arm = ArmParams()
    pos = joint_positions(np.array([[0.0, 0.7, 0.0], [np.pi / 2, 0.0, 0.0]]), arm)
    assert_allclose(pos["wrist"][0], [0, 0, -(arm.upper_arm_length + arm.forearm_length)], atol=1e-12)
    assert_allclose(pos["wrist"][1], [arm.forearm_length, 0, -arm.upper_arm_length], atol=1e-12)


# --- inverse dynamics ------------------------------------------------------------------------------

def test_static_elbow_torque_with_horizontal_forearm_matches_hand_calculation() -> None:
    arm = ArmParams()
    lf, lh = arm.forearm_length, arm.hand_length
    for load in (0.0, 2.0, 5.0):
        tau = inverse_dynamics(*_still(np.pi / 2, 0.0, 0.0), arm, load)[0]
        expected = STANDARD_GRAVITY * (arm.forearm_mass * FOREARM_COM * lf + arm.hand_mass * (lf + HAND_COM * lh)
                              + load * (lf + GRIP_FRACTION * lh))
        assert_allclose(tau, [expected, 0.0, 0.0], atol=1e-9)
    assert 9.0 < inverse_dynamics(*_still(np.pi / 2, 0, 0), arm, 2.0)[0, 0] < 11.0


def test_gravity_on_the_hand_needs_wrist_extension_palm_down_and_flexion_palm_up() -> None:
    arm = ArmParams()
    hold = STANDARD_GRAVITY * (arm.hand_mass * HAND_COM + 1.0 * GRIP_FRACTION) * arm.hand_length
    palm_down = inverse_dynamics(*_still(np.pi / 2, np.pi / 2, 0.0), arm, 1.0)[0]
    palm_up = inverse_dynamics(*_still(np.pi / 2, -np.pi / 2, 0.0), arm, 1.0)[0]
    assert_allclose(palm_down[2], -hold, rtol=1e-12)
    assert_allclose(palm_up[2], hold, rtol=1e-12)


def test_hanging_arm_needs_no_torque() -> None:
    tau = inverse_dynamics(*_still(0.0, 0.4, 0.0), ArmParams(), 3.0)
    assert_allclose(tau, 0.0, atol=1e-12)


@pytest.mark.parametrize("shoulder", [0.0, 0.9])
def test_inverse_dynamics_matches_lagrange_equations(shoulder: float) -> None:
    rng = np.random.default_rng(11)
    arm = ArmParams(shoulder_flexion=shoulder)
    low, high = np.array(JOINT_LIMITS).T
    for _ in range(4):
        q = rng.uniform(low, high)
        qd, qdd = rng.normal(0, 3, 3), rng.normal(0, 30, 3)
        load = float(rng.uniform(0, 4))
        tau = inverse_dynamics(q[None], qd[None], qdd[None], arm, load)[0]
        assert_allclose(tau, _lagrange_torque(q, qd, qdd, arm, load), atol=2e-5, rtol=1e-5)


def test_inverse_dynamics_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"'qd'.*\(n_samples, 3\)"):
        inverse_dynamics(np.zeros((4, 3)), np.zeros((4, 2)), np.zeros((4, 3)))


# --- muscles ---------------------------------------------------------------------------------------

def test_moment_arms_follow_the_literature() -> None:
    r = moment_arms(np.array([[0.0, 0.0, 0.0], [np.pi / 2, 0.0, 0.0], [np.pi / 2, 1.2, 0.0], [1.0, -1.2, 0.3]]))
    biceps, brd, triceps, pt, sup = (MUSCLES.index(m) for m in
                                     ("biceps", "brachioradialis", "triceps", "pronator_teres", "supinator"))
    assert 0.035 <= r[1, 0, biceps] <= 0.05
    assert 0.01 <= r[0, 0, biceps] <= 0.025
    assert r[1, 0, brd] > r[1, 0, biceps] > r[1, 0, MUSCLES.index("brachialis")] > 0
    assert np.all(r[:, 0, triceps] < -0.015)
    assert np.all(r[:, 1, biceps] < 0)
    assert np.all(r[:, 1, sup] < 0)
    assert np.all(r[:, 1, pt] > 0)
    assert r[2, 1, biceps] < r[1, 1, biceps]          # biceps supinates more from pronation
    assert r[3, 1, brd] > 0 > r[2, 1, brd]              # brachioradialis brings the forearm to neutral
    assert np.all(r[:, 2, WRIST_FLEX] > 0)
    assert np.all(r[:, 2, WRIST_EXT] < 0)
    assert np.all(r[:, 2, :6] == 0)


def test_static_optimisation_balances_feasible_torques_and_is_optimal() -> None:
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    n = 500
    q = rng.uniform(*np.array(JOINT_LIMITS).T, size=(n, 3))
    strength = moment_arms(q) * MAX_FORCE_N
    tau = np.einsum("kji,ki->kj", strength, rng.uniform(0.0, 0.7, (n, 8)))
    floor = cocontraction_floor(tau, strength, rng.uniform(0, 3, n), MuscleParams())
    act = static_optimisation(strength, tau, floor)
    assert np.all(act >= floor - 1e-12)
    assert np.all(act <= 1.0)
    assert_allclose(np.einsum("kji,ki->kj", strength, act), tau, atol=1e-6)
    for k in range(0, n, 50):  # no feasible point has a lower sum of squares
        ref = minimize(lambda a: a @ a, np.clip(act[k] + 0.05, floor[k], 1.0), jac=lambda a: 2 * a,
                       bounds=list(zip(floor[k], np.ones(8))), method="SLSQP",
                       constraints=[{"type": "eq", "fun": lambda a, k=k: strength[k] @ a - tau[k]}],
                       options={"ftol": 1e-14, "maxiter": 500})
        assert ref.success
        assert act[k] @ act[k] <= ref.fun + 1e-8


def test_static_optimisation_saturates_agonists_when_torque_is_out_of_reach() -> None:
    q = np.array([[np.pi / 2, 0.0, 0.0]])
    strength = moment_arms(q) * MAX_FORCE_N
    act = static_optimisation(strength, np.array([[500.0, 0.0, -100.0]]), np.zeros((1, 8)))[0]
    assert_allclose(act[FLEXORS], 1.0)
    assert act[TRICEPS] == 0.0
    assert act[WRIST_EXT] == 1.0
    assert act[WRIST_FLEX] == 0.0


def test_elbow_flexors_rise_with_the_hand_load() -> None:
    q, qd, qdd = _still(np.pi / 2, -0.5, 0.0)
    exc = np.array([muscle_excitation(q, qd, qdd, load_kg=load)[1][0] for load in (0.0, 2.0, 5.0)])
    assert np.all(np.diff(exc[:, FLEXORS], axis=0) > 0.02)
    assert np.all(exc[2, FLEXORS] > 0.1)
    assert exc[2, TRICEPS] < exc[2, FLEXORS].min()


def test_triceps_holds_an_overhead_load() -> None:
    arm = ArmParams(shoulder_flexion=np.pi)   # upper arm pointing up, forearm behind the head
    tau, exc = muscle_excitation(*_still(np.pi / 2, 0.0, 0.0), TeacherSettings(arm=arm), load_kg=2.0)
    assert tau[0, 0] < -8.0
    assert exc[0, TRICEPS] > 0.15
    assert np.all(exc[0, FLEXORS] < 0.5 * exc[0, TRICEPS])


def test_wrist_flexors_lift_the_hand_palm_up() -> None:
    tau, exc = muscle_excitation(*_still(np.pi / 2, -np.pi / 2, 0.0), load_kg=1.0)
    assert tau[0, 2] > 0.5
    assert exc[0, WRIST_FLEX] > exc[0, WRIST_EXT] + 0.02
    tau, exc = muscle_excitation(*_still(np.pi / 2, np.pi / 2, 0.0), load_kg=1.0)
    assert exc[0, WRIST_EXT] > exc[0, WRIST_FLEX]


def test_cocontraction_floor_and_rest_tone() -> None:
    params = MuscleParams(base_activation=0.04, cocontraction=0.2, grip_per_kg=0.03)
    q, qd, qdd = _still(np.pi / 2, 0.0, 0.0)
    _, rest = muscle_excitation(*_still(0.0, 0.0, 0.0), TeacherSettings(muscles=params))
    assert_allclose(rest, 0.04)                      # hanging relaxed: every muscle at the rest tone
    _, loaded = muscle_excitation(q, qd, qdd, TeacherSettings(muscles=params), load_kg=5.0)
    assert loaded[0, WRIST_FLEX] >= 0.03 * 5.0
    assert loaded[0, WRIST_EXT] >= 0.03 * 5.0
    # The antagonist co-contracts in proportion to the elbow effort (here about 20 % of capacity).
    quiet = [MuscleParams(base_activation=0.0, cocontraction=cc) for cc in (0.0, 0.2)]
    triceps = [muscle_excitation(q, qd, qdd, TeacherSettings(muscles=m), load_kg=5.0)[1][0, TRICEPS] for m in quiet]
    assert triceps[0] < 1e-6
    assert 0.03 < triceps[1] < 0.06


def test_dynamic_cocontraction_follows_joint_acceleration_and_saturates() -> None:
    params = MuscleParams(base_activation=0.0, cocontraction=0.0, dynamic_cocontraction=0.1, cocontraction_acc=20.0)
    settings = TeacherSettings(muscles=params)
    q = np.tile([[1.0, 0.0, 0.0]], (5, 1))
    qdd = np.zeros((5, 3))
    qdd[:, 0] = [0.0, 5.0, -10.0, 20.0, 80.0]            # elbow accelerations, rad/s²
    _, exc = muscle_excitation(q, np.zeros_like(q), qdd, settings)
    # The antagonist of an accelerating elbow: at least 0.1 · min(|qdd| / 20, 1), whatever the direction
    # (a little more where the moment balance needs it against the co-contracting pronator teres).
    floor = np.array([0.0, 0.025, 0.05, 0.1, 0.1])
    assert np.all(exc[:, TRICEPS] >= floor - 1e-9)
    assert np.all(exc[:, TRICEPS] <= floor + 0.015)
    assert exc[0, TRICEPS] < 1e-9
    # The wrist groups do not span the elbow and stay at zero; the elbow muscles are at least at the floor.
    supinator = MUSCLES.index("supinator")
    assert_allclose(exc[:, [WRIST_FLEX, WRIST_EXT]], 0.0, atol=1e-9)
    assert np.all(exc[:, FLEXORS] >= floor[:, None] - 1e-9)
    # A pronation acceleration co-contracts the forearm rotators (the supinator is no longer idle).
    qdd_p = np.zeros((1, 3))
    qdd_p[0, 1] = 10.0
    _, exc = muscle_excitation(q[:1], np.zeros((1, 3)), qdd_p, settings)
    assert exc[0, supinator] >= 0.05 - 1e-9
    # Without accelerations the floor is the static one.
    tau = np.array([[3.0, 0.0, 0.0]])
    strength = moment_arms(q[:1]) * MAX_FORCE_N
    assert_allclose(cocontraction_floor(tau, strength, 0.0, params, np.zeros((1, 3))),
                    cocontraction_floor(tau, strength, 0.0, params))


# --- activation dynamics and streaming ---------------------------------------------------------------

def test_activation_rises_faster_than_it_falls_and_stays_in_range() -> None:
    fs = 1000.0
    u = np.zeros((600, 1))
    u[100:300] = 1.0
    a = activation_dynamics(u, fs)[:, 0]
    assert np.all((a >= 0) & (a <= 1))
    assert np.all(a[100:300] < 1.0)
    assert a[100] > 0
    rise = np.argmax(a[100:] >= 0.5)
    fall = np.argmax(a[300:] <= 0.5)
    assert 5 <= rise <= 20          # ~tau_act (15 ms) at low activation
    assert 20 <= fall <= 80          # ~tau_deact (50 ms) at high activation
    assert rise < fall


def _chunked(process, arrays: tuple[np.ndarray, ...], sizes: list[int]):
    outs, start, i = [], 0, 0
    n = arrays[0].shape[0]
    while start < n:
        size = sizes[i % len(sizes)]
        outs.append(process(*(x[start:start + size] for x in arrays)))
        start += size
        i += 1
    return outs


@pytest.mark.parametrize("sizes", [[1], [7], [40], [3, 0, 11, 1, 64, 5]])
def test_activation_dynamics_streaming_equals_offline(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    u = np.clip(np.cumsum(rng.normal(0, 0.1, (300, 8)), axis=0) % 1.0, 0, 1)
    offline = activation_dynamics(u, 100.0)
    dyn = ActivationDynamics()
    dyn.reset(100.0)
    streamed = np.concatenate(_chunked(dyn.process, (u,), sizes))
    assert_allclose(streamed, offline, atol=1e-12)


@pytest.mark.parametrize("sizes", [[1], [7], [40], [3, 0, 11, 1, 64, 5]])
def test_teacher_streaming_equals_offline(sizes: list[int]) -> None:
    t = np.arange(400) / 100.0
    q = np.stack([1.2 + 1.0 * np.sin(1.3 * t), 0.9 * np.sin(0.7 * t + 1), 0.6 * np.sin(2.1 * t)], axis=1)
    qd = np.stack([1.3 * np.cos(1.3 * t), 0.63 * np.cos(0.7 * t + 1), 1.26 * np.cos(2.1 * t)], axis=1)
    qdd = np.stack([-1.69 * np.sin(1.3 * t), -0.441 * np.sin(0.7 * t + 1), -2.646 * np.sin(2.1 * t)], axis=1)
    load = 2.0 + np.sin(t)
    tau, act = teach(q, qd, qdd, 100.0, load_kg=load)
    teacher = MuscleTeacher()
    teacher.reset(100.0)
    parts = _chunked(teacher.process, (q, qd, qdd, load), sizes)
    assert_allclose(np.concatenate([p[0] for p in parts]), tau, atol=1e-9)
    assert_allclose(np.concatenate([p[1] for p in parts]), act, atol=1e-6)
    assert np.all((act >= 0) & (act <= 1))
    assert act.max() > 0.1


def test_teacher_keeps_activations_in_range_for_violent_motion() -> None:
    rng = np.random.default_rng(8)
    n = 2000
    q = rng.uniform(*np.array(JOINT_LIMITS).T, size=(n, 3))
    tau, act = teach(q, rng.normal(0, 20, (n, 3)), rng.normal(0, 2000, (n, 3)), 200.0,
                     load_kg=rng.uniform(0, 10, n))
    assert np.all(np.isfinite(act))
    assert np.all((act >= 0) & (act <= 1))
    assert act.max() == 1.0
    assert np.abs(tau).max() > 100


def test_teacher_needs_a_rate() -> None:
    with pytest.raises(RuntimeError, match=r"MuscleTeacher.reset\(fs\)"):
        MuscleTeacher().process(*_still(0.0, 0.0, 0.0))
