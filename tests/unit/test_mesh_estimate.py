"""meshes/estimate.py: the closed-form estimate of a mesh (before meshing) against the truth on
small real meshes.

Truth:
* elements = the triangles / tetrahedra Gmsh writes into the cached .msh (counted with Gmsh);
* dofs = the global size of the run's u-p function space (DOLFINx: P2 displacement, one P1
  pressure per u-p phase, plus P0 for "P1+P0"), built on the real mesh exactly as
  fem/models/base.py does;
* memory = the peak resident set size (VmHWM) of a real `python -m fem run` process (one
  small 3D case here; larger cases measured once, numbers in meshes/estimate.py MEASURED).
Each estimate must lie within a factor 2 of its truth."""
import os
import subprocess
import sys

import pytest

from meshes import composite as C
from meshes import disc_3d as D
from meshes import disc_axisym as A
from meshes.estimate import GiB, MEASURED, estimate
from fem.verification.cases import ROOT

GEOMETRIES = [
    ("axisym 0.125", A.AxisymDiscGeometry(mesh_size_mm=0.125), "P1+P0"),
    ("axisym 0.05", A.AxisymDiscGeometry(mesh_size_mm=0.05), "P1+P0"),
    ("axisym refined", A.AxisymDiscGeometry(mesh_size_mm=0.125, rim_refinement=4, platen_refinement=4), "P1"),
    ("axisym two platens", A.AxisymDiscGeometry(mesh_size_mm=0.25, use_symmetry=False, platen_refinement=5), "P1+P0"),
    ("3d 0.75 x 1", D.Disc3DGeometry(mesh_size_mm=0.75, layers=1), "P1"),
    ("3d 0.5 x 4", D.Disc3DGeometry(mesh_size_mm=0.5), "P1"),
    ("3d refined", D.Disc3DGeometry(mesh_size_mm=0.5, layers=3, rim_refinement=4, platen_refinement=3), "P1"),
    ("3d full disc", D.Disc3DGeometry(mesh_size_mm=0.6, layers=2, quarter=False), "P1"),
    ("composite 3 mm", C.CompositeGeometry(diameter_mm=3.0, mesh_size_mm=0.3, void_fraction=0.01), "P1"),
]


def _truth(geo, pressure_space, cache):
    import basix.ufl
    from dolfinx import fem
    from mpi4py import MPI

    if isinstance(geo, C.CompositeGeometry):
        mesh, _, _, _ = C.load_mesh(geo, comm=MPI.COMM_SELF, cache_dir=cache)
        n_p = 2   # Li and GPE are u-p phases
    elif isinstance(geo, D.Disc3DGeometry):
        mesh, _, _ = D.load_mesh(geo, comm=MPI.COMM_SELF, cache_dir=cache)
        n_p = 1
    else:
        mesh, _, _ = A.load_mesh(geo, comm=MPI.COMM_SELF, cache_dir=cache)
        n_p = 1
    tdim = mesh.topology.dim
    cell = mesh.basix_cell().name
    els = [basix.ufl.element("Lagrange", cell, 2, shape=(tdim,))] + [basix.ufl.element("Lagrange", cell, 1)] * n_p
    if pressure_space == "P1+P0":
        els.append(basix.ufl.element("DG", cell, 0))
    W = fem.functionspace(mesh, basix.ufl.mixed_element(els))
    dofs = W.dofmap.index_map.size_global * W.dofmap.index_map_bs
    return mesh.topology.index_map(tdim).size_global, dofs


