"""Tests of the Langevin ensemble simulator (meanfield_jax._langevin).

Exact references are computed here, independently of the library's Green's-function solver:

* continuous time: the stationary covariance of the linear SDE dx = A x dt + noise, x = (y, v)
  with y = Uᵀq the coordinates along range(K_w) (a momentum-conserving zero mode's position
  is dropped; forces never depend on it), solves A C + C Aᵀ + D = 0
  (``scipy.linalg.solve_continuous_lyapunov``); T_n = m_n C_vv[n, n], J = (γ/m_1)(T_L − T_1).
* identical masses (Lyapunov equation singular: N − 3 undamped modes): the particular
  solution from rest, C(t) = ∫_0^t e^{As} D e^{Aᵀs} ds, by Van Loan's block exponential and
  doubling C(2t) = C(t) + e^{At} C(t) e^{Aᵀt} out to t ~ 10¹².
* discrete time: BAOAB is a linear map x' = P x + G ξ; its stationary covariance solves
  Σ = P Σ Pᵀ + Q (``scipy.linalg.solve_discrete_lyapunov``). This is what the simulator samples
  *exactly* (no time-step error), so it gives sharp statistical tests, and its distance to the
  continuous result is the integrator's bias (checked to be O(dt²)).

Nearly identical masses relax extremely slowly (δ = 0.1, N = 16: τ ~ 10⁵–10⁸, see
``relaxation_time``), so no simulation from rest can reach their steady state; for those the
acceptance tests start from a sample of the exact stationary distribution (drawn here) and check
that the dynamics keep it, while genuine relaxation from rest is tested on systems with τ ~ 30–200.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sl

import meanfield_jax as mf
from meanfield_jax import _langevin as lg
from meanfield_jax._buckets import pad_particles, trim_particles
from meanfield_jax._cli import build_parser
from meanfield_jax._langevin import LangevinResult, relaxation_time, simulate
from meanfield_jax.masses import from_kind
from compile_log import compile_log


def mass_profile(kind, n, m=1.0, delta=0.1, seed=0):
    """The masses of a profile as the simulate config makes them (masses.from_kind)."""
    return np.asarray(from_kind(kind, n, m=m, delta=delta, seed=seed))

# ----------------------------------------------------------------------------------------------
# Exact references (NumPy / SciPy only)
# ----------------------------------------------------------------------------------------------


def _arrays(system):
    m = np.asarray(system.masses, dtype=float)
    kw = np.array(system.stiffness_matrix(), dtype=float)
    kp = float(system.k_prime)
    kw[0, 0] += kp
    kw[-1, -1] += kp
    return m, kw, float(system.gamma), float(system.t_left), float(system.t_right)


def _reduced(system):
    """Drift A, noise D of x = (y, v), y = Uᵀq; U spans range(K_w)."""
    m, kw, gamma, tl, tr = _arrays(system)
    n = m.size
    w, u = np.linalg.eigh(kw)
    keep = w > 1e-12 * np.max(np.abs(w))
    lam, u = w[keep], u[:, keep]
    r = lam.size
    g = np.zeros(n)
    g[[0, -1]] = gamma
    tb = np.zeros(n)
    tb[0], tb[-1] = tl, tr
    a = np.zeros((r + n, r + n))
    a[:r, r:] = u.T
    a[r:, :r] = -(u * lam) / m[:, None]
    a[r:, r:] = -np.diag(g / m)
    d = np.zeros_like(a)
    d[r:, r:] = np.diag(2.0 * g * tb / m**2)
    return a, d, u, lam, r


def _observables(system, cvv):
    m, _, gamma, tl, tr = _arrays(system)
    temps = m * np.diag(cvv)
    return temps, gamma / m[0] * (tl - temps[0]), gamma / m[-1] * (temps[-1] - tr)


def exact_continuous(system):
    """(T_n, J_left, J_right, C) of the unique steady state (distinct masses)."""
    a, d, _, _, r = _reduced(system)
    c = sl.solve_continuous_lyapunov(a, -d)
    return (*_observables(system, c[r:, r:]), c)


def _doubling(step_map, q0, doublings):
    """Σ_{2t} = Σ_t + E_t Σ_t E_tᵀ, E_{2t} = E_t²: the covariance grown from zero."""
    e, s = step_map, q0
    for _ in range(doublings):
        s = s + e @ s @ e.T
        e = e @ e
    return s


def _stable_part(a, d, discrete):
    """Orthonormal basis Z of the damped invariant subspace of A (real Schur form, sorted)."""
    if discrete:
        t, z, k = sl.schur(a, output="real", sort=lambda x, y=0.0: abs(complex(x, y)) < 1 - 1e-9)
    else:
        t, z, k = sl.schur(a, output="real", sort=lambda x, y=0.0: x < -1e-9)
    zs = z[:, :k]
    # noise only reaches damped modes (undamped ones are uncoupled from the baths)
    assert np.allclose(zs @ (zs.T @ d @ zs) @ zs.T, d, atol=1e-12 * np.abs(d).max())
    return t[:k, :k], zs


def particular_solution(system):
    """(T_n, J_L, J_R) of C(t → ∞) = ∫_0^∞ e^{As} D e^{Aᵀs} ds, the state grown from rest.

    The undamped (uncoupled) modes never receive energy, so C lives on the damped invariant
    subspace Z: A_s C_s + C_s A_sᵀ + Z^T D Z = 0, C = Z C_s Zᵀ (exact; no time integration).
    """
    a, d, _, _, r = _reduced(system)
    a_s, zs = _stable_part(a, d, discrete=False)
    c = zs @ sl.solve_continuous_lyapunov(a_s, -(zs.T @ d @ zs)) @ zs.T
    return _observables(system, c[r:, r:])


def particular_solution_by_ode(system, t0=1.0, doublings=14):
    """The same by integrating dC/dt = AC + CAᵀ + D from C(0) = 0 out to t = 2^doublings t0
    (Van Loan's block exponential for C(t0), then C(2t) = C(t) + e^{At} C(t) e^{Aᵀt})."""
    a, d, _, _, r = _reduced(system)
    k = a.shape[0]
    blk = np.zeros((2 * k, 2 * k))
    blk[:k, :k] = -a
    blk[:k, k:] = d
    blk[k:, k:] = a.T
    f = sl.expm(blk * t0)
    c = _doubling(sl.expm(a * t0), f[k:, k:].T @ f[:k, k:], doublings)
    return _observables(system, c[r:, r:])


def baoab_map(system, dt):
    """BAOAB as x' = P x + G ξ on x = (y, v); returns P, Q = G S² Gᵀ, the pre-O map and c."""
    m, _, gamma, tl, tr = _arrays(system)
    _, _, u, lam, r = _reduced(system)
    n = m.size
    eye = np.eye(r + n)
    b = eye.copy()
    b[r:, :r] = -0.5 * dt * (u * lam) / m[:, None]
    a_half = eye.copy()
    a_half[:r, r:] = 0.5 * dt * u.T
    c = np.ones(n)
    c[[0, -1]] = np.exp(-gamma * dt / m[[0, -1]])
    tb = np.zeros(n)
    tb[0], tb[-1] = tl, tr
    o = eye.copy()
    o[r:, r:] = np.diag(c)
    s2 = np.zeros_like(eye)
    s2[r:, r:] = np.diag((1 - c**2) * tb / m)
    p = b @ a_half @ o @ a_half @ b
    g = b @ a_half
    return p, g @ s2 @ g.T, a_half @ b, c, s2


def exact_discrete(system, dt, singular=False):
    """(T_n, J_L, J_R) of BAOAB's own stationary state (what the simulator samples exactly).

    T_n from the full-step velocities; J from the O step: E[½m(v'² − v²)] / dt with
    v' = c v + σ ξ, i.e. ½ (1 − c²)(T_b − m_b ⟨v_b²⟩_pre-O) / dt.
    """
    m, _, _, tl, tr = _arrays(system)
    p, q, pre_map, c, _ = baoab_map(system, dt)
    r = p.shape[0] - m.size
    if singular:  # identical masses: grown from rest, on the damped invariant subspace
        p_s, zs = _stable_part(p, q, discrete=True)
        sig = zs @ sl.solve_discrete_lyapunov(p_s, zs.T @ q @ zs) @ zs.T
    else:
        sig = sl.solve_discrete_lyapunov(p, q)
    pre = pre_map @ sig @ pre_map.T
    vv_pre = np.diag(pre[r:, r:])
    temps = m * np.diag(sig[r:, r:])
    jl = 0.5 * (1 - c[0] ** 2) * (tl - m[0] * vv_pre[0]) / dt
    jr = -0.5 * (1 - c[-1] ** 2) * (tr - m[-1] * vv_pre[-1]) / dt
    return temps, jl, jr


def sample_stationary(system, c, n_traj, seed):
    """(q, v) samples of the Gaussian with covariance C in (y, v) coordinates; q = U y."""
    _, _, u, _, r = _reduced(system)
    w, vec = np.linalg.eigh(c)
    x = np.random.default_rng(seed).standard_normal((n_traj, w.size)) * np.sqrt(np.clip(w, 0, None))
    x = x @ vec.T
    return x[:, :r] @ u.T, x[:, r:]


def _z(result, temps, jl, jr):
    """Deviations in units of the reported standard errors."""
    return (np.abs(result.temperatures - temps) / result.temperatures_stderr,
            abs(result.flux_left - jl) / result.flux_left_stderr,
            abs(result.flux_right - jr) / result.flux_right_stderr)


def _assert_agrees(result, temps, jl, jr, n_sigma=4.0, rel_err=0.02):
    zt, zl, zr = _z(result, temps, jl, jr)
    msg = f"z_T max {zt.max():.2f}, z_JL {zl:.2f}, z_JR {zr:.2f}"
    assert zt.max() < n_sigma and zl < n_sigma and zr < n_sigma, msg
    if rel_err is not None:
        assert np.max(result.temperatures_stderr / temps) < rel_err
        assert result.flux_left_stderr < rel_err * abs(jl)
        assert result.flux_right_stderr < rel_err * abs(jr)


# ----------------------------------------------------------------------------------------------
# Reference self-checks and the integrator's time-step error (deterministic)
# ----------------------------------------------------------------------------------------------


def test_reference_particular_solution_equals_lyapunov_for_distinct_masses():
    chain = mf.MeanFieldChain(mass_profile("random", 6, delta=0.5, seed=3), k=1.0, k0=0.5,
                              k_prime=1.0, t_left=1.0, t_right=0.0)
    t_ly, jl_ly, jr_ly, _ = exact_continuous(chain)
    t_ps, jl_ps, jr_ps = particular_solution(chain)
    np.testing.assert_allclose(t_ps, t_ly, rtol=1e-8)
    np.testing.assert_allclose([jl_ps, jr_ps], [jl_ly, jl_ly], rtol=1e-8)
    assert jr_ly == pytest.approx(jl_ly, rel=1e-9)


@pytest.mark.parametrize("k0", [0.0, 0.02])
def test_reference_particular_solution_identical_masses(k0):
    """Schur-subspace Lyapunov solution = covariance ODE from rest; flat bulk; J_L = J_R."""
    chain = mf.MeanFieldChain(np.ones(10), k=0.1, k0=k0, t_left=1.0, t_right=0.0)
    t_ps, jl, jr = particular_solution(chain)
    t_ode, jl_ode, jr_ode = particular_solution_by_ode(chain)
    np.testing.assert_allclose(t_ps, t_ode, rtol=1e-7)
    np.testing.assert_allclose([jl, jr, jl_ode], jl, rtol=1e-7)
    np.testing.assert_allclose(t_ps[1:-1], t_ps[1], rtol=1e-9)  # all bulk particles equivalent
    assert t_ps[1] < 0.2 * (chain.t_left + chain.t_right) / 2  # the bulk does not thermalise


@pytest.mark.parametrize("n_tilde", ["kac", 1.0])
@pytest.mark.parametrize("k0", [0.0, 0.5])
def test_baoab_bias_is_second_order_in_dt(k0, n_tilde):
    """The claim of the module docstring: T_n and J have O(dt²) stationary bias, J_L = J_R."""
    chain = mf.MeanFieldChain(mass_profile("graded", 8, delta=0.1), k=0.3, k0=k0, n_tilde=n_tilde,
                              t_left=1.5, t_right=0.5)
    t_ex, j_ex, _, _ = exact_continuous(chain)
    errs = []
    for dt in (0.1, 0.05, 0.025):
        t_d, jl_d, jr_d = exact_discrete(chain, dt)
        assert jr_d == pytest.approx(jl_d, rel=1e-8)  # energy balance of the discrete NESS
        errs.append((np.max(np.abs(t_d - t_ex) / t_ex), abs(jl_d - j_ex) / j_ex))
    errs = np.array(errs)
    ratios = errs[:-1] / errs[1:]
    np.testing.assert_allclose(ratios, 4.0, rtol=0.05)  # halving dt divides the bias by 4
    assert np.all(errs[0] < 0.02)  # and it is small at dt = 0.1 for ω_max ~ 1


def test_simulator_step_is_the_baoab_map():
    """Zero bath temperatures: the compiled chunk must apply exactly P = B A O A B."""
    chain = mf.MeanFieldChain(mass_profile("random", 5, delta=0.3, seed=1), k=0.7, k0=0.2,
                              n_tilde=2.0, gamma=0.8, k_prime=0.3, t_left=0.0, t_right=0.0)
    dt = 0.13
    rng = np.random.default_rng(0)
    q0, v0 = rng.standard_normal((2, 3, 5))
    p, _, _, _, _ = baoab_map(chain, dt)  # here r = N (k0 > 0): y = Uᵀ q
    _, _, u, _, r = _reduced(chain)
    x = np.concatenate([q0 @ u, v0], axis=1)
    for _ in range(4):
        x = x @ p.T
    # the chain exact (N = 5) and padded to its step bucket (inert padding), the network
    for system, force, size in ((chain, "chain", 5), (chain, "chain", 16),
                                (chain.to_network(), "dense", 5)):
        model = lg._model(system, False)
        assert model.force == force
        params = lg._make_params(system, dt, 0, size, model)
        q, v = (jnp.asarray(pad_particles(x, size)) for x in (q0, v0))
        state = lg.initial_state(params, model, q, v,
                                 jax.random.split(jax.random.PRNGKey(0), 3))
        out = lg._run_chunk(params, state, 4, length=6, model=model, unroll=2)  # 2 no-ops
        q, v = (np.asarray(trim_particles(x, 5)) for x in (out.q, out.v))
        np.testing.assert_allclose(q @ u, x[:, :r], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(v, x[:, r:], rtol=1e-12, atol=1e-12)
        # the padding stays at rest
        assert not np.any(np.asarray(out.q)[:, 4:-1]) and not np.any(np.asarray(out.v)[:, 4:-1])


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, name", [
    (dict(dt=0.0), "dt"), (dict(dt=-0.1), "dt"), (dict(dt=float("nan")), "dt"),
    (dict(dt=5.0), "dt"),  # unstable: dt ω_max >= 2
    (dict(n_steps=0), "n_steps"), (dict(burn_in=-1), "burn_in"),
    (dict(burn_in=10), "burn_in"), (dict(n_trajectories=1), "n_trajectories"),
    (dict(initial="hot"), "initial"), (dict(initial=(np.zeros(3), np.zeros(4))), "initial"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_invalid_arguments_raise_naming_the_parameter(kwargs, name):
    chain = mf.MeanFieldChain([1.0, 1.1, 0.9, 1.0], k=1.0)
    args = dict(n_trajectories=2, dt=0.1, n_steps=10, burn_in=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        simulate(chain, jax.random.PRNGKey(0), **args)


# ----------------------------------------------------------------------------------------------
# Statistical tests against the exact steady state (fixed keys; tolerances from the stderr)
# ----------------------------------------------------------------------------------------------

N_ACC = 16
_DT = {"kac": 0.1, 1.0: 0.05}  # time-step bias <= 0.75 stderr here (asserted below)


def _acceptance_run(kind, k0, n_tilde, key=1):
    """Paper Fig. 4 parameters (k = 0.1, γ = m = 1, δ = 0.1), T_L = 1, T_R = 0, N = 16.

    Distinct masses: start from a sample of the exact stationary state (τ ~ 10⁵–10⁸ makes a
    start from rest useless), 4096 trajectories, 200 time units. Identical masses: from rest
    (the paper's particular solution), burn-in 8 τ of the coupled modes, 1500 time units.
    """
    chain = mf.MeanFieldChain(mass_profile(kind, N_ACC, seed=7), k=0.1, k0=k0, n_tilde=n_tilde,
                              gamma=1.0, t_left=1.0, t_right=0.0)
    dt = _DT[n_tilde]
    if kind == "identical":
        temps, jl, jr = particular_solution(chain)
        burn = int(8 * relaxation_time(chain) / dt)
        res = simulate(chain, jax.random.PRNGKey(key), 256, dt, burn + int(1500 / dt), burn)
        exact_d = exact_discrete(chain, dt, singular=True)
    else:
        temps, jl, jr, cov = exact_continuous(chain)
        q0, v0 = sample_stationary(chain, cov, 4096, seed=key)
        burn = int(10 / dt)
        res = simulate(chain, jax.random.PRNGKey(key), 4096, dt, burn + int(200 / dt), burn,
                       initial=(q0, v0))
        exact_d = exact_discrete(chain, dt)
    # the integrator's own bias is well inside the statistical tolerance
    assert np.all(np.abs(exact_d[0] - temps) < 0.75 * res.temperatures_stderr)
    assert abs(exact_d[1] - jl) < 0.75 * res.flux_left_stderr
    return res, temps, jl, jr


_FAST = [("identical", 0.02, "kac")]  # the rest (~10–18 s each) run with -m slow
_ALL = [(kind, k0, nt) for kind in ("identical", "graded", "random") for k0 in (0.0, 0.02)
        for nt in ("kac", 1.0)]


@pytest.mark.parametrize("kind, k0, n_tilde", _FAST)
def test_acceptance_subset(kind, k0, n_tilde):
    res, temps, jl, jr = _acceptance_run(kind, k0, n_tilde)
    _assert_agrees(res, temps, jl, jr)


@pytest.mark.slow
@pytest.mark.parametrize("kind, k0, n_tilde", [c for c in _ALL if c not in _FAST])
def test_acceptance_full_matrix(kind, k0, n_tilde):
    res, temps, jl, jr = _acceptance_run(kind, k0, n_tilde, key=2)
    _assert_agrees(res, temps, jl, jr)


@pytest.mark.slow  # 6–8 s each; equilibrium and the acceptance subset stay default
@pytest.mark.parametrize("network", [False, True])
def test_relaxation_from_rest_matches_discrete_and_continuous(network):
    """Genuine relaxation: fast-relaxing systems (τ ≈ 33 and 176) from rest, burn-in ≥ 8 τ.

    Sharp check against BAOAB's own stationary state (no time-step error), then against the
    continuous exact values.
    """
    if network:  # nearest-neighbour chain with walls: the dense O(N²) force path
        n = 8
        kmat = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
        kmat[0, 0] = kmat[-1, -1] = 1.0
        system = mf.HarmonicNetwork(mass_profile("random", n, delta=0.3), kmat, k_prime=1.0,
                                    t_left=1.5, t_right=0.5)
    else:
        # masses chosen so that every mode relaxes fast (τ ≈ 33)
        masses = np.random.default_rng(3).uniform(0.5, 1.5, size=4)
        system = mf.MeanFieldChain(masses, k=1.0, k0=0.5, k_prime=1.0, t_left=1.5, t_right=0.5)
    dt = 0.1
    tau = relaxation_time(system)
    burn = int(8 * tau / dt)
    res = simulate(system, jax.random.PRNGKey(3), 256, dt, burn + 20_000, burn)
    t_d, jl_d, jr_d = exact_discrete(system, dt)
    _assert_agrees(res, t_d, jl_d, jr_d, rel_err=0.02)
    # continuous exact values: within 4 stderr plus the (known, O(dt²)) time-step bias
    t_c, jl_c, jr_c, _ = exact_continuous(system)
    assert np.all(np.abs(res.temperatures - t_c) < 4 * res.temperatures_stderr + np.abs(t_d - t_c))
    assert abs(res.flux_left - jl_c) < 4 * res.flux_left_stderr + abs(jl_d - jl_c)
    assert abs(res.flux_right - jr_c) < 4 * res.flux_right_stderr + abs(jr_d - jr_c)


def test_equilibrium_all_temperatures_equal_bath_and_no_flux():
    """T_L = T_R = T: every T_n = T, J = 0 (thermal start at T: already stationary)."""
    chain = mf.MeanFieldChain(mass_profile("graded", 6, delta=0.2), k=1.0, k0=0.3,
                              t_left=0.7, t_right=0.7)
    res = simulate(chain, jax.random.PRNGKey(4), 512, 0.05, 4000, 200, initial="thermal")
    t_d, _, _ = exact_discrete(chain, 0.05)
    assert np.all(np.abs(res.temperatures - t_d) < 4 * res.temperatures_stderr)
    assert np.all(np.abs(res.temperatures - 0.7) < 4 * res.temperatures_stderr + 0.7 * 2e-3)
    assert abs(res.flux_left) < 4 * res.flux_left_stderr
    assert abs(res.flux_right) < 4 * res.flux_right_stderr


@pytest.mark.slow  # 8 s
def test_identical_masses_thermal_start_keeps_bulk_energy():
    """From a Gibbs state at T0 the N − 3 uncoupled bulk modes keep their energy:
    bulk T_n = particular solution + T0 (1 − 1/(N − 2)); the ends forget it."""
    n, t0 = 10, 0.5
    chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=0.02, t_left=1.0, t_right=0.0)
    dt = 0.1
    burn = int(8 * relaxation_time(chain) / dt)
    res = simulate(chain, jax.random.PRNGKey(5), 1024, dt, burn + 3000, burn, initial="thermal",
                   t_initial=t0)
    temps, jl, jr = particular_solution(chain)
    temps = temps.copy()
    temps[1:-1] += t0 * (1 - 1 / (n - 2))
    _assert_agrees(res, temps, jl, jr, rel_err=None)


def test_network_path_equals_chain_path():
    """The O(N) mean-field force and the dense K q give the same trajectories (to rounding)."""
    chain = mf.MeanFieldChain(mass_profile("random", 6, seed=2), k=0.8, k0=0.1, k_prime=0.2)
    args = (jax.random.PRNGKey(6), 4, 0.1, 300, 100)
    a = simulate(chain, *args, initial="thermal")
    b = simulate(chain.to_network(), *args, initial="thermal")
    np.testing.assert_allclose(a.temperatures, b.temperatures, rtol=1e-9)
    np.testing.assert_allclose([a.flux_left, a.flux_right], [b.flux_left, b.flux_right],
                               rtol=1e-8)


# ----------------------------------------------------------------------------------------------
# Checkpoint / resume, compilation, result I/O, CLI
# ----------------------------------------------------------------------------------------------


def test_checkpoint_resume_is_bit_identical(tmp_path, monkeypatch):
    chain = mf.MeanFieldChain(mass_profile("graded", 5), k=1.0, t_left=1.0, t_right=0.2)
    args = (chain, jax.random.PRNGKey(7), 3, 0.1, 1050, 200)
    kw = dict(chunk_size=100, initial="thermal", checkpoint_interval=0.0)
    full = simulate(*args, **kw)

    ckpt = tmp_path / "run.ckpt.npz"
    saves = []
    real_save = lg._save_checkpoint

    def interrupting_save(path, state, n, fp):
        real_save(path, state, n, fp)
        saves.append(int(state.step))
        if len(saves) == 4:
            raise KeyboardInterrupt  # killed after the 4th checkpoint (step 400)

    monkeypatch.setattr(lg, "_save_checkpoint", interrupting_save)
    with pytest.raises(KeyboardInterrupt):
        simulate(*args, checkpoint=ckpt, **kw)
    assert saves == [100, 200, 300, 400] and ckpt.exists()
    assert not list(tmp_path.glob("*.tmp"))  # no temporary left behind
    monkeypatch.setattr(lg, "_save_checkpoint", real_save)
    resumed = simulate(*args, checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(resumed.temperatures, full.temperatures)
    assert (resumed.flux_left, resumed.flux_right) == (full.flux_left, full.flux_right)
    np.testing.assert_array_equal(resumed.temperatures_stderr, full.temperatures_stderr)

    with pytest.raises(ValueError, match="checkpoint"):  # a different run must not resume it
        simulate(chain, jax.random.PRNGKey(8), 3, 0.1, 1050, 200, checkpoint=ckpt, **kw)


def test_new_parameter_values_and_run_lengths_do_not_recompile():
    """Counted from XLA's compile log, so it holds for whichever jitted step the backend
    uses (the donating one on GPU/TPU, the plain one on CPU)."""
    chain = mf.MeanFieldChain(mass_profile("random", 7), k=1.0)
    with compile_log() as first:
        simulate(chain, jax.random.PRNGKey(0), 3, 0.1, 50, 10, chunk_size=64)
    with compile_log() as later:
        other = mf.MeanFieldChain(mass_profile("graded", 7), k=0.5, k0=0.1, gamma=2.0,
                                  t_left=3.0)
        simulate(other, jax.random.PRNGKey(1), 3, 0.05, 333, 100, chunk_size=64)
        simulate(chain, jax.random.PRNGKey(2), 3, 0.2, 1000, 999, chunk_size=64,
                 initial="thermal")
    assert later.count("_run_chunk_impl") == 0, later.names
    # The log does see the step: a new chunk length compiles a new one.
    with compile_log() as new_length:
        simulate(chain, jax.random.PRNGKey(0), 3, 0.1, 50, 10, chunk_size=37)
    assert new_length.count("_run_chunk_impl") == 1, (first.names, new_length.names)


@pytest.mark.parametrize("n", [4, 16])  # the bottom and the top of the bucket 16
def test_padded_step_equals_unpadded_and_one_bucket_compiles_once(n, monkeypatch):
    """A chain runs padded to its step bucket; its trajectories are those of the exact-N
    program to rounding (the padding is inert), for rest and thermal starts, k0 = 0 and
    > 0, walls, both Ñ; and a second N of the bucket compiles no new step."""
    args = (jax.random.PRNGKey(3), 3, 0.1, 300, 100)
    chains = [mf.MeanFieldChain(mass_profile("random", n, seed=2), k=0.8, k0=0.0,
                                t_left=2.0, t_right=0.5),
              mf.MeanFieldChain(mass_profile("graded", n), k=0.5, k0=0.3, k_prime=0.4,
                                n_tilde=1.0, gamma=2.0, t_left=1.0, t_right=0.1)]
    padded = [simulate(c, *args, chunk_size=50, initial=i)
              for c, i in zip(chains, ("rest", "thermal"))]
    with compile_log() as other_n:  # N = 10, the same bucket and run shape
        simulate(mf.MeanFieldChain(mass_profile("random", 10), k=1.0), *args, chunk_size=50)
    assert other_n.count("_run_chunk_impl") == 0, other_n.names
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    exact = [simulate(c, *args, chunk_size=50, initial=i)
             for c, i in zip(chains, ("rest", "thermal"))]
    for a, b in zip(padded, exact):  # (bit for bit on this CPU; Σ_j q_j may round
        # differently with the padding's zeros in the sum elsewhere)
        np.testing.assert_allclose(a.temperatures, b.temperatures, rtol=1e-13, atol=0)
        np.testing.assert_allclose([a.flux_left, a.flux_right], [b.flux_left, b.flux_right],
                                   rtol=1e-12, atol=0)
        np.testing.assert_allclose(a.temperatures_stderr, b.temperatures_stderr, rtol=1e-12)


def test_result_fields_xarray_and_netcdf(tmp_path):
    import xarray as xr

    chain = mf.MeanFieldChain(mass_profile("graded", 4), k=1.0, k0=0.2, t_left=2.0, t_right=1.0)
    res = simulate(chain, jax.random.PRNGKey(0), 4, 0.1, 200, 50)
    assert isinstance(res, LangevinResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.dt = 1.0  # frozen
    assert res.temperatures.shape == res.temperatures_stderr.shape == (4,)
    assert (res.dt, res.n_steps, res.burn_in, res.n_trajectories) == (0.1, 200, 50, 4)
    assert res.system_params["k0"] == 0.2 and res.integrator == "BAOAB"
    path = tmp_path / "run.nc"
    res.to_netcdf(path)
    ds = xr.load_dataset(path)
    np.testing.assert_array_equal(ds["temperatures"].values, res.temperatures)
    assert float(ds["flux_left"]) == res.flux_left and ds.attrs["t_left"] == 2.0
    assert ds.attrs["system_k0"] == 0.2 and list(ds["particle"].values) == [1, 2, 3, 4]


def test_mass_profiles():
    np.testing.assert_allclose(mass_profile("graded", 5, m=2.0, delta=0.4),
                               [1.6, 1.8, 2.0, 2.2, 2.4])
    r = mass_profile("random", 1000, delta=0.1, seed=3)
    assert r.min() >= 0.9 and r.max() <= 1.1 and np.unique(r).size == 1000
    with pytest.raises(ValueError, match="kind"):
        mass_profile("fibonacci", 4)


def _cli(argv):
    args = build_parser().parse_args(argv)
    return args.func(args)


def test_cli_simulate_writes_netcdf(tmp_path):
    import xarray as xr

    cfg = tmp_path / "run.toml"
    cfg.write_text('masses = {kind = "graded", delta = 0.2}\nn = 5\nk = 1.0\nk0 = 0.1\n'
                   'n_tilde = "kac"\ngamma = 1.0\nt_left = 1.5\nt_right = 0.5\ndt = 0.1\n'
                   'n_steps = 300\nburn_in = 100\nn_trajectories = 4\nseed = 3\n'
                   f'initial = "thermal"\ncheckpoint = "{tmp_path / "c.npz"}"\n')
    out = tmp_path / "run.nc"
    assert _cli(["simulate", str(cfg), "--out", str(out), "--no-progress", "--no-exact",
                 "--no-compile-cache"]) == 0
    ds = xr.load_dataset(out)
    assert ds.sizes["particle"] == 5 and ds.attrs["n_steps"] == 300
    np.testing.assert_allclose(ds["masses"].values, mass_profile("graded", 5, delta=0.2))
    assert not (tmp_path / "c.npz").exists()  # removed once the result is written


@pytest.mark.parametrize("text, match", [
    ("masses = [1.0, 1.0]\ndt = 0.1\nn_steps = 10\nburn_in = 1\nn_trajectories = 2\ntemp = 1\n",
     "temp"),
    ("masses = [1.0, 1.0]\ndt = 0.1\nn_steps = 10\nburn_in = 1\n", "n_trajectories"),
    ('masses = {kind = "random", sigma = 1}\nn = 4\ndt = 0.1\nn_steps = 10\nburn_in = 1\n'
     'n_trajectories = 2\n', "sigma"),
    ("masses = [1.0, 1.0]\ndt = 0.1\nn_steps = 10\nburn_in = 10\nn_trajectories = 2\n", "burn_in"),
])
def test_cli_rejects_bad_config_before_computing(tmp_path, text, match, monkeypatch):
    def no_compute(*a, **k):
        raise AssertionError("simulate must not run on an invalid config")

    monkeypatch.setattr(lg, "simulate", no_compute)
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ValueError, match=match):
        _cli(["simulate", str(cfg), "--out", str(tmp_path / "x.nc")])


_RUN_TOML = ('masses = {kind = "random", delta = 0.2, seed = 1}\nn = 5\nk = 1.0\nk0 = 0.1\n'
             'dt = 0.1\nn_steps = 4000\nburn_in = 500\nn_trajectories = 8\nseed = 3\n'
             'initial = "thermal"\nchunk_size = 200\ncheckpoint_interval = 0\n')


@pytest.mark.slow  # 9 s; the sweep CLI signal test stays default
def test_cli_simulate_signals_exit_cleanly_and_resume_bit_identical(tmp_path,
                                                                    sigint_reaches_children):
    """SIGINT / SIGTERM at random moments (start-up, compilation, stepping, with a cold
    compile cache): exit 130 / 143 at once with one line and no traceback; rerunning resumes
    from the checkpoint to the uninterrupted result, bit for bit."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    import xarray as xr

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = tmp_path / "run.toml"
    cfg.write_text(_RUN_TOML)
    ref = tmp_path / "ref.nc"
    assert _cli(["simulate", str(cfg), "--out", str(ref), "--no-progress", "--no-exact",
                 "--no-compile-cache"]) == 0
    out = tmp_path / "run.nc"
    cmd = [sys.executable, "-m", "meanfield_jax._cli", "simulate", str(cfg), "--out", str(out),
           "--no-progress", "--no-exact"]
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rng = random.Random(3)
    ckpt = tmp_path / "run.nc.partial.npz"
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if sig == signal.SIGTERM:  # start-up or compilation
            time.sleep(rng.uniform(0.05, 2.5))
        else:  # while stepping, once a checkpoint exists
            deadline = time.time() + 30
            while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.2))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            continue  # finished first (not expected at these delays)
        assert proc.returncode == 128 + sig and "Traceback" not in err, err[-2000:]
        last = err.strip().splitlines()[-1]
        assert last.startswith("meanfield-jax: simulate interrupted") or \
            last == f"meanfield-jax: interrupted [{sig.name}]", last
        assert not out.exists() and not list(tmp_path.glob("*.tmp"))
    assert ckpt.exists()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # a signal after the last checkpoint (e.g. while xarray loads) leaves a finished one
    assert "resuming from checkpoint" in proc.stderr or "holds this run finished" in proc.stderr
    a, b = xr.load_dataset(ref), xr.load_dataset(out)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert not (tmp_path / "run.nc.partial.npz").exists()


# ---------------------------------------------------------------------- simulate command checks

_GOOD = {"masses": '{kind = "graded", delta = 0.2}', "n": "5", "k": "1.0", "dt": "0.1",
         "n_steps": "300", "burn_in": "100", "n_trajectories": "4", "seed": "3",
         "chunk_size": "100"}


def _toml(path, **changes):
    items = {**_GOOD, **changes}
    path.write_text("".join(f"{k} = {v}\n" for k, v in items.items() if v is not None))
    return str(path)


def _main(argv, capsys):
    from meanfield_jax import _cli as cli

    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_compute(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("simulate must not run")

    monkeypatch.setattr(lg, "simulate", refuse)


def test_simulate_missing_config_file_is_one_line_error(tmp_path, capsys, no_compute):
    code, _, err = _main(["simulate", str(tmp_path / "nope.toml"), "--out",
                          str(tmp_path / "r.nc")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("meanfield-jax: error: simulate config file not found")


@pytest.mark.parametrize("key, value", [
    ("dt", '"0.1"'), ("n_steps", '"300"'), ("burn_in", '"100"'), ("n_trajectories", '"4"'),
    ("k", '"1.0"'), ("k0", '"0"'), ("gamma", '"1"'), ("t_left", '"1"'), ("n", '"5"'),
    ("seed", '"3"'), ("chunk_size", '"100"'), ("checkpoint_interval", '"5"'),
    ("n_tilde", '"1"'), ("masses", '["1.0", "1.0", "1.0", "1.0", "1.0"]'),
    ("masses", '{kind = "graded", delta = "0.2"}'), ("masses", '{kind = "random", m = "1"}'),
])
def test_simulate_config_numbers_must_be_numbers(tmp_path, capsys, no_compute, key, value):
    cfg = _toml(tmp_path / "bad.toml", **{key: value})
    code, _, err = _main(["simulate", cfg, "--out", str(tmp_path / "r.nc")], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("meanfield-jax: error: simulate config: ")
    assert f"'{key}" in err or f"'masses." in err, err


@pytest.mark.parametrize("changes, key", [
    (dict(temp="1"), "temp"), (dict(dt=None), "dt"), (dict(dt="0"), "dt"),
    (dict(burn_in="300"), "burn_in"), (dict(n_trajectories="1"), "n_trajectories"),
    (dict(masses='{kind = "graded", delta = 1.5}'), "masses.delta"),
    (dict(masses='{kind = "graded", sigma = 1}'), "masses.sigma"),
    (dict(masses='"heavy"'), "masses"), (dict(n_steps="10.5"), "n_steps"),
    (dict(t_initial="1.0"), "t_initial"), (dict(checkpoint_interval="-1"), "checkpoint_interval"),
    (dict(checkpoint="3"), "checkpoint"), (dict(n_tilde='"N"'), "n_tilde"),
])
def test_simulate_config_errors_name_the_key(tmp_path, capsys, no_compute, changes, key):
    cfg = _toml(tmp_path / "bad.toml", **changes)
    code, _, err = _main(["simulate", cfg, "--out", str(tmp_path / "r.nc")], capsys)
    assert code == 2 and err.count("\n") == 1 and f"'{key}'" in err, err


def test_simulate_checks_output_and_checkpoint_paths_first(tmp_path, capsys, no_compute):
    cfg = _toml(tmp_path / "run.toml")
    code, _, err = _main(["simulate", cfg, "--out", str(tmp_path / "no" / "r.nc")], capsys)
    assert code == 2 and "--out" in err and "does not exist" in err
    cfg = _toml(tmp_path / "run.toml", checkpoint=f'"{tmp_path / "no" / "c.npz"}"')
    code, _, err = _main(["simulate", cfg, "--out", str(tmp_path / "r.nc")], capsys)
    assert code == 2 and "checkpoint" in err and "does not exist" in err


def test_simulate_config_checkpoint_interval_and_example_file():
    import os
    import tomllib

    from meanfield_jax._simulate_config import config_to_run

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "configs", "simulate_example.toml"), "rb") as fh:
        system, kwargs = config_to_run(tomllib.load(fh))
    assert kwargs["checkpoint_interval"] == 30.0 and system.n == 16
    _, kwargs = config_to_run({"masses": [1.0, 1.2], "dt": 0.1, "n_steps": 10, "burn_in": 1,
                               "n_trajectories": 2, "checkpoint_interval": 0})
    assert kwargs["checkpoint_interval"] == 0.0 and kwargs["checkpoint"] is None


def test_simulate_finished_checkpoint_is_reported_not_silent(tmp_path, capsys, monkeypatch):
    import tomllib

    import xarray as xr

    from meanfield_jax import _simulate_config, _simulation

    monkeypatch.setattr(_simulation, "_exact", lambda system: (0.125, np.full(system.n, 0.5), None))
    ckpt = tmp_path / "c.npz"
    cfg = _toml(tmp_path / "run.toml", checkpoint=f'"{ckpt}"')
    system, kwargs = _simulate_config.config_to_run(tomllib.loads((tmp_path / "run.toml").read_text()))
    kwargs.pop("checkpoint")
    done = simulate(system, checkpoint=ckpt, progress=False, **kwargs)  # killed before OUT
    assert ckpt.exists()
    out = tmp_path / "r.nc"
    code, stdout, err = _main(["simulate", cfg, "--out", str(out), "--no-progress"], capsys)
    assert code == 0 and "finished" in err and "stored result" in err
    assert "stored result of a finished checkpoint" in stdout
    assert "exact J = 1.250000e-01" in stdout and "(sim − exact)/σ" in stdout
    ds = xr.load_dataset(out)
    assert float(ds["flux_left"]) == done.flux_left and float(ds["flux_exact"]) == 0.125
    assert not ckpt.exists()
    # --fresh recomputes (same numbers), saying nothing about a checkpoint
    simulate(system, checkpoint=ckpt, progress=False, **kwargs)
    code, stdout, err = _main(["simulate", cfg, "--out", str(out), "--no-progress", "--fresh"],
                              capsys)
    assert code == 0 and "checkpoint" not in err and "s stepping" in stdout
    assert float(xr.load_dataset(out)["flux_left"]) == done.flux_left


def test_simulate_output_permissions_follow_umask(tmp_path, capsys):
    import os
    import stat

    cfg = _toml(tmp_path / "run.toml")
    old = os.umask(0o002)
    try:
        out = tmp_path / "r.nc"
        assert _main(["simulate", cfg, "--out", str(out), "--no-progress", "--no-exact",
                      "--no-compile-cache"], capsys)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o664


@pytest.mark.slow
def test_simulate_prints_exact_values_next_to_simulated(tmp_path, capsys):
    cfg = _toml(tmp_path / "run.toml")
    out = tmp_path / "r.nc"
    code, stdout, _ = _main(["simulate", cfg, "--out", str(out), "--no-progress",
                             "--no-compile-cache"], capsys)
    assert code == 0
    chain = mf.MeanFieldChain(mass_profile("graded", 5, delta=0.2), k=1.0)
    assert f"exact J = {float(mf.heat_flux(chain)):.6e}" in stdout
    import xarray as xr

    np.testing.assert_array_equal(xr.load_dataset(out)["temperatures_exact"].values,
                                  np.asarray(mf.local_temperatures(chain)))
