"""Posture-dependent (dynamic) MUAPs: geometry changes, simplex blending, continuity, streaming, reference."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.block import Block
from realtime.stages.engine import EmgEngine, EngineSettings, simulate_emg
from realtime.stages.engine.muscles import MUSCLE_GEOMETRY
from realtime.stages.engine.posture import (
    MAX_LENGTH,
    MIN_LENGTH,
    NEUTRAL_POSTURE,
    POSTURE_RANGE,
    build_grid,
    muscle_joints,
    muscle_pose,
    pose_units,
)


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


FS = 2000.0
MUSCLES3 = ("wrist_flexors", "brachioradialis", "biceps")
DYNAMIC = EngineSettings(muscles=MUSCLES3, units_per_muscle=6, fs=FS, seed=2, muaps="dynamic")


@pytest.fixture(scope="module")
def engine() -> EmgEngine:
    e = EmgEngine(DYNAMIC)
    e.reset(max_block=64)
    return e


def _posture_path(n: int, seed: int = 0) -> np.ndarray:
    """Joint angles sweeping the whole range of motion several times (crossing many grid cells)."""
    t = np.arange(n) / FS
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 3)
    out = np.empty((n, 3), np.float32)
    for j, (lo, hi) in enumerate(POSTURE_RANGE):
        mid, amp = (lo + hi) / 2, (hi - lo) / 2 * 1.1  # slightly beyond the range: clamped
        out[:, j] = mid + amp * np.sin(2 * np.pi * (2.0 + j) * t + phase[j])
    return out


def _activation(n: int, k: int) -> np.ndarray:
    act = np.full((n, k), 0.7, np.float32)
    act[:100] = 0.0
    return act


# ---------------------------------------------------------------------------- geometry model
def test_neutral_posture_changes_nothing() -> None:
    for name in MUSCLES:
        pose = muscle_pose(name, NEUTRAL_POSTURE)
        assert pose.length == 1.0
        assert pose.rotation == 0.0


def test_fibre_length_follows_the_joints() -> None:
    straight = (0.0, 0.0, 0.0)
    flexed = (2.4, 0.0, 0.0)
    # Elbow flexion shortens the flexors and lengthens the triceps.
    assert muscle_pose("biceps", flexed).length < 1.0 < muscle_pose("biceps", straight).length
    assert muscle_pose("triceps", flexed).length > 1.0 > muscle_pose("triceps", straight).length
    # Wrist flexion shortens the flexors and lengthens the extensors; the elbow does not matter to them.
    wrist = (np.pi / 2, 0.0, 1.2)
    assert (
        muscle_pose("wrist_flexors", wrist).length
        < 1.0
        < muscle_pose("wrist_extensors", wrist).length
    )
    assert muscle_pose("wrist_flexors", flexed).length == 1.0
    # Bounded.
    for name in MUSCLES:
        for q in ((0.0, -1.4, -1.2), (2.4, 1.4, 1.3)):
            assert MIN_LENGTH <= muscle_pose(name, q).length <= MAX_LENGTH
    # Pronation turns the forearm muscles under the skin, not the upper-arm ones.
    pron = (np.pi / 2, 1.0, 0.0)
    assert muscle_pose("wrist_flexors", pron).rotation == pytest.approx(
        MUSCLE_GEOMETRY["wrist_flexors"].rotation_gain
    )
    assert muscle_pose("biceps", pron).rotation == 0.0
    assert muscle_joints("biceps") == (JOINTS.index("elbow_flexion"),)
    assert set(muscle_joints("wrist_flexors")) == {1, 2}


def test_posed_units_shift_thicken_and_speed_up(engine: EmgEngine) -> None:
    geo, pool = engine.geometry, engine.pool
    m = MUSCLES3.index("brachioradialis")
    sl = slice(int(pool.starts[m]), int(pool.starts[m + 1]))
    short = pose_units(
        geo, sl, "brachioradialis", muscle_pose("brachioradialis", (2.4, 0.0, 0.0)), 0.04
    )
    lam = muscle_pose("brachioradialis", (2.4, 0.0, 0.0)).length
    g = MUSCLE_GEOMETRY["brachioradialis"]
    # Fibres scale about the proximal end: the IZ moves toward it.
    np.testing.assert_allclose(short.x_iz - g.x_proximal, lam * (geo.x_iz[sl] - g.x_proximal))
    assert np.all(short.x_iz < geo.x_iz[sl])
    np.testing.assert_allclose(short.velocity, geo.velocity[sl] / np.sqrt(lam))
    np.testing.assert_allclose(short.current_scale, 1.0 / lam)
    assert np.all(short.territory_radius > geo.territory_radius[sl])
    assert np.mean(short.depth) > np.mean(
        geo.depth[sl]
    )  # a shorter muscle is thicker: deeper units
    # A rotation keeps the distance from the limb axis.
    turned = pose_units(
        geo, sl, "brachioradialis", muscle_pose("brachioradialis", (np.pi / 2, 1.0, 0.0)), 0.04
    )
    np.testing.assert_allclose(np.hypot(*turned.centre_yz.T), np.hypot(*geo.centre_yz[sl].T))
    ang = np.arctan2(turned.centre_yz[:, 1], turned.centre_yz[:, 0]) - np.arctan2(
        geo.centre_yz[sl, 1], geo.centre_yz[sl, 0]
    )
    np.testing.assert_allclose(np.angle(np.exp(1j * ang)), g.rotation_gain, atol=1e-9)


# ---------------------------------------------------------------------------- blending
def test_grid_nodes_and_weights() -> None:
    grid = build_grid(MUSCLES3, (5, 4, 3), dynamic=True)
    assert list(grid.n_nodes) == [
        4 * 3,
        5 * 4,
        5,
    ]  # flexors: pronation x wrist; BR: elbow x pronation
    static = build_grid(MUSCLES3, (5, 4, 3), dynamic=False)
    assert list(static.n_nodes) == [1, 1, 1]
    rng = np.random.default_rng(1)
    for m in range(3):
        nodes = grid.nodes(m)
        for k, q in enumerate(nodes):  # on a node: that node alone
            vert, w = grid.weights(m, q)
            assert w[np.argmax(w)] == pytest.approx(1.0, abs=1e-6)
            assert vert[np.argmax(w)] == k
        for _ in range(50):
            q = np.array([rng.uniform(lo, hi) for lo, hi in POSTURE_RANGE])
            vert, w = grid.weights(m, q)
            assert len(w) == 1 + int((grid.joint[m] >= 0).sum())
            assert np.all(w >= -1e-7)
            assert w.sum() == pytest.approx(1.0, abs=1e-6)
            # Linear precision: the blend of the nodes' postures is the posture itself.
            rebuilt = (w[:, None] * nodes[vert]).sum(axis=0)
            for j in grid.joint[m][grid.joint[m] >= 0]:
                assert rebuilt[j] == pytest.approx(q[j], abs=1e-5)


def test_outside_the_range_and_nan_angles() -> None:
    grid = build_grid(MUSCLES3, (5, 5, 3), dynamic=True)
    m = 1  # brachioradialis: elbow x pronation

    def dense(q: np.ndarray) -> np.ndarray:
        vert, w = grid.weights(m, q)
        out = np.zeros(int(grid.n_nodes[m]))
        np.add.at(out, vert, w)
        return out

    lo = np.array([r[0] for r in POSTURE_RANGE])
    np.testing.assert_allclose(
        dense(lo - 1.0), dense(lo), atol=1e-6
    )  # clamped to the edge of the grid
    assert dense(lo - 1.0)[0] == 1.0
    v_nan, w_nan = grid.weights(m, np.full(3, np.nan))
    v_neu, w_neu = grid.weights(m, np.asarray(NEUTRAL_POSTURE))
    np.testing.assert_array_equal(v_nan, v_neu)
    np.testing.assert_array_equal(w_nan, w_neu)


def test_no_discontinuity_across_grid_boundaries(engine: EmgEngine) -> None:
    tables, grid = engine.tables, engine.tables.grid
    eps = 1e-4
    for u in (0, 7, 13):  # one unit of each muscle
        m = int(tables.unit_info[u, 2])
        # Largest change between neighbouring nodes along any axis, per radian: the Lipschitz bound.
        slope = 0.0
        for a in range(3):
            j = int(grid.joint[m, a])
            if j < 0:
                continue
            nodes = grid.nodes(m)
            for k in range(int(grid.n_nodes[m])):
                if (k // grid.stride[m, a]) % grid.size[m, a] + 1 < grid.size[m, a]:
                    diff = np.abs(
                        tables.table(u, k + int(grid.stride[m, a])) - tables.table(u, k)
                    ).max()
                    slope = max(slope, diff / grid.step[m, a])
            # Cross every interior boundary of this axis (the others at random in-cell values).
            for b in range(1, int(grid.size[m, a]) - 1):
                q = nodes[0].copy()
                q[[int(x) for x in grid.joint[m] if x >= 0]] += (
                    0.37 * grid.step[m][grid.joint[m] >= 0]
                )
                q[j] = grid.low[m, a] + b * grid.step[m, a]
                below, at, above = q.copy(), q.copy(), q.copy()
                below[j] -= eps
                above[j] += eps
                m_below, m_at, m_above = (tables.blended(u, x) for x in (below, at, above))
                bound = 3 * slope * eps + 1e-3 * np.abs(m_at).max()  # float32 weights
                assert np.abs(m_above - m_at).max() <= bound
                assert np.abs(m_at - m_below).max() <= bound
        assert slope > 0.0  # the MUAPs do depend on the posture


def test_posture_moves_the_signal_between_armband_channels() -> None:
    s = EngineSettings(muscles=("wrist_extensors",), units_per_muscle=8, seed=4, muaps="dynamic")
    e = EmgEngine(s)

    def centroid(q: tuple[float, float, float]) -> float:
        energy = (e.muaps_at(q).astype(np.float64) ** 2).sum(axis=(0, 1))  # per channel
        ang = np.arange(8) * np.pi / 4
        return float(np.angle((energy * np.exp(1j * ang)).sum()))

    neutral = centroid(NEUTRAL_POSTURE)
    pronated = centroid((np.pi / 2, 1.2, 0.0))
    supinated = centroid((np.pi / 2, -1.2, 0.0))
    gain = MUSCLE_GEOMETRY["wrist_extensors"].rotation_gain
    # The energy centroid turns the way the muscle turns (rotation_gain < 0: toward negative angles).
    turn_p = np.angle(np.exp(1j * (pronated - neutral)))
    turn_s = np.angle(np.exp(1j * (supinated - neutral)))
    assert np.sign(turn_p) == np.sign(gain)
    assert np.sign(turn_s) == -np.sign(gain)
    assert abs(turn_p) > 0.05
    # Static MUAPs ignore the posture.
    st = EmgEngine(EngineSettings(muscles=("wrist_extensors",), units_per_muscle=8, seed=4))
    np.testing.assert_array_equal(st.muaps_at((np.pi / 2, 1.2, 0.0)), st.muaps)


def test_dynamic_at_neutral_is_close_to_static() -> None:
    kw = dict(muscles=("wrist_flexors",), units_per_muscle=6, seed=3)
    st = EmgEngine(EngineSettings(**kw)).muaps.astype(np.float64)
    dy = EmgEngine(EngineSettings(muaps="dynamic", **kw)).muaps.astype(np.float64)
    # The neutral wrist is between two nodes: interpolation, not equality; close to the exact table.
    err = np.abs(dy - st).max(axis=(1, 2)) / np.abs(st).max(axis=(1, 2))
    assert np.median(err) < 0.15
    assert not np.array_equal(st, dy)


# ---------------------------------------------------------------------------- engine behaviour
@pytest.fixture(scope="module")
def offline(engine: EmgEngine) -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
    n = 2400
    act, ang = _activation(n, 3), _posture_path(n)
    emg, dis = simulate_emg(act, DYNAMIC, angles=ang, return_discharges=True)
    return act, ang, emg, dis


@pytest.mark.parametrize("block", [1, 7, 40, 100])
def test_streaming_equals_offline_with_dynamic_muaps(
    engine: EmgEngine, offline: tuple, block: int
) -> None:
    act, ang, emg, _ = offline
    engine.reset(max_block=min(block, 64))  # 100 > max_block: the buffers grow on the way
    outs = []
    for seq in range(0, act.shape[0], block):
        sl = slice(seq, seq + block)
        n = act[sl].shape[0]
        blk = Block(
            np.ascontiguousarray(act[sl]), np.arange(seq, seq + n) / FS, FS, seq, MUSCLES3,
            {"angles": np.ascontiguousarray(ang[sl])},
        )  # fmt: skip
        outs.append(engine.process(blk).data)
    np.testing.assert_array_equal(np.concatenate(outs), emg)


def test_dynamic_engine_matches_blended_reference(engine: EmgEngine, offline: tuple) -> None:
    act, ang, emg, dis = offline
    assert len(dis) > 100
    tables = engine.tables
    ref = np.zeros((act.shape[0] + tables.n_samples, engine.n_channels))
    units = engine.pool.starts[dis.muscle] + dis.unit
    for s, u in zip(dis.sample, units):
        ref[s : s + tables.n_samples] += tables.blended(int(u), ang[s])
    ref = ref[: act.shape[0]]
    np.testing.assert_allclose(emg, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    # And the posture matters: the same discharges at the neutral posture give another signal.
    neutral = simulate_emg(act, DYNAMIC)
    assert np.abs(neutral - emg).max() > 0.05 * np.abs(emg).max()


def test_missing_nan_and_bad_angles(engine: EmgEngine) -> None:
    n = 600
    act = _activation(n, 3)
    without = simulate_emg(act, DYNAMIC)
    neutral = simulate_emg(act, DYNAMIC, angles=np.tile(np.float32(NEUTRAL_POSTURE), (n, 1)))
    nan = simulate_emg(act, DYNAMIC, angles=np.full((n, 3), np.nan, np.float32))
    np.testing.assert_array_equal(without, neutral)
    np.testing.assert_array_equal(nan, neutral)
    float64 = simulate_emg(act, DYNAMIC, angles=np.tile(np.asarray(NEUTRAL_POSTURE), (n, 1)))
    np.testing.assert_array_equal(float64, neutral)  # converted to float32
    engine.reset(max_block=8)
    bad = Block(
        act[:8], np.arange(8) / FS, FS, 0, MUSCLES3, {"angles": np.zeros((8, 2), np.float32)}
    )
    with pytest.raises(ValueError, match="'angles'.*\\(8, 3\\)"):
        engine.process(bad)
    # Two columns of a (8, 3) array: the strides of a good array, the wrong shape.
    narrow = np.zeros((8, 3), np.float32)[:, :2]
    with pytest.raises(ValueError, match="'angles'.*\\(8, 2\\)"):
        engine.process(Block(act[:8], np.arange(8) / FS, FS, 0, MUSCLES3, {"angles": narrow}))
    # Non-contiguous and Fortran-ordered angles are converted: the same EMG as C-contiguous ones.
    q = np.random.default_rng(4).uniform(-0.5, 1.5, (8, 3)).astype(np.float32)
    outs = []
    for given in (q, np.asfortranarray(q), np.repeat(q, 2, axis=1)[:, ::2]):
        engine.reset(max_block=8)
        outs.append(
            engine.process(
                Block(act[:8], np.arange(8) / FS, FS, 0, MUSCLES3, {"angles": given})
            ).data
        )
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(outs[2], outs[0])
    with pytest.raises(ValueError, match="'angles'"):
        simulate_emg(act, DYNAMIC, angles=np.zeros((n - 1, 3)))
    with pytest.raises(ValueError, match="'posture'"):
        engine.muaps_at((0.0, 0.0))


def test_static_engine_ignores_angles() -> None:
    s = EngineSettings(muscles=MUSCLES3, units_per_muscle=4, fs=FS, seed=2)
    n = 800
    act = _activation(n, 3)
    np.testing.assert_array_equal(
        simulate_emg(act, s), simulate_emg(act, s, angles=_posture_path(n))
    )
