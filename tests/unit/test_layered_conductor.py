"""Layered (muscle/fat/skin) volume conductor: its transfer function, its half-space limits, its effect."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from realtime.stages.engine import EmgEngine, EngineSettings, get_layout
from realtime.stages.engine.volume_conductor import (
    FibreBundle,
    Tissue,
    electrode_points,
    halfspace_potential,
    halfspace_transfer,
    layer_correction,
    layered_potential_planar,
    layered_transfer,
    muap,
)


@pytest.fixture(autouse=True, scope="module")
def _muap_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MUAP tables of this module go to a temporary cache, never to the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYOSTREAM_CACHE", str(tmp_path_factory.mktemp("muap-cache")))
        yield


def _ode_surface(kx: float, kz: float, depth: float, t: Tissue, n: int = 40000) -> float:
    """Surface potential of a unit point source by finite differences across the layers (independent solve).

    ``d/dy(s_n dPhi/dy) - (s_x kx^2 + s_z kz^2) Phi = -delta(y - y0)``, insulated at ``y = 0``,
    ``Phi -> 0`` deep in the muscle.
    """
    h_s, h_f = t.skin_thickness, t.fat_thickness
    y0 = h_s + h_f + depth
    y_max = y0 + 0.08
    dy = y_max / n
    y_mid = (np.arange(n) + 0.5) * dy  # between nodes i and i + 1
    sn = np.where(y_mid < h_s, t.sigma_skin, np.where(y_mid < h_s + h_f, t.sigma_fat, t.sigma_trans))
    y = np.arange(n + 1) * dy
    k2 = kx * kx + kz * kz
    sp = np.where(y < h_s, t.sigma_skin * k2, np.where(y < h_s + h_f, t.sigma_fat * k2,
                                                      t.sigma_trans * kx * kx + t.sigma_long * kz * kz))
    # Finite volumes: node i holds [y_i - dy/2, y_i + dy/2] (half at the surface), Dirichlet 0 at the bottom.
    from scipy.sparse import diags
    from scipy.sparse.linalg import spsolve

    m = n  # unknowns: nodes 0 .. n - 1
    vol = np.full(m, dy)
    vol[0] = dy / 2
    main = np.zeros(m)
    main[:] += sp[:m] * vol
    main[:-1] += sn[: m - 1] / dy
    main[1:] += sn[: m - 1] / dy
    main[-1] += sn[m - 1] / dy
    off = -sn[: m - 1] / dy
    a = diags([off, main, off], [-1, 0, 1], format="csc")
    b = np.zeros(m)
    b[int(round(y0 / dy))] = 1.0
    return float(spsolve(a, b)[0])


@pytest.mark.parametrize(("kx", "kz", "depth"), [(200.0, 0.0, 0.002), (100.0, 300.0, 0.005), (0.0, 500.0, 0.0)])
def test_transfer_function_solves_the_layered_boundary_problem(kx: float, kz: float, depth: float) -> None:
    t = Tissue()
    expected = _ode_surface(kx, kz, depth, t)
    got = float(layered_transfer(np.array(kx), np.array(kz), depth, t))
    assert got == pytest.approx(expected, rel=2e-3)


def test_zero_thickness_is_the_half_space() -> None:
    t = Tissue(fat_thickness=0.0, skin_thickness=0.0)
    assert not t.layered
    assert not np.any(layer_correction(t))
    k = np.array([50.0, 400.0, 3000.0])
    hs = 1.0 / (t.sigma_trans * np.sqrt(k**2 + 5.0 * k**2)) * np.exp(-np.sqrt(6.0) * k * 0.004)
    assert np.allclose(layered_transfer(k, k, 0.004, t), hs, rtol=1e-12)


def test_thin_layers_tend_to_the_half_space() -> None:
    step = 0.0005
    h = np.arange(257) * step
    errors = []
    for thick in (1e-3, 1e-4, 1e-5, 1e-6):
        t = Tissue(fat_thickness=thick, skin_thickness=thick / 3)
        phi, _ = layered_potential_planar(0.004, t)
        ref = halfspace_potential(h[:, None], h[None, :], 0.004 + t.layer_thickness, t)
        errors.append(float(np.abs(phi - ref).max() / ref.max()))
    assert errors[0] > errors[1] > errors[2] > errors[3]  # linear in the thickness
    assert errors[3] < 5e-4


def test_equal_isotropic_layers_are_the_half_space() -> None:
    t = Tissue(sigma_long=0.2, sigma_trans=0.2, sigma_fat=0.2, sigma_skin=0.2)
    phi, corr = layered_potential_planar(0.002, t)
    h = np.arange(257) * 0.0005
    ref = halfspace_potential(h[:, None], h[None, :], 0.002 + t.layer_thickness, t)
    assert np.abs(corr).max() < 1e-9 * ref.max()
    assert np.allclose(phi, ref, rtol=1e-9)


def test_fft_potential_matches_a_direct_integral() -> None:
    """The grid potential at one point against a direct 2-D quadrature of the transfer function."""
    t = Tissue()
    phi, _ = layered_potential_planar(0.003, t)
    x, z = 0.004, 0.006  # across, along (m): grid indices 8 and 12
    k = np.linspace(-8000.0, 8000.0, 1601)
    kx, kz = np.meshgrid(k, k, indexing="ij")
    # The half-space at the total depth (closed form in space) carries the 1/k singularity at k = 0.
    kx[800, 800] = kz[800, 800] = 1e-3  # k = 0: the difference is bounded there, one cell of 1601^2
    h = layered_transfer(kx, kz, 0.003, t) - halfspace_transfer(kx, kz, 0.003 + t.layer_thickness, t)
    dk = k[1] - k[0]
    direct = float((h * np.cos(kx * x) * np.cos(kz * z)).sum() * dk * dk / (4 * np.pi**2))
    direct += float(halfspace_potential(np.array(x), np.array(z), 0.003 + t.layer_thickness, t))
    assert phi[8, 12] == pytest.approx(direct, rel=0.01)


def test_fat_lowers_and_widens_the_potential() -> None:
    t = Tissue()
    phi, _ = layered_potential_planar(0.0, t)
    h = np.arange(257) * 0.0005
    ref = halfspace_potential(h[:, None], h[None, :], t.layer_thickness, t)
    assert phi[0, 0] < 0.9 * ref[0, 0]

    def half(a: np.ndarray) -> int:
        return int(np.argmax(a < a[0] / 2))

    assert half(phi[:, 0]) > 1.3 * half(ref[:, 0])  # across the fibres


def test_muap_layered_vs_halfspace_limits() -> None:
    lay = get_layout("armband8")
    pts, pw = electrode_points(lay.electrode_x, lay.electrode_angle, lay.electrode_radius, lay.radius)
    r = lay.radius - 0.008
    a = float(lay.electrode_angle[0])
    bundle = FibreBundle(
        np.array([[r * np.cos(a), r * np.sin(a)]]), np.array([300.0]), np.array([0.05]),
        np.array([-0.02]), np.array([0.13]), 4.0,
    )

    def run(t: Tissue) -> np.ndarray:
        return muap(bundle, pts, pw, lay.montage, lay.electrode_radius, 2000.0, 60, t)

    half = run(Tissue(model="halfspace"))
    layered = run(Tissue())
    zero = run(Tissue(fat_thickness=0.0, skin_thickness=0.0))
    np.testing.assert_array_equal(zero, half)
    thin = run(Tissue(fat_thickness=1e-5, skin_thickness=1e-5))
    assert np.abs(thin - half).max() < 0.01 * np.abs(half).max()
    assert np.abs(layered - half).max() > 0.05 * np.abs(half).max()


def test_settings_choose_the_conductor_and_key_the_cache() -> None:
    base = EngineSettings(layout="armband8", muscles=("brachioradialis",), units_per_muscle=4, cache=False)
    layered = EmgEngine(base).muaps
    half = EmgEngine(dataclasses.replace(base, volume_conductor="halfspace")).muaps
    assert layered.shape == half.shape
    assert not np.allclose(layered, half)
    with pytest.raises(ValueError, match="volume_conductor"):
        EngineSettings(volume_conductor="cylinder")
    with pytest.raises(ValueError, match="model"):
        Tissue(model="nope")


def test_myogen_comparison_reads_a_result_file(tmp_path) -> None:  # noqa: ANN001
    """The comparison of a result file that holds myostream's own unit (scaled, delayed): correlation 1."""
    import json

    from realtime.app.bench.myogen_compare import compare, load_result, myostream_unit
    from realtime.app.bench.myogen_generate import GEOMETRY

    g = dict(GEOMETRY, rows=2, cols=3)
    pos_z = np.array([[20.0, 20.0, 20.0], [28.0, 28.0, 28.0]])
    pos_t = np.tile(np.array([-0.2, 0.0, 0.2]), (2, 1))
    fake = {"phi": np.zeros((2, 3, 200)), "fs_hz": 8000.0, "pos_z_mm": pos_z, "pos_theta_rad": pos_t, "geometry": g}
    tissue = Tissue(fat_thickness=g["fat_mm"] * 1e-3, skin_thickness=g["skin_mm"] * 1e-3)
    ours = myostream_unit(fake, tissue)
    path = tmp_path / "unit.npz"
    np.savez(path, phi=np.roll(ours, 7, axis=-1) * 0.02, fs_hz=8000.0, pos_z_mm=pos_z, pos_theta_rad=pos_t,
             geometry=json.dumps(g))
    result = load_result(path)
    r = compare(result, myostream_unit(result, tissue))
    assert r["correlation_min"] > 0.999
    assert r["amplitude_ratio_median"] == pytest.approx(50.0, rel=1e-6)
    assert r["normalised_amplitude_ratio_range"] == pytest.approx([1.0, 1.0])
    assert np.allclose(r["lag_ms"], -7 / 8.0)
    with pytest.raises(ValueError, match="cannot be read"):
        load_result(tmp_path / "missing.npz")


def test_correction_fades_to_zero_before_the_table_ends() -> None:
    """No step where a fibre's nodes leave the table (a step is broadband noise on distant channels)."""
    corr = layer_correction(Tissue())
    assert not np.any(corr[:, -1, :])
    assert not np.any(corr[:, :, -1])
    near = np.abs(corr[:, :100, :100]).max()
    steps = max(np.abs(np.diff(corr[:, 150:, :], axis=1)).max(), np.abs(np.diff(corr[:, :, 150:], axis=2)).max())
    assert steps < 5e-3 * near  # without the taper: a 2.9 V/A step (5 %) at the edge
