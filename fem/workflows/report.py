"""Report of a sweep: predicted vs measured diameter and thickness change (as the paper's
Fig. 4c/4d), time histories, renderings of the deformed disc, and a markdown table. Studies with a
screw [fixture] also get the force relaxation: nominal pressure and force against time
(relaxation.png) and a table of each hold (pressure at its start and end, force lost, thinning).

Writes results/<study>/report.md and PNGs next to it. Pressures are nominal (MPa), changes in %.
"""
from __future__ import annotations

import csv
import json
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fem.physics.fixture import hold_relaxation
from fem.stepping.outputs import atomic_output
from fem.workflows.sweep import case_dir, load_sweep


@dataclass
class Point:
    case: str
    group: str
    pressure_MPa: float
    thickness_change_pct: float
    diameter_change_pct: float
    time_s: float


def read_measured(path: Path) -> list[dict]:
    with open(path) as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))]
    out = []
    for r in rows:
        d = {"sample": r["sample"], "source": r["source"], "pressure_MPa": float(r["pressure_MPa"])}
        for k in ("diameter_change_pct", "diameter_uncertainty_pct", "thickness_change_pct", "thickness_uncertainty_pct"):
            d[k] = float(r[k]) if r[k].strip() else None
        out.append(d)
    return out


def read_history(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: (v if k == "phase" else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]


def case_points(case, hist: list[dict], group: str) -> list[Point]:
    """One point at the end of each hold of the load history (force-controlled steps), at the step's
    set-point pressure (a torque step: the fixture fit's force / pi R0^2; with a fixture the pressure
    at the end of the hold has relaxed below it: see the relaxation table)."""
    pts = []
    for i, step in enumerate(case.study.load):
        if step.control != "force":
            continue
        label = f"hold {i + 1}/{len(case.study.load)}"
        rows = [h for h in hist if h["phase"] == label] or [h for h in hist if h["phase"] == f"ramp {i + 1}/{len(case.study.load)}"]
        if rows:
            h = rows[-1]
            pts.append(Point(case.name, group, set_point_MPa(case.study, step), h["thickness_change_pct"],
                             h["diameter_change_pct"], h["time_s"]))
    return pts


def set_point_MPa(study, step) -> float:
    """Nominal set-point pressure of a force step: pressure_MPa, or the fixture fit's force for
    torque_Nm over pi R0^2."""
    if step.pressure_MPa is not None:
        return step.pressure_MPa
    R0 = 0.5 * study.geometry.diameter_mm
    return step.force_N(R0, study.fixture) / (math.pi * R0 ** 2)


def _time_axis(t_max_s: float) -> tuple[float, str]:
    """(divisor, unit) for a readable time axis."""
    if t_max_s >= 3 * 3600.0:
        return 3600.0, "h"
    if t_max_s >= 3 * 60.0:
        return 60.0, "min"
    return 1.0, "s"


def plot_relaxation(fixture_cases: list, path: Path) -> None:
    """Left: nominal pressure against time of the fixture cases (tightening ramps, relaxation in each
    screw hold, re-torques). Right: the pressure in each hold against the time since the hold began,
    on a log axis (relaxation is fast at first: seconds to minutes of a hold of hours)."""
    import matplotlib.pyplot as plt

    t_max = max(r["time_s"] for c, s, h, d in fixture_cases for r in h)
    div, unit = _time_axis(t_max)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for c, s, h, d in fixture_cases:
        axes[0].plot([r["time_s"] / div for r in h], [r["nominal_pressure_MPa"] for r in h], label=c.name)
        n = len(c.study.load)
        for hold in hold_relaxation(c.study.load, h):
            rows = [r for r in h if r["phase"] == f"hold {hold['step']}/{n}" and r["time_s"] > hold["t_start_s"]]
            axes[1].plot([r["time_s"] - hold["t_start_s"] for r in rows], [r["nominal_pressure_MPa"] for r in rows],
                         label=f"{c.name}, hold {hold['step']}" if len(fixture_cases) > 1 else f"hold {hold['step']}")
    axes[0].set_xlabel(f"time ({unit})")
    axes[1].set_xlabel("time since the screw was set (s)")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_ylabel("nominal pressure F / (π R0²) (MPa)")
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle("screw fixture: pressure relaxation in each hold, re-torque at each new step")
    fig.tight_layout()
    atomic_output(path, lambda f: fig.savefig(f, dpi=130))
    plt.close(fig)


def _group_label(case) -> str:
    other = {k: v for k, v in case.swept.items() if not k.endswith(("pressure_MPa", "torque_Nm"))}
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in other.items()) or "model"


