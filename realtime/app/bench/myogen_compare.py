"""myostream's volume conductor against MyoGen's layered cylinder, one motor unit, the same geometry.

MyoGen is not a dependency: :mod:`realtime.app.bench.myogen_generate`, run in
MyoGen's own environment, writes the unit's potentials to an ``.npz`` file;
this module computes myostream's MUAP of the same fibres under the same
electrodes (``"layered"`` and ``"halfspace"``) and compares, per electrode,
the waveform correlation (the peak of the normalised cross-correlation, so
a constant time offset between the two models' time origins does not count)
and the peak-to-peak amplitude ratio (myostream / MyoGen), raw and with each
model normalised to its largest electrode (the spatial distribution)::

    /work/venvs/myogen/bin/python realtime/app/bench/myogen_generate.py --out myogen_unit.npz
    python -m realtime.app.bench.myogen_compare myogen_unit.npz --json myogen_compare.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from realtime.stages.engine.volume_conductor import FibreBundle, Tissue, electrode_points, muap


def load_result(path: str | Path) -> dict[str, Any]:
    """The arrays and geometry of a :mod:`~realtime.app.bench.myogen_generate` file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            out = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"MyoGen result file {str(path)!r} cannot be read: {exc}") from None
    missing = {"phi", "fs_hz", "pos_z_mm", "pos_theta_rad", "geometry"} - set(out)
    if missing:
        raise ValueError(f"MyoGen result file {str(path)!r} lacks {sorted(missing)}; write it with myogen_generate.")
    out["geometry"] = json.loads(str(out["geometry"]))
    return out


def myostream_unit(result: dict[str, Any], tissue: Tissue) -> np.ndarray:
    """myostream's monopolar potentials of the file's unit, ``(rows, cols, N)`` µV at the file's rate."""
    g = result["geometry"]
    mm = 1e-3
    r_limb = g["limb_radius_mm"] * mm
    rc = r_limb - g["depth_mm"] * mm
    ring = math.sqrt(7.0 / 12.0) * g["territory_radius_mm"] * mm
    yz = [(rc, 0.0)] + [(rc + ring * math.cos(k * math.pi / 3), ring * math.sin(k * math.pi / 3)) for k in range(6)]
    # MyoGen moves the electrodes by -theta to place a fibre at +theta: mirror, the ring is symmetric.
    bundle = FibreBundle(
        np.array(yz), np.ones(len(yz)), np.array([0.0]),
        np.array([-g["semi_length_proximal_mm"] * mm]), np.array([g["semi_length_distal_mm"] * mm]),
        float(g["velocity_mps"]),
    )
    pz = np.asarray(result["pos_z_mm"], np.float64).ravel() * mm
    pt = np.asarray(result["pos_theta_rad"], np.float64).ravel()
    pts, pw = electrode_points(pz, pt, g["electrode_radius_mm"] * mm, r_limb)
    phi = np.asarray(result["phi"])
    n = phi.shape[-1]
    m = muap(bundle, pts, pw, np.eye(pz.size), g["electrode_radius_mm"] * mm, float(result["fs_hz"]), n, tissue)
    return m.T.reshape(phi.shape)


def compare(result: dict[str, Any], ours: np.ndarray) -> dict[str, Any]:
    """Per electrode: correlation (cross-correlation peak), lag (ms), amplitude ratios; and their summaries."""
    ref = np.asarray(result["phi"], np.float64)
    fs = float(result["fs_hz"])
    rows, cols, _ = ref.shape
    corr = np.zeros((rows, cols))
    lag = np.zeros((rows, cols))
    p2p_ours, p2p_ref = np.ptp(ours, axis=-1), np.ptp(ref, axis=-1)
    for i in range(rows):
        for j in range(cols):
            a = ours[i, j] - ours[i, j].mean()
            b = ref[i, j] - ref[i, j].mean()
            xc = np.correlate(a, b, mode="full") / (np.linalg.norm(a) * np.linalg.norm(b))
            k = int(xc.argmax())
            corr[i, j] = xc[k]
            lag[i, j] = (k - (b.size - 1)) / fs * 1000.0
    ratio = p2p_ours / p2p_ref
    shape_ratio = (p2p_ours / p2p_ours.max()) / (p2p_ref / p2p_ref.max())
    return {
        "correlation": corr.round(4).tolist(),
        "lag_ms": lag.round(3).tolist(),
        "amplitude_ratio": ratio.round(4).tolist(),
        "normalised_amplitude_ratio": shape_ratio.round(4).tolist(),
        "correlation_median": float(np.median(corr)),
        "correlation_min": float(corr.min()),
        "amplitude_ratio_median": float(np.median(ratio)),
        "normalised_amplitude_ratio_range": [float(shape_ratio.min()), float(shape_ratio.max())],
        "peak_to_peak_uv_ours": p2p_ours.round(3).tolist(),
        "peak_to_peak_myogen": p2p_ref.round(6).tolist(),
    }


def main(argv: list[str] | None = None) -> None:
    """Compare a MyoGen result file with myostream's layered and half-space models; print and write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", help="npz written by realtime/app/bench/myogen_generate.py")
    p.add_argument("--json", default=None, help="write the comparison here")
    args = p.parse_args(argv)
    result = load_result(args.result)
    g = result["geometry"]
    out: dict[str, Any] = {"geometry": g, "fs_hz": float(result["fs_hz"])}
    for model in ("layered", "halfspace"):
        tissue = Tissue(
            sigma_long=g["sigma_muscle_z"], sigma_trans=g["sigma_muscle_rho"], sigma_fat=g["sigma_fat"],
            sigma_skin=g["sigma_skin"], fat_thickness=g["fat_mm"] * 1e-3, skin_thickness=g["skin_mm"] * 1e-3,
            model=model,
        )
        out[model] = compare(result, myostream_unit(result, tissue))
        r = out[model]
        sys.stdout.write(
            f"{model:>9}: correlation median {r['correlation_median']:.3f} (min {r['correlation_min']:.3f}); "
            f"amplitude ratio median {r['amplitude_ratio_median']:.3g}; normalised ratio "
            f"{r['normalised_amplitude_ratio_range'][0]:.2f}-{r['normalised_amplitude_ratio_range'][1]:.2f}\n"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        sys.stdout.write(f"wrote {args.json}\n")


if __name__ == "__main__":
    main()
