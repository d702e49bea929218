"""Resonance peaks (autodiff Newton), exact widths, Lorentzian fits, parameter gradients.

Oracles: the closed form of Eq. (20) maximized in 50-digit mpmath (root of d log T/dω);
Eq. (26) for the O(N⁻²) approach; dense NumPy solves (tests/reference_numpy.py) for
non-identical masses; central finite differences for gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import meanfield_jax as mf
from meanfield_jax import _lorentzian as lz
from meanfield_jax import _resonances as res
from meanfield_jax import analytic as an

import reference_numpy as ref

SIZES = (100, 1000, 10_000)


def _exact_peak(n, m, k, k0, n_tilde, gamma, guess):
    """Maximum of Eq. (20) (identical masses, k0 > 0): root of d log T/dω in mpmath."""
    with mp.workdps(50):
        n, m, k, k0, n_tilde, g = map(mp.mpf, (n, m, k, k0, n_tilde, gamma))
        kap = k / n_tilde

        def dlog_t(w):  # d/dω log T of Eqs. (20)–(22)
            d, dd = n * kap + k0 - m * w**2, -2 * m * w
            e, de = k0 - m * w**2, -2 * m * w
            f, df = d**2 + g**2 * w**2, 2 * d * dd + 2 * g**2 * w
            big = g**2 * w**2 * (2 * kap + e) ** 2 + e**2 * d**2
            dbig = (2 * g**2 * w * (2 * kap + e) ** 2 + 2 * g**2 * w**2 * (2 * kap + e) * de
                    + 2 * e * de * d**2 + 2 * e**2 * d * dd)
            return 2 / w + 2 * dd / d - df / f - dbig / big

        h = mp.mpf("0.2") / n  # well inside the half width ~1/(2N)
        return mp.findroot(dlog_t, (mp.mpf(guess) - h, mp.mpf(guess) + h), solver="anderson")


# ----------------------------------------------------------------------- resonance_frequency


@pytest.mark.parametrize("kac", [True, False])
def test_resonance_frequency_matches_exact_maximum_of_eq20(kac):
    # m = k = γ = k0 = 1 (Fig. 3). Tolerance 1e-10 relative (acceptance); measured ~1e-16.
    deviations = []
    for n in SIZES:
        n_tilde = n - 1.0 if kac else 1.0
        chain = mf.MeanFieldChain(np.ones(n), k=1.0, k0=1.0, n_tilde=n_tilde)
        guess = float(an.omega_c_asymptotic(n, 1.0, 1.0, 1.0, "kac" if kac else 1, 1.0))
        r = res.resonance_frequency_with_error(chain, guess)
        assert bool(r.converged)
        exact = _exact_peak(n, 1.0, 1.0, 1.0, n_tilde, 1.0, guess)
        assert abs(float((mp.mpf(float(r.omega)) - exact) / exact)) <= 1e-10
        # T at the maximum is 1 (Eq. 26's defining property, exact here to rounding)
        assert abs(float(r.height) - 1.0) <= 1e-12
        # the Newton iterate is a maximum: T is lower at ±1e-3 half widths
        w = float(r.omega)
        t = np.asarray(mf.transmittance(chain, w + np.array([-1e-3, 1e-3]) * float(r.curvature_hwhm)))
        assert np.all(t < float(r.height))
        deviations.append(float(exact) - guess)
    # Eq. (26) is exact to O(N⁻²): N²·(ω_c − Eq. 26) tends to a constant
    # (measured: Kac 0.6345, 0.6259, 0.6251; Ñ = 1: 1.00005, 1.0000005, 1.000000005)
    scaled = np.array(deviations) * np.array(SIZES, float) ** 2
    assert np.all(np.abs(scaled) < 5.0)
    assert abs(scaled[2] - scaled[1]) <= 0.02 * abs(scaled[2])
    assert abs(scaled[1] - scaled[0]) > 5.0 * abs(scaled[2] - scaled[1])  # converging like 1/N


def test_resonance_frequency_public_pair_and_failure():
    chain = mf.MeanFieldChain(np.ones(100), k=1.0, k0=1.0)
    wc, tmax = mf_resonance_frequency()(chain, 1.0)
    assert abs(float(wc) - 1.0050634543126) < 1e-12 and abs(float(tmax) - 1.0) < 1e-12
    # a guess exactly on the bulk resonance (T = 0 there, u = 1/T infinite): explicit failure
    bulk = float(np.sqrt(chain.kappa_bar + chain.k0))
    r = res.resonance_frequency_with_error(chain, bulk)
    assert not bool(r.converged)
    with pytest.raises(RuntimeError, match="did not converge"):
        mf_resonance_frequency()(chain, bulk)


def mf_resonance_frequency():
    return getattr(mf, "resonance_frequency", res.resonance_frequency)


def test_resonance_frequency_vmap_equals_loop_and_random_masses():
    rng = np.random.default_rng(3)
    chains = [mf.MeanFieldChain(1.0 + 0.1 * (2 * rng.random(50) - 1), k=1.0, k0=1.0)
              for _ in range(4)]
    batch = mf.stack_systems(chains)
    guesses = jnp.full(4, 1.0)
    out = jax.vmap(res.resonance_frequency_with_error)(batch, guesses)
    assert np.all(np.asarray(out.converged))
    for i, chain in enumerate(chains):
        one = res.resonance_frequency_with_error(chain, 1.0)
        assert float(out.omega[i]) == pytest.approx(float(one.omega), rel=1e-13)
        # oracle: dense solve (reference_numpy) confirms a local maximum with that height
        kmat = ref.chain_stiffness(np.asarray(chain.masses), 1.0, 1.0, "kac")
        w = float(one.omega)
        h = 1e-3 * float(one.curvature_hwhm)
        t = ref.transmittance_dense(np.asarray(chain.masses), kmat, 1.0, 0.0,
                                    np.array([w - h, w, w + h]))
        assert t[1] == pytest.approx(float(one.height), rel=1e-10)
        assert t[1] > t[0] and t[1] > t[2]


def test_resonance_frequency_gradients_implicit_function():
    # dω_c/dθ and dT_max/dθ through the implicit-function step, vs central differences.
    rng = np.random.default_rng(4)
    chain = mf.MeanFieldChain(1.0 + 0.1 * (2 * rng.random(20) - 1), k=0.8, k0=0.6, gamma=0.9)
    guess = 0.78

    def peak(c):
        r = res.resonance_frequency_with_error(c, guess)
        return r.omega, r.height

    g_w = jax.grad(lambda c: peak(c)[0])(chain)
    g_t = jax.grad(lambda c: peak(c)[1])(chain)
    for name in ("k", "k0", "gamma"):
        x = float(getattr(chain, name))
        h = 1e-5 * x
        wp, tp = peak(chain.replace(**{name: x + h}))
        wm, tm = peak(chain.replace(**{name: x - h}))
        assert float(getattr(g_w, name)) == pytest.approx(float(wp - wm) / (2 * h), rel=1e-6)
        assert float(getattr(g_t, name)) == pytest.approx(float(tp - tm) / (2 * h), rel=1e-4, abs=1e-9)
    for i in (0, 7, 19):
        masses = np.asarray(chain.masses)
        h = 1e-5
        mp_, mm_ = masses.copy(), masses.copy()
        mp_[i] += h
        mm_[i] -= h
        wp, _ = peak(chain.replace(masses=mp_))
        wm, _ = peak(chain.replace(masses=mm_))
        assert float(g_w.masses[i]) == pytest.approx(float(wp - wm) / (2 * h), rel=1e-5)


# ----------------------------------------------------------------------- find_resonances


@pytest.mark.slow  # 10 s
def test_find_resonances_matches_dense_grid_scan():
    # Strong disorder, small N: every peak is resolvable on a grid, so an independent scan
    # (dense solves + bounded Brent refinement) finds them all.
    rng = np.random.default_rng(2)
    masses = 1.0 + 0.5 * (2 * rng.random(12) - 1)
    chain = mf.MeanFieldChain(masses, k=1.0, k0=1.0)
    found = res.find_resonances(chain, threshold=1e-3)
    assert np.all(np.asarray(found.converged))
    kmat = ref.chain_stiffness(masses, 1.0, 1.0, "kac")

    def t_ref(w):
        return ref.transmittance_dense(masses, kmat, 1.0, 0.0, np.atleast_1d(w))

    grid = np.linspace(1e-4, 3.0, 200_001)
    tg = t_ref(grid)
    idx = np.where((tg[1:-1] > tg[:-2]) & (tg[1:-1] > tg[2:]))[0] + 1
    peaks = []
    for i in idx:
        r = minimize_scalar(lambda w: -t_ref(w)[0], bounds=(grid[i - 1], grid[i + 1]),
                            method="bounded", options={"xatol": 1e-13})
        if -r.fun >= 1e-3:
            peaks.append((r.x, -r.fun))
    omega = np.asarray(found.omega)
    assert len(peaks) == len(omega)
    for (w, t), w_f, t_f in zip(peaks, omega, np.asarray(found.height)):
        assert w_f == pytest.approx(w, rel=1e-7)  # Brent on a flat top: ~sqrt(eps) limited
        assert t_f == pytest.approx(t, rel=1e-10)
    # exact half widths: T(ω_c ± hwhm) = T_max / 2 (dense oracle)
    for w, t, hl, hr in zip(omega, np.asarray(found.height), np.asarray(found.hwhm_left),
                            np.asarray(found.hwhm_right)):
        assert t_ref(w - hl)[0] == pytest.approx(0.5 * t, rel=1e-8)
        assert t_ref(w + hr)[0] == pytest.approx(0.5 * t, rel=1e-8)
    # every gap between consecutive bulk frequencies (zeros of T) holds a peak
    bulk = np.sort(np.sqrt((float(chain.kappa_bar) + 1.0) / masses[1:-1]))
    all_peaks = np.asarray(res.find_resonances(chain, threshold=0.0).omega)
    for lo, hi in zip(bulk[:-1], bulk[1:]):
        assert np.any((all_peaks > lo) & (all_peaks < hi))


# ----------------------------------------------------------------------- Lorentzian fits


def test_fit_lorentzians_width_and_eq29():
    # A fitted (Eq. 28) = 1/(N·HWHM) to 1e-2 (acceptance; measured ~1e-6) and → Eq. (29).
    a29 = float(an.amplitude_A(1.0, 1.0, 1.0, "kac", 1.0))  # = 2
    gaps = []
    for n in (1000, 10_000):
        chain = mf.MeanFieldChain(np.ones(n), k=1.0, k0=1.0)
        guess = float(an.omega_c_asymptotic(n, 1.0, 1.0, 1.0, "kac", 1.0))
        fit = lz.fit_resonance_lorentzians(chain, omega_guess=guess)
        assert bool(fit.converged)
        assert float(fit.A) == pytest.approx(float(fit.A_exact), rel=1e-2)
        assert float(fit.A) == pytest.approx(float(fit.A_exact), rel=1e-5)
        assert float(fit.centers[1]) == pytest.approx(float(fit.omega_c), abs=1e-2 * float(fit.hwhm))
        assert float(fit.residual) < 1e-3
        gaps.append(abs(float(fit.A) - a29))
    assert gaps[1] < 0.2 * gaps[0]  # O(1/N) approach to Eq. 29 (measured 4.0e-3, 4.0e-4)


def test_fit_lorentzian_user_data():
    w = jnp.linspace(0.9, 1.1, 101)
    t = 0.8 / (1 + ((w - 1.01) / 0.02) ** 2)
    fit = lz.fit_lorentzian_curve(w, t, n=50)
    assert bool(fit.converged)
    assert float(fit.center) == pytest.approx(1.01, rel=1e-9)
    assert float(fit.hwhm) == pytest.approx(0.02, rel=1e-8)
    assert float(fit.height) == pytest.approx(0.8, rel=1e-8)
    assert float(fit.A) == pytest.approx(1.0, rel=1e-8)
    with pytest.raises(ValueError):
        lz.fit_lorentzian_curve(w, t[:-1])


# ----------------------------------------------------------------------- parameter gradients


def _chain_for_gradients():
    rng = np.random.default_rng(5)
    return mf.MeanFieldChain(1.0 + 0.1 * (2 * rng.random(6) - 1), k=0.9, k0=0.4, gamma=0.8)


def _fd(fun, chain, name, i=None, rel=1e-6):
    if i is None:
        x = float(getattr(chain, name))
        h = rel * x
        return (fun(chain.replace(**{name: x + h})) - fun(chain.replace(**{name: x - h}))) / (2 * h)
    masses = np.asarray(chain.masses)
    h = rel * masses[i]
    up, dn = masses.copy(), masses.copy()
    up[i] += h
    dn[i] -= h
    return (fun(chain.replace(masses=up)) - fun(chain.replace(masses=dn))) / (2 * h)


def test_transmittance_gradients_match_finite_differences():
    chain = _chain_for_gradients()
    for omega in (0.3, 0.75, 1.2, 2.5):
        def t_of(c, omega=omega):
            return float(mf.transmittance(c, omega))

        grad = jax.grad(lambda c: mf.transmittance(c, omega))(chain)
        for name in ("k", "k0", "gamma"):
            assert float(getattr(grad, name)) == pytest.approx(
                _fd(t_of, chain, name), rel=1e-6, abs=1e-9)
        for i in (0, 2, 5):
            assert float(grad.masses[i]) == pytest.approx(_fd(t_of, chain, "masses", i),
                                                          rel=1e-6, abs=1e-9)


@pytest.mark.slow
def test_heat_flux_gradients_match_finite_differences():
    # Needs heat_flux differentiable (residue method with implicit differentiation of the
    # poles). Passes at rel 1e-6; marked slow: ~40 s, almost all of it XLA compilation of
    # the pole solver's forward and reverse passes (independent of N).
    chain = _chain_for_gradients()

    def j_of(c):
        return float(mf.heat_flux(c))

    grad = jax.grad(lambda c: mf.heat_flux(c))(chain)
    for name in ("k", "k0", "gamma"):
        assert float(getattr(grad, name)) == pytest.approx(_fd(j_of, chain, name), rel=1e-6)
    for i in (0, 2, 5):
        assert float(grad.masses[i]) == pytest.approx(_fd(j_of, chain, "masses", i), rel=1e-6)
