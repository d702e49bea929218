"""Harmonic networks: constructors (meanfield_jax.networks) and the secular normal-mode solver.

References: the refined Lyapunov oracle of tests/reference_numpy.py (long-double residual
refinement; never imports the package), dense NumPy transmittance, the mean-field chain's
own residue solver (α = 0), and the closed form of the ordered free-end chain.
Tolerances: J 1e-9 relative and T_n 1e-8 absolute (issue 13's acceptance); T(ω) 1e-9.
Default tests use one size N = 9 (each new N compiles the solver again); other sizes,
vmap/ensembles and gradients are marked slow (their compilations take 20–50 s on 2 cores).
"""

import math

import jax
import jax.numpy as jnp

import numpy as np
import pytest

import meanfield_jax as mf
import reference_numpy as ref
from compile_log import compile_log
from meanfield_jax import networks

RNG = np.random.default_rng(13)


def _oracle(net):
    m = np.asarray(net.masses)
    return ref.lyapunov_steady_state(m, np.asarray(net.stiffness), float(net.gamma),
                                     float(net.t_left), float(net.t_right), float(net.k_prime))


def _check_against_oracle(net, rtol_j=1e-9, atol_t=1e-8):
    expected = _oracle(net)
    flux = mf.heat_flux_with_error(net)
    temps = mf.local_temperatures_with_error(net)
    assert bool(flux.converged) and bool(temps.converged)
    assert float(flux.flux) == pytest.approx(expected["flux"], rel=rtol_j)
    np.testing.assert_allclose(temps.temperatures, expected["temperatures"], rtol=0, atol=atol_t)
    # the error estimate never lies (the oracle is accurate to ~1e-15 relative)
    assert abs(float(flux.flux) - expected["flux"]) <= float(flux.error_estimate) + 1e-14 * abs(
        expected["flux"])
    # nor does T_n's, at every site, up to the oracle's own uncertainty (its last refinement
    # correction: long-double level where the refinement converged)
    corrections = expected["correction_norms"]
    slack = 2.0 * (corrections[-1] if corrections else 0.0) + 1e-14 * max(
        float(net.t_left), float(net.t_right))
    diff = np.abs(np.asarray(temps.temperatures) - expected["temperatures"])
    assert np.all(diff <= np.asarray(temps.error_estimate) + slack), (diff.max(), slack)


# One size (N = 9) for most tests: each new N compiles the solver again (~5 s on 2 cores).
N = 9


@pytest.mark.parametrize("n", [pytest.param(2, marks=pytest.mark.slow), N])
@pytest.mark.parametrize("k_prime", [0.0, 0.4])
def test_random_springs_match_refined_lyapunov(n, k_prime):
    masses = RNG.uniform(0.5, 1.5, n)
    net = networks.random_springs(jax.random.key(n), masses, gamma=0.7, t_left=1.3,
                                  t_right=0.4, k_prime=k_prime)
    _check_against_oracle(net)


def test_free_form_network_temperatures_and_flux():
    """A network given by its stiffness matrix (a nearest-neighbour chain with wall
    springs, random masses): T_n and J against the oracle."""
    kmat = 2 * np.eye(N) - np.eye(N, k=1) - np.eye(N, k=-1)
    masses = np.random.default_rng(9).uniform(0.5, 1.5, N)
    net = mf.HarmonicNetwork(masses, kmat, gamma=0.7, t_left=2.0, t_right=1.0, k_prime=0.5)
    _check_against_oracle(net, rtol_j=1e-10, atol_t=1e-10)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("n_tilde", ["kac", 1.0])
@pytest.mark.parametrize("k0", [0.0, 0.3])
def test_power_law_matches_refined_lyapunov(alpha, n_tilde, k0):
    masses = RNG.uniform(0.9, 1.1, N)
    net = networks.power_law(masses, alpha, k=1.2, k0=k0, n_tilde=n_tilde, gamma=0.8,
                             t_left=2.0, t_right=0.5)
    _check_against_oracle(net)


@pytest.mark.parametrize("kind", ["identical", "random"])
@pytest.mark.parametrize("k0, k_prime, gamma", [(0.0, 0.0, 1.0), (0.3, 0.2, 0.5),
                                                 (0.0, 0.0, 5.0)])
