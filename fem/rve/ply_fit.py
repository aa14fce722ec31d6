"""The effective viscoplastic law of the G-LiCFC ply, fitted to the RVE creep tables
(fem/rve/ply_tables.py). Units: mm, MPa, s.

Law (a parallel, two-branch rheology; small strain here, its finite-strain form in the disc is
fem/physics/laws.py PlyCreepLaw):
    sigma = C_s : eps  +  K_b tr(eps) I + s_b,
* C_s: the SKELETON, elastic, tetragonal about z (C11 = C22, C12, C13 = C23, C33, C44 = C55, C66; Voigt,
  engineering shear): the tows and whatever the Li cannot relax (the Li confined between them);
* the Li BRANCH: isotropic, shear modulus mu_b, isochoric Norton creep of its deviatoric stress s_b,
  edot_b = A_b q_b^n_b (the Li law's form; fem/rve/creep.py norton_return), bulk K_b (elastic; fixed at
  K_B_FRACTION of the Reuss bulk modulus of the instantaneous cell, the skeleton takes the rest).
Nine fitted numbers: C11, C12, C13, C33, C44, C66, mu_b, log10 A_b, n_b.

Fit: least squares (scipy.optimize.least_squares, trust-region reflective; the seven moduli as
logarithms, so they stay positive without bounds) of the mean stress of
every table curve, the loaded component (and the lateral stress of the confined test), each point
divided by the largest |stress| of its curve; the material point is driven by the same mixed
control as the cell (prescribed strain rates, stress-free components solved by Newton). The
criterion of issue 18: every curve within 5 % of its largest stress (`max_rel_error` per curve).

For the axisymmetric disc the skeleton is averaged over in-plane rotations (fem/rve/ply.py
isotropise); `isotropisation` reports what that changes: the in-plane shear response of the
fitted (tetragonal) law against the isotropised one, for the shear_xy curves.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np

from fem.rve.backus import MANDEL_W as W
from fem.rve.backus import mandel_to_voigt, voigt_to_mandel
from fem.rve.creep import I_DEV, M, norton_return

K_B_FRACTION = 0.25
NAMES = ("C11_MPa", "C12_MPa", "C13_MPa", "C33_MPa", "C44_MPa", "C66_MPa", "mu_b_MPa", "log10_A_b", "n_b")
FIT_VERSION = 3


def tetragonal_voigt(c) -> np.ndarray:
    C11, C12, C13, C33, C44, C66 = c
    C = np.zeros((6, 6))
    C[0, 0] = C[1, 1] = C11
    C[0, 1] = C[1, 0] = C12
    C[0, 2] = C[2, 0] = C[1, 2] = C[2, 1] = C13
    C[2, 2] = C33
    C[3, 3] = C[4, 4] = C44
    C[5, 5] = C66
    return C


def reuss_bulk(C: np.ndarray) -> float:
    return float(1.0 / np.linalg.inv(C)[:3, :3].sum())


def closure_step(tr, c_n, dt, K, phi, B, m):
    """Pore closure c (volume per volume) at the end of a step and dp/dtr, for the ply's volumetric
    law  p = K (tr eps + c),  dc/dt = k(p) (phi - c),  k = B <-p>^m  (backward Euler:
    c = (c_n + r phi) / (1 + r), r = dt k(p)). g(c) = c - (c_n + r phi)/(1 + r) increases from
    g(c_n) <= 0 to g(phi) >= 0: solved by brentq. Returns (c, p, dp/dtr)."""
    from scipy.optimize import brentq

    def f(c):   # c - (c_n + r phi)/(1 + r), written to stay finite when r overflows
        p = K * (tr + c)
        with np.errstate(over="ignore"):
            r = min(dt * B * max(-p, 0.0) ** m, 1e300)
        return c - phi + (phi - c_n) / (1.0 + r)
    if phi <= 0.0 or B <= 0.0 or dt <= 0.0 or f(c_n) >= 0.0:
        c = c_n
    elif f(phi) <= 0.0:
        c = phi
    else:
        c = brentq(f, c_n, phi, xtol=1e-15, rtol=1e-13)
    p = K * (tr + c)
    if p < 0.0 and phi > 0.0 and B > 0.0 and dt > 0.0 and dt * B * (-p) ** m < 1e150:
        r = dt * B * (-p) ** m
        dr_dp = -dt * B * m * (-p) ** (m - 1.0)
        fp = dr_dp * (phi - c_n) / (1.0 + r) ** 2     # dc/dp at fixed c_n
        return c, p, K / (1.0 - fp * K)
    return c, p, K


class PointLaw:
    """The two-branch law at one material point (Mandel vectors inside, Voigt in and out), with the
    optional pore closure of the Li branch's volume (theta[9] = log10 B; phi the cell's pore fraction)."""

    def __init__(self, theta, K_b: float, phi: float = 0.0):
        self.Cs = voigt_to_mandel(tetragonal_voigt(theta[:6]))
        self.mu_b, self.A_b, self.n_b, self.K_b = float(theta[6]), 10.0 ** float(theta[7]), float(theta[8]), K_b
        self.B = 10.0 ** float(theta[9]) if len(theta) > 9 and phi > 0.0 else 0.0
        self.phi = phi

    def stress(self, eps_M, epsc_n, dt, c_n=0.0):
        s, C, e, _ = norton_return(eps_M[None], epsc_n[None], self.mu_b, self.K_b, self.A_b * dt, self.n_b, 0.0)
        tr = float(eps_M[:3].sum())
        c, p, dp = closure_step(tr, c_n, dt, self.K_b, self.phi, self.B, self.n_b)
        mm = np.outer(M, M)
        sig = self.Cs @ eps_M + s[0] + (p - self.K_b * tr) * M
        return sig, self.Cs + C[0] + (dp - self.K_b) * mm, e[0], c

    def run(self, control, rate_V, t_end: float, steps: int, closure: list | None = None) -> np.ndarray:
        """Mean-stress history (steps + 1, 6), Voigt, under the mixed control of the cell (the pore
        closure history appended to `closure` when given)."""
        free = [j for j in range(6) if control[j] == "stress"]
        eps_V = np.zeros(6)
        epsc = np.zeros(6)
        c = 0.0
        out = np.zeros((steps + 1, 6))
        dt = t_end / steps
        for k in range(1, steps + 1):
            eps_V = eps_V + np.where(np.array(control) == "strain", rate_V * dt, 0.0)
            for _ in range(30):
                sig_M, C_M, e_new, c_new = self.stress(eps_V / W, epsc, dt, c)
                sig_V = sig_M / W
                if not free or np.abs(sig_V[free]).max() <= 1e-10 * max(np.abs(sig_V).max(), 1e-6):
                    break
                CV = mandel_to_voigt(C_M)                   # d sigma_V / d eps_V
                eps_V[free] -= np.linalg.solve(CV[np.ix_(free, free)], sig_V[free])
            epsc, c = e_new, c_new
            out[k] = sig_V
            if closure is not None:
                closure.append(c)
        return out


def model_curve(law: PointLaw, c: dict) -> np.ndarray:
    """The law's mean-stress history under a table curve's control, rate and steps (Voigt, MPa)."""
    rate = np.zeros(6)
    rate[c["component"]] = np.asarray(c["E"])[-1][c["component"]] / c["t_s"][-1]
    return law.run(c["control"], rate, c["t_s"][-1], len(c["t_s"]) - 1)


def residuals(theta, curves, K_b, phi=0.0) -> np.ndarray:
    law = PointLaw(theta, K_b, phi)
    res = []
    for c in curves:
        S = np.asarray(c["Sigma_MPa"])
        j = c["component"]
        try:
            model = model_curve(law, c)
            if not np.isfinite(model).all():
                raise ValueError("not finite")
        except (np.linalg.LinAlgError, ValueError):   # a parameter set the point cannot integrate
            n = sum(len(cc["t_s"]) - 1 + (len(cc["t_s"]) - 1 if cc["mode"] == "confined" else 0) for cc in curves)
            return np.full(n, 1e3)
        scale = np.abs(S[:, j]).max()
        res.append((model[1:, j] - S[1:, j]) / scale)
        if c["mode"] == "confined":
            res.append((model[1:, 0] - S[1:, 0]) / scale)
    r = np.concatenate(res)
    eig = np.linalg.eigvalsh(tetragonal_voigt(theta[:6]))
    if eig.min() <= 0.0:   # the skeleton must be positive definite
        r = r + 10.0 * (1.0 - eig.min() / max(eig.max(), 1.0))
    return r


def curve_errors(theta, curves, K_b, phi=0.0) -> list[dict]:
    law = PointLaw(theta, K_b, phi)
    out = []
    for c in curves:
        S = np.asarray(c["Sigma_MPa"])
        j = c["component"]
        model = model_curve(law, c)
        scale = np.abs(S[:, j]).max()
        err = np.abs(model[:, j] - S[:, j]).max() / scale
        if c["mode"] == "confined":
            err = max(err, np.abs(model[:, 0] - S[:, 0]).max() / scale)
        out.append({"mode": c["mode"], "rate_per_s": c["rate_per_s"], "max_rel_error": float(err),
                    "final_stress_rve_MPa": float(S[-1, j]), "final_stress_law_MPa": float(model[-1, j])})
    return out


def initial_guess(C_inst: np.ndarray, li) -> np.ndarray:
    """Start: the Li branch carries the cell's transverse shear stiffness (C44, the Li films between
    tows), the skeleton the rest; A_b, n_b those of the Li."""
    mu_b = 0.9 * C_inst[4, 4]
    K_b = K_B_FRACTION * reuss_bulk(C_inst)
    Cs = C_inst - 2 * mu_b * mandel_to_voigt(I_DEV) - K_b * np.outer(M, M)
    c = [Cs[0, 0], Cs[0, 1], Cs[0, 2], Cs[2, 2], max(Cs[4, 4], 0.05 * C_inst[4, 4]), max(Cs[5, 5], 0.05 * C_inst[5, 5])]
    return np.array(c + [mu_b, math.log10(li.creep_A_eff), li.creep_n])


def fit(table: dict, C_inst: np.ndarray, li, progress=None, closure: bool = True) -> dict:
    """Fit the law to the table's curves; C_inst: the cell's elastic (instantaneous) Voigt stiffness."""
    from scipy.optimize import least_squares

    from fem.rve.ply import isotropise
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    curves = table["curves"]
    K_b = K_B_FRACTION * reuss_bulk(C_inst)
    x0 = initial_guess(C_inst, li)
    phi = float(table.get("volume_fractions", {}).get("void", 0.0)) if closure else 0.0
    if phi > 0.0:   # the pore-closure rate of a dilute void in the Norton Li (Budiansky, Hutchinson & Slutsky
        # 1982, hydrostatic limit): dV/V dt = 3/2 A (3 |p| / (2 n))^n, i.e. B = 3/2 A (3 / (2 n))^n
        x0 = np.append(x0, math.log10(1.5 * li.creep_A_eff * (1.5 / li.creep_n) ** li.creep_n))
    # the seven moduli as logarithms (positive without bounds), the rest as they are
    z0 = np.concatenate([np.log(np.maximum(x0[:7], 1e-3)), x0[7:]])

    def unpack(z):
        return np.concatenate([np.exp(z[:7]), z[7:]])

    sol = least_squares(lambda z: residuals(unpack(z), curves, K_b, phi), z0, method="trf", x_scale="jac",
                        diff_step=1e-4, max_nfev=2000, xtol=1e-10, ftol=1e-12)
    th = unpack(sol.x)
    errs = curve_errors(th, curves, K_b, phi)
    worst = max(e["max_rel_error"] for e in errs)
    say(f"ply law fit: {sol.nfev} evaluations, worst curve {100 * worst:.2f} % of its largest stress "
        f"({time.perf_counter() - t0:.1f} s)")
    Cs = tetragonal_voigt(th[:6])
    Ci = isotropise(Cs)
    # isotropisation error: the in-plane shear curves of the isotropised law
    th_iso = np.array([Ci[0, 0], Ci[0, 1], Ci[0, 2], Ci[2, 2], Ci[4, 4], Ci[5, 5], *th[6:]])
    errs_iso = [e for e in curve_errors(th_iso, curves, K_b, phi)]
    return {"version": FIT_VERSION, "parameters": dict(zip(NAMES + (("log10_B",) if phi > 0.0 else ()), map(float, th))),
            "K_b_MPa": K_b, "porosity": phi,
            "curves": errs, "max_rel_error": worst, "criterion": 0.05, "meets_criterion": bool(worst <= 0.05),
            "skeleton_isotropised_MPa": {"C11_MPa": float(Ci[0, 0]), "C12_MPa": float(Ci[0, 1]),
                                         "C13_MPa": float(Ci[0, 2]), "C33_MPa": float(Ci[2, 2]),
                                         "C44_MPa": float(Ci[4, 4])},
            "isotropisation": {"curves": errs_iso, "max_rel_error": max(e["max_rel_error"] for e in errs_iso)},
            "instantaneous_cell_stiffness_MPa": np.asarray(C_inst).tolist(), "nfev": int(sol.nfev),
            "cost": float(sol.cost), "optimizer": str(sol.message), "wall_s": time.perf_counter() - t0}


def cell_elastic_stiffness(table: dict, materials: dict) -> np.ndarray:
    """The periodic elastic stiffness of the table's cell (fem/rve/solve.py), Voigt, MPa."""
    import dolfinx_solver  # noqa: F401
    from mpi4py import MPI

    from fem.rve.config import RveStudy
    from fem.rve.ply_tables import li_region_cell
    from fem.rve.solve import effective_stiffness
    from meshes.composite import CompositeGeometry
    from meshes.rve import WeaveCell, load_mesh
    comp = CompositeGeometry(**table["composite"])
    cell = WeaveCell(li_region_cell(comp, table["mesh_size_mm"]))
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("ply", cell, materials, bounds=False)
    r = effective_stiffness(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), bcs=("periodic",))
    return np.asarray(r["stiffness"]["periodic"])


def fitted_ply(table_path: Path, materials: dict, progress=None, cache_dir=None) -> dict:
    """The fit of a table file, cached as JSON in the mesh cache directory (keyed by the table's bytes)."""
    from fem.stepping.outputs import atomic_write_text
    from meshes.common import cache_dir_path
    raw = Path(table_path).read_bytes()
    key = hashlib.sha1(raw + json.dumps(FIT_VERSION).encode()).hexdigest()[:16]
    path = cache_dir_path(cache_dir) / f"plyfit_{key}.json"
    if path.exists():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    table = json.loads(raw)
    C_inst = cell_elastic_stiffness(table, materials)
    out = fit(table, C_inst, materials["li"], progress)
    out["table"] = str(table_path)
    atomic_write_text(path, json.dumps(out, indent=1))
    return out
