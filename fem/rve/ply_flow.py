"""Li flowing THROUGH the cloth: the creeping-Darcy law of the ply, identified on the periodic cell.
Units: mm, MPa, s.

Why: the homogenised ply (fem/rve/ply_fit.py) is one continuum, so its Li moves with its tows. Whether
the Li also flows between the tows (relative to the cloth) towards the rim decides whether a ply needs
a second phase. This module measures that flux: for the paper's cloth it is 2e-5 of an open Li
channel's, negligible in a 15 mm disc (docs/results.md, session 11).

The cell problem. The Li-region cell of the tables (fem/rve/ply_tables.py li_region_cell: tows, Li
between and over them, pores), on the creep solver of fem/rve/creep.py (P2, small strain, the Li
elastic + Norton creep), with
* the tows HELD (every dof of a tow cell fixed: the cloth is the skeleton the Li flows through; its
  own drag is carried by the woven net in tension at the disc scale),
* the z faces no-slip (the fluctuation is zero there, as in the tables: the Li-region's faces are
  bonded to the gel skins, which are elastic and so cannot follow a steady flow),
* the mean strain zero, the fluctuation periodic in x and y,
* a uniform body force G e_j on the Li (N/mm^3 = MPa/mm): the mean gradient of Li pressure,
  -grad p = G e_j, which a periodic fluctuation of the pressure cannot carry.
Backward-Euler steps of growing length drive the Li to its steady creeping flow (the stress stops
changing, so the velocity is exactly steady, whatever the step). The Darcy flux is the Li's volume
flow per unit cross-section of the CELL:
    q_j = (1 / V_cell) int_Li  du_j/dt  dV    (mm/s).
With a Norton law without threshold (pdot = A q^n) the problem is homogeneous: q = kappa A H^(n+1) G^n
(H the cell's thickness), so one steady flow gives the dimensionless coefficient kappa of the cloth,
for this n. The ply's law is then
    q = -K |grad p|^(n-1) grad p,   K = kappa A H^(n+1)   (mm/s per (MPa/mm)^n),
the same in x and y (the plain weave maps warp onto weft under x <-> y, z -> H - z; the run checks it).

Modes and faces (`--mode`, `--faces`; session 14). "through" (default) holds both tow families, as
above. "sliding" holds only the family whose fibres run along the flow (warp for x, weft for y); the
other family is free and moves with the Li, sliding past the held one at the crossings through the
Li films between them. That is what the resolved disc does at 30 MPa: each family spreads 4.5 %
across its fibres and 0.28 % along them (make phase-map; docs/results.md, session 14). The
reported `free_tow_velocity_mm_per_s` is the free family's mean velocity along the flow. "slip"
faces let the cell's z faces slide in x and y (periodic), the bound where the gel skins carry no
shear; "noslip" holds them, as the tables do. The disc estimate turns K into the thinning rate of
the study's disc squeezed at `--pressure` (squeeze_thinning_rate).

Reference: the open channel (no tows, a Li slab of thickness H between no-slip faces), the power-law
plane Poiseuille flow of von Mises-Norton Li: the shear stress tau = G (H/2 - z) gives the
engineering shear rate 3^((n+1)/2) A |tau|^n, so
    kappa_channel = 2 3^((n+1)/2) / ((n + 2) 2^(n+2))
(tests/unit/test_ply_flow.py checks the solver against it). The cloth's kappa / kappa_channel is
the fraction of the open channel's flux that the tows let through.

    python -m fem.rve.ply_flow STUDY [--mesh-size 0.3] [--mode through|sliding] [--faces noslip|slip]
                                     [--pressure 30] [--out FILE]
(a study with a [composite] table and the Li law; 17-25 s per direction on one core at 0.3 mm).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from meshes.common import CARBON_WARP, CARBON_WEFT, LI

DIRECTIONS = {"x": 0, "y": 1}


def kappa_channel(n: float) -> float:
    """kappa of an open Li channel between no-slip faces (power-law plane Poiseuille, von Mises-Norton)."""
    return 2.0 * 3.0 ** ((n + 1.0) / 2.0) / ((n + 2.0) * 2.0 ** (n + 2.0))


FACES = ("noslip", "slip")
MODES = ("through", "sliding")
ALONG = {"x": CARBON_WARP, "y": CARBON_WEFT}   # the tow family whose fibres run along each direction


def held_tags_for(mode: str, direction: str) -> tuple:
    """The tow tags held for a flow `mode` along `direction`: "through", both families (the Li flows
    through a fixed cloth); "sliding", only the family along the flow (the other moves with the Li,
    sliding past it at the crossings: the mode of the resolved disc at 30 MPa, docs/results.md session 14)."""
    if mode not in MODES:
        raise ValueError(f"mode = {mode!r}: must be one of {MODES}")
    return (CARBON_WARP, CARBON_WEFT) if mode == "through" else (ALONG[direction],)


def squeeze_thinning_rate(K: float, n: float, pressure_MPa: float, radius_mm: float) -> float:
    """Thinning rate (1/s) of a disc of radius R whose Li is squeezed out through the ply with the
    creeping-Darcy law q = -K |grad p|^(n-1) grad p, the pressure P at the centre falling to 0 at the
    rim with uniform thinning: 2 K ((3 + 1/n) P / R^(1 + 1/n))^n (session 11, docs/results.md)."""
    return 2.0 * K * ((3.0 + 1.0 / n) * pressure_MPa / radius_mm ** (1.0 + 1.0 / n)) ** n


def _unit_loads(rc, dx_part):
    """(b, V): b[j] the nodal vector of int_part e_j . v dV (so b[j] . u = int_part u_j dV) for the cell's
    P2 space, and the part's volume V (mm^3)."""
    import dolfinx_solver  # noqa: F401
    import ufl
    from dolfinx import fem, la

    from fem.models import JIT_OPTIONS
    v = ufl.TestFunction(rc.V)
    b = np.zeros((3, rc.N))
    for j in range(3):
        e = [0.0, 0.0, 0.0]
        e[j] = 1.0
        vec = fem.assemble_vector(fem.form(ufl.inner(ufl.as_vector(e), v) * dx_part, jit_options=JIT_OPTIONS))
        vec.scatter_reverse(la.InsertMode.add)
        b[j] = vec.array[:rc.N]
    return b, float(fem.assemble_scalar(fem.form(1.0 * dx_part, jit_options=JIT_OPTIONS)))


