"""Internal-consistency tests of the float64 NumPy/SciPy/mpmath oracle (tests/reference_numpy.py).

These tests never import meanfield_jax.  They check that independent routes inside the
oracle agree: Lyapunov steady state vs adaptive quadrature of Eq. (16)/(31), dense solves vs
Sherman-Morrison vs the paper's closed form Eq. (20), mpmath quadrature vs exact residues,
and exact identities (equilibrium T_n = T, flux_left = flux_right).
Run standalone:  .venv/bin/python -m pytest tests/test_reference_oracle.py -q   (< 60 s)
"""

from __future__ import annotations

import itertools
import os
import sys

import mpmath
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reference_numpy as ref  # noqa: E402

GAMMA, TL, TR = 1.0, 1.5, 0.5


def _masses(kind, n):
    if kind == "random":
        return ref.random_masses(n, 1.0, 0.1, seed=100 + n)
    return ref.graded_masses(n, 1.0, 0.1)


# ----------------------------------------------------------------------------------------
# Construction
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_tilde", ["kac", 1.0, 2.5])
def test_chain_stiffness_is_hessian_of_eq1(n_tilde):
    n, k, k0 = 6, 0.7, 0.3
    nt = n - 1 if n_tilde == "kac" else n_tilde
    # Hessian of H = k0/2 sum q^2 + k/(2 Ñ) sum_n sum_{j != n} (q_n - q_j)^2 / 2
    H = np.zeros((n, n))
    for a, b_ in itertools.product(range(n), repeat=2):
        if a == b_:
            H[a, a] = k0 + k / nt * (n - 1)
        else:
            H[a, b_] = -k / nt
    K = ref.chain_stiffness(n, k, k0, n_tilde)
    np.testing.assert_allclose(K, H, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(ref.chain_stiffness(np.ones(n), k, k0, n_tilde), K)
    # Eq. (8)-(9): a_n + m w^2 = (N-1) k/Ñ + k0, b = -k/Ñ
    Z = ref.z_matrix(np.ones(n), K, 0.4, 0.0, 0.9)
    assert Z[2, 3] == -k / nt
    assert np.isclose(Z[2, 2], (n - 1) * k / nt + k0 - 0.81, rtol=1e-15)
    assert np.isclose(Z[0, 0], (n - 1) * k / nt + k0 - 0.81 + 0.36j, rtol=1e-15)


def test_graded_masses_rule():
    m = ref.graded_masses(5, 1.0, 0.1)
    np.testing.assert_allclose(m, [0.9, 0.95, 1.0, 1.05, 1.1], rtol=1e-15)


# ----------------------------------------------------------------------------------------
# Transmittance
# ----------------------------------------------------------------------------------------


def _T_eq20_mp(w, n, m, k, k0, nt, gamma, kp):
    """Eqs. (20)-(22) (generalised to c = i w gamma + k') at 40 digits, straight from
    Eq. (18) as written: |G_1N| = |b(a-b)| / (|a-b+c| |(a-b+Nb)(a-b+c) - 2cb|)."""
    with mpmath.workdps(40):
        w = mpmath.mpf(w)
        a = (n - 1) * mpmath.mpf(k) / nt + k0 - m * w**2
        b = -mpmath.mpf(k) / nt
        c = 1j * w * gamma + kp
        g = abs(b * (a - b)) / (abs(a - b + c) * abs((a - b + n * b) * (a - b + c) - 2 * c * b))
        return float(4 * gamma**2 * w**2 * g**2)


@pytest.mark.parametrize("n", [4, 10, 33])
@pytest.mark.parametrize("k0,n_tilde,kp", [(0.0, "kac", 0.0), (0.3, "kac", 0.0),
                                           (0.3, 1.0, 0.0), (0.0, 1.0, 0.5), (0.3, "kac", 0.5)])
def test_transmittance_dense_vs_eq20_identical(n, k0, n_tilde, kp):
    m, k, gamma = 1.3, 0.7, 0.8
    nt = n - 1 if n_tilde == "kac" else n_tilde
    K = ref.chain_stiffness(n, k, k0, n_tilde)
    om = np.array([1e-3, 0.05, 0.13, 0.37, 0.52, 0.8, 1.1, 2.5, 7.0])
    Td = ref.transmittance_dense(np.full(n, m), K, gamma, kp, om)
    Ts = ref.transmittance_chain_sm(np.full(n, m), K, gamma, kp, om)
    Tm = np.array([_T_eq20_mp(w, n, m, k, k0, nt, gamma, kp) for w in om])
    Tf = ref.transmittance_identical(om, n, m, k, k0, n_tilde, gamma, kp)
    np.testing.assert_allclose(Td, Tm, rtol=1e-11, atol=0)
    np.testing.assert_allclose(Ts, Tm, rtol=1e-11, atol=0)
    np.testing.assert_allclose(Tf, Tm, rtol=1e-11, atol=0)


def test_transmittance_zero_frequency_limits():
    n = 7
    m = ref.random_masses(n, seed=1)
    # momentum conserving: T(0) = 1 exactly (Eq. 23 at w = 0), continuous
    K = ref.chain_stiffness(n, 0.1, 0.0, "kac")
    # (1 - T(w) = O(w^2 N^2 m^2 / gamma^2): 2.5e-11 at w = 1e-6)
    T = ref.transmittance_dense(m, K, GAMMA, 0.0, [0.0, 1e-12, 1e-9, 1e-6])
    np.testing.assert_allclose(T, 1.0, rtol=0, atol=1e-10)
    assert T[0] == pytest.approx(1.0, abs=1e-14)
    Ts = ref.transmittance_chain_sm(m, K, GAMMA, 0.0, [0.0, 1e-12, 1e-9, 1e-6])
    np.testing.assert_allclose(Ts, T, rtol=1e-13)
    # deflated dense solve is smooth near 0 (no eps/omega noise)
    w = np.geomspace(1e-10, 1e-4, 7)
    Td = ref.transmittance_dense(m, K, GAMMA, 0.0, w)
    np.testing.assert_allclose(Td, ref.transmittance_chain_sm(m, K, GAMMA, 0.0, w), rtol=1e-13)
    assert np.all(np.diff(Td) <= 0)  # T decreases away from its maximum at 0
    # pinned or wall springs: T(0) = 0 and T ~ w^2
    for k0, kp in [(0.02, 0.0), (0.0, 0.5)]:
        K = ref.chain_stiffness(n, 0.1, k0, "kac")
        T = ref.transmittance_dense(m, K, GAMMA, kp, [0.0, 1e-6, 2e-6])
        assert T[0] == 0.0
        assert T[2] / T[1] == pytest.approx(4.0, rel=1e-6)


@pytest.mark.parametrize("kind", ["random", "graded"])
def test_dense_vs_sherman_morrison_random_frequencies(kind):
    rng = np.random.default_rng(7)
    for n in (2, 3, 9, 25):
        m = _masses(kind, n)
        for k0, nt, kp in [(0.0, "kac", 0.0), (0.3, 1.0, 0.5), (0.02, "kac", 0.0)]:
            K = ref.chain_stiffness(n, 0.1, k0, nt)
            w = rng.uniform(0, 2.0, 40)
            np.testing.assert_allclose(
                ref.transmittance_dense(m, K, GAMMA, kp, w),
                ref.transmittance_chain_sm(m, K, GAMMA, kp, w),
                rtol=1e-10, atol=1e-300)


def test_transmittance_bounded_and_even():
    n = 12
    m = ref.random_masses(n, seed=3)
    K = ref.chain_stiffness(n, 0.1, 0.02, "kac")
    w = np.linspace(-3, 3, 301)
    T = ref.transmittance_dense(m, K, GAMMA, 0.0, w)
    assert np.all(T >= 0) and np.all(T <= 1 + 1e-12)
    np.testing.assert_allclose(T, T[::-1], rtol=1e-12, atol=1e-300)


def test_poles_make_z_singular():
    n = 8
    m = ref.random_masses(n, seed=4)
    for k0, kp in [(0.02, 0.0), (0.0, 0.0), (0.0, 0.5)]:
        K = ref.chain_stiffness(n, 0.1, k0, "kac")
        p = ref.poles_dense(m, K, GAMMA, kp)
        assert p.shape == (2 * n,)
        assert np.all(p.imag >= -1e-14)  # stable (zero mode: omega = 0)
        # poles come in pairs omega, -conj(omega)
        np.testing.assert_allclose(np.sort_complex(p), np.sort_complex(-p.conj()), atol=1e-13)
        for w in p:
            if abs(w) < 1e-10:
                continue
            Z = ref._k_eff(K, kp).astype(complex)
            Z[np.diag_indices(n)] += -(w**2) * m + 1j * w * np.array(
                [GAMMA] + [0] * (n - 2) + [GAMMA])
            sv = np.linalg.svd(Z, compute_uv=False)
            assert sv[-1] < 1e-12 * sv[0]


# ----------------------------------------------------------------------------------------
# Lyapunov vs quadrature (the core cross-check)
# ----------------------------------------------------------------------------------------

GRID = list(itertools.product([2, 3, 5, 10, 20], ["random", "graded"], [0.0, 0.3],
                              ["kac", 1.0], [0.0, 0.5]))


@pytest.mark.parametrize("n,kind,k0,n_tilde,kp", GRID)
def test_lyapunov_flux_vs_quad(n, kind, k0, n_tilde, kp):
    m = _masses(kind, n)
    K = ref.chain_stiffness(n, 0.1, k0, n_tilde)
    lyap = ref.lyapunov_steady_state(m, K, GAMMA, TL, TR, kp)
    method = "dense" if n <= 5 else "sherman_morrison"
    J, err = ref.flux_quad(m, K, GAMMA, TL, TR, kp, method=method)
    assert abs(err) < 1e-11 * abs(J)
    assert lyap["flux"] == pytest.approx(J, rel=1e-10)  # observed <= ~2e-14
    assert lyap["flux_right"] == pytest.approx(lyap["flux"], rel=1e-12)
    assert lyap["n_zero_modes"] == (1 if (k0 == 0 and kp == 0) else 0)
    # Lyapunov invariants
    T = lyap["temperatures"]
    np.testing.assert_allclose(np.diag(lyap["velocity_cov"]) * m, T, rtol=1e-14)
    assert np.all((T > TR) & (T < TL))


def test_flux_quad_dense_equals_sherman_morrison_n20():
    m = _masses("random", 20)
    K = ref.chain_stiffness(20, 0.1, 0.0, "kac")
    Jd, _ = ref.flux_quad(m, K, GAMMA, TL, TR, 0.0)
    Js, _ = ref.flux_quad(m, K, GAMMA, TL, TR, 0.0, method="sherman_morrison")
    assert Jd == pytest.approx(Js, rel=1e-12)


@pytest.mark.parametrize("k0,kp", [(0.3, 0.0), (0.0, 0.0), (0.0, 0.5)])
def test_local_temperatures_quad_vs_lyapunov(k0, kp):
    n = 6
    m = _masses("random", n)
    K = ref.chain_stiffness(n, 0.1, k0, "kac")
    Tq, err = ref.local_temperatures_quad(m, K, GAMMA, TL, TR, kp)
    lyap = ref.lyapunov_steady_state(m, K, GAMMA, TL, TR, kp)
    np.testing.assert_allclose(Tq, lyap["temperatures"], rtol=1e-9)
    # J = gamma/m_1 (T_L - T_1) from the quadrature temperatures too
    J, _ = ref.flux_quad(m, K, GAMMA, TL, TR, kp)
    assert GAMMA / m[0] * (TL - Tq[0]) == pytest.approx(J, rel=1e-8)


@pytest.mark.parametrize("k0", [0.02, 0.0])
def test_equilibrium_temperatures_exact_n100(k0):
    """T_L = T_R = T: the exact steady state has T_n = T for every n (any masses)."""
    n, T0 = 100, 0.7
    m = ref.random_masses(n, 1.0, 0.1, seed=11)
    K = ref.chain_stiffness(n, 0.1, k0, "kac")
    res = ref.lyapunov_steady_state(m, K, GAMMA, T0, T0)
    assert np.max(np.abs(res["temperatures"] - T0)) <= 1e-10 * T0  # observed ~1e-16
    assert abs(res["flux"]) <= 1e-10 and abs(res["flux_right"]) <= 1e-10
    np.testing.assert_allclose(res["velocity_cov"], np.diag(T0 / m), atol=1e-10)
    # refinement did its job: the corrections shrank by many orders of magnitude
    assert res["correction_norms"][-1] < 1e-8 * res["correction_norms"][0]


def test_nonequilibrium_n100_flux_balance():
    n = 100
    m = ref.random_masses(n, 1.0, 0.1, seed=12)
    K = ref.chain_stiffness(n, 0.1, 0.02, "kac")
    res = ref.lyapunov_steady_state(m, K, GAMMA, TL, TR)
    assert res["flux_right"] == pytest.approx(res["flux"], rel=1e-12)
    # paper, Fig. 4 / Eq. (30): J N / dT ~ 1/(2A), A = (m/gamma)(1 + w0^2 gamma^2/k^2) = 3
    # (O(1/N) corrections and delta = 0.1 disorder: observed 0.161 vs 1/6)
    assert res["flux"] * n / (TL - TR) == pytest.approx(1 / 6, rel=0.05)


def test_lyapunov_rejects_identical_masses():
    n = 8
    K = ref.chain_stiffness(n, 0.1, 0.02, "kac")
    with pytest.raises(ValueError, match="identical"):
        ref.lyapunov_steady_state(np.ones(n), K, GAMMA, TL, TR)
    # two equal *bulk* masses already decouple the mode e_i - e_j
    m = _masses("random", n)
    m[3] = m[5]
    with pytest.raises(ValueError, match="singular"):
        ref.lyapunov_steady_state(m, K, GAMMA, TL, TR)


def test_lyapunov_general_network_and_matches_scipy_unrefined():
    """Non-chain K (random SPD): Lyapunov vs dense quadrature, and the initial solve is the
    scipy.linalg.solve_continuous_lyapunov answer in the state space."""
    import scipy.linalg as sla

    rng = np.random.default_rng(5)
    n = 7
    X = rng.normal(size=(n, n))
    K = X @ X.T / n + 0.1 * np.eye(n)
    m = rng.uniform(0.8, 1.2, n)
    lyap = ref.lyapunov_steady_state(m, K, 0.7, TL, TR, 0.2)
    J, _ = ref.flux_quad(m, K, 0.7, TL, TR, 0.2)
    assert lyap["flux"] == pytest.approx(J, rel=1e-10)
    # plain scipy in (q, v) coordinates, no refinement (well conditioned here)
    Ke = ref._k_eff(K, 0.2)
    A = np.block([[np.zeros((n, n)), np.eye(n)], [-Ke / m[:, None], -np.diag(
        np.r_[0.7 / m[0], np.zeros(n - 2), 0.7 / m[-1]])]])
    D = np.zeros((2 * n, 2 * n))
    D[n, n] = 2 * 0.7 * TL / m[0] ** 2
    D[-1, -1] = 2 * 0.7 * TR / m[-1] ** 2
    C = sla.solve_continuous_lyapunov(A, -D)
    np.testing.assert_allclose(lyap["velocity_cov"], C[n:, n:], rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------------------
# Identical masses: closed form in mpmath
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 10])
@pytest.mark.parametrize("k0,n_tilde,kp", [(0.0, "kac", 0.0), (0.3, "kac", 0.0),
                                           (0.3, 1.0, 0.0), (0.0, 1.0, 0.5)])
