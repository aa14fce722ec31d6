"""Exact effective stiffness of a laminate (layers normal to z): the Backus average, and the 6x6
stiffness of each material of the package at small strain. Units: MPa.

Voigt order xx, yy, zz, yz, xz, xy with engineering shear strains (gamma_yz = 2 eps_yz, ...);
sigma = C eps. Split the components into in-plane t = (xx, yy, xy) and normal n = (zz, yz, xz).

The problem. A stack of layers k (thickness fractions f_k, stiffness C^k, any anisotropy) fills
0 < z < H, periodic in x and y, and its faces z = 0 and z = H follow the macroscopic strain E
(u = E x there, as bonded rigid platens impose). The exact solution is u = E x + w(z) with w
piecewise linear, w(0) = w(H) = 0:
  * in-plane strains are the same in every layer: eps_t^k = E_t (w depends on z only);
  * the normal tractions are the same in every layer (equilibrium across the interfaces):
    sigma_n^k = s;
  * the normal strains average to the macroscopic ones, <eps_n> = E_n, because int_0^H w' dz = 0.
From sigma_n^k = C_nn^k eps_n^k + C_nt^k E_t = s:  eps_n^k = (C_nn^k)^-1 (s - C_nt^k E_t), and the
average gives s. With <.> = sum_k f_k (.), the effective stiffness is (Backus 1962, for the
infinite periodic laminate; identical here because the face condition w = 0 is satisfied by the
periodic laminate's field):
    C*_nn = <C_nn^-1>^-1                                         (Reuss-type: series)
    C*_nt = C*_nn <C_nn^-1 C_nt>,   C*_tn = <C_tn C_nn^-1> C*_nn
    C*_tt = <C_tt - C_tn C_nn^-1 C_nt> + <C_tn C_nn^-1> C*_nn <C_nn^-1 C_nt>   (Voigt-type with the Poisson coupling)
For isotropic layers (Lame lambda_k, mu_k; M_k = lambda_k + 2 mu_k, the confined modulus):
    C*_zz,zz = <1/M>^-1                     C*_yz,yz = C*_xz,xz = <1/mu>^-1
    C*_xx,zz = C*_yy,zz = <1/M>^-1 <lambda/M>
    C*_xx,xx = C*_yy,yy = <4 mu (lambda + mu)/M> + <lambda/M>^2 <1/M>^-1
    C*_xx,yy = <2 mu lambda/M> + <lambda/M>^2 <1/M>^-1
    C*_xy,xy = <mu>                         (all other entries 0)
i.e. zz, yz, xz follow the Reuss-type (harmonic) average and the in-plane terms the Voigt-type
(arithmetic) average of the plane-stress-like moduli plus the Poisson coupling through the uniform
normal stress. tests/verification/test_rve.py checks the periodic FE RVE against these to 1e-6.
"""
from __future__ import annotations

import numpy as np

VOIGT = ("xx", "yy", "zz", "yz", "xz", "xy")
VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))   # the tensor indices of each Voigt component
# Mandel vectors (xx yy zz sqrt2 yz sqrt2 xz sqrt2 xy) from Voigt ones with engineering shear:
# sigma_M = MANDEL_W sigma_V, eps_M = eps_V / MANDEL_W, so C_M = MANDEL_W C_V MANDEL_W
MANDEL_W = np.array([1.0, 1.0, 1.0, np.sqrt(2.0), np.sqrt(2.0), np.sqrt(2.0)])
NORMAL = [2, 3, 4]     # zz, yz, xz
INPLANE = [0, 1, 5]    # xx, yy, xy


def isotropic_stiffness(lam: float, mu: float) -> np.ndarray:
    """6x6 Voigt stiffness (engineering shear) of an isotropic material with Lame constants (MPa)."""
    C = np.zeros((6, 6))
    C[:3, :3] = lam
    C[[0, 1, 2], [0, 1, 2]] = lam + 2.0 * mu
    C[[3, 4, 5], [3, 4, 5]] = mu
    return C


def voigt_to_tensor(C: np.ndarray) -> np.ndarray:
    """6x6 Voigt stiffness (engineering shear) -> the minor-symmetric 3x3x3x3 tensor."""
    T = np.zeros((3, 3, 3, 3))
    for I, (i, j) in enumerate(VOIGT_PAIRS):
        for J, (k, l) in enumerate(VOIGT_PAIRS):
            for a, b in {(i, j), (j, i)}:
                for c, d in {(k, l), (l, k)}:
                    T[a, b, c, d] = C[I, J]
    return T