def write_report(study_path, root: Path = Path("results"), measured: Path = Path("studies/data/fig4_measured.csv")) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fem.stepping.outputs import atomic_write_text

    name, cases = load_sweep(study_path)
    out = Path(root) / name
    finished, missing = [], []
    for c in cases:
        d = case_dir(name, c, root)
        if (d / "summary.json").exists() and (d / "history.csv").exists():
            finished.append((c, json.loads((d / "summary.json").read_text()), read_history(d / "history.csv"), d))
        else:
            missing.append(c.name)
    if not finished:
        raise FileNotFoundError(f"no finished cases of {name} under {out}; run `make sweep STUDY={study_path}` first")
    meas = read_measured(measured) if measured and Path(measured).exists() else []
    points = [p for c, s, h, d in finished for p in case_points(c, h, _group_label(c))]
    groups = sorted({p.group for p in points})

    # ---- Fig. 4c/4d analogue
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, title in ((axes[0], "diameter_change_pct", "diameter change (%)"),
                           (axes[1], "thickness_change_pct", "thickness reduction (%)")):
        for g in groups:
            gp = sorted((p for p in points if p.group == g), key=lambda p: p.pressure_MPa)
            ax.plot([p.pressure_MPa for p in gp], [getattr(p, key) for p in gp], "-o", ms=3, label=f"model ({name})" if g == "model" else f"model: {g}")
        for sample, marker, color in (("bare_li", "s", "k"), ("g_licfc", "D", "tab:red")):
            rows = [m for m in meas if m["sample"] == sample and m[key] is not None]
            if rows:
                unc = key.replace("change_pct", "uncertainty_pct")
                ax.errorbar([m["pressure_MPa"] for m in rows], [m[key] for m in rows],
                            yerr=[m[unc] or 0.0 for m in rows], fmt=marker, color=color, mfc="none", capsize=4,
                            label=f"measured {sample.replace('_', ' ')}")
        ax.set_xlabel("nominal pressure (MPa)")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{name}: predicted vs measured (paper Fig. 4c/4d)")
    fig.tight_layout()
    atomic_output(out / "change_vs_pressure.png", lambda f: fig.savefig(f, dpi=130))
    plt.close(fig)

    # ---- time histories
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for c, s, h, d in finished:
        t = [r["time_s"] for r in h]
        axes[0].plot(t, [r["diameter_change_pct"] for r in h], label=c.name)
        axes[1].plot(t, [r["thickness_change_pct"] for r in h], label=c.name)
    for ax, lab in zip(axes, ("diameter change (%)", "thickness reduction (%)")):
        ax.set_xlabel("time (s)")
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    atomic_output(out / "histories.png", lambda f: fig.savefig(f, dpi=130))
    plt.close(fig)

    # ---- force relaxation of the screw-fixture cases
    fixture_cases = [x for x in finished if x[0].study.fixture is not None]
    if fixture_cases:
        plot_relaxation(fixture_cases, out / "relaxation.png")

    # ---- renderings of the most deformed case
    c_max, s_max, _, d_max = max(finished, key=lambda x: x[1]["diameter_change_pct"])
    renders = []
    is_composite = any(c.study.model == "composite" for c, *_ in finished)
    model_sample = "g_licfc" if is_composite else "bare_li"
    if (d_max / "fields.pvd").exists():
        try:
            render = render_case_3d if c_max.study.model != "axisymmetric" else render_case
            with quiet_offscreen_vtk():
                renders = render(d_max, out, c_max.study.geometry.diameter_mm)
        except Exception as e:  # rendering is a convenience; the numbers are the report
            renders = []
            print(f"warning: rendering failed: {e}")

    # ---- markdown
    lines = [f"# Report: {name}", "", f"Study file: `{study_path}`. Cases finished: {len(finished)}/{len(cases)}"
             + (f" (missing: {', '.join(missing)})" if missing else "") + ".", "",
             "Units: nominal pressure in MPa (force / initial area), changes in % of the initial value; "
             "thickness change > 0 means thinner (the paper's sign). Measured data: "
             f"`{measured}`.", "", "![change vs pressure](change_vs_pressure.png)", "",
             "## Predicted vs measured", "",
             "| sample | P (MPa) | case | predicted ΔD (%) | measured ΔD (%) | diff (pp) | predicted Δt (%) | measured Δt (%) | diff (pp) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in meas:
        matches = [p for p in points if math.isclose(p.pressure_MPa, m["pressure_MPa"], rel_tol=1e-9)]
        if m["sample"] != model_sample:
            lines.append(f"| {m['sample']} | {m['pressure_MPa']:g} | (model of this sample not in this study) | | "
                         f"{_f(m['diameter_change_pct'])} | | | {_f(m['thickness_change_pct'])} | |")
            continue
        if not matches:
            lines.append(f"| {m['sample']} | {m['pressure_MPa']:g} | (no case at this pressure) | | "
                         f"{_f(m['diameter_change_pct'])} | | | {_f(m['thickness_change_pct'])} | |")
        for p in matches:
            lines.append(f"| {m['sample']} | {m['pressure_MPa']:g} | {p.case} | {p.diameter_change_pct:.2f} | "
                         f"{_f(m['diameter_change_pct'])} | {_d(p.diameter_change_pct, m['diameter_change_pct'])} | "
                         f"{p.thickness_change_pct:.2f} | {_f(m['thickness_change_pct'])} | "
                         f"{_d(p.thickness_change_pct, m['thickness_change_pct'])} |")
    lines += ["", "## All cases", "", "min det F: the smallest local volume ratio at a quadrature point over the run "
              "(element quality; [numerics] min_J stops a run below it); rim nodes: free-surface nodes held on a platen "
              "at the end (rim contact).", "",
              "| case | final P (MPa) | ΔD (%) | Δt (%) | steps | Newton/step | wall (s) | max creep strain | min det F | rim nodes |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c, s, h, d in finished:
        rim = s.get("rim_contact", {}).get("nodes_at_end")
        lines.append(f"| {c.name} | {s['nominal_pressure_MPa']:.3g} | {s['diameter_change_pct']:.2f} | "
                     f"{s['thickness_change_pct']:.2f} | {s['time_steps']} | {s['newton_iterations_per_step']:.2f} | "
                     f"{s['wall_time_s']:.1f} | {_g(s, 'max_equivalent_creep_strain')} | {_g(s, 'min_J')} | "
                     f"{'–' if rim is None else rim} |")
    if is_composite:
        lines += ["", "Composite: the modelled disc diameter is given per case; the measured values are for 15 mm "
                  "discs (see the study file and README on the size effect).", "", "## Per phase (end of the run)", "",
                  "| case | D (mm) | tow max von Mises (MPa) / 215 | tow max fibre tension (MPa) | Li mean / max creep strain "
                  "| void closure (%) | rim growth Li / tows / GPE (%) | ΔD from vertices only (%) |",
                  "|---|---|---|---|---|---|---|---|"]
        for c, s_, h, d in finished:
            ph = s_.get("phases", {})
            if not ph:
                continue
            li, cb, gp, vd = (ph.get(k, {}) for k in ("li", "carbon", "gpe", "void"))
            lines.append(f"| {c.name} | {c.study.geometry.diameter_mm:g} | {_g(cb, 'max_von_mises_MPa')} / "
                         f"{_g(cb, 'max_von_mises_over_strength')} | {_g(cb, 'max_fibre_tension_MPa')} | "
                         f"{_g(li, 'mean_equivalent_creep_strain')} / {_g(li, 'max_equivalent_creep_strain')} | "
                         f"{_g(vd, 'void_closure_pct')} | {_g(li, 'max_radius_change_pct')} / "
                         f"{_g(cb, 'max_radius_change_pct')} / {_g(gp, 'max_radius_change_pct')} | "
                         f"{_g(ph.get('outline', {}), 'diameter_change_vertices_pct')} |")
    lines += ["", "## Time histories", "", "![histories](histories.png)", ""]
    if fixture_cases:
        lines += ["## Force relaxation in the screw fixture", "",
                  "Each step tightens the screw until the platen force reaches its set point (torque through the "
                  "fixture's torque-force fit, or a pressure), then holds the screw: the fixture (stiffness k, "
                  "bolts + plates in series with the disc) keeps F = k (s - gap closure), so the force falls as the "
                  "disc creeps thinner. A later step re-tightens (re-torque). Pressure = F / (π R0²).", "",
                  "![relaxation](relaxation.png)", "",
                  "| case | k (N/mm) | step | set point | hold (s) | P start → end (MPa) | F start → end (N) "
                  "| force lost (%) | thinning in hold (pp) |", "|---|---|---|---|---|---|---|---|---|"]
        for c, s_, h, d in fixture_cases:
            for r in hold_relaxation(c.study.load, h):
                lines.append(f"| {c.name} | {c.study.fixture.stiffness_N_per_mm:.3g} | {r['step']} | {r['set_point']} | "
                             f"{r['t_end_s'] - r['t_start_s']:.4g} | {r['pressure_start_MPa']:.3f} → "
                             f"{r['pressure_end_MPa']:.3f} | {r['force_start_N']:.1f} → {r['force_end_N']:.1f} | "
                             f"{r['force_relaxation_pct']:.1f} | {r['thinning_during_hold_pp']:.3f} |")
        lines.append("")
    if renders and c_max.study.model != "axisymmetric":
        lines += [f"## Deformed disc: {c_max.name}", "",
                  "Left: phases (material_id: 1 Li, 2/5 warp/weft tows, 3 GPE, 4 pores), deformed, with the dashed "
                  "initial outline. Right: equivalent creep strain on a vertical cut through the disc.", ""]
        lines += [f"![{r.stem}]({r.name})" for r in renders] + [""]
    elif renders:
        lines += [f"## Deformed disc: {c_max.name}", "",
                  "Top view (dashed: the initial 15 mm outline, as in the paper's photographs) and the "
                  "(r, z) cross-section coloured by equivalent creep strain (z exaggerated).", ""]
        lines += [f"![{r.stem}]({r.name})" for r in renders] + [""]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _f(v):
    return "n/a" if v is None else f"{v:.2f}"


def _g(d: dict, key: str) -> str:
    v = d.get(key)
    return "n/a" if v is None else f"{v:.3g}"


def _d(pred, meas):
    return "" if meas is None else f"{pred - meas:+.2f}"


@contextmanager
def quiet_offscreen_vtk():
    """Silence VTK's warnings while rendering off-screen on a machine without a display.

    VTK first tries an X11 render window and, without an X server, warns "bad X server connection"
    before it falls back to an off-screen one (EGL/OSMesa), which then renders fine. The warning is
    noise there, so VTK's warning output (its output window and its logger's stderr, below the
    error level) is switched off for the block and restored after it. With a DISPLAY nothing changes."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        yield
        return
    from vtkmodules.vtkCommonCore import vtkLogger, vtkObject

    warnings, verbosity = vtkObject.GetGlobalWarningDisplay(), vtkLogger.GetCurrentVerbosityCutoff()
    vtkObject.GlobalWarningDisplayOff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)
    try:
        yield
    finally:
        vtkObject.SetGlobalWarningDisplay(warnings)
        vtkLogger.SetStderrVerbosity(verbosity)


def _last_snapshot_warped(case_out: Path):
    """The last field snapshot of a run (fields.pvd), warped by its displacement (PyVista, off-screen)."""
    import pyvista as pv

    pv.OFF_SCREEN = True
    pvd = (case_out / "fields.pvd").read_text()
    last = [line.split('file="')[1].split('"')[0] for line in pvd.splitlines() if "file=" in line][-1]
    return pv.read(case_out / last).warp_by_vector("displacement")


def render_case(case_out: Path, out: Path, diameter_mm: float) -> list[Path]:
    """Off-screen PyVista renderings of the final state of one case."""
    import pyvista as pv

    w = _last_snapshot_warped(case_out)
    R0 = 0.5 * diameter_mm
    files = []
    # top view: revolve the deformed section about the axis (r, z) -> (x, y, z) and look down z
    sec = w.copy()
    pts = sec.points.copy()
    sec.points = np.column_stack([pts[:, 0], np.zeros(len(pts)), pts[:, 1]])
    surf = sec.extract_surface(algorithm=None).extrude_rotate(resolution=120, capping=False)
    pl = pv.Plotter(off_screen=True, window_size=(800, 800))
    pl.add_mesh(surf, scalars="equivalent_creep_strain", cmap="viridis",
                scalar_bar_args={"title": "equivalent creep strain"})
    theta = np.linspace(0, 2 * np.pi, 145)
    zt = float(pts[:, 1].max()) + 0.01
    for k in range(0, 144, 2):  # dashed reference circle of the initial diameter
        seg = np.array([[R0 * np.cos(theta[k]), R0 * np.sin(theta[k]), zt],
                        [R0 * np.cos(theta[k + 1]), R0 * np.sin(theta[k + 1]), zt]])
        pl.add_lines(seg, color="red", width=3)
    pl.view_xy()
    pl.add_text(f"top view; dashed = initial {diameter_mm:g} mm", font_size=10)
    f1 = out / "render_top.png"
    atomic_output(f1, pl.screenshot)
    pl.close()
    files.append(f1)
    # cross-section, z exaggerated so that the thin disc fills the picture
    sec2 = w.copy()
    ext = np.ptp(sec2.points[:, 0]) / max(np.ptp(sec2.points[:, 1]), 1e-9)
    zx = max(1.0, round(ext / 4.0))
    sec2.points[:, 1] *= zx
    pl = pv.Plotter(off_screen=True, window_size=(1400, 500))
    pl.add_mesh(sec2, scalars="equivalent_creep_strain", cmap="viridis",
                scalar_bar_args={"title": "equivalent creep strain"})
    pl.view_xy()
    pl.camera.zoom(1.6)
    pl.add_text(f"(r, z) section, deformed; z x{zx:g}; axis at left, mid-plane at bottom", font_size=10)
    f2 = out / "render_section.png"
    atomic_output(f2, pl.screenshot)
    pl.close()
    files.append(f2)
    return files


def render_case_3d(case_out: Path, out: Path, diameter_mm: float) -> list[Path]:
    """Off-screen PyVista renderings of the final state of a 3D (quarter) disc: phases with the
    dashed initial outline, and the equivalent creep strain on a vertical cut."""
    import pyvista as pv

    w = _last_snapshot_warped(case_out)
    R0 = 0.5 * diameter_mm
    zt = float(w.points[:, 2].max()) + 0.01
    pl = pv.Plotter(off_screen=True, shape=(1, 2), window_size=(1600, 700))
    pl.subplot(0, 0)
    if "material_id" in w.cell_data:
        gel = w.threshold((2.5, 3.5), scalars="material_id")
        rest = w.threshold((2.5, 3.5), scalars="material_id", invert=True)
        pl.add_mesh(rest, scalars="material_id", categories=True, cmap="Set1", clim=(1, 5),
                    scalar_bar_args={"title": "material_id (GPE translucent)"})
        if gel.n_cells:
            pl.add_mesh(gel, color="orange", opacity=0.25)
    else:
        pl.add_mesh(w, scalars="equivalent_creep_strain", cmap="viridis")
    theta = np.linspace(0.0, 0.5 * np.pi, 61)
    for k in range(0, 60, 2):   # dashed initial outline (quarter)
        seg = np.array([[R0 * np.cos(theta[k]), R0 * np.sin(theta[k]), zt],
                        [R0 * np.cos(theta[k + 1]), R0 * np.sin(theta[k + 1]), zt]])
        pl.add_lines(seg, color="black", width=3)
    pl.view_xy()
    pl.add_text(f"top view, phases; dashed = initial {diameter_mm:g} mm", font_size=10)
    pl.subplot(0, 1)
    cut = w.clip(normal="-y", origin=(0.0, 0.25 * R0, 0.0))
    ext = np.ptp(cut.points[:, 0]) / max(np.ptp(cut.points[:, 2]), 1e-9)
    zx = max(1.0, round(ext / 6.0))
    cut.points[:, 2] *= zx
    # colour range up to the 98th percentile: a few distorted Li tets reach creep strains of 10-30
    # and would leave the rest of the cut in one colour (the true maximum is in the title)
    eps = np.asarray(cut.cell_data["equivalent_creep_strain"]) if cut.n_cells else np.zeros(1)
    top = max(float(np.percentile(eps, 98)), 1e-6)
    pl.add_mesh(cut, scalars="equivalent_creep_strain", cmap="viridis", clim=(0.0, top),
                scalar_bar_args={"title": "equivalent creep strain (clipped at 98th percentile)"})
    pl.view_xz()
    pl.add_text(f"creep strain, cut at y = {0.25 * R0:.3g} mm; z x{zx:g}; max on cut {eps.max():.3g}",
                font_size=10)
    f = out / "render_3d.png"
    atomic_output(f, pl.screenshot)
    pl.close()
    return [f]
