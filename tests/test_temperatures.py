"""Local temperatures (issue 6) and normal modes against independent references.

The reference is the refined Lyapunov solver of tests/reference_numpy.py (long-double
iterative refinement; equilibrium error ≤ 1e-14 up to N = 400), plus the dense
pole-aware quadrature of Eq. (31) for identical masses, where Lyapunov is singular.
"""

import itertools

import jax
import numpy as np
import pytest

import meanfield_jax as mf
import reference_numpy as ref
from cases import extreme_cases


def make(kind, n, seed=0):
    if kind == "identical":
        return np.ones(n)
    if kind == "graded":
        return ref.graded_masses(n, 1.0, 0.1)
    return ref.random_masses(n, 1.0, 0.1, seed=seed)


SMALL = list(itertools.product([3, 8, 40], ["graded", "random"], [0.0, 0.7], ["kac", 1.0],
                               [0.0, 0.4]))


@pytest.mark.parametrize("n, kind, k0, n_tilde, k_prime", SMALL)
def test_temperatures_match_refined_lyapunov(n, kind, k0, n_tilde, k_prime):
    masses = make(kind, n, seed=n)
    chain = mf.MeanFieldChain(masses, k=0.8, k0=k0, n_tilde=n_tilde, gamma=1.1, k_prime=k_prime,
                              t_left=1.5, t_right=0.5)
    kmat = ref.chain_stiffness(masses, 0.8, k0, n_tilde)
    expected = ref.lyapunov_steady_state(masses, kmat, 1.1, 1.5, 0.5, k_prime)["temperatures"]
    result = mf.local_temperatures_with_error(chain)
    assert bool(result.converged)
    np.testing.assert_allclose(result.temperatures, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n, k0", [(100, 0.0), (100, 0.02),
                                   pytest.param(400, 0.02, marks=pytest.mark.slow)])
def test_temperatures_large_random_chain_match_refined_lyapunov(n, k0):
    """Fig. 4/5 regime: bulk heated only through resonances ~1e-10 wide; |ΔT_n| ≤ 1e-8."""
    # seeds for which the narrowest resonance (~1e-13) still lets the oracle solve
    masses = make("random", n, seed=1 if n < 400 else 2)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=k0, t_left=1.5, t_right=0.5)
    kmat = ref.chain_stiffness(masses, 0.1, k0, "kac")
    expected = ref.lyapunov_steady_state(masses, kmat, 1.0, 1.5, 0.5)["temperatures"]
    np.testing.assert_allclose(mf.local_temperatures(chain), expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("n, k0", [(6, 0.0), (10, 1.0)])
def test_identical_masses_particular_solution(n, k0):
    """N − 3 decoupled modes: the particular solution (Eq. 31 as written), by quadrature."""
    chain = mf.MeanFieldChain(np.ones(n), k=1.0, k0=k0, t_left=1.5, t_right=0.5)
    kmat = ref.chain_stiffness(n, 1.0, k0, "kac")
    expected, _ = ref.local_temperatures_quad(np.ones(n), kmat, 1.0, 1.5, 0.5)
    t = np.asarray(mf.local_temperatures(chain))
    np.testing.assert_allclose(t, expected, rtol=0, atol=1e-9)
    # bulk level of order 1/N and flat, as the paper describes
    assert np.ptp(t[1:-1]) < 1e-12
    assert t[1] == pytest.approx((1.5 + 0.5) / (2 * (n - 2)), rel=1e-10)


@pytest.mark.parametrize("sizes", [
    [(20, 1.0, 0.0, "kac", 1.0), (50, 0.3, 0.5, 1.0, 2.0), (250, 0.1, 0.02, "kac", 0.7)],
    # the same code path (no gaps) in the 1024 bucket: 6 s more to compile
    pytest.param([(1000, 0.1, 0.02, "kac", 0.7)], marks=pytest.mark.slow)])
def test_identical_masses_bulk_level_is_tl_plus_tr_over_2_n_minus_2(sizes):
    for n, k, k0, nt, gamma in sizes:
        chain = mf.MeanFieldChain(np.ones(n), k=k, k0=k0, n_tilde=nt, gamma=gamma,
                                  t_left=2.0, t_right=0.25)
        t = np.asarray(mf.local_temperatures(chain))
        np.testing.assert_allclose(t[1:-1], 2.25 / (2 * (n - 2)), rtol=1e-10)


@pytest.mark.parametrize("n", [pytest.param(1000, marks=pytest.mark.slow)])  # 8 s
def test_large_random_chain_invariants(n):
    masses = make("random", n, seed=3)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=0.02, t_left=1.5, t_right=0.5)
    eq = mf.local_temperatures(chain.replace(t_left=0.8, t_right=0.8))
    assert np.max(np.abs(np.asarray(eq) - 0.8)) <= 1e-8
    t = np.asarray(mf.local_temperatures(chain))
    assert np.all(t >= 0.5 - 1e-10) and np.all(t <= 1.5 + 1e-10)
    j = float(mf.heat_flux(chain))
    assert 1.0 * (1.5 - t[0]) / masses[0] == pytest.approx(j, rel=1e-8)
    assert 1.0 * (t[-1] - 0.5) / masses[-1] == pytest.approx(j, rel=1e-8)
    # the bulk thermalizes near the mean bath temperature (Fig. 5, random masses)
    assert abs(np.mean(t[1:-1]) - 1.0) < 0.05


