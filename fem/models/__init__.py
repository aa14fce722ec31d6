"""Disc models: the shared core (base.py: model interface and state; newton.py: the one Newton
loop; contact.py: platen contact and friction assembly; linear_solvers.py; measure.py) and the
two kinematic settings (axisym.py: axisymmetric r-z section; solid3d.py: 3D quarter/full disc and
composite)."""

import dolfinx_solver  # noqa: F401,E402  (must precede dolfinx / petsc4py, for every module below)

from fem.aot import import_hiding_numba  # noqa: E402

# dolfinx without its optional numba helpers: numba is imported only when a JIT kernel is needed (fem/aot.py)
import_hiding_numba("ffcx.codegeneration.utils", "dolfinx.fem.petsc")

# FFCx JIT options of every form. A process that finds another one compiling the same form waits
# for it up to `timeout` seconds (default 10 s). The composite Jacobian takes longer than that to
# compile, so two sweep cases started together on a cold cache failed with "JIT compilation timed
# out" (seen 2026-12-02, make sweep of studies/composite_glicfc.toml with JOBS=2).
JIT_OPTIONS = {"timeout": 1800}
