"""Core solver (issue 2): transmittance and exact heat flux against independent references.

References (tests/reference_numpy.py, never imports meanfield_jax): dense numpy solves of
Z(ω); scipy's Lyapunov solver with long-double iterative refinement; scipy quad with
breakpoints at every pole; mpmath integration of the paper's Eqs. (20)–(22).
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf
import reference_numpy as ref
from cases import extreme_cases


def chain_and_ref(masses, k=0.7, k0=0.0, n_tilde="kac", gamma=1.0, k_prime=0.0,
                  t_left=1.0, t_right=0.0):
    chain = mf.MeanFieldChain(masses, k=k, k0=k0, n_tilde=n_tilde, gamma=gamma,
                              k_prime=k_prime, t_left=t_left, t_right=t_right)
    kmat = ref.chain_stiffness(masses, k, k0, n_tilde)
    return chain, kmat


def masses_of(kind, n, seed=0):
    if kind == "identical":
        return np.ones(n)
    if kind == "graded":
        return ref.graded_masses(n, 1.0, 0.1)
    if kind == "random":
        return ref.random_masses(n, 1.0, 0.1, seed=seed)
    if kind == "strong":
        return ref.random_masses(n, 1.0, 0.6, seed=seed)
    raise ValueError(kind)


# ----------------------------------------------------------------------------- x64, inputs


def test_float64_enabled_by_import():
    chain = mf.MeanFieldChain([1.0, 2.0, 3.0])
    assert chain.masses.dtype == jnp.float64
    assert mf.transmittance(chain, 0.3).dtype == jnp.float64
    assert mf.heat_flux(chain).dtype == jnp.float64


@pytest.mark.parametrize("kwargs, name", [
    (dict(masses=[1.0, -1.0, 1.0]), "masses"),
    (dict(masses=[1.0, 0.0, 1.0]), "masses"),
    (dict(masses=[1.0, np.nan, 1.0]), "masses"),
    (dict(masses=[1.0, np.inf, 1.0]), "masses"),
    (dict(masses=[1.0]), "N >= 2"),
    (dict(masses=[1.0, 1.0], gamma=0.0), "gamma"),
    (dict(masses=[1.0, 1.0], gamma=-1.0), "gamma"),
    (dict(masses=[1.0, 1.0], gamma=np.nan), "gamma"),
    (dict(masses=[1.0, 1.0], k=-0.1), "k "),
    (dict(masses=[1.0, 1.0], k0=-0.1), "k0"),
    (dict(masses=[1.0, 1.0], k_prime=-0.1), "k_prime"),
    (dict(masses=[1.0, 1.0], t_left=-1.0), "t_left"),
    (dict(masses=[1.0, 1.0], t_right=-1.0), "t_right"),
    (dict(masses=[1.0, 1.0], n_tilde=0.0), "n_tilde"),
    (dict(masses=[1.0, 1.0], n_tilde=-2.0), "n_tilde"),
    (dict(masses=[1.0, 1.0], n_tilde="cac"), "n_tilde"),
])
def test_bad_chain_input_raises_naming_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name.strip() if name != "k " else r"^k must"):
        mf.MeanFieldChain(**kwargs)


def test_bad_network_input_raises():
    with pytest.raises(ValueError, match="symmetric"):
        mf.HarmonicNetwork([1.0, 1.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        mf.HarmonicNetwork([1.0, 1.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="N×N"):
        mf.HarmonicNetwork([1.0, 1.0, 1.0], np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        mf.HarmonicNetwork([1.0, 1.0], [[np.nan, 0.0], [0.0, 1.0]])


def test_nan_frequency_raises():
    chain = mf.MeanFieldChain([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="omega"):
        mf.transmittance(chain, np.array([0.1, np.nan]))


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method"):
        mf.heat_flux(mf.MeanFieldChain([1.0, 1.0]), method="magic")
    with pytest.raises(ValueError, match="method"):
        mf.heat_flux(mf.MeanFieldChain([1.0, 1.0]).to_network(), method="magic")


# ----------------------------------------------------------------------------- Z, G, T


@pytest.mark.parametrize("n", [2, 3, 7, 40])
@pytest.mark.parametrize("kind", ["identical", "random"])
def test_dynamical_matrix_and_greens_function_match_dense(n, kind):
    masses = masses_of(kind, n)
    chain, kmat = chain_and_ref(masses, k=0.4, k0=0.2, k_prime=0.3, gamma=0.7)
    for omega in [0.0, 0.13, 0.9, 3.1]:
        z_ref = ref.z_matrix(masses, kmat, 0.7, 0.3, omega)
        np.testing.assert_allclose(mf.dynamical_matrix(chain, omega), z_ref, rtol=0, atol=1e-14)
        g = np.asarray(mf.greens_function(chain, omega))
        g_ref = np.linalg.inv(z_ref)
        assert np.max(np.abs(g - g_ref)) <= 1e-11 * np.max(np.abs(g_ref))


TRANSMITTANCE_CASES = list(itertools.product(
    [2, 3, 20, 150], ["identical", "graded", "random"], [0.0, 0.3], ["kac", 1.0], [0.0, 0.5]))


@pytest.mark.parametrize("n, kind, k0, n_tilde, k_prime", TRANSMITTANCE_CASES)
def test_structured_transmittance_matches_dense_solves(n, kind, k0, n_tilde, k_prime):
    """O(N) Sherman–Morrison T(ω) vs dense LU, 1e-10 relative (dense is the less accurate)."""
    masses = masses_of(kind, n, seed=n)
    chain, kmat = chain_and_ref(masses, k=0.5, k0=k0, n_tilde=n_tilde, gamma=0.8,
                                k_prime=k_prime)
    omegas = np.concatenate([np.linspace(0.0, 4.0, 41), [1e-3, 0.05, 10.0, 100.0]])
    t = np.asarray(mf.transmittance(chain, omegas))
    t_ref = ref.transmittance_dense(masses, kmat, 0.8, k_prime, omegas)
    # Dense LU loses digits in the ω⁻⁶ tail (checked against 40-digit mpmath at ω = 100,
    # N = 150: the structured value is right to 1e-15, LU to 1e-10): 1e-8 where T < 1e-12.
    deep_tail = t_ref < 1e-12
    np.testing.assert_allclose(t[~deep_tail], t_ref[~deep_tail], rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(t[deep_tail], t_ref[deep_tail], rtol=1e-8, atol=1e-300)
    assert np.all((t >= 0) & (t <= 1 + 1e-12))


def test_transmittance_zero_frequency_limits():
    # k0 = 0, identical masses: T(0) = 1 exactly (Eq. 23's absolute maximum, T = 1)
    chain = mf.MeanFieldChain(np.ones(50), k=0.1, k0=0.0)
    assert abs(float(mf.transmittance(chain, 0.0)) - 1.0) < 1e-13
    # pinned: T(0) = 0
    assert float(mf.transmittance(chain.replace(k0=0.02), 0.0)) == 0.0
    # network path, zero mode: limit taken, no NaN
    t0 = float(mf.transmittance(chain.to_network(), 0.0))
    assert abs(t0 - 1.0) < 1e-8
    # exactly at a bulk resonance T = 0, not NaN
    w_bulk = np.sqrt((50 * 0.1 / 49) / 1.0)
    assert float(mf.transmittance(chain, w_bulk)) == pytest.approx(0.0, abs=1e-20)


def test_transmittance_identical_matches_eq20():
    for n, k0, nt in itertools.product([4, 30, 1000], [0.0, 0.02, 1.0], ["kac", 1.0]):
        chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=k0, n_tilde=nt)
        omegas = np.linspace(0.001, 3.0, 200)
        t_ref = ref.transmittance_identical(omegas, n, 1.0, 0.1, k0, nt, 1.0)
        np.testing.assert_allclose(mf.transmittance(chain, omegas), t_ref, rtol=1e-11)


# ----------------------------------------------------------------------------- heat flux

FLUX_CASES = list(itertools.product(
    [2, 3, 5, 20, 60], ["graded", "random", "strong"], [0.0, 0.3], ["kac", 1.0], [0.0, 0.5]))


@pytest.mark.parametrize("n, kind, k0, n_tilde, k_prime", FLUX_CASES)
def test_flux_matches_refined_lyapunov(n, kind, k0, n_tilde, k_prime):
    masses = masses_of(kind, n, seed=7 * n + 1)
    chain, kmat = chain_and_ref(masses, k=0.6, k0=k0, n_tilde=n_tilde, gamma=0.9,
                                k_prime=k_prime, t_left=1.3, t_right=0.4)
    r = mf.heat_flux_with_error(chain)
    expected = ref.lyapunov_steady_state(masses, kmat, 0.9, 1.3, 0.4, k_prime)["flux"]
    assert bool(r.converged)
    assert abs(float(r.flux) - expected) <= 1e-9 * abs(expected)
    assert float(r.error_estimate) <= 1e-10 * abs(expected)


@pytest.mark.parametrize("n, kind, k0", [(12, "random", 0.0), (9, "graded", 0.4),
                                         (15, "strong", 0.1)])
def test_flux_matches_pole_aware_quadrature(n, kind, k0):
    masses = masses_of(kind, n, seed=n)
    chain, kmat = chain_and_ref(masses, k=0.3, k0=k0, gamma=1.2)
    expected, err = ref.flux_quad(masses, kmat, 1.2, 1.0, 0.0, 0.0)
    assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-9 * abs(expected) + 2 * err


IDENTICAL_CASES = [  # N = 1000 is slow (~15 s of compilation each); N <= 100 stays default
    pytest.param(*case, marks=pytest.mark.slow) if case[0] == 1000 else case
    for case in itertools.product([2, 3, 4, 10, 100, 1000], [0.0, 0.02, 1.0], ["kac", 1.0])]


@pytest.mark.parametrize("n, k0, n_tilde", IDENTICAL_CASES)
def test_identical_masses_flux_matches_mpmath_closed_form(n, k0, n_tilde):
    """Identical masses: N−3 decoupled modes; the paper's particular solution (Eqs. 15–16)."""
    chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=k0, n_tilde=n_tilde)
    # 30-digit residues of the closed form (the 30-digit quadrature agrees; it is slow)
    expected = ref.identical_masses_flux_residues(n, 1.0, 0.1, k0, n_tilde, 1.0, 1.0, 0.0)
    r = mf.heat_flux_with_error(chain)
    assert bool(r.converged)
    assert abs(float(r.flux) - expected) <= 1e-10 * expected


