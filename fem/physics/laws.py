"""The constitutive laws of the package and their registry.

Li (LiCreep): finite-strain elasticity + isochoric J2 power-law creep. Multiplicative split
F = Fe Fc with isochoric creep (det Fc = 1); internal variable Cc^-1 = Fc^-1 Fc^-T.
Elasticity: Hencky (logarithmic) in the deviatoric part, U(J) = K/2 (J - 1)^2 in the volumetric part,
    tau = mu log(be_bar) + J U'(J) I,   U'(J) = K (J - 1),   be_bar = J^-2/3 F Cc^-1 F^T
(log(be_bar) = 2 dev(eps_e) is traceless because det be_bar = 1). With the u-p mixed form the
pressure U'(J) is replaced by an independent field p that satisfies p = U'(J) weakly.
Why this U: the weak pressure equation is then *linear* in J, so for every pressure test function q
it states exactly  int (J - 1) q dV0 = int p/K q dV0.  With q = 1 that is the discrete volume balance,
and with the element-wise constants of the enriched pressure space (P1 + P0, fem/models/axisym.py) it holds
cell by cell. Simo's U'(J) = K/2 (J - 1/J), used before 2026-12, is nonlinear in J: where the
discrete J scatters pointwise (large creep strain on coarse meshes) its weak form lets the volume
drift by int (J - 1)^2 / 2 - the calibrated 17.79 MPa bare-Li run gained 12.8 % volume that way.
Both laws agree to O((J - 1)^2) ~ 1e-6 at the pressures of this package (p/K < 3e-3).

Creep: exponential-map radial return (Weber & Anand 1990; Simo 1992; Simo & Hughes 1998 §9.2)
    s_tr = mu log(be_bar_tr),  be_bar_tr = Fbar Cc^-1_n Fbar^T,  q_tr = sqrt(3/2 s_tr:s_tr),
    s = s_tr (1 - 3 mu dp / q_tr),  be_bar_new = exp(s / mu),
    dp = (1 - theta) dt pdot_n + theta dt A_eff <q_tr - 3 mu dp - sigma_y>^n,
where pdot_n = A_eff <q_n - sigma_y>^n is the creep rate at the start of the step (a stored
quadrature field). Because logarithmic strains of coaxial tensors add, the return is exact for
any size of creep increment along a proportional path: the accumulated creep strain is exactly
the sum of the dp (an additive update of be, as in Simo & Hughes Box 9.1, errs by O(dp^2) per
step, which made the time integration first order whatever the rule for dp).
theta = 1 is backward Euler (first order, L-stable); theta = 1/2 is the trapezoidal rule for
the creep-strain magnitude (second order; the flow direction is the end-of-step one, exact for
proportional stress paths).

Where it is computed: the deviatoric stress s F^-T, its consistent tangent and the state update are
evaluated pointwise at the quadrature points by fem/physics/creep_point.py (numba; tensor log,
return map, tangent); the weak form reads them as quadrature functions and keeps only the part that
is cheap and exact in UFL, the pressure stress p cof(F) and the volumetric equation (CreepLaw below).
Before 2026-12-03 the whole law was a UFL expression (log series and automatic differentiation):
the same stress to round-off, about 3 x the assembly cost (docs/benchmarks.md).

The other G-LiCFC phases (gel, pores, carbon tows) are UFL laws (below).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ufl

from fem.physics.materials import GelNeoHookean, LiAnand, LiCreep, PlyElastic, PlyViscoplastic, SoftVoid, TowElastic

# ---------------------------------------------------------------------- law registry
# Every law is chosen from its material's type (one entry per material dataclass of
# fem/physics/materials.py); a model asks `law_class(material)` what the law needs and
# `make_law(material, inputs)` for the law itself, never an isinstance chain. A law exposes:
#   P, J                  first Piola-Kirchhoff stress, volume ratio (UFL)
#   von_mises             von Mises Cauchy stress (UFL; from sigma, or a quadrature function)
#   tangent(dF)           the part of dP that UFL cannot differentiate (quadrature-function
#                         stresses of a pointwise kernel); None for a pure UFL law
#   mixed_up              True: the law takes an independent pressure field (u-p form) and
#                         provides K, mu (fem.Constant) and volumetric_residual(p)
#   creeping              True: the law carries the creep state of the return map (computed by
#                         fem/physics/creep_point.py, read through inputs.creep_state)
#   needs_fibre_direction True: inputs.fibre_direction must be a unit vector field
#   kind                  creep | gel | void | tow: which per-phase results apply
#   outputs()             extra per-phase UFL quantities for the results (name -> expression)
# and, through `quadrature_arrays`, its stress and consistent tangent as quadrature-point arrays.
_LAWS: dict[type, type] = {}


def law_for(material_type: type):
    """Class decorator: register the law of a material dataclass."""
    def register(cls):
        _LAWS[material_type] = cls
        return cls
    return register


def law_class(material) -> type:
    try:
        return _LAWS[type(material)]
    except KeyError:
        raise TypeError(f"no constitutive law registered for material {type(material).__name__}") from None


@dataclass
class LawInputs:
    """What a model hands a law: the mesh (for constants), the deformation gradient F (3x3 UFL),
    the phase's pressure field (u-p laws, else None), the creep state (creeping laws) and the
    fibre direction (tow laws)."""
    mesh: Any
    F: Any
    pressure: Any = None
    creep_state: Any = None        # CreepState
    fibre_direction: Any = None
    dt: Any = None                 # fem.Constant: the step length (s), for laws with a rate
    closure_n: Any = None          # scalar quadrature function: a draining gel's pore closure at t_n


@dataclass
class CreepState:
    """The quadrature functions the Li creep law reads (fem/models/base.py fills them from
    fem/physics/creep_point.py): the deviatoric stress P_dev at the active components of F (vector),
    its tangent (matrix), the von Mises Cauchy stress (scalar); `active` lists the components (i, j).
    A ply with closing pores (PlyViscoplastic.drains) also reads its pore closure c at the end of the
    step and dc/dp (scalars), filled at the current pressure by fem/physics/pore_closure.py."""
    active: Any
    P: Any
    A: Any
    von_mises: Any
    closure: Any = None
    closure_dp: Any = None


class Law:
    """Defaults of the law interface (see the registry comment above); a law overrides what differs."""
    mixed_up = False
    creeping = False
    needs_fibre_direction = False
    kind = ""

    def outputs(self) -> dict:
        return {}

    def pressure_volume_strain(self, pressure):
        """u-p laws: the volume change J - 1 that the pressure equation ties to the pressure p."""
        return pressure / self.K

    def volumetric_tangent(self, dp):
        """u-p laws: the part of the pressure equation's derivative in p (for the increment dp) that
        UFL cannot differentiate (quadrature functions); None: none."""
        return None

    def tangent(self, dF):
        """The part of dP that UFL cannot differentiate (quadrature-function stresses); None: none."""
        return None

    @property
    def von_mises(self):
        return von_mises(self.sigma)


def make_law(material, inputs: LawInputs):
    return law_class(material).from_material(material, inputs)


def quadrature_arrays(law, F_variable, mesh, cells, points):
    """Stress P (n_cells, n_points, 3, 3) and consistent tangent dP/dF (n_cells, n_points, 3, 3, 3, 3)
    of a law at the quadrature points of the given cells, where the law was built on
    F_variable = ufl.variable(F). A hook for kernels that work on quadrature-point arrays."""
    from dolfinx import fem
    P = fem.Expression(law.P, points).eval(mesh, cells)
    A = fem.Expression(ufl.diff(law.P, F_variable), points).eval(mesh, cells)
    n = len(cells)
    return P.reshape(n, -1, 3, 3), A.reshape(n, -1, 3, 3, 3, 3)


def _dev(A):
    return A - ufl.tr(A) / 3.0 * ufl.Identity(3)


def cofactor(F):
    """cof F = det(F) F^-T of a 3x3 UFL tensor, written as a polynomial (cheap to differentiate)."""
    return ufl.as_matrix([[F[(i + 1) % 3, (j + 1) % 3] * F[(i + 2) % 3, (j + 2) % 3]
                           - F[(i + 1) % 3, (j + 2) % 3] * F[(i + 2) % 3, (j + 1) % 3]
                           for j in range(3)] for i in range(3)])


def from_active(v, active):
    """3x3 UFL tensor with the entries of the vector v at the active components (zeros elsewhere)."""
    pos = {tuple(ij): a for a, ij in enumerate(active)}
    return ufl.as_matrix([[v[pos[(i, j)]] if (i, j) in pos else 0.0 for j in range(3)] for i in range(3)])


def to_active(G, active):
    """The active components of a 3x3 UFL tensor as a vector."""
    return ufl.as_vector([G[i, j] for i, j in active])


def volumetric_pressure(K, J):
    """U'(J) = K (J - 1) (MPa): the hydrostatic pressure of the volumetric energy U = K/2 (J - 1)^2."""
    return K * (J - 1.0)


