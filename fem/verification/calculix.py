"""Independent cross-check and speed reference with CalculiX (ccx): the deck writer, the analytic
reference and the ccx runner. Used by tests/verification/test_calculix.py and bench/bench_axisym.py
(`from fem.verification import calculix`); it does not use the FE model of this package.

Problem: axisymmetric Li disc, radius R0, thickness h0, between frictionless rigid platens under a
constant force F = P0 pi R0^2 (dead load, not a follower pressure), elastic (E, nu) + Norton creep
eps_dot = A sigma_vM^n, held t_end s. Units mm, N, MPa, s.

Deck (`write_deck`): structured nr x nz mesh of CAX8R elements (8-node quadratic quads,
reduced integration) in the (r, z) plane, r = x, z = y.
  * symmetric=True : half thickness 0 <= z <= h0/2, mid-plane z = 0 held in z (nz elements across
    the half thickness); symmetric=False: full thickness, bottom z = 0 held in z.
  * axis r = 0: u_r = 0; bottom/mid-plane: u_z = 0; no other radial restraint (frictionless).
  * platen: every top node's u_z is tied by *EQUATION to the top node on the axis (the reference
    node), which carries *CLOAD = -P0 pi R0^2 in z. For axisymmetric elements CalculiX wants the
    force summed over the FULL circumference (not per radian, not per expansion segment); this is
    checked by the elastic test (`tests/verification/test_calculix.py`): the static thickness strain equals P0/E.
  * material: *ELASTIC E, nu; *CREEP, LAW=NORTON A, n, 0 (time exponent m = 0). With isotropic
    elasticity CalculiX uses Simo's finite-strain J2 viscoplasticity (incplas.f): Kirchhoff stress
    tau = mu dev(bbar_e) + K/2 (J^2 - 1) I, creep rate from the *Cauchy* von Mises stress,
    backward-Euler per increment. In a *STATIC step creep is switched off (pure elastic).
  * steps: *STATIC, NLGEOM (load applied in one increment, period 1 s, no creep), then
    *VISCO, CETOL=cetol, NLGEOM over t_end s with automatic incrementation.
  * output: *NODE PRINT of U for the reference node (NREF) and one rim node (NRIM: r = R0 at the
    mid-plane / mid-thickness) every increment into the .dat file.

Analytic reference (`analytic_history`, `analytic_thickness_change_pct`): the homogeneous solution
of the same constitutive law. With F = Fe Fp, Fp = diag(e^{eps/2}, e^{eps/2}, e^{-eps}) (eps = axial
creep log strain, isochoric) and Fe = diag(a_r, a_r, a_z), J = a_r^2 a_z:
    tau_rr = mu J^{-2/3} (a_r^2 - a_z^2)/3 + K/2 (J^2 - 1) = 0                     (free rim)
    tau_zz = 2 mu J^{-2/3} (a_z^2 - a_r^2)/3 + K/2 (J^2 - 1) = -P0 a_z e^{-eps}    (F on pi R^2)
    d eps/dt = A q^n,  q = P0 e^{-eps} / a_r^2   (Cauchy axial stress = F / (pi R0^2 a_r^2 e^{eps}))
    thickness change % = 100 (1 - a_z e^{-eps}),   diameter change % = 100 (a_r e^{eps/2} - 1).
Without elasticity (a_r = a_z = 1) this is eps(t) = ln(1 + n A P0^n t)/n,
thickness % = 100 (1 - e^{-eps}), diameter % = 100 (e^{eps/2} - 1) (`analytic_rigid_plastic`).
The ODE is integrated with DOP853 at rtol 1e-12.

How CalculiX picks its increments (ccx 2.20 source, checkconvergence.c / incplas.f): CETOL bounds
qa = max over integration points of dt |rate_end - rate_start| of the equivalent creep strain; an
increment with qa > CETOL is not accepted and is redone with dt * CETOL/qa * 0.5. Besides that,
dt grows x1.5 after every increment that converges in <= 4 Newton iterations and is cut x0.25 when
the residuals stop falling (the local creep solve stops at 1e-4 relative accuracy, so the global
residual stagnates above R_n = 0.005 of the average force once the creep increment is large).
For this problem that Newton limit, not CETOL, sets the step for CETOL >= ~3e-5: about 800-900
increments, ~20-25 % of them re-attempts, and a thickness error of about -0.02 %. Measured
(half-thickness model, 600 s hold, 2 threads, shared 2-core machine):
    mesh  nodes  CETOL  R_n    increments  cutbacks  Newton  wall s  error %  (dD error %)
    60x4   849   1e-4   0.005     895        224      1805    832    -0.0196   (-0.052)
    60x4   849   1e-3   0.02      816        172      1776    670    -0.0242   (-0.063)
    10x1    53   1e-2   0.005     798        172      1701     51    -0.0251   (-0.065)
    10x1    53   1e-3   0.005     840        181      1791     32    -0.0218   (-0.057)
    10x1    53   1e-4   0.005     830        207      1699     55    -0.0229   (-0.060)
    10x1    53   3e-5   0.005     843        315      1702     56    -0.0240   (-0.063)
    10x1    53   1e-5   0.005    1220        539      2440     98    -0.0177   (-0.048)
    10x1    53   1e-3   0.02      549        107      1338     39    -0.0431   (-0.109)
The error is backward-Euler lag (CalculiX under-predicts the creep), ~ dt*eps_rate/2 at the end.

CLI:  python -m fem.verification.calculix --nr 60 --nz 4 --cetol 1e-4 --out results/calculix/nr60_nz4_ce1e-4
"""
from __future__ import annotations