@pytest.mark.parametrize("n, k0", [(4, 0.02), (100, 0.0)])
def test_identical_masses_flux_matches_mpmath_quadrature(n, k0):
    chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=k0)
    expected = ref.identical_masses_flux_quad(n, 1.0, 0.1, k0, "kac", 1.0, 1.0, 0.0)
    assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-10 * expected


@pytest.mark.slow  # ~1 min; narrow peaks stay in the default N = 100 closed forms (and the extreme box)
def test_identical_masses_large_n_narrow_peak():
    """N = 10⁵ identical masses: the Lorentzian of width ~1e-5 (Eq. 24) is integrated exactly."""
    n = 100_000
    for k0 in [0.0, 0.02]:
        chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=k0)
        expected = ref.identical_masses_flux_residues(n, 1.0, 0.1, k0, "kac", 1.0, 1.0, 0.0)
        assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-10 * expected


def test_alternating_and_duplicate_masses():
    """Two distinct bulk masses (N/2-fold degenerate poles) and a few repeated ones."""
    n = 30
    alternating = np.where(np.arange(n) % 2 == 0, 1.0, 1.7)
    chain = mf.MeanFieldChain(alternating, k=0.5, k0=0.1)
    expected = ref.flux_quad(alternating, ref.chain_stiffness(n, 0.5, 0.1), 1.0, 1.0, 0.0)[0]
    assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-9 * expected
    # random masses with some bulk duplicates
    masses = ref.random_masses(n, 1.0, 0.1, seed=3)
    masses[5] = masses[9] = masses[17]
    chain = mf.MeanFieldChain(masses, k=0.5, k0=0.1)
    expected = ref.flux_quad(masses, ref.chain_stiffness(n, 0.5, 0.1), 1.0, 1.0, 0.0)[0]
    assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-9 * expected