def volumetric_residual(K, J, pressure):
    """Weak form of p = U'(J), divided by K (dimensionless): the pressure equation of every u-p
    phase (Li, gel). Linear in J, so it is an exact discrete volume balance (module docstring)."""
    return (volumetric_pressure(K, J) - pressure) / K


@law_for(LiAnand)
@law_for(LiCreep)
class CreepLaw(Law):
    """Li creep law in the weak form: P = P_dev + p cof(F), where the deviatoric part P_dev = s F^-T
    and its tangent dP_dev/dF are quadrature functions filled by the pointwise kernel
    (fem/physics/creep_point.py) at the active components of F (CreepState.active). The same weak form
    for LiCreep (Norton) and LiAnand: only the kernel's scalar return map differs."""
    mixed_up, creeping, kind = True, True, "creep"

    @classmethod
    def from_material(cls, mat: LiCreep, inp: LawInputs) -> "CreepLaw":
        return cls(inp.mesh, mat, inp.F, inp.pressure, inp.creep_state)

    def __init__(self, mesh, mat: LiCreep, F, pressure, state: "CreepState"):
        from dolfinx import fem
        self.mu = fem.Constant(mesh, mat.shear_modulus_MPa)
        self.K = fem.Constant(mesh, mat.bulk_modulus_MPa)
        self.state = state
        self.J = ufl.det(F)
        self.P = from_active(state.P, state.active) + pressure * cofactor(F)

    @property
    def von_mises(self):
        return self.state.von_mises

    def tangent(self, dF):
        """dP_dev = (dP_dev/dF) : dF for a UFL increment dF (the pressure part is differentiated by UFL)."""
        act = self.state.active
        return from_active(ufl.dot(self.state.A, to_active(dF, act)), act)

    def volumetric_residual(self, pressure):
        return volumetric_residual(self.K, self.J, pressure)