def tensor_to_voigt(T: np.ndarray) -> np.ndarray:
    """(..., 3, 3, 3, 3) minor-symmetric tensors -> (..., 6, 6) Voigt stiffnesses (engineering shear)."""
    out = np.empty(np.shape(T)[:-4] + (6, 6))
    for I, (i, j) in enumerate(VOIGT_PAIRS):
        for J, (k, l) in enumerate(VOIGT_PAIRS):
            out[..., I, J] = T[..., i, j, k, l]
    return out


def voigt_to_mandel(C: np.ndarray) -> np.ndarray:
    """(..., 6, 6) Voigt stiffnesses (engineering shear) -> Mandel matrices."""
    return MANDEL_W[:, None] * C * MANDEL_W[None, :]


def mandel_to_voigt(C: np.ndarray) -> np.ndarray:
    """(..., 6, 6) Mandel matrices -> Voigt stiffnesses (engineering shear): d sigma_V / d eps_V."""
    return C / MANDEL_W[:, None] / MANDEL_W[None, :]


def lame(material) -> tuple[float, float] | None:
    """(lambda, mu) in MPa of an isotropic material of fem/physics/materials.py at small strain, or None
    for the (anisotropic) carbon tow. Li: E, nu (the elastic part of the creep law); gel: mu, K
    (lambda = K - 2 mu/3, the linearisation of the neo-Hookean u-p law); void: E, nu."""
    from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic
    if isinstance(material, GelNeoHookean):
        mu, K = material.shear_modulus_MPa, material.bulk_modulus_MPa
        return K - 2.0 * mu / 3.0, mu
    if isinstance(material, (LiCreep, SoftVoid)):
        E, nu = material.youngs_modulus_MPa, material.poisson_ratio
        return E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), E / (2.0 * (1.0 + nu))
    if isinstance(material, TowElastic):
        return None
    raise TypeError(f"no small-strain stiffness for {type(material).__name__}")


def material_stiffness(material) -> np.ndarray:
    """6x6 Voigt stiffness (MPa) of a material at small strain; the tow with its fibres along x
    (TowElastic.stiffness(), fibre axis 1 = x)."""
    lm = lame(material)
    return material.stiffness() if lm is None else isotropic_stiffness(*lm)


def laminate_stiffness(stiffnesses, thicknesses) -> np.ndarray:
    """Exact 6x6 effective stiffness of layers normal to z (formulas in the module docstring)."""
    f = np.asarray(thicknesses, dtype=float)
    f = f / f.sum()
    n, t = NORMAL, INPLANE
    inv_nn = np.zeros((3, 3))
    a_nt = np.zeros((3, 3))
    b_tn = np.zeros((3, 3))
    c_tt = np.zeros((3, 3))
    for fk, C in zip(f, stiffnesses):
        C = np.asarray(C, dtype=float)
        Cnn, Cnt, Ctn, Ctt = C[np.ix_(n, n)], C[np.ix_(n, t)], C[np.ix_(t, n)], C[np.ix_(t, t)]
        Cnn_inv = np.linalg.inv(Cnn)
        inv_nn += fk * Cnn_inv
        a_nt += fk * Cnn_inv @ Cnt
        b_tn += fk * Ctn @ Cnn_inv
        c_tt += fk * (Ctt - Ctn @ Cnn_inv @ Cnt)
    Snn = np.linalg.inv(inv_nn)
    out = np.zeros((6, 6))
    out[np.ix_(n, n)] = Snn
    out[np.ix_(n, t)] = Snn @ a_nt
    out[np.ix_(t, n)] = b_tn @ Snn
    out[np.ix_(t, t)] = c_tt + b_tn @ Snn @ a_nt
    return out


def isotropic_laminate(lams, mus, thicknesses) -> np.ndarray:
    """The closed-form isotropic Backus average of the docstring (independent of laminate_stiffness)."""
    f = np.asarray(thicknesses, dtype=float)
    f = f / f.sum()
    lam, mu = np.asarray(lams, dtype=float), np.asarray(mus, dtype=float)
    M = lam + 2.0 * mu
    avg = lambda q: float(np.sum(f * q))   # noqa: E731
    Mz = 1.0 / avg(1.0 / M)
    r = avg(lam / M)
    C = np.zeros((6, 6))
    C[2, 2] = Mz
    C[3, 3] = C[4, 4] = 1.0 / avg(1.0 / mu)
    C[0, 2] = C[2, 0] = C[1, 2] = C[2, 1] = Mz * r
    C[0, 0] = C[1, 1] = avg(4.0 * mu * (lam + mu) / M) + r * r * Mz
    C[0, 1] = C[1, 0] = avg(2.0 * mu * lam / M) + r * r * Mz
    C[5, 5] = avg(mu)
    return C