@pytest.mark.parametrize("gamma", [0.02, 0.3, 5.0, 40.0])
def test_weak_and_strong_damping(gamma):
    masses = masses_of("random", 25, seed=11)
    chain, kmat = chain_and_ref(masses, k=0.5, k0=0.2, gamma=gamma)
    expected = ref.lyapunov_steady_state(masses, kmat, gamma, 1.0, 0.0)["flux"]
    assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-9 * expected


@pytest.mark.slow  # 10 s; refined-Lyapunov agreement at small N stays default
def test_flux_large_random_chain_matches_refined_lyapunov():
    """N = 300, δ = 0.1: resonances ~1e-9 wide; refined Lyapunov is accurate to ~1e-12 here."""
    masses = masses_of("random", 300, seed=6)  # seed with the oracle still well-posed
    chain, kmat = chain_and_ref(masses, k=0.1, k0=0.02)
    expected = ref.lyapunov_steady_state(masses, kmat, 1.0, 1.0, 0.0)["flux"]
    assert abs(float(mf.heat_flux(chain)) - expected) <= 1e-9 * expected


def test_flux_method_lyapunov_agrees_with_residues():
    for kind in ["identical", "random"]:
        masses = masses_of(kind, 16)
        chain = mf.MeanFieldChain(masses, k=0.3, k0=0.1, k_prime=0.2)
        a = float(mf.heat_flux(chain))
        b = float(mf.heat_flux(chain, method="lyapunov"))
        assert abs(a - b) <= 1e-9 * a