# ---------------------------------------------------------------------- composite phases
# The laws of the other G-LiCFC phases (parameters and sources: fem/physics/materials.py). Each gives the
# first Piola-Kirchhoff stress P (MPa) and the Cauchy stress sigma of a deformation gradient F.

def lagged_closure(c_n, c_eq, r):
    """Backward-Euler step of a pore closure that relaxes towards c_eq, dc/dt = k (c_eq - c), with
    r = k dt:  c = (c_n + r c_eq) / (1 + r)  (exact for dt -> 0, unconditionally stable, c = c_n at
    r = 0). The draining gel (k = 1 / tau); the homogenised ply's closure, whose rate depends on c,
    is fem/physics/pore_closure.py."""
    return (c_n + r * c_eq) / (1.0 + r)


@law_for(GelNeoHookean)
class GelLaw(Law):
    """Gel polymer electrolyte: neo-Hookean deviatoric part, the volumetric U(J) of the Li law in the
    u-p form (the same pressure field and volumetric residual as the Li law):
        tau = mu dev(b_bar) + J p I,   b_bar = J^-2/3 F F^T,   p = U'(J) = K (J - 1) weakly.
    Porous gel (porosity phi > 0): the pressure equation becomes
        J - 1 = p / K - c(p)   weakly,   c(p) = fem/physics/materials.py porous_gel_closure,
    the dense gel's elastic volume change less the pore volume closed at that pressure; with a
    drainage time the closure lags the pressure (`closure`), its state c_n stored per point. It stays
    linear in J, so the discrete volume balance of the Li law holds (int (J - 1) q = int (p/K - c) q).
    The deviatoric part keeps mu: it is the shear modulus of the gel as it is, pores included."""

    mixed_up, kind = True, "gel"

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "GelLaw":
        return cls(inp.mesh, mat, inp.F, inp.pressure, inp.dt, inp.closure_n)

    def __init__(self, mesh, mat, F, pressure, dt=None, closure_n=None):
        from dolfinx import fem
        self.drains = mat.drains
        if self.drains and (dt is None or closure_n is None):
            raise ValueError("a draining gel (drainage_time_s > 0) needs the step length and its closure state")
        self.t_drain, self.dt, self.closure_n = (fem.Constant(mesh, mat.drainage_time_s), dt, closure_n) \
            if self.drains else (None, None, None)
        self.mu = fem.Constant(mesh, mat.shear_modulus_MPa)
        self.K = fem.Constant(mesh, mat.bulk_modulus_MPa)
        self.porosity = mat.porosity
        self.K0 = fem.Constant(mesh, mat.initial_bulk_modulus_MPa)   # for the Schur preconditioner
        self.p_c = fem.Constant(mesh, mat.collapse_pressure_MPa)
        self.J = ufl.det(F)
        b_bar = self.J ** (-2.0 / 3.0) * F * F.T
        self.tau = self.mu * _dev(b_bar) + self.J * pressure * ufl.Identity(3)
        self.P = self.tau * ufl.inv(F).T
        self.sigma = self.tau / self.J
        self.pressure = pressure

    def equilibrium_closure(self, pressure):
        """Pore volume closed per unit initial volume once drained, c_eq(p) (UFL)."""
        from fem.physics.materials import porous_gel_closure
        return porous_gel_closure(pressure, self.porosity, self.p_c, ufl.exp,
                                  lambda p, a, b: ufl.conditional(ufl.lt(p, 0.0), a, b))

    def closure(self, pressure):
        """Pore volume closed per unit initial volume at the end of the step (UFL): c_eq(p), or with
        a drainage time tau the backward-Euler step of  dc/dt = (c_eq(p) - c) / tau,
            c = (c_n + (dt / tau) c_eq(p)) / (1 + dt / tau),
        exact for the exponential approach of a constant c_eq as dt -> 0, unconditionally stable,
        and c = c_n in an instantaneous (dt = 0) step: the undrained response."""
        c_eq = self.equilibrium_closure(pressure)
        if not self.drains:
            return c_eq
        return lagged_closure(self.closure_n, c_eq, self.dt / self.t_drain)

    def outputs(self) -> dict:
        if self.porosity <= 0.0:
            return {}
        return {"pore_closure": self.closure(self.pressure) / self.porosity}

    def pressure_volume_strain(self, pressure):
        if self.porosity <= 0.0:
            return pressure / self.K
        return pressure / self.K - self.closure(pressure)

    def volumetric_residual(self, pressure):
        if self.porosity <= 0.0:
            return volumetric_residual(self.K, self.J, pressure)
        return self.J - 1.0 - self.pressure_volume_strain(pressure)