@pytest.mark.parametrize("label,geo,ps", GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_element_and_dof_estimate_within_2x(tmp_path, label, geo, ps):
    est = estimate(geo, pressure_space=ps)
    n, dofs = _truth(geo, ps, tmp_path)
    r_n, r_d = est.elements / n, est.dofs / dofs
    print(f"{label}: elements {n} est {est.elements:.0f} ({r_n:.2f}); dofs {dofs} est {est.dofs:.0f} ({r_d:.2f})")
    assert 0.5 < r_n < 2.0, (label, n, est.elements)
    assert 0.5 < r_d < 2.0, (label, dofs, est.dofs)


def test_memory_estimate_within_2x_of_the_measured_runs():
    """The peak RSS of earlier real runs (meshes/estimate.py MEASURED: 1.7k to 400k unknowns, MUMPS)
    against the estimate of the same geometry."""
    for label, geo, ps, solver, rss_GiB, dofs in MEASURED:
        est = estimate(geo, pressure_space=ps, linear_solver=solver)
        assert 0.5 < est.GiB / rss_GiB < 2.0, (label, est.GiB, rss_GiB)
        assert 0.5 < est.dofs / dofs < 2.0, (label, est.dofs, dofs)


# The peak RSS of the run process is VmHWM of /proc/self/status (the high-water mark of its own
# memory map). Not ru_maxrss: Linux carries it over exec from the forking parent, so a run started
# by a big pytest process reported the parent's 0.57 GiB for every mesh (fresh clone, 2026-12-03).
RUN = """
import runpy, sys
sys.argv = ["fem", "run", {study!r}, "--out", {out!r}, "--quiet"]
try:
    runpy.run_module("fem", run_name="__main__")
finally:
    hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print("MAXRSS_KB", hwm, file=sys.stderr)
"""


def _peak_rss_GiB(tmp_path, mesh_size_mm: float) -> tuple[float, object]:
    """Peak RSS of a short axisymmetric run (MUMPS, one 1 s ramp step) and the estimate of its mesh."""
    from fem.verification.cases import BASE_TOML
    from fem.study import load_study

    text = (BASE_TOML.replace("mesh_size_mm = 0.125", f"mesh_size_mm = {mesh_size_mm}").replace("hold_s = 600.0", "hold_s = 0.0")
            + '[time]\nmin_ramp_steps = 1\n[numerics]\nlinear_solver = "mumps"\n[output]\nfields = false\n')
    study = tmp_path / f"s{mesh_size_mm}.toml"
    study.write_text(text)
    s = load_study(study)
    est = estimate(s.geometry, pressure_space=s.pressure_space, linear_solver=s.linear_solver)
    from meshes.disc_axisym import cached_msh
    cached_msh(s.geometry)   # mesh here, so that the measured run reads it from the cache (no Gmsh in its peak)
    # one kernel thread: both meshes then run the same (compiled, serial) kernels; with threads the finer
    # mesh would load numba's JIT for the threaded kernel (fem/physics/creep_point.py
    # PARALLEL_AOT_MIN_POINTS), a fixed cost of ~0.1 GiB that is not mesh memory
    env = dict(os.environ, FEM_KERNEL_THREADS="1")
    p = subprocess.run([sys.executable, "-c", RUN.format(study=str(study), out=str(tmp_path / f"out{mesh_size_mm}"))],
                       capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    return int(p.stderr.split("MAXRSS_KB")[1].split()[0]) * 1024 / GiB, est


def test_memory_estimate_within_2x_of_a_real_run(tmp_path):
    """The mesh-dependent memory of real runs: the growth of the peak RSS from a 0.0625 mm to a
    0.03125 mm axisymmetric mesh (6.7k -> 26k unknowns, MUMPS) against the growth of the estimate,
    within 2x. The fixed part (Python, DOLFINx, PETSc, the loaded kernels) is left out on purpose: it
    varies with the installation (0.28 GiB in the development tree, 0.37 GiB in a fresh clone of the
    same commit with the same packages, measured 2026-12-03), while the growth is what decides
    whether a fine mesh fits. The first run also fills the form and kernel caches."""
    rss0, est0 = _peak_rss_GiB(tmp_path, 0.0625)
    rss0, est0 = _peak_rss_GiB(tmp_path, 0.0625)      # warm: the caches are filled now
    rss1, est1 = _peak_rss_GiB(tmp_path, 0.03125)
    grow, egrow = rss1 - rss0, est1.GiB - est0.GiB
    print(f"axisym 0.0625 -> 0.03125 ({est0.dofs:.0f} -> {est1.dofs:.0f} dofs): peak RSS {rss0:.3f} -> {rss1:.3f} GiB "
          f"(+{grow:.3f}), estimate {est0.GiB:.3f} -> {est1.GiB:.3f} GiB (+{egrow:.3f})")
    assert grow > 0.02, grow                            # the finer mesh really costs memory
    assert 0.5 < egrow / grow < 2.0, (egrow, grow)