def test_flux_physical_invariants():
    masses = masses_of("random", 40, seed=2)
    chain = mf.MeanFieldChain(masses, k=0.2, k0=0.05, t_left=2.0, t_right=0.5)
    j = float(mf.heat_flux(chain))
    assert j > 0
    swapped = float(mf.heat_flux(chain.replace(t_left=0.5, t_right=2.0)))
    assert swapped == pytest.approx(-j, rel=1e-13)
    doubled = float(mf.heat_flux(chain.replace(t_left=3.5, t_right=0.5)))
    assert doubled == pytest.approx(2 * j, rel=1e-13)
    assert float(mf.heat_flux(chain.replace(t_left=0.7, t_right=0.7))) == 0.0
    # k = 0: no coupling, no flux, no NaN
    assert float(mf.heat_flux(chain.replace(k=0.0))) == 0.0
    # Landauer bound: 0 <= T <= 1 ⇒ flux below the ballistic bound of the integrated band


def test_flux_is_integral_of_transmittance():
    """Eq. (16) by brute-force trapezoid on a fine grid for a small, broad-peaked chain."""
    chain = mf.MeanFieldChain([1.0, 1.3, 0.8, 1.1], k=1.0, k0=0.5, gamma=1.0)
    omegas = np.linspace(0, 60, 600_001)
    t = np.asarray(mf.transmittance(chain, omegas))
    integral = 2 * np.trapezoid(t, omegas)
    # tail beyond 60 ~ ω^-5 contribution, negligible at 1e-8
    assert float(mf.heat_flux(chain)) == pytest.approx(integral / (4 * np.pi), rel=1e-8)


# ----------------------------------------------------------------------------- transforms


def test_jit_equals_eager_and_vmap_equals_loop():
    systems = [mf.MeanFieldChain(masses_of("random", 24, seed=s), k=0.3, k0=0.1)
               for s in range(5)]
    batch = mf.stack_systems(systems)
    looped = np.array([float(mf.heat_flux(s)) for s in systems])
    vmapped = np.asarray(jax.vmap(mf.heat_flux)(batch))
    np.testing.assert_allclose(vmapped, looped, rtol=1e-13)
    omegas = jnp.linspace(0, 2, 33)
    t_batch = jax.vmap(mf.transmittance, in_axes=(0, None))(batch, omegas)
    t_loop = np.stack([np.asarray(mf.transmittance(s, omegas)) for s in systems])
    np.testing.assert_allclose(t_batch, t_loop, rtol=1e-14)
    t_vmap_omega = jax.vmap(mf.transmittance, in_axes=(None, 0))(systems[0], omegas)
    np.testing.assert_allclose(t_vmap_omega, t_loop[0], rtol=1e-14)
    with jax.disable_jit():  # (eager heat_flux: test_eager_heat_flux_equals_jit, slow)
        eager_t = np.asarray(mf.transmittance(systems[1], omegas[:5]))
    np.testing.assert_allclose(eager_t, t_loop[1][:5], rtol=1e-13)