def test_power_law_alpha_zero_is_the_mean_field_chain(kind, k0, k_prime, gamma):
    """α = 0 with the Kac factor is MeanFieldChain(Ñ = N − 1) exactly; identical masses have
    N − 3 modes decoupled from the baths (deflated: they keep zero energy)."""
    n = N
    masses = np.ones(n) if kind == "identical" else RNG.uniform(0.9, 1.1, n)
    kw = dict(k=1.3, k0=k0, gamma=gamma, t_left=1.5, t_right=0.5, k_prime=k_prime)
    chain = mf.MeanFieldChain(masses, **kw)
    net = networks.power_law(masses, 0.0, **kw)
    np.testing.assert_allclose(net.stiffness, chain.stiffness_matrix(), rtol=0, atol=1e-15)
    assert float(mf.heat_flux(net)) == pytest.approx(float(mf.heat_flux(chain)), rel=1e-12)
    np.testing.assert_allclose(mf.local_temperatures(net), mf.local_temperatures(chain),
                               rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("n", [300, 1000])
@pytest.mark.parametrize("n_tilde", ["kac", 1.0])
def test_power_law_alpha_zero_converged_at_large_n(n, n_tilde):
    """Issue 27: the mean-field chain as a network (random masses δ = 0.1, weak coupling,
    pinned) equals MeanFieldChain to 1e-12 and is converged. At N = 300, Kac, its two
    overdamped zeros 0.1401i and 0.1363i (0.027 of their distance to the other poles: a
    candidate pair) had residues ±3.5e-4 cancelling to a bound of 1.4e-8 of J."""
    masses = 1.0 + 0.1 * np.random.default_rng(n).uniform(-1.0, 1.0, n)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=0.02, n_tilde=n_tilde)
    net = networks.power_law(masses, 0.0, k=0.1, k0=0.02, n_tilde=n_tilde)
    r_chain, r_net = mf.heat_flux_with_error(chain), mf.heat_flux_with_error(net)
    assert bool(r_chain.converged) and bool(r_net.converged)
    assert float(r_net.flux) == pytest.approx(float(r_chain.flux), rel=1e-12)
    assert float(r_net.error_estimate) <= 1e-10 * abs(float(r_net.flux))


@pytest.mark.parametrize("n", [pytest.param(2, marks=pytest.mark.slow), N,
                               pytest.param(40, marks=pytest.mark.slow)])
# the last three: strong damping, where the two end modes ω ≈ iγ/m form a near-degenerate
# pair of zeros (split ~1e-6 at N = 7, k = 0.1, γ = 1, less at larger N): the circle rule for
# J and for T_n
@pytest.mark.parametrize("m, k, gamma", [(1.0, 1.0, 1.0), (2.0, 0.5, 0.3), (1.0, 0.1, 1.0),
                                         (1.0, 0.02, 3.0), (0.5, 0.01, 10.0)])
def test_ordered_free_chain_closed_form(n, m, k, gamma):
    """Ordered nearest-neighbour chain, free ends: J = kγΔT/(2(km + γ²)) at every N, converged,
    within its error estimate, and the estimate small; T_n against the oracle, converged."""
    net = networks.nearest_neighbour(np.full(n, m), k=k, gamma=gamma, t_left=1.7, t_right=0.2)
    expected = k * gamma * 1.5 / (2.0 * (k * m + gamma**2))
    result = mf.heat_flux_with_error(net)
    assert bool(result.converged)
    assert float(result.flux) == pytest.approx(expected, rel=1e-12)
    assert abs(float(result.flux) - expected) <= float(result.error_estimate) + 4e-16 * expected
    assert float(result.error_estimate) <= 1e-10 * expected
    temps = mf.local_temperatures_with_error(net)
    oracle = _oracle(net)["temperatures"]
    assert bool(temps.converged)
    np.testing.assert_allclose(temps.temperatures, oracle, rtol=0, atol=1e-12)
    assert np.all(np.abs(np.asarray(temps.temperatures) - oracle)
                  <= np.asarray(temps.error_estimate) + 1e-14)



def rieder_lebowitz_lieb(m, k, gamma):
    """J/ΔT of the infinite ordered chain with fixed ends (Rieder, Lebowitz & Lieb 1967):
    (k/2γ)[1 + ν/2 − (ν/2)√(1 + 4/ν)], ν = km/γ², written as (k/2γ)(4/ν)/(1 + s)²,
    s = √(1 + 4/ν), free of the cancellation at weak damping."""
    nu = k * m / gamma**2
    return k / (2.0 * gamma) * (4.0 / nu) / (1.0 + math.sqrt(1.0 + 4.0 / nu)) ** 2


@pytest.mark.parametrize("m, k, gamma", [(1.0, 1.0, 1.0), (0.7, 2.0, 0.1), (2.0, 0.3, 0.02),
                                         (1.3, 0.5, 2.0), (1.0, 1.0, 5.0)])
