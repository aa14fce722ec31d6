"""`make phase-map RUN=results/<study>/<case>`: where a resolved (3D) composite disc deforms, phase by
phase. Reads the last snapshot of a run's field series (fields.pvd) and writes `phase_map.md` and
`phase_map.json` into the run folder. Units: mm, %; creep strain dimensionless.

What it measures (reference coordinates; displacements at the P1 nodes, cell values cell averages):
* per phase (Li, warp tows, weft tows, gel, pores): volume (mm^3), volume-weighted mean equivalent
  creep strain, and the in-plane radial strain of the phase, the least-squares slope through the
  axis of u_r against r over the phase's nodes, eps_r = sum(u_r r) / sum(r^2) (an interface node
  counts for both phases: the meshes are conforming).
* per tow family, the in-plane strain ALONG its fibres and ACROSS them, as the same slopes of one
  displacement component against its coordinate: warp tows (fibres along x) along = u_x vs x,
  across = u_y vs y; weft tows (fibres along y) along = u_y vs y, across = u_x vs x.
  A homogenised (one-continuum) ply moves every phase with one in-plane displacement field, so for
  it along = across = the Li's eps_r (in-plane isotropic spreading). `sliding_pct` = across - along:
  the spreading that a tow family makes by moving transversely with the Li while its fibres do not
  stretch, i.e. by sliding past the other family at the crossings. It is zero for any affine
  in-plane deformation.
* the Li's equivalent creep strain by height (bands of equal height over the Li) and by radius
  (rings of equal width), volume-weighted, to locate where the Li flows.

Not a solver: a diagnostic of a finished 3D composite run (meshes/composite.py tags: 1 Li, 2 warp,
3 gel, 4 pore, 5 weft, 6 bonded crossing; fem/stepping/outputs.py FIELD_NAMES). Axisymmetric runs are refused.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from meshes.common import CARBON_WARP, CARBON_WEFT, CROSSING, GPE, LI, VOID

PHASES = {LI: "Li", CARBON_WARP: "warp tows", CARBON_WEFT: "weft tows", GPE: "gel", VOID: "pores",
          CROSSING: "bonded crossings"}   # the last only with [crossing] law = "bonded"
FAMILIES = {CARBON_WARP: 0, CARBON_WEFT: 1}   # tow tag: its fibre axis (0 = x, 1 = y)


class PhaseMapError(Exception):
    """Bad input to the phase map: a one-line message for the user."""


def last_snapshot(run_dir: Path) -> tuple[float, Path]:
    """(time in s, path of the .vtu) of the last entry of run_dir/fields.pvd."""
    pvd = run_dir / "fields.pvd"
    if not pvd.is_file():
        raise PhaseMapError(f"RUN = {run_dir}: no fields.pvd there (give a run or case folder of a 3D composite run)")
    entries = re.findall(r'timestep="([^"]+)"[^>]*file="([^"]+)"', pvd.read_text())
    if not entries:
        raise PhaseMapError(f"RUN = {run_dir}: fields.pvd lists no snapshot")
    t, f = max(((float(t), f) for t, f in entries), key=lambda e: e[0])
    vtu = run_dir / f
    if not vtu.is_file():
        raise PhaseMapError(f"RUN = {run_dir}: the snapshot {f} named in fields.pvd is missing")
    return t, vtu


def _slope(u: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope through the origin of u against x (nan without a point off the axis)."""
    d = float(np.dot(x, x))
    return float(np.dot(u, x) / d) if d > 0.0 else float("nan")


def _weighted(values: np.ndarray, weights: np.ndarray) -> float:
    w = float(weights.sum())
    return float(np.dot(values, weights) / w) if w > 0.0 else float("nan")