@law_for(SoftVoid)
class SoftVoidLaw(Law):
    """Pore as a soft compressible neo-Hookean solid (displacement form):
        P = mu (F - F^-T) + lambda ln(J) F^-T."""
    kind = "void"

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "SoftVoidLaw":
        return cls(inp.mesh, mat, inp.F)

    def __init__(self, mesh, mat, F):
        from dolfinx import fem
        E, nu = mat.youngs_modulus_MPa, mat.poisson_ratio
        self.mu = fem.Constant(mesh, E / (2.0 * (1.0 + nu)))
        self.lmbda = fem.Constant(mesh, E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)))
        self.J = ufl.det(F)
        FinvT = ufl.inv(F).T
        self.P = self.mu * (F - FinvT) + self.lmbda * ufl.ln(self.J) * FinvT
        self.sigma = self.P * F.T / self.J


def spencer_stress(c, E, a):
    """S = C : E of the transversely isotropic St Venant-Kirchhoff law in Spencer's invariant form about
    the unit axis a (UFL), c the moduli of `spencer_moduli` (numbers or constants):
    lam tr(E) I + 2 mu_T E + alpha [(a.E a) I + tr(E) A] + 2 (mu_L - mu_T)(A E + E A) + beta (a.E a) A."""
    I, A = ufl.Identity(3), ufl.outer(a, a)
    trE, aEa = ufl.tr(E), ufl.inner(a, E * a)
    return (c["lambda"] * trE * I + 2.0 * c["mu_T"] * E + c["alpha"] * (aEa * I + trE * A)
            + 2.0 * (c["mu_L"] - c["mu_T"]) * (A * E + E * A) + c["beta"] * aEa * A)