def test_ordered_fixed_chain_rieder_lebowitz_lieb_limit(m, k, gamma):
    """Ordered chain with fixed ends (wall springs k' = k), identical masses (decoupled
    modes): J at N = 64 equals the N → ∞ limit of Rieder–Lebowitz–Lieb to 1e-10 (the
    finite-N correction decays exponentially; at γ = 5 it is still 4e-12 here)."""
    net = networks.nearest_neighbour(np.full(64, m), k=k, gamma=gamma, k_prime=k)
    result = mf.heat_flux_with_error(net)
    assert bool(result.converged)
    assert float(result.flux) == pytest.approx(rieder_lebowitz_lieb(m, k, gamma), rel=1e-10)

@pytest.mark.parametrize("k_prime", [0.0, 1.0])
def test_disordered_nearest_neighbour_matches_refined_lyapunov(k_prime):
    net = networks.nearest_neighbour(RNG.uniform(0.5, 1.5, N), k=1.0, gamma=1.0,
                                     t_left=1.0, t_right=0.0, k_prime=k_prime)
    _check_against_oracle(net)


@pytest.mark.parametrize("gamma", [1e-3, 30.0])
def test_weak_and_strong_damping(gamma):
    net = networks.nearest_neighbour(RNG.uniform(0.8, 1.2, N), gamma=gamma, t_left=1.0,
                                     t_right=0.0, k_prime=1.0)
    _check_against_oracle(net, rtol_j=1e-9, atol_t=1e-8)


def test_invariants_random_springs():
    masses = RNG.uniform(0.5, 1.5, N)
    key = mf.masses.realization_key(3, N, 0)
    net = networks.random_springs(key, masses, t_left=2.0, t_right=0.5)
    t = np.asarray(mf.local_temperatures(net))
    assert np.all(t <= 2.0 + 1e-12) and np.all(t >= 0.5 - 1e-12)
    j = float(mf.heat_flux(net))
    # energy balance at both baths
    m = np.asarray(masses)
    assert j == pytest.approx(1.0 / m[0] * (2.0 - t[0]), rel=1e-12)
    assert j == pytest.approx(1.0 / m[-1] * (t[-1] - 0.5), rel=1e-9)
    # linear in ΔT, antisymmetric under swapping the baths
    swapped = float(mf.heat_flux(net.replace(t_left=0.5, t_right=2.0)))
    assert swapped == pytest.approx(-j, rel=1e-12)
    # equilibrium: every T_n equals T
    eq = mf.local_temperatures(net.replace(t_left=0.8, t_right=0.8))
    np.testing.assert_allclose(eq, 0.8, rtol=0, atol=1e-11)
    # reproducible from the realization key
    again = networks.random_springs(mf.masses.realization_key(3, N, 0), masses)
    np.testing.assert_array_equal(again.stiffness, net.stiffness)


