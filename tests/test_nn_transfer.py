"""Nearest-neighbour networks by ``method="transfer"`` (``meanfield_jax._transfer``) against
independent references: the package's secular normal-mode solver (poles and residues, no
recurrence), closed forms of the ordered chain (free ends; Rieder–Lebowitz–Lieb for fixed
ends), dense NumPy solves and mpmath (T(ω) in 40 digits, the state-space Lyapunov equation
in 40 digits, eigenvectors by a 200-digit recurrence), plus the invariants
T_R ≤ T_n ≤ T_L and J_left = J_right."""

import mpmath as mp
import numpy as np
import pytest
import reference_mp
import reference_numpy

import meanfield_jax as mf
from meanfield_jax import _transfer, networks
from meanfield_jax import masses as mass_configs

RNG = np.random.default_rng(13)


def _flux(net):
    r = mf.heat_flux_with_error(net, method="transfer")
    return float(r.flux), float(r.error_estimate), bool(r.converged)


@pytest.mark.parametrize("n,k,gamma", [(2, 1.0, 1.0), (40, 0.3, 2.5),
                                       pytest.param(7, 0.3, 2.5, marks=pytest.mark.slow)])
def test_ordered_free_chain_closed_form(n, k, gamma):
    j, err, ok = _flux(networks.nearest_neighbour(np.full(n, 1.3), k=k, gamma=gamma))
    exact = k * gamma / (2 * (k * 1.3 + gamma ** 2))
    assert ok
    assert abs(j - exact) <= max(err, 1e-15) + 1e-14 * exact
    assert err < 1e-9 * exact


_SLOW = pytest.mark.slow


@pytest.mark.parametrize("n,k_prime,k0", [
    (50, 0.5, 0.05), pytest.param(50, 0.0, 0.0, marks=_SLOW),
    pytest.param(50, 1.0, 0.0, marks=_SLOW),
    *(pytest.param(n, kp, k0, marks=_SLOW) for n in (300, 2048)
      for kp, k0 in ((0.0, 0.0), (1.0, 0.0), (0.5, 0.05)))])
def test_disordered_chain_matches_secular_solver(n, k_prime, k0):
    masses = RNG.uniform(0.2, 1.8, n)  # strong disorder: localized modes, clustered peaks
    net = networks.nearest_neighbour(masses, k=0.7, gamma=1.3, k_prime=k_prime, k0=k0)
    j, err, ok = _flux(net)
    ref = mf.heat_flux_with_error(net, method="residues")
    assert ok and bool(ref.converged)
    assert abs(j - float(ref.flux)) <= 1e-10 * j, (j, float(ref.flux), err)
    assert abs(j - float(ref.flux)) <= err + float(ref.error_estimate) + 1e-13 * j
    assert err < 1e-9 * j


def test_transmittance_against_dense_solve_and_mpmath():
    n = 30
    masses = RNG.uniform(0.5, 1.5, n)
    net = networks.nearest_neighbour(masses, k=0.8, gamma=0.6, k_prime=0.8, k0=0.1)
    omega = np.linspace(0.01, 2.5, 97)
    ours = np.asarray(mf.transmittance(net, omega, method="transfer"))
    dense = reference_numpy.transmittance_dense(masses, np.asarray(net.stiffness), 0.6, 0.8,
                                                omega)
    # the dense LU solve is accurate in absolute terms (T ≤ 1), the recurrence in relative ones
    np.testing.assert_allclose(ours, dense, rtol=1e-10, atol=1e-14)
    with mp.workdps(40):
        for w in (0.9, 2.0, 2.5):  # inside the band, at its edge, far above (T ~ 1e-39)
            z = mp.matrix(n, n)
            for i in range(n):
                wall = 0.8 if i in (0, n - 1) else 0.0
                z[i, i] = (mp.mpf(float(net.stiffness[i, i])) + mp.mpf(wall)
                           - mp.mpf(w) ** 2 * mp.mpf(masses[i])
                           - (1j * mp.mpf(w) * mp.mpf(0.6) if i in (0, n - 1) else 0))
                if i < n - 1:
                    z[i, i + 1] = z[i + 1, i] = -mp.mpf(0.8)
            exact = 4 * mp.mpf(0.6) ** 2 * mp.mpf(w) ** 2 * abs(mp.inverse(z)[0, n - 1]) ** 2
            got = float(mf.transmittance(net, w, method="transfer"))
            assert abs(got / float(exact) - 1) < 1e-12, (w, got, float(exact))