class CellFlow:
    """Steady creeping flow of the Li of an RVE creep cell (fem/rve/creep.py RveCreep) past its held tows.
    faces: "noslip" (the fluctuation zero on the z faces, as in the tables) or "slip" (the z faces free
    to slide in x and y, periodic; fem/rve/periodic.py "periodic_slip")."""

    def __init__(self, rc, held_tags=(CARBON_WARP, CARBON_WEFT), faces: str = "noslip"):
        import dolfinx_solver  # noqa: F401
        import ufl

        from fem.models.linear_solvers import ProlongedSystem
        from fem.rve.solve import _petsc_aij
        if rc.li is None or rc.li.threshold_stress_MPa != 0.0:
            raise ValueError("li threshold_stress_MPa: must be 0 for the flow coefficient (a Norton law without "
                             "threshold is scale-free; with one the flux is not a power of the gradient)")
        if faces not in FACES:
            raise ValueError(f"faces = {faces!r}: must be one of {FACES}")
        self.rc, self.faces, self.held_tags = rc, faces, tuple(held_tags)
        cell_tags = rc.cell_tags
        bs = rc.V.dofmap.index_map_bs
        held_cells = np.concatenate([cell_tags.find(t) for t in held_tags]) if held_tags else np.zeros(0, np.int32)
        blocks = np.unique(rc.V.dofmap.list[held_cells].ravel()) if len(held_cells) else np.zeros(0, np.int64)
        rows = (bs * blocks[:, None] + np.arange(bs)).ravel()
        if faces == "slip":
            from fem.rve.periodic import prolongation
            box = rc.box
            L = max(box[3] - box[0], box[4] - box[1], box[5] - box[2])
            P = prolongation(rc.X, box, 1e-6 * L, "periodic_slip", bs=bs)[0].tocsr()
        else:
            P = rc.P.tocsr()
        drop = np.unique(P[rows].indices) if len(rows) else np.zeros(0, np.int64)
        keep = np.setdiff1d(np.arange(P.shape[1]), drop)
        self.T = P[:, keep].tocsr()
        self.held_dofs = int(len(rows))
        self.ps = ProlongedSystem(_petsc_aij(self.T), rc.mesh.comm)
        dx = ufl.Measure("dx", domain=rc.mesh, subdomain_data=cell_tags, metadata={"quadrature_degree": 2})
        # int_Li u_j dV = b_j . u (the same P2 integral)
        self.b, self.li_volume = _unit_loads(rc, dx(LI))
        # the free tows (not held): their mean velocity, int_tows v_j dV / V_tows = b_tow_j . v / V_tows
        free = tuple(t for t in (CARBON_WARP, CARBON_WEFT) if t not in self.held_tags and len(cell_tags.find(t)))
        self.b_tow, self.tow_volume = _unit_loads(rc, sum((dx(t) for t in free[1:]), dx(free[0]))) if free else (None, 0.0)

    def _advance(self, u, v, epsc, dt: float, load, k: int):
        """One backward-Euler step of length dt from (u, epsc), the last velocity v as the predictor:
        (u_new, epsc_new, Newton iterations)."""
        from dolfinx.fem import petsc as fem_petsc

        from fem.rve.solve import _vec
        rc, T = self.rc, self.T
        uu = u + v * dt                              # the last step's velocity: the steady flow's predictor
        for it in range(1, 40):
            f_int, eps, sig, epsc_new, dp = rc._eval(uu, dt, epsc)
            r = load - f_int
            nr = np.linalg.norm(T.T @ r)
            if it > 1 and nr <= 1e-8 * max(np.linalg.norm(T.T @ load), 1e-30):
                break
            K = fem_petsc.assemble_matrix(rc.J_form)
            K.assemble()
            self.ps.factor(K)
            corr = self.ps.solve(_vec(r)).array
            uu = uu + corr
            # converged also when the correction is at round-off of the step's motion (the residual's
            # floor grows with the accumulated displacement: eps and the creep strain nearly cancel)
            if np.linalg.norm(corr) <= 1e-10 * np.linalg.norm(uu - u):
                break
        else:
            raise RuntimeError(f"cell flow: Newton did not converge in step {k} (dt {dt:g} s)")
        return uu, epsc_new, it

    def steady(self, direction: str, G: float, max_steps: int = 60, tol: float = 1e-5, progress=None) -> dict:
        """Steady flux (mm/s) of the Li under the body force G (MPa/mm) along `direction` ('x' or 'y')."""
        say = progress or (lambda s: None)
        rc = self.rc
        j = DIRECTIONS[direction]
        li = rc.li
        n, A, E = li.creep_n, li.creep_A_eff, li.youngs_modulus_MPa
        H = rc.box[5] - rc.box[2]
        s = max(G * H / 2.0, 1e-12)                      # the stress scale (the channel's wall shear), MPa
        tau = s / (E * A * s ** n)                       # the elastic-creep transient, s
        load = G * self.b[j]
        u, v = np.zeros(rc.N), np.zeros(rc.N)
        epsc = np.zeros((len(rc.qvol), 6))
        dt, t = 0.05 * tau, 0.0
        hist, q_last, t0 = [], None, time.perf_counter()
        for k in range(1, max_steps + 1):
            uu, epsc_new, it = self._advance(u, v, epsc, dt, load, k)
            v = (uu - u) / dt
            q, q_cross = float(self.b[j] @ v) / rc.vol, float(self.b[1 - j] @ v) / rc.vol
            u, epsc, t = uu, epsc_new, t + dt
            hist.append({"t_s": t, "dt_s": dt, "q_mm_per_s": q, "newton": it})
            say(f"    step {k}: t {t:.4g} s, dt {dt:.3g} s, q_{direction} {q:.6g} mm/s ({it} Newton its)")
            if q_last is not None and abs(q - q_last) <= tol * abs(q) and dt >= 20.0 * tau:
                break
            q_last = q
            dt *= 2.0
        else:
            raise RuntimeError(f"cell flow: not steady after {max_steps} steps (q {q:g}, last {q_last:g} mm/s)")
        kappa = q / (A * H ** (n + 1.0) * G ** n)
        v_tow = float(self.b_tow[j] @ v) / self.tow_volume if self.b_tow is not None else 0.0
        return {"direction": direction, "faces": self.faces, "held_tags": list(self.held_tags),
                "free_tow_velocity_mm_per_s": v_tow, "G_MPa_per_mm": G, "q_mm_per_s": q, "q_cross_mm_per_s": q_cross,
                "kappa": kappa, "kappa_channel": kappa_channel(n), "ratio_to_channel": kappa / kappa_channel(n),
                "H_mm": H, "n": n, "A_eff": A, "transient_s": tau, "steps": len(hist), "history": hist,
                "wall_s": time.perf_counter() - t0}

    def transient(self, direction: str, G: float, t_end: float, steps: int = 24, first_s: float = 1e-3,
                  progress=None) -> dict:
        """The Li's motion under the body force G (MPa/mm) held for t_end seconds (no steady state needed:
        in the sliding mode the free tows ride on the held ones' crimp, so the flux decays). Steps grow
        geometrically from first_s to t_end. History: t (s), the Li's mean displacement and velocity along
        `direction` (mm, mm/s) and the free tows' mean displacement (mm; 0 when all are held)."""
        say = progress or (lambda s: None)
        rc = self.rc
        j = DIRECTIONS[direction]
        load = G * self.b[j]
        u, v = np.zeros(rc.N), np.zeros(rc.N)
        epsc = np.zeros((len(rc.qvol), 6))
        times = np.geomspace(first_s, t_end, steps)
        hist, t, t0 = [], 0.0, time.perf_counter()
        for k, t_next in enumerate(times, start=1):
            dt = t_next - t
            uu, epsc_new, it = self._advance(u, v * (k > 1), epsc, dt, load, k)
            v = (uu - u) / dt
            u, epsc, t = uu, epsc_new, t_next
            row = {"t_s": t, "li_displacement_mm": float(self.b[j] @ u) / self.li_volume,
                   "li_velocity_mm_per_s": float(self.b[j] @ v) / self.li_volume,
                   "free_tow_displacement_mm": (float(self.b_tow[j] @ u) / self.tow_volume
                                                if self.b_tow is not None else 0.0), "newton": it}
            hist.append(row)
            say(f"    step {k}: t {t:.4g} s, Li {row['li_displacement_mm']:.4g} mm "
                f"({row['li_velocity_mm_per_s']:.3g} mm/s), free tows {row['free_tow_displacement_mm']:.4g} mm "
                f"({it} Newton its)")
        return {"direction": direction, "faces": self.faces, "held_tags": list(self.held_tags), "G_MPa_per_mm": G,
                "t_end_s": t_end, "history": hist, "wall_s": time.perf_counter() - t0}


