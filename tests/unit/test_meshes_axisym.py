"""meshes/disc_axisym.py: facet tags, lengths and grading of the (r, z) section, and the mesh cache."""
import numpy as np
import pytest


def test_mesh_tags_area_and_cache(tmp_path):
    from meshes.disc_axisym import AXIS, BOTTOM, RIM, TOP, AxisymDiscGeometry, cached_msh, load_mesh
    import ufl
    from dolfinx import fem

    geo = AxisymDiscGeometry(mesh_size_mm=0.125, rim_refinement=2.0)
    p1 = cached_msh(geo, tmp_path)
    mtime = p1.stat().st_mtime_ns
    assert cached_msh(geo, tmp_path) == p1 and p1.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert cached_msh(AxisymDiscGeometry(mesh_size_mm=0.1), tmp_path) != p1
    msh, ct, ft = load_mesh(geo, cache_dir=tmp_path)
    area = fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=msh)))
    assert area == pytest.approx(7.5 * 0.25, rel=1e-12)
    ds = ufl.Measure("ds", domain=msh, subdomain_data=ft)
    lengths = {t: fem.assemble_scalar(fem.form(1.0 * ds(t))) for t in (BOTTOM, TOP, AXIS, RIM)}
    assert lengths[BOTTOM] == pytest.approx(7.5) and lengths[TOP] == pytest.approx(7.5)
    assert lengths[AXIS] == pytest.approx(0.25) and lengths[RIM] == pytest.approx(0.25)
    # grading: the rim band is finer than the interior
    x = msh.geometry.x
    assert np.sum(x[:, 0] > 7.0) > 1.5 * np.sum((x[:, 0] > 3.0) & (x[:, 0] < 3.5))