def test_transmittance_free_chain_at_zero_and_vmap_over_systems():
    import jax

    nets = [networks.nearest_neighbour(RNG.uniform(0.5, 1.5, 12), k=0.9, gamma=0.7)
            for _ in range(3)]
    omega = np.array([0.0, 1e-9, 0.4, 1.1])
    batch = mf.stack_systems(nets)
    got = jax.vmap(lambda s: mf.transmittance(s, omega, method="transfer"))(batch)
    for net, row in zip(nets, np.asarray(got)):
        dense = reference_numpy.transmittance_dense(np.asarray(net.masses),
                                                    np.asarray(net.stiffness), 0.7, 0.0,
                                                    omega[1:])
        np.testing.assert_allclose(row[1:], dense, rtol=1e-10)
        assert row[0] == 1.0  # a free chain transmits fully at ω = 0 (Eq. 23's analogue)
    pinned = networks.nearest_neighbour(np.ones(5), k0=0.1)
    assert float(mf.transmittance(pinned, 0.0, method="transfer")) == 0.0


@pytest.mark.parametrize("m, k, gamma", [(1.0, 1.0, 1.0),
                                         pytest.param(0.7, 2.0, 0.1, marks=_SLOW),
                                         pytest.param(1.0, 1.0, 5.0, marks=_SLOW)])
def test_ordered_fixed_chain_rieder_lebowitz_lieb_limit(m, k, gamma):
    """Ordered fixed-end chain (N = 64, k' = k) against the N → ∞ limit of Rieder,
    Lebowitz & Lieb (1967) to 1e-10."""
    nu = k * m / gamma**2
    limit = k / (2.0 * gamma) * (4.0 / nu) / (1.0 + np.sqrt(1.0 + 4.0 / nu)) ** 2
    r = mf.nearest_neighbour_flux_with_error(np.full(64, m), k=k, gamma=gamma, k_prime=k)
    assert float(r.flux) == pytest.approx(limit, rel=1e-10)
    assert float(r.error_estimate) < 1e-10 * float(r.flux)


def _mp_end_amplitudes(chain, lam64, dps=100):
    """(U_1j, U_Nj) of the mode at λ ≈ lam64, independently of the package: λ by bisection
    on the Sturm count of K̃ − λ (K̃ = M^−½ K_w M^−½) to ~10^−(dps−10), the mode by the
    forward recurrence from particle 1, then mass-normalised. The recurrence is unstable
    beyond the mode's centre (an error δλ grows like the mode decays there, so it needs
    δλ ≪ |u_N/u_centre|²): repeated at twice the digits until two runs agree to 1e-14."""
    last = None
    while True:
        now = _mp_end_amplitudes_at(chain, lam64, dps)
        if last is not None and all(abs(a / b - 1) < 1e-14 for a, b in zip(now, last)):
            return now
        last, dps = now, 2 * dps


def _mp_end_amplitudes_at(chain, lam64, dps):
    m = [mp.mpf(float(x)) for x in np.asarray(chain.masses)]
    k = [mp.mpf(float(x)) for x in np.asarray(chain.spring)]
    e = [mp.mpf(float(x)) for x in np.asarray(chain.excess)]
    n = len(m)
    with mp.workdps(dps):
        diag = [e[i] + (k[i - 1] if i > 0 else 0) + (k[i] if i < n - 1 else 0) for i in range(n)]
        a = [diag[i] / m[i] for i in range(n)]
        b = [-k[i] / mp.sqrt(m[i] * m[i + 1]) for i in range(n - 1)]

        def below(x):  # number of eigenvalues < x (Sturm: negative LDLᵀ pivots)
            count, d = 0, a[0] - x
            count += d < 0
            for i in range(1, n):
                d = a[i] - x - b[i - 1] ** 2 / (d if d != 0 else mp.mpf(10) ** (-dps))
                count += d < 0
            return count

        index = below(mp.mpf(lam64))  # lam64 within ~1e-15: the mode just above or below
        lo, hi = mp.mpf(lam64) - mp.mpf(1e-10), mp.mpf(lam64) + mp.mpf(1e-10)
        target = below(lo)
        assert below(hi) == target + 1 and index in (target, target + 1)
        while hi - lo > mp.mpf(10) ** (-(dps - 10)):
            mid = (lo + hi) / 2
            if below(mid) > target:
                hi = mid
            else:
                lo = mid
        lam = (lo + hi) / 2
        v = [mp.mpf(1), (lam - a[0]) / b[0]]
        for i in range(1, n - 1):
            v.append(((lam - a[i]) * v[i] - b[i - 1] * v[i - 1]) / b[i])
        norm = mp.sqrt(mp.fsum(x * x for x in v))
        return float(1 / norm / mp.sqrt(m[0])), float(v[-1] / norm / mp.sqrt(m[-1]))