import argparse
import math
import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

DEFAULTS = dict(R0=7.5, h0=0.5, P0=5.0, E=7820.0, nu=0.381, A=1e-5, n=6.56, t_end=600.0)
STATIC_PERIOD = 1.0  # s, time period of the elastic *STATIC load step (creep inactive there)


# ----------------------------------------------------------------------------------------------
# analytic reference
# ----------------------------------------------------------------------------------------------
def _moduli(E, nu):
    mu = E / (2.0 * (1.0 + nu))
    K = E / (3.0 * (1.0 - 2.0 * nu))
    return mu, K


def elastic_stretches(s, E, nu, guess=None):
    """Elastic stretches (a_r, a_z) of the Simo/CalculiX law under tau_rr = 0, tau_zz = -s a_z
    (s = P0 e^{-eps}: the platen force per current plastic area). Newton, 2x2."""
    mu, K = _moduli(E, nu)
    x = np.array(guess if guess is not None else [1.0 + nu * s / E, 1.0 - s / E], dtype=float)

    def f(v):
        ar, az = v
        J = ar * ar * az
        iso = mu * J ** (-2.0 / 3.0)
        vol = 0.5 * K * (J * J - 1.0)
        return np.array([(iso * (ar * ar - az * az) / 3.0 + vol) / mu,
                         (iso * 2.0 * (az * az - ar * ar) / 3.0 + vol + s * az) / mu])

    for _ in range(30):
        r = f(x)
        h = 1e-7
        jac = np.column_stack([(f(x + [h, 0.0]) - r) / h, (f(x + [0.0, h]) - r) / h])
        dx = np.linalg.solve(jac, -r)
        x = x + dx
        if np.max(np.abs(dx)) < 1e-15:
            break
    return float(x[0]), float(x[1])