def _li_bins(coord: np.ndarray, edges: np.ndarray, li: np.ndarray, vol: np.ndarray, creep: np.ndarray,
             key: str) -> list[dict]:
    """Volume and volume-weighted creep strain of the Li cells whose centre `coord` falls in each bin
    [edges[i], edges[i+1]) (the last bin closed)."""
    out = []
    for i in range(len(edges) - 1):
        upper = coord < edges[i + 1] if i < len(edges) - 2 else coord <= edges[i + 1]
        s = li & (coord >= edges[i]) & upper
        out.append({key: [float(edges[i]), float(edges[i + 1])], "volume_mm3": float(vol[s].sum()),
                    "mean_creep_strain": _weighted(creep[s], vol[s])})
    return out


def phase_map(points: np.ndarray, tets: np.ndarray, material_id: np.ndarray, creep: np.ndarray,
              displacement: np.ndarray, n_bands: int = 12, n_rings: int = 6) -> dict:
    """The phase map of one snapshot (see the module docstring). points (N, 3) in mm, tets (M, 4)
    node indices, material_id and creep (M,) per cell, displacement (N, 3) in mm."""
    points = np.asarray(points, float)
    tets = np.asarray(tets, int)
    mat = np.asarray(material_id).astype(int)
    creep = np.asarray(creep, float)
    u = np.asarray(displacement, float)
    if points.ndim != 2 or points.shape[1] != 3 or tets.ndim != 2 or tets.shape[1] != 4:
        raise PhaseMapError("RUN: the phase map needs a 3D run on tetrahedra (an axisymmetric run has one material)")
    if not (mat == LI).any() or not np.isin(mat, list(FAMILIES)).any():
        raise PhaseMapError("RUN: not a resolved composite run (needs Li cells, tag 1, and tow cells, tags 2 / 5)")
    a, b, c, d = (points[tets[:, i]] for i in range(4))
    vol = np.abs(np.einsum("ij,ij->i", np.cross(b - a, c - a), d - a)) / 6.0
    cen = points[tets].mean(axis=1)
    r_node = np.hypot(points[:, 0], points[:, 1])
    u_r = np.where(r_node > 0.0, (u[:, 0] * points[:, 0] + u[:, 1] * points[:, 1]) / np.maximum(r_node, 1e-300), 0.0)

    phases, families = {}, {}
    for tag, name in PHASES.items():
        sel = mat == tag
        if not sel.any():
            continue
        nodes = np.unique(tets[sel])
        phases[name] = {"tag": tag, "volume_mm3": float(vol[sel].sum()),
                        "mean_creep_strain": _weighted(creep[sel], vol[sel]),
                        "max_creep_strain": float(creep[sel].max()),
                        "radial_strain_pct": 100.0 * _slope(u_r[nodes], r_node[nodes])}
        if tag in FAMILIES:
            axis = FAMILIES[tag]
            along = 100.0 * _slope(u[nodes, axis], points[nodes, axis])
            across = 100.0 * _slope(u[nodes, 1 - axis], points[nodes, 1 - axis])
            families[name] = {"tag": tag, "along_pct": along, "across_pct": across, "sliding_pct": across - along}

    li = mat == LI
    z = cen[:, 2]
    r_max = float(r_node.max())
    bands = _li_bins(z, np.linspace(float(z[li].min()), float(z[li].max()), n_bands + 1), li, vol, creep, "z_mm")
    rings = _li_bins(np.hypot(cen[:, 0], cen[:, 1]), np.linspace(0.0, r_max, n_rings + 1), li, vol, creep, "r_mm")
    return {"radius_mm": r_max, "phases": phases, "tow_families": families,
            "li_creep_by_height": bands, "li_creep_by_radius": rings}


def _fmt(v: float, spec: str) -> str:
    return "–" if v is None or not np.isfinite(v) else format(v, spec)


