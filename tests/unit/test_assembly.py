"""fem/models/assembly.py: the serial element assembler of the creep phase's Jacobian equals the
dolfinx assembly of the model's UFL Jacobian form (same pattern, values to 1e-12 relative), for the
axisymmetric and the 3D kinematics, at a creeping state with a pressure field (so that every
block - K_uu with the kernel's tangent and p d(cof F)/dF, K_up, K_pu, K_pp - is exercised)."""
import numpy as np
import pytest

from fem.stepping.run import build_model
from fem.verification.cases import make_study


@pytest.mark.parametrize("model", ["axisymmetric", "3d"])
def test_element_assembler_equals_ufl_jacobian(model):
    geo = {"model": model, "mesh_size_mm": 0.125 if model == "axisymmetric" else 1.0}
    if model == "3d":
        geo["layers"] = 1
    m, *_ = build_model(make_study("asm", geometry=geo))
    assert m.assembler is not None
    rng = np.random.default_rng(0)
    x = m.w.x.array
    x[:] = 1e-3 * rng.standard_normal(x.size)
    x[m.is_pressure_dof] = rng.uniform(-6.0, -4.0, int(m.is_pressure_dof.sum()))
    m.apply_constraints(x, 0.01)
    m.prepare_step(0.5)
    m.update_creep_increment(0.5)
    assert m.creep_points.dp.max() > 1e-6          # the return map is active
    ip, ind, fast = (a.copy() for a in m.assemble_jacobian().getValuesCSR())
    asm = m.assembler
    m.assembler, m._K = None, None                  # the generic path: dolfinx assembly of the UFL form
    m.update_creep_increment(0.5)                   # (its tangent leaves p d(cof F)/dF to UFL)
    ip2, ind2, ufl_vals = m.assemble_jacobian().getValuesCSR()
    assert np.array_equal(ip, ip2) and np.array_equal(ind, ind2)
    scale = np.abs(ufl_vals).max()
    assert np.abs(fast - ufl_vals).max() <= 1e-12 * scale
    # the comparison can fail: the element assembler fed the tangent without p d(cof F)/dF is off
    cp = m.creep_points
    _, _, wrong = asm.assemble(cp.A, cp.C, 1.0 / m.mat.bulk_modulus_MPa).getValuesCSR()
    assert np.abs(wrong - ufl_vals).max() > 1e-6 * scale
