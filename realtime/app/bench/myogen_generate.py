"""Run MyoGen's layered-cylinder model for one motor unit and write its potentials (run in MyoGen's own venv).

Not imported by myostream: run it with the Python of an environment where
MyoGen is installed (``python3.12 -m venv /work/venvs/myogen && pip install myogen``)::

    /work/venvs/myogen/bin/python realtime/app/bench/myogen_generate.py --out myogen_unit.npz

It simulates the fibres of one motor unit (a centre fibre and a ring of six,
Farina et al. 2004's bone-muscle-fat-skin cylinder, MyoGen's
``simulate_fiber_v2``) under a 5 x 5 monopolar grid and writes the geometry
and the summed potentials; :mod:`realtime.app.bench.myogen_compare` computes
myostream's MUAP for the same geometry and compares them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

GEOMETRY = {
    "limb_radius_mm": 40.0,
    "bone_radius_mm": 7.0,
    "fat_mm": 3.0,
    "skin_mm": 1.0,
    "depth_mm": 8.0,  # unit centre below the skin
    "territory_radius_mm": 3.0,
    "semi_length_distal_mm": 60.0,  # L1 (z > 0)
    "semi_length_proximal_mm": 40.0,  # L2 (z < 0)
    "velocity_mps": 4.0,
    "rows": 5,
    "cols": 5,
    "ied_mm": 8.0,
    "electrode_radius_mm": 1.5,
    "grid_centre_z_mm": 30.0,  # along the fibres from the innervation zone (z = 0)
    "sigma_muscle_z": 0.5,
    "sigma_muscle_rho": 0.1,
    "sigma_fat": 0.05,
    "sigma_skin": 1.0,
    "sigma_bone": 0.02,
}
"""The unit and the grid (Farina & Merletti 2001 / Farina et al. 2004 conductivities)."""


def fibre_positions(g: dict) -> list[tuple[float, float]]:
    """(R mm from the axis, theta rad) of the centre fibre and a ring of six at 0.76 of the territory radius."""
    rc = g["limb_radius_mm"] - g["depth_mm"]
    ring = math.sqrt(7.0 / 12.0) * g["territory_radius_mm"]
    out = [(rc, 0.0)]
    for k in range(6):
        a = k * math.pi / 3.0
        y, z = rc + ring * math.cos(a), ring * math.sin(a)
        out.append((math.hypot(y, z), math.atan2(z, y)))
    return out


def main() -> None:
    """Simulate and write ``--out`` (npz: ``phi`` (rows, cols, N) mV summed over fibres, ``fs_hz``, geometry)."""
    # deferred: quantities comes with MyoGen, only in MyoGen's own environment
    import quantities as pq

    # deferred: MyoGen is not a myostream dependency (its own environment)
    from myogen.simulator.core.emg.electrodes import SurfaceElectrodeArray

    # deferred: MyoGen is not a myostream dependency (its own environment)
    from myogen.simulator.core.emg.surface.simulate_fiber import simulate_fiber_v2

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=256, help="points in t and z")
    p.add_argument("--m", type=int, default=128, help="points in theta")
    args = p.parse_args()
    g = GEOMETRY
    arr = SurfaceElectrodeArray(
        num_rows=g["rows"], num_cols=g["cols"], inter_electrode_distance__mm=g["ied_mm"] * pq.mm,
        electrode_radius__mm=g["electrode_radius_mm"] * pq.mm,
        center_point__mm_deg=(g["grid_centre_z_mm"] * pq.mm, 0.0 * pq.deg),
        bending_radius__mm=g["limb_radius_mm"] * pq.mm, differentiation_mode="monopolar",
    )
    fibre_length = g["semi_length_distal_mm"] + g["semi_length_proximal_mm"]
    total = None
    a_mat = b_inc = None
    t0 = time.perf_counter()
    for radius, theta in fibre_positions(g):
        phi, a_mat, b_inc = simulate_fiber_v2(
            Fs=10.0, v=g["velocity_mps"], N=args.n, M=args.m, r=g["limb_radius_mm"],
            r_bone=g["bone_radius_mm"], th_fat=g["fat_mm"], th_skin=g["skin_mm"], R=radius,
            L1=g["semi_length_distal_mm"], L2=g["semi_length_proximal_mm"], zi=0.0, electrode_array=arr,
            sig_muscle_rho=g["sigma_muscle_rho"], sig_muscle_z=g["sigma_muscle_z"], sig_fat=g["sigma_fat"],
            sig_skin=g["sigma_skin"], sig_bone=g["sigma_bone"], A_matrix=None, B_incomplete=None,
            use_gpu=False, fiber_length__mm=fibre_length, theta_offset=theta,
        )
        total = phi if total is None else total + phi
    fs_khz = g["velocity_mps"] * (args.n - 1) / fibre_length
    np.savez(
        args.out, phi=np.asarray(total, np.float64), fs_hz=fs_khz * 1000.0,
        pos_z_mm=np.asarray(arr.pos_z.rescale(pq.mm).magnitude, np.float64),
        pos_theta_rad=np.asarray(arr.pos_theta.rescale(pq.rad).magnitude, np.float64),
        geometry=json.dumps(g), n_fibres=len(fibre_positions(g)), seconds=time.perf_counter() - t0,
    )
    sys.stdout.write(f"wrote {args.out}: {len(fibre_positions(g))} fibres in {time.perf_counter() - t0:.1f} s, "
                     f"fs {fs_khz * 1000:.0f} Hz, phi {np.asarray(total).shape}\n")


if __name__ == "__main__":
    main()