def to_markdown(result: dict) -> str:
    """The phase map as a Markdown page (units in the headers)."""
    lines = [f"# Phase map of {result['run']} at t = {result['time_s']:g} s", "",
             f"Snapshot `{result['snapshot']}`; disc radius {result['radius_mm']:.4g} mm (reference). "
             "Written by `python -m fem.workflows.phase_map` (definitions in its docstring).", "",
             "| phase | volume (mm^3) | mean creep strain | max creep strain | radial strain eps_r (%) |",
             "|---|---|---|---|---|"]
    for name, p in result["phases"].items():
        lines.append(f"| {name} | {p['volume_mm3']:.4g} | {_fmt(p['mean_creep_strain'], '.4g')} | "
                     f"{p['max_creep_strain']:.4g} | {_fmt(p['radial_strain_pct'], '.3f')} |")
    lines += ["", "In-plane strain of each tow family along and across its fibres (%); a one-continuum ply "
              "has along = across. sliding = across - along: spreading made by the family moving with the Li "
              "while its fibres do not stretch.", "",
              "| tow family | along fibres (%) | across fibres (%) | sliding (%) |", "|---|---|---|---|"]
    for name, f in result["tow_families"].items():
        lines.append(f"| {name} | {_fmt(f['along_pct'], '.3f')} | {_fmt(f['across_pct'], '.3f')} | "
                     f"{_fmt(f['sliding_pct'], '.3f')} |")
    lines += ["", "Li equivalent creep strain by height (volume-weighted):", "",
              "| z (mm) | Li volume (mm^3) | mean creep strain |", "|---|---|---|"]
    for bnd in result["li_creep_by_height"]:
        lines.append(f"| {bnd['z_mm'][0]:.4f}–{bnd['z_mm'][1]:.4f} | {bnd['volume_mm3']:.4g} | "
                     f"{_fmt(bnd['mean_creep_strain'], '.3f')} |")
    lines += ["", "Li equivalent creep strain by radius (volume-weighted):", "",
              "| r (mm) | Li volume (mm^3) | mean creep strain |", "|---|---|---|"]
    for ring in result["li_creep_by_radius"]:
        lines.append(f"| {ring['r_mm'][0]:.3f}–{ring['r_mm'][1]:.3f} | {ring['volume_mm3']:.4g} | "
                     f"{_fmt(ring['mean_creep_strain'], '.3f')} |")
    return "\n".join(lines) + "\n"


def map_run(run_dir: Path) -> dict:
    """Read the last snapshot of run_dir, map it, write phase_map.json / .md there; the result."""
    import meshio

    from fem.stepping.outputs import atomic_write_text
    from fem.workflows.strict_json import dumps

    t, vtu = last_snapshot(run_dir)
    try:
        m = meshio.read(vtu)
    except Exception as e:  # noqa: BLE001: any reader failure is a bad file for the user
        raise PhaseMapError(f"RUN = {run_dir}: cannot read {vtu.name} ({type(e).__name__})") from e
    tets = [c.data for c in m.cells if c.type == "tetra"]
    need = ("material_id", "equivalent_creep_strain")
    if not tets or any(k not in m.cell_data for k in need) or "displacement" not in m.point_data:
        raise PhaseMapError(f"RUN = {run_dir}: {vtu.name} is not a 3D composite snapshot "
                            "(needs tetrahedra, material_id, equivalent_creep_strain and displacement)")
    result = phase_map(m.points, tets[0], m.cell_data["material_id"][0], m.cell_data["equivalent_creep_strain"][0],
                       m.point_data["displacement"])
    result.update({"run": str(run_dir), "time_s": t, "snapshot": str(vtu.relative_to(run_dir))})
    atomic_write_text(run_dir / "phase_map.json", dumps(result))
    atomic_write_text(run_dir / "phase_map.md", to_markdown(result))
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fem.workflows.phase_map",
                                 description="phase-by-phase deformation map of a finished 3D composite run")
    ap.add_argument("run_dir", help="a run or case folder holding fields.pvd")
    a = ap.parse_args(argv)
    try:
        result = map_run(Path(a.run_dir))
    except PhaseMapError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(to_markdown(result))
    print(f"written: {Path(a.run_dir) / 'phase_map.md'}, phase_map.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