def spencer_moduli(C) -> dict:
    """The five moduli of Spencer's invariant form of a transversely isotropic 6x6 Voigt stiffness
    whose symmetry axis is index 1 (TowElastic.stiffness, PlyElastic.stiffness):
    lam = C23, mu_T = C44, mu_L = C66, alpha = C12 - C23, beta = C11 - lam - 2 alpha - 4 mu_L + 2 mu_T."""
    lam, muT, muL = C[1, 2], C[3, 3], C[5, 5]
    alpha = C[0, 1] - lam
    beta = C[0, 0] - lam - 2.0 * alpha - 4.0 * muL + 2.0 * muT
    return {"lambda": float(lam), "mu_T": float(muT), "mu_L": float(muL), "alpha": float(alpha), "beta": float(beta)}


@law_for(TowElastic)
class TowLaw(Law):
    """Transversely isotropic St Venant-Kirchhoff about the reference axis a (unit vector field),
    S = C : E with E = (F^T F - I)/2, in Spencer's invariant form
        S = lam tr(E) I + 2 mu_T E + alpha [(a.E a) I + tr(E) A] + 2 (mu_L - mu_T)(A E + E A) + beta (a.E a) A,
    A = a (x) a, the moduli from the 6x6 stiffness with the axis first (`spencer_moduli`; checked against
    the 6x6 matrix in tests/unit/test_laws.py). Two materials use it: a carbon tow (TowElastic, a = the
    local fibre direction) and the homogenised cloth ply (PlyElastic, a = the thickness axis)."""

    needs_fibre_direction, kind = True, "tow"

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "TowLaw":
        return cls(inp.mesh, mat, inp.F, inp.fibre_direction)

    def outputs(self) -> dict:
        return {"fibre_stress": self.fibre_stress, "transverse_stress_min": self.transverse_stress_min}

    axis_is_normal = False   # the tow's axis a is a material line (its fibre): n = F a

    def __init__(self, mesh, mat, F, a):
        from dolfinx import fem
        self.moduli = spencer_moduli(mat.stiffness())
        c = {k: fem.Constant(mesh, float(v)) for k, v in self.moduli.items()}
        I = ufl.Identity(3)
        A = ufl.outer(a, a)
        C = F.T * F
        if self.axis_is_normal:
            # the layer strain (PLY_FORM_VERSION 4): Green's E = (C - I)/2 with its normal component
            # a.E.a replaced by e_n = (1 - |F^-T a|^2)/2, the change of the layer's THICKNESS (the
            # normal F^-T a), not the stretch of the material line F a:
            #     Eh = E + (e_n - a.E.a) A,   W = 1/2 Eh : C : Eh,
            #     S = 2 dW/dC = T + (a.T.a) (C^-1 A C^-1 - A),   T = C : Eh.
            # In-plane and transverse-shear components stay Green's: the cloth's in-plane material
            # lines stretch as lines. Neither prestress softens a shear of the layers: under
            # u_x = gamma z the thickness (F^-T a = a) and the in-plane lines (F e_x = e_x) keep
            # their lengths. The same small-strain stiffness as the Green-strain form.
            Ci = ufl.inv(C)
            E = 0.5 * (C - I)
            e_n = 0.5 * (1.0 - ufl.inner(a, Ci * a))
            T = spencer_stress(c, E + (e_n - ufl.inner(a, E * a)) * A, a)
            S = T + ufl.inner(a, T * a) * (Ci * A * Ci - A)
        else:
            S = spencer_stress(c, 0.5 * (C - I), a)
        self.J = ufl.det(F)
        self.P = F * S
        self.sigma = F * S * F.T / self.J
        n = ufl.inv(F).T * a if self.axis_is_normal else F * a
        # Cauchy stress along a (the fibre of a tow; the thickness direction of a ply)
        self.fibre_stress = ufl.inner(n, self.sigma * n) / ufl.inner(n, n)
        # the most compressive principal Cauchy stress across a (crushing of the tow; in-plane for a ply)
        self.transverse_stress_min = transverse_min_principal(self.sigma, n)


PLY_FORM_VERSION = 4   # 4 (2026-12-05, session 19): Green strain but the normal component (TowLaw axis_is_normal);
                       # 3 (session 10): the creep branch's Hill axis on the normal too; 2: the skeleton's (I - C^-1)/2; 1: Green strain