def test_end_amplitudes_to_full_relative_accuracy():
    """Modes localized inside a strongly disordered chain have end amplitudes far below
    eigh's absolute accuracy (~1e-16); the twisted factorisation gets them to ~Nε relative."""
    masses = np.asarray(mass_configs.uniform(mass_configs.realization_key(0, 48, 0), 48,
                                             1.0, 0.8))
    chain = _transfer.from_network(networks.nearest_neighbour(masses, k_prime=1.0))
    lam, u1, un = _transfer.end_amplitudes(chain)
    smallest = np.argsort(np.minimum(np.abs(u1), np.abs(un)))[:3]
    picks = list(smallest) + [len(lam) // 2]
    assert np.min(np.maximum(np.abs(u1), np.abs(un))[smallest]) < 1e-12  # really unresolvable
    for j in picks:
        ref1, refn = _mp_end_amplitudes(chain, lam[j])
        assert abs(abs(u1[j]) / abs(ref1) - 1) < 1e-12, (j, u1[j], ref1)
        assert abs(abs(un[j]) / abs(refn) - 1) < 1e-12, (j, un[j], refn)
        assert np.sign(u1[j] * un[j]) == np.sign(ref1 * refn)


def _check_temperatures(net, ref, *, tol_est=1e-11):
    r = mf.local_temperatures_with_error(net, method="transfer")
    temps, err = np.asarray(r.temperatures), np.asarray(r.error_estimate)
    assert bool(r.converged)
    assert np.all(np.abs(temps - ref) <= err + 1e-15), np.max(np.abs(temps - ref) - err)
    assert np.all(err < tol_est)
    return temps


@pytest.mark.parametrize("k_prime,k0", [(0.0, 0.0), pytest.param(1.0, 0.0, marks=_SLOW),
                                         pytest.param(0.0, 0.1, marks=_SLOW)])
def test_temperatures_against_mpmath_lyapunov(k_prime, k0):
    masses = RNG.uniform(0.5, 1.5, 8)
    net = networks.nearest_neighbour(masses, k=0.8, gamma=0.6, k_prime=k_prime, k0=k0,
                                     t_left=2.0, t_right=0.5)
    flux, ref = reference_mp.network_steady_state_mp(
        list(masses), np.asarray(net.stiffness).tolist(), 0.6, 2.0, 0.5, k_prime, dps=40)
    _check_temperatures(net, np.array([float(x) for x in ref]))
    j, err, _ = _flux(net)
    assert abs(j - float(flux)) <= err + 1e-15


def test_temperatures_of_an_unresolvable_mode_against_mpmath():
    """A light impurity in a heavy chain: its mode, far above the band, has end amplitudes
    1e-15 and 5e-19 (eigh's noise is ~1e-17; the secular solver's T_n estimate is ~1e-4
    there and it reports not converged). The exact T_n (80-digit state-space Lyapunov)."""
    masses = np.ones(12)
    masses[5] = 0.001
    net = networks.nearest_neighbour(masses, k=1.0, gamma=0.8, k_prime=1.0, t_left=1.0,
                                     t_right=0.0)
    lam, u1, un = _transfer.end_amplitudes(_transfer.from_network(net))
    assert abs(u1[-1]) < 1e-14 and abs(un[-1]) < 1e-17  # the impurity mode
    flux, ref = reference_mp.network_steady_state_mp(
        list(masses), np.asarray(net.stiffness).tolist(), 0.8, 1.0, 0.0, 1.0, dps=80)
    temps = _check_temperatures(net, np.array([float(x) for x in ref]))
    assert 0.0 <= temps.min() and temps.max() <= 1.0


@pytest.mark.slow
def test_temperatures_strong_disorder_n40_against_mpmath_lyapunov():
    masses = np.asarray(mass_configs.uniform(mass_configs.realization_key(0, 40, 0), 40,
                                             1.0, 0.8))
    net = networks.nearest_neighbour(masses, k_prime=1.0, t_left=1.0, t_right=0.0)
    flux, ref = reference_mp.network_steady_state_mp(
        list(masses), np.asarray(net.stiffness).tolist(), 1.0, 1.0, 0.0, 1.0, dps=60)
    _check_temperatures(net, np.array([float(x) for x in ref]))


def _invariants(net, temps, err):
    """T_R ≤ T_n ≤ T_L within the estimates; J_left = J_right = J of the quadrature."""
    t_l, t_r = float(net.t_left), float(net.t_right)
    assert np.all(temps >= t_r - err) and np.all(temps <= t_l + err)
    m = np.asarray(net.masses)
    gamma = float(net.gamma)
    j_left = gamma * (t_l - temps[0]) / m[0]
    j_right = gamma * (temps[-1] - t_r) / m[-1]
    j, j_err, ok = _flux(net)
    assert ok
    scale = gamma * (err[0] / m[0] + err[-1] / m[-1]) + j_err
    assert abs(j_left - j_right) <= scale
    assert abs(j_left - j) <= scale and abs(j_right - j) <= scale


def test_invariants_disordered_chain():
    rng = np.random.default_rng(1)  # the secular solver flags its T_n (estimate 9e-5)
    net = networks.nearest_neighbour(rng.uniform(0.2, 1.8, 60), k=0.7, gamma=1.3,
                                     k_prime=0.5, t_left=1.5, t_right=0.25)
    r = mf.local_temperatures_with_error(net, method="transfer")
    assert bool(r.converged)
    _invariants(net, np.asarray(r.temperatures), np.asarray(r.error_estimate))
    swapped = networks.nearest_neighbour(np.asarray(net.masses), k=0.7, gamma=1.3,
                                         k_prime=0.5, t_left=0.8, t_right=0.8)
    same = mf.local_temperatures_with_error(swapped, method="transfer")
    # T_L = T_R: every T_n equals it, within its estimate
    assert np.all(np.abs(np.asarray(same.temperatures) - 0.8)
                  <= np.asarray(same.error_estimate))


@pytest.mark.slow
@pytest.mark.parametrize("delta", [0.1, 0.8])
@pytest.mark.parametrize("n", [300, 3000])
def test_disordered_nn_temperatures_large_n(n, delta):
    """Disordered NN chains (masses 1 ± δ, k = γ = 1, fixed ends), where float64 eigh
    cannot resolve the end amplitudes of the localized modes: T_n converged, the invariants,
    weakly coupled modes' amplitudes against a multi-precision recurrence (N = 300), and
    the secular solver's T_n wherever that solver's own estimate is small (N = 300)."""
    masses = np.asarray(mass_configs.uniform(mass_configs.realization_key(0, n, 0), n, 1.0,
                                             delta))
    net = networks.nearest_neighbour(masses, k_prime=1.0, t_left=1.0, t_right=0.0)
    r = mf.local_temperatures_with_error(net, method="transfer")
    temps, err = np.asarray(r.temperatures), np.asarray(r.error_estimate)
    assert bool(r.converged), err.max()
    _invariants(net, temps, err)
    if n > 300:
        return
    chain = _transfer.from_network(net)
    lam, u1, un = _transfer.end_amplitudes(chain)
    size = np.maximum(np.abs(u1), np.abs(un))
    # the three least-coupled modes above 1e-40 (far below eigh's ~1e-16; smaller ones
    # need thousands of digits in the reference recurrence)
    for j in [i for i in np.argsort(size) if size[i] > 1e-40][:3]:
        ref1, refn = _mp_end_amplitudes(chain, lam[j])
        assert abs(abs(u1[j]) / abs(ref1) - 1) < 1e-10
        assert abs(abs(un[j]) / abs(refn) - 1) < 1e-10
    sec = mf.local_temperatures_with_error(net, method="residues")
    good = np.asarray(sec.error_estimate) < 1e-9
    assert good.sum() >= 2
    diff = np.abs(temps - np.asarray(sec.temperatures))[good]
    assert np.all(diff <= err[good] + np.asarray(sec.error_estimate)[good] + 1e-13)


def test_method_errors():
    import jax

    with pytest.raises(ValueError, match="method='transfer'"):
        mf.heat_flux(networks.power_law(np.ones(5), 1.0), method="transfer")
    with pytest.raises(ValueError, match="method='transfer'"):
        mf.local_temperatures(networks.power_law(np.ones(5), 1.0), method="transfer")
    with pytest.raises(ValueError, match="method='transfer'"):
        mf.transmittance(networks.power_law(np.ones(5), 1.0), 0.3, method="transfer")
    with pytest.raises(ValueError, match="method='transfer'"):
        mf.heat_flux(mf.MeanFieldChain(np.ones(5)), method="transfer")
    net = networks.nearest_neighbour(np.ones(5))
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(lambda s: mf.heat_flux(s, method="transfer"))(net)
    with pytest.raises(ValueError, match="masses"):
        mf.nearest_neighbour_flux_with_error([1.0, -1.0])
    with pytest.raises(ValueError, match="k must"):
        mf.nearest_neighbour_flux_with_error([1.0] * 3, k=[1.0])


def test_ensemble_flux_transfer_equals_single_calls():
    nets = [networks.nearest_neighbour(RNG.uniform(0.5, 1.5, 8), k_prime=0.5)
            for _ in range(3)]
    res = mf.ensemble_flux(mf.stack_systems(nets), method="transfer", chunk_size=2)
    assert res.converged.all()
    for i, net in enumerate(nets):
        j, _, _ = _flux(net)
        assert res.flux[i] == pytest.approx(j, rel=1e-14)
    with pytest.raises(ValueError, match="method='transfer'"):
        mf.ensemble_flux(mf.stack_systems([networks.power_law(np.ones(4), 1.0)] * 2),
                         method="transfer")


@pytest.mark.slow  # compiles the sweep's programs (~8 s)
def test_sweep_with_transfer_method(tmp_path):
    from meanfield_jax import run_sweep
    from meanfield_jax._sweep_config import make_config

    cfg = make_config({"model": "nearest_neighbour", "method": "transfer", "sizes": [6],
                       "masses": ["random"], "realizations": 2, "seed": 7, "k0": [0.02],
                       "n_tilde": [1], "chunk_size": 4, "fit_min_n": 0})
    ds = run_sweep(cfg, str(tmp_path / "nn.nc"), progress=False)
    assert ds["converged"].values.all()
    m = mass_configs.from_kind("random", 6, seed=7, realization=1)
    net = networks.nearest_neighbour(m, k=cfg.k, k0=0.02)
    got = ds["flux"].sel(masses="random", N=6, realization=1).values.ravel()[0]
    np.testing.assert_allclose(got, float(mf.heat_flux(net, method="lyapunov")), rtol=1e-9)
    with pytest.raises(ValueError, match="transfer"):
        make_config({"model": "power_law", "alpha": [1.0], "method": "transfer",
                     "sizes": [8], "masses": ["random"], "realizations": [2]})


def test_auto_dispatch_for_nearest_neighbour_networks():
    """``"auto"``: T(ω) of a concrete nearest-neighbour network by the recurrence at any N
    (equal to ``"transfer"`` bit for bit); J and T_n by ``"transfer"`` from N = 1024."""
    from meanfield_jax._transport import TRANSFER_FROM, resolve_method

    big = networks.nearest_neighbour(np.ones(TRANSFER_FROM))
    assert resolve_method(big, "auto") == "transfer"
    assert resolve_method(networks.nearest_neighbour(np.ones(TRANSFER_FROM - 1)),
                          "auto") == "residues"
    assert resolve_method(networks.power_law(np.ones(TRANSFER_FROM), 1.0), "auto") == "residues"
    net = networks.nearest_neighbour(RNG.uniform(0.5, 1.5, 9), k_prime=0.3)
    omega = np.linspace(0.0, 3.0, 7)
    np.testing.assert_array_equal(np.asarray(mf.transmittance(net, omega)),
                                  np.asarray(mf.transmittance(net, omega, method="transfer")))