@pytest.mark.slow
def test_ten_thousand_random_chain_equilibrium():
    masses = make("random", 10_000, seed=4)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=0.02, t_left=1.0, t_right=1.0)
    assert np.max(np.abs(np.asarray(mf.local_temperatures(chain)) - 1.0)) <= 1e-8


def test_temperatures_lyapunov_method_and_vmap():
    systems = [mf.MeanFieldChain(make("random", 12, seed=s), k=0.5, k0=0.2, t_left=1.2,
                                 t_right=0.3) for s in range(3)]
    batch = mf.stack_systems(systems)
    vm = np.asarray(jax.vmap(mf.local_temperatures)(batch))
    for i, s in enumerate(systems):
        np.testing.assert_allclose(vm[i], mf.local_temperatures(s), rtol=1e-12)
        np.testing.assert_allclose(mf.local_temperatures(s, method="lyapunov"), vm[i], atol=1e-9)


def test_normal_modes_identical_masses_three_coupled():
    for n, k0, kp in [(10, 0.0, 0.0), (25, 0.5, 0.0), (30, 0.1, 0.3)]:
        modes = mf.normal_modes(mf.MeanFieldChain(np.ones(n), k=1.0, k0=k0, k_prime=kp))
        coupling = np.asarray(modes.coupling_left + modes.coupling_right)
        assert int(np.sum(coupling > 1e-10)) == 3
        assert int(np.sum(coupling < 1e-10)) == n - 3
        decoupled = np.asarray(modes.frequencies)[coupling < 1e-10]
        np.testing.assert_allclose(decoupled, np.sqrt(n * 1.0 / (n - 1) + k0), rtol=1e-12)
        # total coupling = γ/m on each side (completeness of the eigenvectors)
        assert float(np.sum(modes.coupling_left)) == pytest.approx(1.0, rel=1e-12)


def test_normal_modes_disordered_all_coupled_and_match_numpy():
    masses = make("random", 20, seed=2)
    chain = mf.MeanFieldChain(masses, k=1.0, k0=0.3)
    modes = mf.normal_modes(chain)
    assert np.all(np.asarray(modes.coupling_left + modes.coupling_right) > 1e-12)
    kmat = ref.chain_stiffness(masses, 1.0, 0.3, "kac")
    omega2 = np.sort(np.linalg.eigvals(np.linalg.solve(np.diag(masses), kmat)).real)
    np.testing.assert_allclose(np.asarray(modes.frequencies) ** 2, omega2, rtol=1e-10)


@pytest.mark.parametrize("masses, k, k0, n_tilde, gamma, k_prime", list(extreme_cases(seed=7)))
def test_equilibrium_exact_in_extreme_regimes(masses, k, k0, n_tilde, gamma, k_prime):
    """T_L = T_R = T ⇒ every T_n = T exactly: an exact invariant, also where Lyapunov fails
    (γ = 1e-3 with strong disorder; measured worst 5e-14 over 40 random extreme cases)."""
    chain = mf.MeanFieldChain(masses, k=k, k0=k0, n_tilde=n_tilde, gamma=gamma, k_prime=k_prime,
                              t_left=0.7, t_right=0.7)
    r = mf.local_temperatures_with_error(chain)
    assert bool(r.converged)
    assert np.max(np.abs(np.asarray(r.temperatures) - 0.7)) <= 1e-10
