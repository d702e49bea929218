"""Nonlinear chains (FPUT-β, XY rotors) on the Langevin engine: forces against ``jax.grad``
of the dense potential, the FFT path against the dense one, bit-identity with the harmonic
engine at β = λ = 0, statistics against independent references (the package's exact
harmonic J and T_n at β = 1e-4; Boltzmann averages by SciPy quadrature; the HMF model's
finite-N magnetisation by its Hubbard–Stratonovich integral), energy conservation without
baths, rectification and Richardson extrapolation, and bad input."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

import meanfield_jax as mf
from meanfield_jax import _langevin as lg
from meanfield_jax import nonlinear as nl
from meanfield_jax._langevin import simulate


def _systems(n=9):
    """One harmonic system per coupling structure, with pinning and walls where allowed."""
    m = np.linspace(1.0, 1.6, n)
    return {
        "mean_field": mf.MeanFieldChain(m, k=1.3, k0=0.2, k_prime=0.1),
        "toeplitz": mf.networks.power_law(m, 1.5, k=1.1, k0=0.3, k_prime=0.2),
        "nearest": mf.networks.nearest_neighbour(m, k=0.9, k0=0.1, k_prime=0.4),
        "dense": mf.networks.random_springs(jax.random.key(3), m, k0=0.2),
    }


def _rotor_systems(n=9):
    m = np.linspace(1.0, 1.6, n)
    return {
        "mean_field": mf.MeanFieldChain(m, k=1.3),
        "toeplitz": mf.networks.power_law(m, 0.7, k=1.1),
        "nearest": mf.networks.nearest_neighbour(m, k=0.9),
        "dense": mf.networks.random_springs(jax.random.key(3), m),
    }


# ----------------------------------------------------------------------------------------------
# Construction and bad input
# ----------------------------------------------------------------------------------------------


def test_structures_are_detected():
    for name, s in _systems().items():
        assert nl.fput(s, beta=1.0).structure == name
    # a power law at α = 0 is the mean field; α = inf the nearest neighbours
    assert nl.fput(mf.networks.power_law(np.ones(6), 0.0), beta=1.0).structure == "mean_field"
    assert nl.fput(mf.networks.power_law(np.ones(6), np.inf), beta=1.0).structure == "nearest"


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(beta=-1.0), ValueError, "beta"), (dict(beta=float("nan")), ValueError, "beta"),
    (dict(beta=float("inf")), ValueError, "beta"), (dict(beta=1.0, lam=-0.1), ValueError, "lam"),
    (dict(beta=1.0, lam=float("nan")), ValueError, "lam"), (dict(beta=True), TypeError, "beta"),
    (dict(beta="1"), TypeError, "beta"), (dict(beta=[1.0, 2.0]), ValueError, "beta"),
])
def test_fput_bad_parameters_name_the_parameter(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        nl.fput(mf.MeanFieldChain([1.0, 1.0, 1.0]), **kwargs)


def test_bad_systems_and_rotor_parameters():
    chain = mf.MeanFieldChain([1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="MeanFieldChain or HarmonicNetwork"):
        nl.fput([1.0, 2.0], beta=1.0)
    with pytest.raises(TypeError, match="already nonlinear"):
        nl.fput(nl.fput(chain, beta=1.0), beta=1.0)
    with pytest.raises(ValueError, match="field"):
        nl.rotors(chain, field=-1.0)
    with pytest.raises(ValueError, match="field"):
        nl.rotors(chain, field=float("nan"))
    with pytest.raises(ValueError, match="k0"):
        nl.rotors(chain.replace(k0=0.1))
    with pytest.raises(ValueError, match="k_prime"):
        nl.rotors(chain.replace(k_prime=0.1))
    with pytest.raises(ValueError, match="batch"):
        nl.fput(mf.stack_systems([chain, chain]), beta=1.0)


@pytest.mark.parametrize("fn", [mf.heat_flux, mf.local_temperatures, mf.heat_flux_with_error,
                                mf.local_temperatures_with_error, mf.normal_modes,
                                lambda s: mf.transmittance(s, jnp.linspace(0.1, 1.0, 3)),
                                lambda s: mf.greens_function(s, 0.5)])
def test_exact_solvers_refuse_nonlinear_systems_naming_simulate(fn):
    chain = mf.MeanFieldChain([1.0, 1.2, 0.9])
    for s in (nl.fput(chain, beta=1.0), nl.rotors(chain)):
        with pytest.raises(TypeError, match="simulate"):
            fn(s)


def test_immutable_replace_and_pytree():
    s = nl.fput(mf.MeanFieldChain([1.0, 1.2, 0.9], t_left=2.0), beta=1.0, lam=0.5)
    with pytest.raises(AttributeError):
        s.beta = 2.0
    r = s.replace(t_left=0.5, beta=2.0)
    assert float(r.t_left) == 0.5 and float(r.beta) == 2.0 and float(r.lam) == 0.5
    assert float(s.beta) == 1.0  # unchanged
    with pytest.raises(ValueError, match="beta"):
        s.replace(beta=-1.0)
    leaves, tree = jax.tree_util.tree_flatten(s)
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert isinstance(back, nl.FPUTSystem) and back.structure == s.structure


# ----------------------------------------------------------------------------------------------
# Forces
# ----------------------------------------------------------------------------------------------


def _grad_force(s, q):
    return -np.asarray(jax.grad(lambda x: nl.potential(s, x))(jnp.asarray(q)))


@pytest.mark.parametrize("structure", ["mean_field", "toeplitz", "nearest", "dense"])
@pytest.mark.parametrize("shift", [0.0, 1e3])  # a drifted chain: mean-subtracted sums
def test_fput_forces_are_minus_grad_of_the_potential(structure, shift):
    s = nl.fput(_systems()[structure], beta=0.7, lam=0.3 if shift == 0 else 0.0)
    if shift:  # no pinning: V depends on differences only, and the drift is harmless
        s = nl.fput(_systems()[structure].replace(k0=0.0, k_prime=0.0)
                    if structure == "mean_field" else
                    mf.networks.from_springs(s.masses, -np.asarray(s.system.stiffness)
                                             * (1 - np.eye(s.n))), beta=0.7)
    q = np.random.default_rng(1).normal(size=s.n) + shift
    f, g = np.asarray(nl.forces(s, q)), _grad_force(s, q)
    assert np.max(np.abs(f - g)) <= 1e-12 * np.max(np.abs(g))
    # the local energies add up to V
    v = float(nl.potential(s, q))
    assert abs(float(jnp.sum(nl.local_potential(s, q))) - v) <= 1e-12 * abs(v)


@pytest.mark.parametrize("structure", ["mean_field", "toeplitz", "nearest", "dense"])
def test_rotor_forces_are_minus_grad_of_the_potential(structure):
    s = nl.rotors(_rotor_systems()[structure], field=0.4)
    q = np.random.default_rng(2).uniform(-7, 7, size=s.n)
    f, g = np.asarray(nl.forces(s, q)), _grad_force(s, q)
    assert np.max(np.abs(f - g)) <= 1e-12 * np.max(np.abs(g))
    v = float(nl.potential(s, q))
    assert abs(float(jnp.sum(nl.local_potential(s, q))) - v) <= 1e-12 * abs(v)


@pytest.mark.parametrize("kind", ["fput", "rotors"])
def test_fft_forces_equal_dense_forces(kind):
    """N = 300 power law: the O(N log N) circulant-embedding path against the O(N²) sums."""
    net = mf.networks.power_law(np.linspace(1.0, 2.0, 300), 1.2, k=1.0)
    s = nl.fput(net, beta=1.3) if kind == "fput" else nl.rotors(net, field=0.2)
    assert s.structure == "toeplitz"
    q = np.random.default_rng(3).normal(size=300) * (1.0 if kind == "fput" else 3.0)
    cp_fft, cp_dense = nl.couplings(s, "toeplitz"), nl.couplings(s, "dense")
    if kind == "fput":
        fft = nl.fput_terms(cp_fft, jnp.asarray(q), 1.3, 0.0, "toeplitz", True)
        dense = nl.fput_terms(cp_dense, jnp.asarray(q), 1.3, 0.0, "dense", True)
    else:
        fft = nl.rotor_terms(cp_fft, jnp.asarray(q), 0.2, 0.0, "toeplitz", True)
        dense = nl.rotor_terms(cp_dense, jnp.asarray(q), 0.2, 0.0, "dense", True)
    for a, b in zip(fft, dense):
        a, b = np.asarray(a), np.asarray(b)
        assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b))


# ----------------------------------------------------------------------------------------------
# The engine: harmonic limit bit for bit, padding, checkpoints
# ----------------------------------------------------------------------------------------------

_RUN = (jax.random.PRNGKey(5), 3, 0.05, 300, 100)


@pytest.mark.parametrize("which", ["mean_field", "toeplitz"])
def test_beta_lambda_zero_is_bit_identical_to_the_harmonic_engine(which):
    system = _systems(6)[which].replace(t_left=1.5, t_right=0.2)  # a chain padded 6 -> 16
    a = simulate(system, *_RUN, initial="thermal")
    b = simulate(nl.fput(system, beta=0.0, lam=0.0), *_RUN, initial="thermal")
    assert (a.flux_left, a.flux_right) == (b.flux_left, b.flux_right)
    assert (a.flux_left_stderr, a.flux_right_stderr) == (b.flux_left_stderr, b.flux_right_stderr)
    np.testing.assert_array_equal(a.temperatures, b.temperatures)
    np.testing.assert_array_equal(a.temperatures_stderr, b.temperatures_stderr)
    assert a.positions_sq is None and b.positions_sq is not None and b.nonlinearity == "fput"


def test_padded_nonlinear_chain_equals_unpadded(monkeypatch):
    """Mean-field FPUT and rotors run padded to the step bucket (masked power sums)."""
    chain = mf.MeanFieldChain(np.linspace(1.0, 1.5, 6), k=1.0, k0=0.1, t_left=1.0, t_right=0.3)
    systems = [nl.fput(chain, beta=1.0, lam=0.5), nl.rotors(chain.replace(k0=0.0), field=0.2)]
    padded = [simulate(s, *_RUN, initial="thermal") for s in systems]
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    exact = [simulate(s, *_RUN, initial="thermal") for s in systems]
    for a, b in zip(padded, exact):
        for f in ("temperatures", "positions_sq", "energies"):
            np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose([a.flux_left, a.flux_right], [b.flux_left, b.flux_right],
                                   rtol=1e-10)
    assert padded[1].magnetisation == pytest.approx(exact[1].magnetisation, rel=1e-11)


def test_lean_mean_field_step_equals_the_standard_step():
    """profiles=False: the mean-field step carries the force's power sums (about a lagged
    shift) instead of F/m; the trajectories equal those of the standard step (exact-mean
    power sums) to rounding, for FPUT and rotors, padded 6 -> 16."""
    chain = mf.MeanFieldChain(np.linspace(1.0, 1.5, 6), k=1.0, k0=0.1, t_left=1.0, t_right=0.3)
    for s in (nl.fput(chain, beta=1.0, lam=0.5), nl.rotors(chain.replace(k0=0.0), field=0.2)):
        assert lg._model(s, False).lean and not lg._model(s, True).lean
        lean = simulate(s, *_RUN, initial="thermal", profiles=False)
        full = simulate(s, *_RUN, initial="thermal", profiles=True)
        np.testing.assert_allclose(lean.temperatures, full.temperatures, rtol=1e-10)
        np.testing.assert_allclose(lean.final_positions, full.final_positions, rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose([lean.flux_left, lean.flux_right],
                                   [full.flux_left, full.flux_right], rtol=1e-9)
        assert lean.positions_sq is None


def test_checkpoint_resume_is_bit_identical(tmp_path, monkeypatch):
    s = nl.fput(_systems(7)["toeplitz"].replace(t_left=1.0, t_right=0.1), beta=1.0, lam=0.2)
    args = (s, jax.random.PRNGKey(7), 3, 0.05, 500, 100)
    kw = dict(chunk_size=100, initial="thermal", checkpoint_interval=0.0)
    full = simulate(*args, **kw)
    ckpt = tmp_path / "run.npz"
    real_save, saves = lg._save_checkpoint, []

    def interrupting_save(path, state, n, fp):
        real_save(path, state, n, fp)
        saves.append(int(state.step))
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(lg, "_save_checkpoint", interrupting_save)
    with pytest.raises(KeyboardInterrupt):
        simulate(*args, checkpoint=ckpt, **kw)
    monkeypatch.setattr(lg, "_save_checkpoint", real_save)
    resumed = simulate(*args, checkpoint=ckpt, **kw)
    for f in ("temperatures", "positions_sq", "energies", "energies_stderr"):
        np.testing.assert_array_equal(getattr(resumed, f), getattr(full, f))
    assert (resumed.flux_left, resumed.flux_right) == (full.flux_left, full.flux_right)
    with pytest.raises(ValueError, match="checkpoint"):  # other β: a different run
        simulate(s.replace(beta=2.0), *args[1:], checkpoint=ckpt, **kw)


def test_result_to_netcdf_has_the_profiles(tmp_path):
    import xarray as xr

    r = simulate(nl.rotors(mf.MeanFieldChain([1.0, 1.1, 1.2])), *_RUN)
    r.to_netcdf(tmp_path / "r.nc")
    ds = xr.open_dataset(tmp_path / "r.nc")
    assert ds.attrs["nonlinearity"] == "rotors"
    for name in ("positions_sq", "energies", "energies_stderr", "magnetisation"):
        assert name in ds
    ds.close()


# ----------------------------------------------------------------------------------------------
# Statistics against independent references
# ----------------------------------------------------------------------------------------------


def _stationary_start(system, n_traj, seed):
    """(q, v) drawn from the exact harmonic steady state (SciPy Lyapunov solve; the test
    helpers of test_langevin.py): skips the burn-in of the slow modes."""
    from test_langevin import exact_continuous, sample_stationary

    cov = exact_continuous(system)[3]
    return sample_stationary(system, cov, n_traj, seed)


@pytest.mark.slow  # ~10 s each
@pytest.mark.parametrize("which", ["mean_field", "toeplitz"])
def test_weak_fput_agrees_with_the_exact_harmonic_j_and_tn(which):
    """β = 1e-4, N = 16: J and T_n within 3σ of the package's exact heat_flux and
    local_temperatures of the harmonic chain (the β correction, ~β⟨x²⟩ ~ 1e-4 relative, and
    the dt² bias, ~1e-4 at dt = 0.05, are far below the ~1% errors)."""
    m = np.linspace(1.0, 2.0, 16)
    system = (mf.MeanFieldChain(m, k=1.0, k0=0.1, t_left=1.0, t_right=0.0) if which == "mean_field"
              else mf.networks.power_law(m, 1.5, k=1.0, k0=0.1, t_left=1.0, t_right=0.0))
    q0, v0 = _stationary_start(system, 512, seed=4)
    res = simulate(nl.fput(system, beta=1e-4), jax.random.PRNGKey(11), 512, 0.05, 4200, 200,
                   initial=(q0, v0))
    j = float(mf.heat_flux(system))
    temps = np.asarray(mf.local_temperatures(system))
    assert abs(res.flux_left - j) < 3 * res.flux_left_stderr
    assert abs(res.flux_right - j) < 3 * res.flux_right_stderr
    assert np.all(np.abs(res.temperatures - temps) < 3 * res.temperatures_stderr)
    assert res.flux_left_stderr < 0.05 * j  # the test has teeth


def _boltzmann_q2_two_sites(c, k0, beta, lam, temperature):
    """⟨q_1²⟩ of V = c(x²/2 + βx⁴/4) + Σ (k0 q²/2 + λ q⁴/4), x = q_1 − q_2 (SciPy dblquad)."""
    def weight(q2, q1):
        x = q1 - q2
        v = c * (x * x / 2 + beta * x ** 4 / 4) + sum(k0 * q * q / 2 + lam * q ** 4 / 4
                                                      for q in (q1, q2))
        return math.exp(-v / temperature)

    lim = 8.0
    z = integrate.dblquad(weight, -lim, lim, -lim, lim, epsabs=1e-12, epsrel=1e-10)[0]
    m2 = integrate.dblquad(lambda q2, q1: q1 * q1 * weight(q2, q1), -lim, lim, -lim, lim,
                           epsabs=1e-12, epsrel=1e-10)[0]
    return m2 / z


def test_equilibrium_two_sites_matches_boltzmann_quadrature():
    """T_L = T_R = T, N = 2, pinning and quartic terms: every T_n = T and ⟨q_n²⟩ equals the
    Boltzmann average (2-D quadrature) within 3σ. BAOAB's configurational bias at
    dt = 0.05 is O(dt²) ≈ 1e-3 relative, below the ~1% errors."""
    c, k0, beta, lam, t = 1.0, 0.5, 0.8, 0.3, 1.2
    chain = mf.MeanFieldChain([1.0, 1.5], k=c, k0=k0, n_tilde=1.0, t_left=t, t_right=t)
    res = simulate(nl.fput(chain, beta=beta, lam=lam), jax.random.PRNGKey(2), 128, 0.05,
                   12_000, 2000, initial="thermal")
    ref = _boltzmann_q2_two_sites(c, k0, beta, lam, t)
    assert np.all(np.abs(res.temperatures - t) < 3 * res.temperatures_stderr)
    assert np.all(np.abs(res.positions_sq - ref) < 3 * res.positions_sq_stderr)
    assert np.all(res.positions_sq_stderr < 0.015 * ref)
    assert abs(res.flux_left) < 3 * res.flux_left_stderr


def hmf_m2(n, c, temperature):
    """Exact ⟨|m|²⟩ of N rotors with V = c Σ_{i<j} [1 − cos(θ_i − θ_j)] at temperature T.

    V = c(N²/2 − |M|²/2), M = Σ e^{iθ}: with a = c/(2T) and the Gaussian identity
    e^{a|M|²} = (4πa)⁻¹ ∫ d²y e^{−|y|²/4a + y·M}, the angles integrate to f(y) = I₀(|y|)^N,
    and |M|² e^{y·M} to Δ_y e^{y·M}, whose angle average is
    Δf = f · N[1 + (N − 1)(I₁/I₀)²]. So ⟨|M|²⟩ = ∫ y e^{−y²/4a} Δf dy / ∫ y e^{−y²/4a} f dy
    (1-D quadrature, no cancellation)."""
    a = c / (2 * temperature)

    def g(y):
        return n * (np.log(special.i0e(y)) + y) - y * y / (4 * a)

    top = 40.0 * math.sqrt(a) + 4 * a * n + 10.0  # the weight is negligible beyond
    ys = np.linspace(1e-12, top, 4001)
    shift = np.max(g(ys))

    def ratio2(y):
        return (special.i1e(y) / special.i0e(y)) ** 2

    w0 = integrate.quad(lambda y: y * np.exp(g(y) - shift), 0, top, limit=400, epsabs=0)[0]
    w2 = integrate.quad(lambda y: y * np.exp(g(y) - shift) * n * (1 + (n - 1) * ratio2(y)),
                        0, top, limit=400, epsabs=0)[0]
    return w2 / w0 / n ** 2


def test_hmf_reference_limits():
    """The quadrature reference: uniform angles (c → 0) give ⟨|M|²⟩ = N; above T_c the
    large-N limit N⟨|m|²⟩ → 1/(1 − c N/2T)."""
    a, n = 1e-4, 16  # small a: ⟨|M|²⟩ = N + a(⟨|M|⁴⟩ − N²) + O(a²), ⟨|M|⁴⟩ = 2N² − N
    assert hmf_m2(n, 2 * a, 1.0) * n ** 2 == pytest.approx(n + a * (n * n - n), rel=1e-5)
    n = 4000
    assert hmf_m2(n, 1.0 / n, 1.0) * n == pytest.approx(2.0, rel=2e-2)


@pytest.mark.slow  # ~20 s
def test_hmf_rotors_above_tc_have_the_finite_n_magnetisation():
    """HMF, N = 32, Kac (c = 1/(N − 1), T_c ≈ 0.516), T_L = T_R = 1: ⟨|m|²⟩ equals the exact
    finite-N value (≈ 2/N: m ≈ 0 up to its finite-N size) within 3σ, every T_n = T."""
    n, t = 32, 1.0
    chain = mf.MeanFieldChain(np.ones(n), k=1.0, t_left=t, t_right=t)
    rng = np.random.default_rng(0)
    n_traj = 128
    q0 = rng.uniform(0, 2 * np.pi, (n_traj, n))  # the T = ∞ state, near this one
    v0 = rng.standard_normal((n_traj, n)) * math.sqrt(t)
    res = simulate(nl.rotors(chain), jax.random.PRNGKey(4), n_traj, 0.1, 12_000, 2000,
                   initial=(q0, v0))
    ref = hmf_m2(n, 1.0 / (n - 1), t)
    assert 1.5 / n < ref < 2.5 / n
    assert abs(res.magnetisation_sq - ref) < 3 * res.magnetisation_sq_stderr
    assert res.magnetisation_sq_stderr < 0.1 * ref
    assert np.all(np.abs(res.temperatures - t) < 3 * res.temperatures_stderr)


# ----------------------------------------------------------------------------------------------
# Energy conservation without baths (a test-only switch: c = 1, no noise)
# ----------------------------------------------------------------------------------------------


def _energy_track(system, dt, total_time, samples):
    """E(t) along one bath-free trajectory (velocity Verlet: BAOAB with the O step off)."""
    n_steps = int(round(total_time / dt))
    model = lg._model(system, False)
    size = system.n
    params = lg._make_params(system, dt, 0, size, model)
    params = params._replace(c=jnp.ones(size), sigma_left=jnp.zeros(size),
                             sigma_right=jnp.zeros(size))
    rng = np.random.default_rng(5)
    q = jnp.asarray(rng.normal(size=(2, size)))
    v = jnp.asarray(rng.normal(size=(2, size)))
    state = lg.initial_state(params, model, q, v, jax.random.split(jax.random.PRNGKey(0), 2))
    m = np.asarray(system.masses)
    cp = nl.couplings(system, "dense")
    springs, onsite = np.asarray(cp.springs), np.asarray(cp.onsite)

    def potential(q):  # NumPy, dense: (n_traj,) V(q)
        d = q[:, :, None] - q[:, None, :]
        if isinstance(system, nl.FPUTSystem):
            b, lam = float(system.beta), float(system.lam)
            return (0.5 * np.sum(springs * (d * d / 2 + b * d ** 4 / 4), axis=(1, 2))
                    + np.sum(onsite * q * q / 2 + lam * q ** 4 / 4, axis=1))
        return (0.5 * np.sum(springs * (1 - np.cos(d)), axis=(1, 2))
                + float(system.field) * np.sum(1 - np.cos(q), axis=1))

    def energy(s):
        return potential(np.asarray(s.q)) + 0.5 * np.sum(m * np.asarray(s.v) ** 2, axis=1)

    every = n_steps // samples
    out = [energy(state)]
    for i in range(samples):
        for stop in range(i * every + 8, (i + 1) * every + 8, 8):  # one compiled length
            state = lg._run_chunk(params, state, min(stop, (i + 1) * every), length=8,
                                  model=model, unroll=4)
        out.append(energy(state))
    return np.array(out)  # (samples + 1, 2 trajectories)


def _check_energy(system, dt, total_time, samples):
    """Over 10 time units (before chaos separates the runs at dt and dt/2) the largest
    energy error falls 4-fold when dt halves (O(dt²)); over ``total_time`` it stays of that
    size (bounded: no secular growth) and its mean does not drift."""
    e1 = _energy_track(system, dt, 10.0, 50)
    e2 = _energy_track(system, dt / 2, 10.0, 50)
    err1, err2 = np.max(np.abs(e1 - e1[0]), axis=0), np.max(np.abs(e2 - e2[0]), axis=0)
    assert np.all((err1 / err2 > 3.5) & (err1 / err2 < 4.6)), err1 / err2
    assert np.all(err1 < 0.05 * np.abs(e1[0]))
    e = _energy_track(system, dt, total_time, samples)
    err = np.max(np.abs(e - e[0]), axis=0)
    assert np.all(err < 5 * err1), (err, err1)
    k = max(1, samples // 10)
    drift = np.abs(e[-k:].mean(axis=0) - e[1:k + 1].mean(axis=0))
    assert np.all(drift < 0.3 * err), (drift, err)


@pytest.mark.parametrize("kind", ["fput_mean_field", "rotors_toeplitz"])
def test_no_bath_energy_error_is_second_order_without_drift(kind):
    base = _systems(8)
    system = (nl.fput(base["mean_field"], beta=1.0, lam=0.5) if kind == "fput_mean_field"
              else nl.rotors(_rotor_systems(8)["toeplitz"], field=0.3))
    _check_energy(system, 0.05, 300.0, 150)


@pytest.mark.slow
def test_no_bath_energy_conservation_over_a_million_steps():
    """10⁶ steps at dt = 0.05 (and 2·10⁶ at dt/2) of an FPUT-β power-law chain."""
    system = nl.fput(_systems(8)["toeplitz"], beta=1.0, lam=0.5)
    _check_energy(system, 0.05, 50_000.0, 200)


# ----------------------------------------------------------------------------------------------
# Rectification and Richardson extrapolation
# ----------------------------------------------------------------------------------------------


@pytest.mark.slow  # ~5 s
def test_harmonic_chain_does_not_rectify():
    chain = mf.MeanFieldChain(np.linspace(1.0, 3.0, 6), k=1.0, k0=0.1, t_left=2.0, t_right=0.5)
    r = mf.rectification(chain, jax.random.PRNGKey(0), 256, 0.05, 9000, 1000,
                         initial="thermal")
    assert r.flux_forward > 0 > r.flux_reverse
    assert abs(r.ratio) < 2 * r.stderr, (r.ratio, r.stderr)
    assert r.stderr < 0.05
    j = float(mf.heat_flux(chain))
    assert abs(r.flux_forward - j) < 3 * r.flux_forward_stderr


def test_rectification_bad_input():
    with pytest.raises(ValueError, match="t_left"):
        mf.rectification(mf.MeanFieldChain([1.0, 2.0], t_left=1.0, t_right=1.0),
                         jax.random.PRNGKey(0), 4, 0.1, 20, 10)


def test_richardson_combines_two_runs():
    chain = mf.MeanFieldChain([1.0, 1.3, 0.8], t_left=1.0, t_right=0.0)
    coarse = simulate(nl.fput(chain, beta=0.5), jax.random.PRNGKey(0), 4, 0.2, 200, 100)
    fine = simulate(nl.fput(chain, beta=0.5), jax.random.PRNGKey(1), 4, 0.1, 400, 200)
    x = mf.richardson(coarse, fine)
    np.testing.assert_allclose(x.temperatures,
                               (4 * fine.temperatures - coarse.temperatures) / 3, rtol=1e-14)
    assert x.flux_left == pytest.approx((4 * fine.flux_left - coarse.flux_left) / 3, rel=1e-14)
    np.testing.assert_allclose(
        x.energies_stderr,
        np.sqrt(16 * fine.energies_stderr ** 2 + coarse.energies_stderr ** 2) / 3, rtol=1e-14)
    with pytest.raises(ValueError, match="fine.dt"):
        mf.richardson(fine, coarse)
    with pytest.raises(ValueError, match="same system"):
        mf.richardson(coarse, dataclasses.replace(fine, t_left=2.0))
    with pytest.raises(TypeError, match="coarse"):
        mf.richardson(1.0, fine)


@pytest.mark.slow  # ~6 s
def test_richardson_removes_the_dt_bias_of_the_harmonic_limit():
    """The flux of a stiff chain at dt = 0.3 and 0.15 is biased by O(dt²) ≈ several σ;
    the extrapolation agrees with the exact J within 3σ."""
    chain = mf.MeanFieldChain([1.0, 0.6, 1.4, 0.8], k=2.0, k0=0.5, t_left=1.0, t_right=0.0)
    q0, v0 = _stationary_start(chain, 512, seed=1)
    runs = [simulate(nl.fput(chain, beta=0.0), jax.random.PRNGKey(i), 512, dt,
                     int(round(300 / dt)), int(round(20 / dt)), initial=(q0, v0))
            for i, dt in enumerate((0.3, 0.15))]
    j = float(mf.heat_flux(chain))
    x = mf.richardson(*runs)
    assert abs(runs[0].flux_left - j) > 3 * runs[0].flux_left_stderr  # the bias is visible
    assert abs(x.flux_left - j) < 3 * x.flux_left_stderr


# ----------------------------------------------------------------------------------------------
# simulate config and command line
# ----------------------------------------------------------------------------------------------

_CFG = ('masses = {kind = "graded", delta = 0.2}\nn = 6\nk = 1.0\nt_left = 1.5\nt_right = 0.5\n'
        'dt = 0.05\nn_steps = 300\nburn_in = 100\nn_trajectories = 3\nchunk_size = 100\n')


@pytest.mark.parametrize("extra, key", [
    ('nonlinearity = "phi4"\n', "nonlinearity"), ('nonlinearity = 3\n', "nonlinearity"),
    ("beta = 1.0\n", "beta"), ('nonlinearity = "fput"\n', "beta"),
    ('nonlinearity = "fput"\nbeta = -1.0\n', "beta"),
    ('nonlinearity = "fput"\nbeta = "1"\n', "beta"),
    ('nonlinearity = "fput"\nbeta = 1.0\nlam = -2.0\n', "lam"),
    ('nonlinearity = "fput"\nbeta = 1.0\nfield = 1.0\n', "field"),
    ('nonlinearity = "rotors"\nbeta = 1.0\n', "beta"),
    ('nonlinearity = "rotors"\nfield = -1.0\n', "field"),
    ('nonlinearity = "rotors"\nk0 = 0.1\n', "k0"), ('alpha = "x"\n', "alpha"),
    ('alpha = -1.0\n', "alpha"),
])
def test_simulate_config_nonlinear_keys_are_validated(tmp_path, capsys, monkeypatch, extra, key):
    from meanfield_jax import _cli as cli

    monkeypatch.setattr(lg, "simulate", lambda *a, **k: pytest.fail("must not run"))
    cfg = tmp_path / "bad.toml"
    cfg.write_text(_CFG + extra)
    code = cli.main(["simulate", str(cfg), "--out", str(tmp_path / "r.nc")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"'{key}'" in err, err


def test_cli_simulate_nonlinear_power_law_writes_profiles(tmp_path, capsys):
    import xarray as xr

    from meanfield_jax import _cli as cli
    from meanfield_jax._simulate_config import config_to_run

    cfg = tmp_path / "run.toml"
    cfg.write_text(_CFG + 'alpha = 1.5\nnonlinearity = "fput"\nbeta = 1.0\nlam = 0.5\n')
    out = tmp_path / "run.nc"
    code = cli.main(["simulate", str(cfg), "--out", str(out), "--no-progress",
                     "--no-compile-cache"])
    text = capsys.readouterr().out
    assert code == 0 and "none for a nonlinear system" in text and "<q_n²>" in text
    ds = xr.load_dataset(out)
    assert ds.attrs["nonlinearity"] == "fput" and ds.attrs["nonlinear_structure"] == "toeplitz"
    assert ds.attrs["nonlinear_beta"] == 1.0 and ds.attrs["nonlinear_lam"] == 0.5
    # the same run through the API gives the same numbers
    import tomllib

    system, kw = config_to_run(tomllib.loads(cfg.read_text()))
    kw.pop("checkpoint"), kw.pop("checkpoint_interval")
    res = simulate(system, **kw)
    np.testing.assert_array_equal(ds["positions_sq"].values, res.positions_sq)
    assert float(ds["flux_left"]) == res.flux_left