@pytest.mark.slow  # ~20 s at any N: op-by-op, every primitive of the pole solver compiles
def test_eager_heat_flux_equals_jit():
    chain = mf.MeanFieldChain(masses_of("random", 24, seed=1), k=0.3, k0=0.1)
    with jax.disable_jit():
        eager = float(mf.heat_flux(chain))
    assert eager == pytest.approx(float(mf.heat_flux(chain)), rel=1e-12)


def test_new_values_same_shape_do_not_recompile():
    from meanfield_jax import _transport

    chain = mf.MeanFieldChain(masses_of("random", 33, seed=1), k=0.3, k0=0.1)
    mf.heat_flux(chain)
    mf.transmittance(chain, jnp.linspace(0, 1, 7))
    n_flux = _transport.flux_residues._cache_size()
    n_t = _transport.transmittance_grid._cache_size()
    for s in range(3):
        other = mf.MeanFieldChain(masses_of("random", 33, seed=10 + s), k=0.2 + s, k0=0.3 * s,
                                  n_tilde=1.0 + s, gamma=0.5 + s, t_left=2.0, k_prime=0.1 * s)
        mf.heat_flux(other)
        mf.transmittance(other, jnp.linspace(0, 2, 7))
    assert _transport.flux_residues._cache_size() == n_flux
    assert _transport.transmittance_grid._cache_size() == n_t


def test_gradients_match_finite_differences():
    masses = masses_of("random", 12, seed=4)

    def flux(p):
        return mf.heat_flux(mf.MeanFieldChain(p["m"], k=p["k"], k0=p["k0"], gamma=p["g"],
                                              k_prime=0.2, n_tilde=1.0))

    p = {"m": jnp.asarray(masses), "k": 0.4, "k0": 0.3, "g": 0.8}
    grad = jax.grad(flux)(p)
    h = 1e-6
    for name in ["k", "k0", "g"]:
        fd = (flux({**p, name: p[name] + h}) - flux({**p, name: p[name] - h})) / (2 * h)
        assert float(grad[name]) == pytest.approx(float(fd), rel=1e-6)
    for i in [0, 5, 11]:
        e = np.zeros(12)
        e[i] = h
        fd = (flux({**p, "m": p["m"] + e}) - flux({**p, "m": p["m"] - e})) / (2 * h)
        assert float(grad["m"][i]) == pytest.approx(float(fd), rel=1e-5)


def test_stiffness_matrix_is_eq1():
    chain = mf.MeanFieldChain([1.0, 2.0, 3.0, 4.0], k=0.6, k0=0.1, n_tilde="kac")
    np.testing.assert_allclose(chain.stiffness_matrix(), ref.chain_stiffness(4, 0.6, 0.1, "kac"),
                               atol=1e-15)


@pytest.mark.parametrize("masses, k, k0, n_tilde, gamma, k_prime", list(extreme_cases()))
def test_flux_extreme_parameters_match_pole_aware_quadrature(masses, k, k0, n_tilde, gamma,
                                                             k_prime):
    chain = mf.MeanFieldChain(masses, k=k, k0=k0, n_tilde=n_tilde, gamma=gamma, k_prime=k_prime)
    kmat = ref.chain_stiffness(masses, k, k0, n_tilde)
    expected, err = ref.flux_quad(masses, kmat, gamma, 1.0, 0.0, k_prime,
                                  method="sherman_morrison")
    r = mf.heat_flux_with_error(chain)
    assert bool(r.converged)
    assert abs(float(r.flux) - expected) <= 1e-9 * abs(expected) + 2 * err
