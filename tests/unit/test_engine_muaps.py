"""Volume-conductor MUAPs: sources, depth filtering, size scaling, propagation, causality."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from realtime.stages.engine import EmgEngine, EngineSettings, get_layout
from realtime.stages.engine.volume_conductor import (
    FibreBundle,
    add_fibre_currents,
    banded_product,
    decimation_matrix,
    electrode_points,
    fibre_currents_dense,
    muap,
    rosenfalck,
)


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


def test_rosenfalck_shape() -> None:
    s = np.linspace(0, 30, 3001)
    v = rosenfalck(s)
    assert s[v.argmax()] == pytest.approx(3.0, abs=0.01)
    assert v.max() == pytest.approx(0.096 * 27 * np.exp(-3))  # ~129 mV above rest
    assert rosenfalck(np.array([-1.0]))[0] == 0.0


@pytest.mark.parametrize(
    ("k0", "k1", "x_iz", "v"),
    [(0, 400, 0.05, 4.0), (10, 300, 0.06, 3.1), (50, 120, 0.02, 5.0), (5, 395, 0.0, 4.4)],
)
def test_sparse_currents_equal_dense_and_sum_to_zero(
    k0: int, k1: int, x_iz: float, v: float
) -> None:
    dz, x0 = 0.0005, -0.01
    x_nodes = x0 + dz * np.arange(400)
    out = np.zeros((240, 400))
    add_fibre_currents(out, x0, dz, k0, k1, x_iz, v, 1 / 8000, 1.0)
    ref = fibre_currents_dense(240, x_nodes, k0, k1, x_iz, v, 1 / 8000, 1.0)
    np.testing.assert_allclose(out, ref, atol=1e-8 * np.abs(ref).max())
    np.testing.assert_allclose(out.sum(axis=1), 0.0, atol=1e-12)  # sealed fibre: no net current
    assert not out[:, :k0].any()
    assert not out[:, k1:].any()
    # The table's taper + decimation as a banded matrix product.
    mat, band, os_factor = decimation_matrix(8000.0 / 4, 60)
    assert os_factor == 4
    np.testing.assert_allclose(
        banded_product(mat, band, out), mat @ out, atol=1e-12 * np.abs(out).max()
    )


def _single_unit(
    depth: float,
    n_fibres: float = 200.0,
    velocity: float = 4.0,
    fs: float = 2000.0,
    layout: str = "armband8",
    n: int = 60,
) -> np.ndarray:
    lay = get_layout(layout)
    r = lay.radius - depth
    # Under the EMG1 / R?C? column nearest the volar midline, fibres along the limb.
    angle = 0.0 if layout == "armband8" else float(lay.electrode_angle[3])
    yz = np.array([[r * np.cos(angle), r * np.sin(angle)]])
    bundle = FibreBundle(
        yz, np.array([n_fibres]), np.array([0.04]), np.array([0.0]), np.array([0.16]), velocity
    )
    pts, pw = electrode_points(
        lay.electrode_x, lay.electrode_angle, lay.electrode_radius, lay.radius
    )
    return muap(bundle, pts, pw, lay.montage, lay.electrode_radius, fs, n)


def test_depth_lowers_amplitude_and_frequency() -> None:
    shallow, deep = _single_unit(0.005)[:, 0], _single_unit(0.015)[:, 0]
    assert np.ptp(shallow) > 3.0 * np.ptp(deep)

    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x, 4096)) ** 2
        f = np.fft.rfftfreq(4096, 1 / 2000.0)
        return float((f * spec).sum() / spec.sum())

    assert centroid(shallow) > 1.2 * centroid(deep)


def test_amplitude_scales_with_fibre_count() -> None:
    a, b = _single_unit(0.008, 100.0), _single_unit(0.008, 400.0)
    np.testing.assert_allclose(b, 4.0 * a, rtol=1e-6, atol=1e-9)


def test_propagation_delay_along_the_grid() -> None:
    # 10 kHz for time resolution; IZ at 4 cm, grid rows at 5.9..11.5 cm: waves travel distally.
    for v in (3.0, 5.0):
        m = _single_unit(0.006, velocity=v, fs=10000.0, layout="grid64", n=300)
        col = 3
        r_a, r_b = m[:, 2 * 8 + col], m[:, 6 * 8 + col]  # rows R3 and R7: 32 mm apart
        xc = np.correlate(r_b - r_b.mean(), r_a - r_a.mean(), mode="full")
        lag = (xc.argmax() - (r_a.size - 1)) / 10000.0
        assert lag == pytest.approx(0.032 / v, rel=0.1)


@pytest.fixture(scope="module")
def tables() -> tuple[EmgEngine, np.ndarray]:
    engine = EmgEngine(
        EngineSettings(
            muscles=("wrist_flexors", "brachioradialis", "biceps"), units_per_muscle=40, seed=4
        )
    )
    return engine, engine.muaps


def test_tables_are_causal_and_sized(tables: tuple) -> None:
    engine, muaps = tables
    assert muaps.shape == (120, engine.settings.muap_samples, 8)
    assert muaps.dtype == np.float32
    peak = np.abs(muaps).max(axis=(1, 2))
    assert np.all(
        np.abs(muaps[:, 0, :]).max(axis=1) < 0.02 * peak
    )  # starts at rest at the discharge
    assert np.all(np.abs(muaps[:, -1, :]).max(axis=1) < 0.05 * peak)  # ends back near zero


def test_bigger_units_have_bigger_muaps(tables: tuple) -> None:
    engine, muaps = tables
    p2p = np.ptp(muaps, axis=1).max(axis=1)
    for m in range(2):  # the forearm muscles under the band
        sl = slice(engine.pool.starts[m], engine.pool.starts[m + 1])
        amp = p2p[sl]
        assert amp[-10:].mean() > 5.0 * amp[:10].mean()
    # Fibre counts (the source strength) grow exponentially with rank over INNERVATION_RANGE and hold
    # the muscle's published fibres (MOTOR_UNITS: units x mean innervation number).
    from realtime.stages.engine.muaps import INNERVATION_RANGE
    from realtime.stages.engine.muscles import MOTOR_UNITS

    for m, name in enumerate(engine.settings.muscles):
        fib = engine.geometry.n_fibres[engine.pool.starts[m] : engine.pool.starts[m + 1]]
        assert fib[-1] / fib[0] == pytest.approx(INNERVATION_RANGE)
        assert np.all(np.diff(np.log(fib)) == pytest.approx(np.log(INNERVATION_RANGE) / (fib.size - 1)))
        assert fib.sum() == pytest.approx(MOTOR_UNITS[name][0] * MOTOR_UNITS[name][1])


def test_far_muscles_are_small_on_the_forearm_band(tables: tuple) -> None:
    engine, muaps = tables
    p2p = np.ptp(muaps, axis=1).max(axis=1)
    flexors, biceps = p2p[:40], p2p[80:]
    assert np.median(biceps) < 0.1 * np.median(flexors)


def test_surface_muap_duration(tables: tuple) -> None:
    engine, muaps = tables
    durations = []
    for u in range(80):  # forearm muscles
        c = int(np.abs(muaps[u]).max(axis=0).argmax())
        x = np.abs(muaps[u, :, c])
        above = np.flatnonzero(x > 0.05 * x.max())
        durations.append((above[-1] - above[0] + 1) / engine.settings.fs)
    assert 0.005 <= np.median(durations) <= 0.025