@pytest.mark.parametrize("k0, k_prime", [(0.0, 0.0), (0.2, 0.5)])
def test_transmittance_matches_dense(k0, k_prime):
    masses = RNG.uniform(0.5, 1.5, N)
    net = networks.power_law(masses, 1.0, k0=k0, k_prime=k_prime, gamma=0.6)
    omega = np.concatenate([[0.0], np.linspace(0.01, 3.0, 200)])
    got = np.asarray(mf.transmittance(net, omega))
    want = ref.transmittance_dense(np.asarray(masses), np.asarray(net.stiffness), 0.6, k_prime,
                                   omega)
    if k0 == 0 and k_prime == 0:  # dense solve at ω = 0 is singular; its limit is finite
        want[0] = ref.transmittance_dense(np.asarray(masses), np.asarray(net.stiffness), 0.6,
                                          0.0, [1e-7])[0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.all((got >= 0) & (got <= 1 + 1e-12))
    dense = np.asarray(mf.transmittance(net, omega[1:], method="dense"))
    np.testing.assert_allclose(got[1:], dense, rtol=1e-9, atol=1e-12)


def test_identical_nearest_neighbour_transmittance_at_zero_is_one():
    net = networks.nearest_neighbour(np.ones(N))
    assert float(mf.transmittance(net, 0.0)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.slow  # compiles the vmapped solver (~30 s on 2 shared cores)
def test_vmap_and_jit_over_stacked_networks():
    nets = [networks.random_springs(jax.random.key(i), RNG.uniform(0.5, 1.5, N),
                                    t_left=1.0, t_right=0.0) for i in range(3)]
    batch = mf.stack_systems(nets)
    mapped = jax.vmap(mf.heat_flux_with_error)(batch)
    loop = [float(mf.heat_flux(s)) for s in nets]
    np.testing.assert_allclose(mapped.flux, loop, rtol=1e-13)
    assert bool(jnp.all(mapped.converged))
    ens = mf.ensemble_flux(batch, chunk_size=2)
    np.testing.assert_allclose(ens.flux, loop, rtol=1e-13)


@pytest.mark.slow  # compiles reverse mode of the solver (~50 s on 2 shared cores)
def test_gradient_matches_finite_differences():
    masses = jnp.asarray(RNG.uniform(0.5, 1.5, 6))
    springs = RNG.uniform(0.0, 1.0, (6, 6))
    springs = np.triu(springs, 1) + np.triu(springs, 1).T

    def flux(m, gamma):
        net = networks.from_springs(m, springs, gamma=gamma, t_left=1.0, t_right=0.0)
        return mf.heat_flux_with_error(net).flux

    g_m, g_gamma = jax.grad(flux, argnums=(0, 1))(masses, 0.7)
    h = 1e-6
    for i in (0, 2, 5):
        e = jnp.zeros(6).at[i].set(h)
        fd = (flux(masses + e, 0.7) - flux(masses - e, 0.7)) / (2 * h)
        assert float(g_m[i]) == pytest.approx(float(fd), rel=1e-6, abs=1e-10)
    fd = (flux(masses, 0.7 + h) - flux(masses, 0.7 - h)) / (2 * h)
    assert float(g_gamma) == pytest.approx(float(fd), rel=1e-6)


@pytest.mark.slow  # compiles reverse mode of the solver
def test_gradient_through_a_near_degenerate_pair():
    """dJ/dγ and dJ/dk of the strongly damped ordered chain (its end modes form a pair:
    the circle rule carries the derivative) against the closed form
    J = kγΔT/(2(km + γ²))."""
    def flux(k, gamma):
        net = networks.nearest_neighbour(jnp.ones(N), k=k, gamma=gamma, t_left=1.0,
                                         t_right=0.0)
        return mf.heat_flux_with_error(net).flux

    k, gamma = 0.1, 1.0
    g_k, g_gamma = jax.grad(flux, argnums=(0, 1))(k, gamma)
    den = k + gamma**2
    assert float(g_gamma) == pytest.approx(k * (k - gamma**2) / (2 * den**2), rel=1e-9)
    assert float(g_k) == pytest.approx(gamma**3 / (2 * den**2), rel=1e-9)


def test_lyapunov_method_still_available():
    net = networks.nearest_neighbour(RNG.uniform(0.8, 1.2, N), t_left=1.0, t_right=0.0)
    a = float(mf.heat_flux(net))
    b = float(mf.heat_flux(net, method="lyapunov"))
    assert a == pytest.approx(b, rel=1e-9)


def test_constructors_validate():
    with pytest.raises(ValueError, match="alpha"):
        networks.power_law([1.0, 1.0], -1.0)
    with pytest.raises(ValueError, match="n_tilde"):
        networks.power_law([1.0, 1.0], 1.0, n_tilde="bad")
    with pytest.raises(ValueError, match="gamma"):
        networks.nearest_neighbour([1.0, 1.0], gamma=0.0)
    with pytest.raises(ValueError, match="springs"):
        networks.from_springs([1.0, 1.0], [[0.0, -1.0], [-1.0, 0.0]])
    assert float(networks.kac_factor(7, 0.0)) == pytest.approx(6.0)


@pytest.mark.slow
@pytest.mark.parametrize("n", [100, 300])
def test_larger_random_springs_match_refined_lyapunov(n):
    net = networks.random_springs(mf.masses.realization_key(0, n, 0), RNG.uniform(0.5, 1.5, n),
                                  t_left=1.0, t_right=0.0)
    _check_against_oracle(net)


@pytest.mark.slow  # 8 s; network sweeps padding a step bucket stay default
def test_padded_network_equals_exact_size(monkeypatch):
    """Size buckets for networks (``_buckets.pad_network``: N = 9 and 11 → 16 free
    particles appended, their block kept apart by eigh): J, T_n and T(ω) equal the exact-N
    programs (J 1e-13 relative, T(ω) 1e-13, T_n 1e-11: the secular T_n itself is accurate
    to ~1e-11 here), same status, for random springs with walls and pinning, a free
    power-law chain (zero mode) and the strongly damped ordered chain (a near-degenerate
    pair); the second N of the bucket compiles no flux program."""
    omega = np.linspace(0.05, 2.5, 9)
    key = mf.masses.realization_key(3, N, 0)
    masses = np.asarray(mf.masses.uniform(key, N, 1.0, 0.5))
    cases = [networks.random_springs(key, masses, k0=0.3, k_prime=0.2, t_left=1.0,
                                     t_right=0.0),
             networks.power_law(masses, 1.0, k0=0.0),
             networks.nearest_neighbour(np.ones(N), k=0.1, gamma=1.0)]
    for net in cases:
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
        ref = (mf.heat_flux_with_error(net), mf.local_temperatures_with_error(net),
               mf.transmittance(net, omega))
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
        out = (mf.heat_flux_with_error(net), mf.local_temperatures_with_error(net),
               mf.transmittance(net, omega))
        assert bool(out[0].converged) == bool(ref[0].converged)
        assert bool(out[1].converged) == bool(ref[1].converged)
        assert float(out[0].flux) == pytest.approx(float(ref[0].flux), rel=1e-13)
        assert out[1].temperatures.shape == (N,)
        np.testing.assert_allclose(out[1].temperatures, ref[1].temperatures, rtol=0, atol=1e-11)
        np.testing.assert_allclose(out[2], ref[2], rtol=1e-13, atol=1e-15)
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    other = networks.random_springs(key, np.resize(masses, 11), t_left=1.0, t_right=0.0)
    with compile_log() as log:
        assert bool(mf.heat_flux_with_error(other).converged)
    assert log.count("jit(flux_secular)") == 0, log.names


def test_network_ensembles_pad_to_step_buckets():
    """ensemble_flux pads a batch of networks to its step bucket: N = 9 and 10 (bucket 16)
    run one program, equal to the single-network results."""
    from meanfield_jax._buckets import step_bucket_size

    assert step_bucket_size(9) == step_bucket_size(10)
    rng = np.random.default_rng(4)
    results = {}
    for n in (9, 10):
        nets = [networks.power_law(rng.uniform(0.5, 1.5, n), 2.0, k=1.0, k0=0.02)
                for _ in range(3)]
        with compile_log() as log:
            results[n] = (nets, mf.ensemble_flux(mf.stack_systems(nets), chunk_size=3))
    # N = 10 runs the program N = 9 compiled (or found compiled): no new ensemble program
    assert log.count("jit(run)") == 0, log.names
    for nets, res in results.values():
        assert res.converged.all()
        single = np.array([float(mf.heat_flux(x)) for x in nets])
        np.testing.assert_allclose(res.flux, single, rtol=1e-13)


@pytest.mark.slow  # 50-digit references (~20 s each)
@pytest.mark.parametrize("seed, k_prime", [(12, 0.0), (12, 1.0), (0, 1.0), (6, 0.0)])
def test_localized_modes_temperatures_against_mp(seed, k_prime):
    """Strongly disordered nearest-neighbour chains (masses in [0.05, 1.95], N = 24) have a
    mode localized so far from both baths that its amplitudes there fall below the
    deflation threshold: it has no pole in the residue sum, yet carries its weak-coupling
    temperature (T_R + ΔT b₁²/(b₁² + b_N²)) to its share of T_n (up to 90% at a site).
    T_n against a 50-digit Lyapunov solution: within the error estimate at every site,
    converged and to 1e-9 (seeds 0, 6 were flagged while the amplitudes came from eigh,
    accurate to ~1e-16 absolute only; the twisted factorisation of nearest-neighbour
    networks gives them to full relative accuracy)."""
    from reference_mp import network_steady_state_mp
    from meanfield_jax._secular import network_modes

    m = np.random.default_rng(seed).uniform(0.05, 1.95, 24)
    net = networks.nearest_neighbour(m, k=1.0, k_prime=k_prime, gamma=1.0, t_left=1.0,
                                     t_right=0.25)
    md = network_modes(net)
    assert int(np.sum(np.asarray(md.rank)[np.asarray(md.group)] == 0)) >= 1  # the hard case
    _, t_mp = network_steady_state_mp(m.tolist(), np.asarray(net.stiffness).tolist(), 1.0,
                                      1.0, 0.25, k_prime, dps=50)
    expected = np.array([float(x) for x in t_mp])
    result = mf.local_temperatures_with_error(net)
    diff = np.abs(np.asarray(result.temperatures) - expected)
    err = np.asarray(result.error_estimate)
    assert np.all(diff <= err + 1e-14), (diff.max(), err[np.argmax(diff - err)])
    assert bool(result.converged)
    assert diff.max() <= 1e-9