def cell_flow(composite, materials: dict, mesh_size_mm: float, held_tags=(CARBON_WARP, CARBON_WEFT),
              faces: str = "noslip"):
    """(CellFlow, cell, mesh report) of the Li-region cell of a composite (the tables' cell and solver)."""
    from fem.rve.ply_tables import cell_creep_solver
    rc, cell, report = cell_creep_solver(composite, materials, mesh_size_mm)
    return CellFlow(rc, held_tags, faces), cell, report


def main(argv=None) -> int:
    from fem.stepping.outputs import atomic_write_text
    from fem.study import StudyError, parse_study, read_study_toml
    from fem.workflows.sweep import first_values
    ap = argparse.ArgumentParser(prog="python -m fem.rve.ply_flow", description=__doc__.splitlines()[0])
    ap.add_argument("study", help="a study with a [composite] table (a composite or composite_homogenised model)")
    ap.add_argument("--mesh-size", type=float, default=0.3, help="the cell's element size, mm (0.05-1)")
    ap.add_argument("--gradient", type=float, default=10.0, help="the Li pressure gradient, MPa/mm (0.01-1000); "
                    "kappa does not depend on it")
    ap.add_argument("--mode", default="through", help="through (default): both tow families held, the Li flows "
                    "through the cloth; sliding: only the family along the flow held, the other moves with the Li")
    ap.add_argument("--faces", default="noslip", help="noslip (default, as the tables) or slip: the z faces slide")
    ap.add_argument("--pressure", type=float, default=30.0, help="centre pressure of the disc estimate, MPa (0.1-100)")
    ap.add_argument("--out", help="write the result as JSON here")
    a = ap.parse_args(argv)
    for name, val, lo, hi in (("--mesh-size", a.mesh_size, 0.05, 1.0), ("--gradient", a.gradient, 0.01, 1000.0),
                              ("--pressure", a.pressure, 0.1, 100.0)):
        if not (math.isfinite(val) and lo <= val <= hi):
            print(f"error: {name} = {val!r}: must be in [{lo:g}, {hi:g}]", file=sys.stderr)
            return 2
    for name, val, allowed in (("--mode", a.mode, MODES), ("--faces", a.faces, FACES)):
        if val not in allowed:
            print(f"error: {name} = {val!r}: must be one of {', '.join(allowed)}", file=sys.stderr)
            return 2
    try:
        study = parse_study(first_values(read_study_toml(a.study)), name=Path(a.study).stem)
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    composite = getattr(study.geometry, "composite", None)
    if composite is None:
        print(f"error: {a.study}: [geometry] model must be composite or composite_homogenised (a [composite] cell)",
              file=sys.stderr)
        return 2
    mats = {"li": study.li, **study.materials}
    from fem.rve.ply_tables import cell_creep_solver
    try:
        rc, cell, _ = cell_creep_solver(composite, mats, a.mesh_size)
        flows = {d: CellFlow(rc, held_tags_for(a.mode, d), a.faces) for d in DIRECTIONS}
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"ply flow ({a.mode}, faces {a.faces}): cell {cell.box[3]:g} x {cell.box[4]:g} x {cell.box[5]:.4g} mm, "
          f"{rc.dofs} dofs, Li {flows['x'].li_volume:.4g} mm3 of {rc.vol:.4g}")
    out = {"study": a.study, "mesh_size_mm": a.mesh_size, "mode": a.mode, "faces": a.faces, "dofs": rc.dofs,
           "li_volume_mm3": flows["x"].li_volume, "cell_volume_mm3": rc.vol, "runs": []}
    for d, flow in flows.items():
        r = flow.steady(d, a.gradient, progress=print)
        out["runs"].append(r)
        print(f"  {d}: q {r['q_mm_per_s']:.5g} mm/s at G {a.gradient:g} MPa/mm, kappa {r['kappa']:.5g} "
              f"({r['ratio_to_channel']:.4g} x the open channel), cross flux {r['q_cross_mm_per_s']:.2g} mm/s, "
              f"free tows {r['free_tow_velocity_mm_per_s']:.3g} mm/s, {r['steps']} steps, {r['wall_s']:.1f} s")
    kx, ky = (r["kappa"] for r in out["runs"])
    out["kappa"] = 0.5 * (kx + ky)
    out["xy_asymmetry"] = abs(kx - ky) / out["kappa"]
    li = rc.li
    K = out["kappa"] * li.creep_A_eff * cell.box[5] ** (li.creep_n + 1)
    R = 0.5 * study.geometry.diameter_mm
    out["K"] = K
    out["disc_estimate"] = {"pressure_MPa": a.pressure, "radius_mm": R,
                            "thinning_rate_per_s": squeeze_thinning_rate(K, li.creep_n, a.pressure, R)}
    print(f"  kappa {out['kappa']:.5g} (x/y differ by {100 * out['xy_asymmetry']:.2f} %); "
          f"K = kappa A H^(n+1) = {K:.4g} mm/s per (MPa/mm)^n; squeeze estimate for the study's disc "
          f"(R {R:g} mm, {a.pressure:g} MPa at the centre): thinning {out['disc_estimate']['thinning_rate_per_s']:.3g} /s")
    if a.out:
        atomic_write_text(Path(a.out), json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