def test_identical_masses_flux_mp_vs_dense_quad(n, k0, n_tilde, kp):
    m, k, gamma = 1.3, 0.7, 0.8
    Jmp, err = ref.identical_masses_flux_quad(n, m, k, k0, n_tilde, gamma, TL, TR, kp,
                                              return_error=True)
    assert err < 1e-25
    Jres = ref.identical_masses_flux_residues(n, m, k, k0, n_tilde, gamma, TL, TR, kp)
    assert Jmp == pytest.approx(Jres, rel=1e-14)
    K = ref.chain_stiffness(n, k, k0, n_tilde)
    Jq, _ = ref.flux_quad(np.full(n, m), K, gamma, TL, TR, kp)
    assert Jq == pytest.approx(Jmp, rel=1e-11)  # observed <= 2e-15


def test_identical_masses_large_n_asymptotics():
    """Eq. (25): J/dT ~ gamma/(2 m N) (k0 = 0); Eq. (30): J/dT ~ 1/(2 A N) (k0 > 0, Kac)."""
    n, m, k, gamma = 2000, 1.0, 0.1, 1.0
    J = ref.identical_masses_flux_quad(n, m, k, 0.0, "kac", gamma, 1.0, 0.0)
    assert J * n == pytest.approx(gamma / (2 * m), rel=5e-3)
    k0 = 0.02
    A = m / gamma * (1 + k0 / m * gamma**2 / k**2)
    J = ref.identical_masses_flux_quad(n, m, k, k0, "kac", gamma, 1.0, 0.0)
    assert J * n == pytest.approx(1 / (2 * A), rel=5e-3)