@law_for(PlyElastic)
class PlyLaw(TowLaw):
    """The homogenised cloth ply (PlyElastic): TowLaw about the thickness axis a; its result is the
    through-thickness Cauchy stress (no fibre along a). The axis is the NORMAL of the layer
    (axis_is_normal): a ply is a stack of cloth pressed face-on, its through-thickness stiffness
    resists the change of its thickness, 1/|F^-T a|, not the stretch |F a| of a material line along a.
    With the Green-strain form (a material line, right for a tow's fibre) a ply whose transverse shear
    modulus C44 is below its through-thickness compression kinks like a fibre bundle (Rosen): the
    compressed line along a shortens by tilting, the strain energy of a simple shear gamma of the
    layers drops by |sigma_zz| gamma^2 / 2 while its shear costs C44 gamma^2 (docs/physics.md). With
    the creeping Li relaxed, the fitted ply has C44 of 0.5-8 MPa against 30 MPa of compression. Only
    the normal component is the thickness's: the in-plane lines keep Green's stretch, or the in-plane
    tension of a spreading ply would soften the same shear (session 10-18 form; TowLaw.__init__)."""
    kind = "ply"
    axis_is_normal = True

    def outputs(self) -> dict:
        return {"through_thickness_stress": self.fibre_stress}


@law_for(PlyViscoplastic)
class PlyCreepLaw(CreepLaw):
    """The homogenised ply with the creep of its Li (PlyViscoplastic, fitted by fem/rve/ply_fit.py):
    P = P_branch + p cof(F) + P_skeleton. The Li branch is the Li creep law's weak form with the
    branch's constants (the pointwise kernel runs on them), the skeleton the TowLaw (transversely
    isotropic St Venant-Kirchhoff) about the thickness axis a. The von Mises stress reported is the
    branch's (what creeps)."""
    needs_fibre_direction = True

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "PlyCreepLaw":
        return cls(inp.mesh, mat, inp.F, inp.pressure, inp.creep_state, inp.fibre_direction, inp.dt, inp.closure_n)

    def __init__(self, mesh, mat, F, pressure, state, a, dt=None, closure_n=None):
        super().__init__(mesh, mat, F, pressure, state)
        self.skeleton = PlyLaw(mesh, mat.skeleton(), F, a)
        self.P = self.P + self.skeleton.P
        self.pressure = pressure
        # pore closure (fem/physics/pore_closure.py): J - 1 = p / K - c, dc/dt = B <X>^m (phi - c),
        # X = -p - p_c c/(phi - c), backward Euler, implicit in c; c(p) and dc/dp are quadrature
        # functions (state.closure, state.closure_dp) that the model fills at the current pressure
        # (closure_at_pressure), as it fills the branch's stress; the state c_n as a draining gel's
        self.drains = mat.drains
        if self.drains:
            if dt is None or closure_n is None or state.closure is None:
                raise ValueError("a ply with pore closure needs the step length and its closure state")
            self.phi = mat.porosity

    def closure(self, pressure):
        """c at the end of the step (the quadrature function at the current pressure)."""
        return self.state.closure

    def volumetric_tangent(self, dp):
        """The part of d(volumetric residual)/dp that UFL cannot differentiate: dc/dp dp."""
        return self.state.closure_dp * dp if self.drains else None

    def pressure_volume_strain(self, pressure):
        return pressure / self.K - (self.closure(pressure) if self.drains else 0.0)

    def volumetric_residual(self, pressure):
        if not self.drains:
            return volumetric_residual(self.K, self.J, pressure)
        return self.J - 1.0 - self.pressure_volume_strain(pressure)

    def outputs(self) -> dict:
        out = {"skeleton_through_thickness_stress": self.skeleton.fibre_stress}
        if self.drains:
            out["pore_closure"] = self.closure(self.pressure) / self.phi
        return out


def transverse_min_principal(sigma, n):
    """Smaller principal value of sigma in the plane normal to n (UFL): with P = I - n n/|n|^2 and
    T = P sigma P, whose third eigenvalue (along n) is 0, the in-plane pair is
    lambda = (tr T -+ sqrt(2 tr(T T) - tr(T)^2)) / 2."""
    I = ufl.Identity(3)
    P = I - ufl.outer(n, n) / ufl.inner(n, n)
    T = P * sigma * P
    tr = ufl.tr(T)
    disc = ufl.max_value(2.0 * ufl.inner(T, T) - tr * tr, 0.0)
    return 0.5 * (tr - ufl.sqrt(disc))


def von_mises(sigma):
    s = _dev(sigma)
    return ufl.sqrt(1.5 * ufl.inner(s, s))