def analytic_history(t, P0=5.0, E=7820.0, nu=0.381, A=1e-5, n=6.56, elastic=True):
    """Homogeneous constant-force solution at times t (s, after the instantaneous elastic load).
    Returns dict of arrays: t, eps_creep, thickness_change_pct, diameter_change_pct."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if not elastic:
        eps = np.log1p(n * A * P0 ** n * t) / n
        return {"t": t, "eps_creep": eps, "thickness_change_pct": 100.0 * (1.0 - np.exp(-eps)),
                "diameter_change_pct": 100.0 * (np.exp(0.5 * eps) - 1.0)}

    def stretches(eps):
        return elastic_stretches(P0 * math.exp(-eps), E, nu)

    def rhs(_t, y):
        ar, _az = stretches(y[0])
        return [A * (P0 * math.exp(-y[0]) / (ar * ar)) ** n]

    tmax = float(t.max())
    if tmax > 0:
        sol = solve_ivp(rhs, (0.0, tmax), [0.0], method="DOP853", rtol=1e-12, atol=1e-15,
                        t_eval=np.sort(np.unique(t)))
        eps_of = dict(zip(sol.t, sol.y[0]))
        eps = np.array([eps_of.get(ti, 0.0) if ti > 0 else 0.0 for ti in t])
    else:
        eps = np.zeros_like(t)
    th, di = np.empty_like(t), np.empty_like(t)
    for i, e in enumerate(eps):
        ar, az = stretches(e)
        th[i] = 100.0 * (1.0 - az * math.exp(-e))
        di[i] = 100.0 * (ar * math.exp(0.5 * e) - 1.0)
    return {"t": t, "eps_creep": eps, "thickness_change_pct": th, "diameter_change_pct": di}


def analytic_thickness_change_pct(t, P0=5.0, E=7820.0, nu=0.381, A=1e-5, n=6.56, elastic=True):
    """Thickness change % (positive = thinning) at time t (scalar or array); see module doc."""
    r = analytic_history(t, P0, E, nu, A, n, elastic)["thickness_change_pct"]
    return float(r[0]) if np.ndim(t) == 0 else r


def analytic_diameter_change_pct(t, P0=5.0, E=7820.0, nu=0.381, A=1e-5, n=6.56, elastic=True):
    r = analytic_history(t, P0, E, nu, A, n, elastic)["diameter_change_pct"]
    return float(r[0]) if np.ndim(t) == 0 else r


def analytic_rigid_plastic(t, P0=5.0, A=1e-5, n=6.56):
    """(thickness %, diameter %) of eps = ln(1 + n A P0^n t)/n, elasticity neglected."""
    eps = math.log1p(n * A * P0 ** n * t) / n
    return 100.0 * (1.0 - math.exp(-eps)), 100.0 * (math.exp(0.5 * eps) - 1.0)


# ----------------------------------------------------------------------------------------------
# deck
# ----------------------------------------------------------------------------------------------
def _mesh(nr, nz, R0, H):
    """Structured CAX8R mesh of [0,R0] x [0,H]. Lattice (i, j), i = 0..2nr, j = 0..2nz, without
    the element-centre points. Returns (ids dict (i,j)->node id, coords list, elements list)."""
    ids, coords = {}, []
    for j in range(2 * nz + 1):
        for i in range(2 * nr + 1):
            if i % 2 == 1 and j % 2 == 1:
                continue
            ids[(i, j)] = len(coords) + 1
            coords.append((R0 * i / (2 * nr), H * j / (2 * nz)))
    elems = []
    for ez in range(nz):
        for er in range(nr):
            i, j = 2 * er, 2 * ez
            elems.append([ids[(i, j)], ids[(i + 2, j)], ids[(i + 2, j + 2)], ids[(i, j + 2)],
                          ids[(i + 1, j)], ids[(i + 2, j + 1)], ids[(i + 1, j + 2)], ids[(i, j + 1)]])
    return ids, coords, elems


def _f(x):
    """Number for a CalculiX data line (fields are limited to 20 characters)."""
    return f"{x:.12g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.10e}"


def _lines(vals, per=16):
    vals = [str(v) for v in vals]
    return "\n".join(",".join(vals[k:k + per]) + "," for k in range(0, len(vals), per))


def write_deck(path, nr, nz, R0=7.5, h0=0.5, P0=5.0, E=7820.0, nu=0.381, A=1e-5, n=6.56,
               t_end=600.0, cetol=1e-4, symmetric=True, creep=True, dt0=None, dtmax=None,
               visco=None, rn=None):
    """Write the CalculiX input deck `path` (…/job.inp). Returns a dict describing the model
    (node/element counts, reference and rim node ids, force, half height).
    visco=False writes only the elastic *STATIC step (used to verify the *CLOAD convention);
    creep=False also drops the *CREEP card, and CalculiX then uses its plain *ELASTIC law, which
    with NLGEOM is St Venant-Kirchhoff (not Simo's law: differs at O((P0/E)^2))."""
    if visco is None:
        visco = creep
    path = Path(path)
    H = 0.5 * h0 if symmetric else h0
    ids, coords, elems = _mesh(nr, nz, R0, H)
    top = [ids[(i, 2 * nz)] for i in range(2 * nr + 1)]
    bottom = [ids[(i, 0)] for i in range(2 * nr + 1)]
    axis = [ids[(0, j)] for j in range(2 * nz + 1)]
    ref = ids[(0, 2 * nz)]                      # reference node: top node on the axis
    rim = ids[(2 * nr, 0 if symmetric else nz)]  # rim at the mid-plane / mid-thickness
    force = P0 * math.pi * R0 ** 2              # full-circumference force (CalculiX convention)
    rate0 = A * P0 ** n
    if dt0 is None:
        # first increment: creep strain ~ cetol/2 (CalculiX's rate at the start of the first *VISCO
        # increment is 0, so its CETOL check sees the whole increment). Below 1e-6 of the step
        # time CalculiX prints "*ERROR ... smaller than one millionth of step size" but goes on;
        # a first increment raised to that floor (6e-4 s here) diverged and, cut back below the
        # floor, stopped the run, so the floor is not applied.
        dt0 = min(t_end, 0.5 * cetol / rate0)
    if dtmax is None:
        dtmax = t_end
    out = ["** Li disc between frictionless platens, constant force, Norton creep (fem/verification/calculix.py)",
           f"** nr={nr} nz={nz} R0={R0} h0={h0} symmetric={symmetric} P0={P0} F={force!r} N",
           "*HEADING", "Li disc, CAX8R, constant platen force, Norton creep",
           "*NODE, NSET=NALL"]
    out += [f"{k + 1},{_f(x)},{_f(y)}" for k, (x, y) in enumerate(coords)]
    out.append("*ELEMENT, TYPE=CAX8R, ELSET=EALL")
    out += [f"{e + 1}," + ",".join(map(str, c)) for e, c in enumerate(elems)]
    out += ["*NSET, NSET=NTOP", _lines(top), "*NSET, NSET=NBOT", _lines(bottom),
            "*NSET, NSET=NAXIS", _lines(axis), "*NSET, NSET=NREF", f"{ref},",
            "*NSET, NSET=NRIM", f"{rim},",
            "*BOUNDARY", "NAXIS,1,1", "NBOT,2,2",
            "*EQUATION"]
    for node in top:
        if node != ref:
            out += ["2", f"{node},2,1.,{ref},2,-1."]
    out += ["*MATERIAL, NAME=LI", "*ELASTIC", f"{_f(E)},{_f(nu)}"]
    if creep:
        out += ["*CREEP, LAW=NORTON", f"{_f(A)},{_f(n)},0."]
    out += ["*SOLID SECTION, ELSET=EALL, MATERIAL=LI",
            "*STEP, NLGEOM, INC=100",
            "*STATIC", f"{_f(STATIC_PERIOD)},{_f(STATIC_PERIOD)}",
            "*CLOAD", f"{ref},2,{_f(-force)}",
            "*NODE PRINT, NSET=NREF", "U", "*NODE PRINT, NSET=NRIM", "U",
            "*END STEP"]
    if visco:
        out += ["*STEP, NLGEOM, INC=1000000",
                f"*VISCO, CETOL={_f(cetol)}",
                f"{_f(dt0)},{_f(t_end)},{_f(1e-12 * t_end)},{_f(dtmax)}",
                *([] if rn is None else ["*CONTROLS, PARAMETERS=FIELD",
                                         f"{_f(rn)},0.01,,,0.02,1.E-5,1.E-3,1.E-8"]),
                "*NODE PRINT, NSET=NREF", "U", "*NODE PRINT, NSET=NRIM", "U",
                "*END STEP"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return {"nodes": len(coords), "elements": len(elems), "ref_node": ref, "rim_node": rim,
            "force_N": force, "height_mm": H, "symmetric": symmetric, "dt0": dt0, "dtmax": dtmax,
            "visco": visco}


# ----------------------------------------------------------------------------------------------
# running and parsing
# ----------------------------------------------------------------------------------------------
def ccx_available() -> bool:
    return shutil.which("ccx") is not None


def ccx_version() -> str:
    try:
        r = subprocess.run(["ccx", "-v"], capture_output=True, text=True, timeout=20)
        m = re.search(r"Version\s+(\S+)", r.stdout + r.stderr)
        return m.group(1) if m else "?"
    except Exception:  # noqa: BLE001
        return "?"


_HDR = re.compile(r"displacements \(vx,vy,vz\) for set (\S+) and time\s+(\S+)")


def parse_dat(dat_path):
    """{set name: [(time, node, ux, uy), ...]} from *NODE PRINT U blocks of a .dat file."""
    res: dict[str, list] = {}
    cur = None
    for line in Path(dat_path).read_text().splitlines():
        m = _HDR.search(line)
        if m:
            cur = (m.group(1).upper(), float(m.group(2)))
            continue
        parts = line.split()
        if cur and len(parts) >= 3:
            try:
                node = int(parts[0])
                ux, uy = float(parts[1]), float(parts[2])
            except ValueError:
                cur = None
                continue
            res.setdefault(cur[0], []).append((cur[1], node, ux, uy))
        elif cur and parts:
            cur = None
    return res


def parse_sta(sta_path):
    """Increments from the .sta file: list of dicts step, inc, att, iters, total_time, step_time,
    inc_time. ATT > 1 means the increment was re-attempted (cut back) ATT-1 times."""
    rows = []
    for line in Path(sta_path).read_text().splitlines():
        p = line.split()
        if len(p) >= 7 and p[0].isdigit() and p[1].isdigit():
            try:
                rows.append({"step": int(p[0]), "inc": int(p[1]), "att": int(p[2]),
                             "iters": int(p[3]), "total_time": float(p[4]),
                             "step_time": float(p[5]), "inc_time": float(p[6])})
            except ValueError:
                pass
    return rows


def run_calculix(workdir, nr, nz, cetol=1e-4, threads=2, timeout=1800, job="disc",
                 R0=7.5, h0=0.5, P0=5.0, E=7820.0, nu=0.381, A=1e-5, n=6.56, t_end=600.0,
                 symmetric=True, creep=True, dt0=None, dtmax=None, keep_history=True, visco=None, rn=None):
    """Write the deck into workdir, run ccx (threads via OMP_NUM_THREADS and CCX_NPROC_*), parse
    the .dat/.sta. Returns a dict: nodes, elements, increments (accepted *VISCO increments),
    cutbacks (re-attempts, from the .sta ATT column), newton_iterations, wall_s,
    thickness_change_pct, analytic_pct, rel_error, diameter_change_pct, ... and the history.
    visco=False: elastic *STATIC step only (compare with P0/E)."""
    if visco is None:
        visco = creep
    if not ccx_available():
        raise RuntimeError("ccx not found on PATH (apt-get install calculix-ccx)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for f in workdir.glob(job + ".*"):
        f.unlink()
    info = write_deck(workdir / f"{job}.inp", nr, nz, R0, h0, P0, E, nu, A, n, t_end, cetol,
                      symmetric, creep, dt0, dtmax, visco, rn)
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "CCX_NPROC_EQUATION_SOLVER", "CCX_NPROC_RESULTS",
              "CCX_NPROC_STIFFNESS"):
        env[k] = str(threads)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(workdir / f"{job}.log", "w") as log:
        proc = subprocess.run(["ccx", "-i", job], cwd=workdir, env=env, stdout=log,
                              stderr=subprocess.STDOUT, timeout=timeout)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    logtxt = (workdir / f"{job}.log").read_text(errors="replace")
    fatal = ("*ERROR in calinput", "too many cutbacks", "too many iterations",
             "increment size smaller than minimum", "*ERROR reading")
    ok = proc.returncode == 0 and "Job finished" in logtxt and not any(f in logtxt for f in fatal)
    dat = parse_dat(workdir / f"{job}.dat") if (workdir / f"{job}.dat").exists() else {}
    sta = parse_sta(workdir / f"{job}.sta") if (workdir / f"{job}.sta").exists() else []
    ref = [(t, uy) for t, node, ux, uy in dat.get("NREF", []) if node == info["ref_node"]]
    rim = [(t, ux) for t, node, ux, uy in dat.get("NRIM", []) if node == info["rim_node"]]
    H = info["height_mm"]
    incs = [r for r in sta if r["step"] == 2] if visco else sta
    res = {"solver": "calculix", "ccx_version": ccx_version(), "ok": ok, "returncode": proc.returncode,
           "nr": nr, "nz": nz, "symmetric": symmetric,
           "elements_through": f"{nz} across the {'half' if symmetric else 'full'} thickness",
           "nodes": info["nodes"], "elements": info["elements"], "dofs": 2 * info["nodes"],
           "cetol": cetol if visco else None, "threads": threads, "wall_s": wall,
           "cpu_s": cpu, "loadavg_1min_before": load0, "loadavg_1min_after": os.getloadavg()[0],
           "dt0": info["dt0"], "dtmax": info["dtmax"], "residual_tol_Rn": rn if rn is not None else 0.005,
           "increments": len(incs), "cutbacks": sum(r["att"] - 1 for r in incs),
           "attempts": sum(r["att"] for r in incs), "newton_iterations": sum(r["iters"] for r in incs),
           "static_increments": len([r for r in sta if r["step"] == 1]),
           "params": dict(R0=R0, h0=h0, P0=P0, E=E, nu=nu, A=A, n=n, t_end=t_end), "force_N": info["force_N"]}
    if not ok:
        res["error"] = "CalculiX failed; see " + str(workdir / f"{job}.log")
    if not ref:
        res["error"] = "no reference-node output; see " + str(workdir / f"{job}.log")
        return res
    t = np.array([a for a, _ in ref])
    th = -100.0 * np.array([b for _, b in ref]) / H
    rim_u = dict(rim)
    di = np.array([100.0 * rim_u.get(a, np.nan) / R0 for a in t])
    tc = np.maximum(t - STATIC_PERIOD, 0.0)
    res["thickness_change_pct"] = float(th[-1])
    res["diameter_change_pct"] = float(di[-1])
    res["final_time_s"] = float(tc[-1]) if visco else 0.0
    if visco and res["final_time_s"] < t_end * (1.0 - 1e-9):
        res["ok"] = False
        res["error"] = f"stopped at t = {res['final_time_s']:g} s of {t_end:g} s"
    an = analytic_history(np.array([res["final_time_s"]]), P0, E, nu, A, n)
    res["analytic_pct"] = float(an["thickness_change_pct"][0])
    res["analytic_diameter_pct"] = float(an["diameter_change_pct"][0])
    res["analytic_rigid_plastic_pct"], res["analytic_rigid_plastic_diameter_pct"] = (
        analytic_rigid_plastic(res["final_time_s"], P0, A, n))
    res["rel_error"] = (res["thickness_change_pct"] - res["analytic_pct"]) / res["analytic_pct"]
    res["rel_error_pct"] = 100.0 * res["rel_error"]
    res["abs_error_pp"] = res["thickness_change_pct"] - res["analytic_pct"]
    res["diameter_rel_error"] = ((res["diameter_change_pct"] - res["analytic_diameter_pct"])
                                 / res["analytic_diameter_pct"])
    if visco and keep_history and np.any(tc > 0):
        a_all = analytic_history(tc, P0, E, nu, A, n)
        res["history"] = {"t_s": tc.tolist(), "thickness_change_pct": th.tolist(),
                          "diameter_change_pct": di.tolist(),
                          "analytic_thickness_change_pct": a_all["thickness_change_pct"].tolist()}
        res["max_history_rel_error"] = float(np.max(np.abs(
            (th[tc > 0] - a_all["thickness_change_pct"][tc > 0]) / a_all["thickness_change_pct"][tc > 0])))
    return res


def summary_line(r):
    if "thickness_change_pct" not in r:
        return f"calculix nr={r['nr']} nz={r['nz']} FAILED ({r.get('error', r.get('returncode'))})"
    return (f"calculix {r['nr']}x{r['nz']} ({r['elements_through']}) nodes={r['nodes']} "
            f"cetol={r['cetol']} inc={r['increments']} cutbacks={r['cutbacks']} "
            f"newton={r['newton_iterations']} wall={r['wall_s']:.1f}s cpu={r['cpu_s']:.1f}s t={r['final_time_s']:.4g}s "
            f"dh={r['thickness_change_pct']:.5f}% analytic={r['analytic_pct']:.5f}% "
            f"err={r['rel_error_pct']:+.4f}% dD={r['diameter_change_pct']:.4f}% "
            f"(analytic {r['analytic_diameter_pct']:.4f}%)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nr", type=int, default=60)
    ap.add_argument("--nz", type=int, default=4)
    ap.add_argument("--cetol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--t-end", type=float, default=600.0)
    ap.add_argument("--full", action="store_true", help="full thickness instead of mid-plane symmetry")
    ap.add_argument("--elastic", action="store_true", help="elastic static step only (Simo law)")
    ap.add_argument("--svk", action="store_true", help="with --elastic: drop *CREEP (St Venant-Kirchhoff)")
    ap.add_argument("--dtmax", type=float, default=None)
    ap.add_argument("--rn", type=float, default=None,
                    help="*CONTROLS FIELD residual tolerance R_n (CalculiX default 0.005)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", default=None, help="work/output folder (default results/calculix/<case>)")
    a = ap.parse_args(argv)
    name = (f"nr{a.nr}_nz{a.nz}_ce{a.cetol:g}" + ("_full" if a.full else "")
            + (f"_rn{a.rn:g}" if a.rn else "")) + ("_elastic" if a.elastic else "")
    out = Path(a.out) if a.out else Path(__file__).resolve().parents[2] / "results" / "calculix" / name
    r = run_calculix(out, a.nr, a.nz, a.cetol, a.threads, a.timeout, t_end=a.t_end,
                     symmetric=not a.full, creep=not a.svk, visco=not a.elastic, dtmax=a.dtmax, rn=a.rn)
    from fem.workflows.strict_json import dumps
    (out / "result.json").write_text(dumps(r, indent=1) + "\n")   # strict JSON: a missing number is null
    print(summary_line(r) if not a.elastic else
          f"calculix elastic {a.nr}x{a.nz}: dh={r.get('thickness_change_pct')}% analytic={r.get('analytic_pct')}% "
          f"P/E={100 * DEFAULTS['P0'] / DEFAULTS['E']}% wall={r['wall_s']:.2f}s")
    print(f"written: {out / 'result.json'}")
    return 0 if r.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
