"""scripts/nn_transfer.py (three-term recurrence + adaptive tanh-sinh quadrature, no
eigenvectors, no poles) against the package's secular normal-mode solver on the same
nearest-neighbour chains: two independent methods for J, and T(ω) against ``transmittance``."""

import os
import sys

import numpy as np
import pytest

import meanfield_jax as mf
from meanfield_jax import networks

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
import nn_transfer  # noqa: E402

RNG = np.random.default_rng(13)


@pytest.mark.parametrize("n", [2, 7, 40])
@pytest.mark.parametrize("k,gamma", [(1.0, 1.0), (0.3, 2.5)])
def test_ordered_free_chain_closed_form(n, k, gamma):
    j, err, _ = nn_transfer.flux_transfer(np.full(n, 1.3), k=k, gamma=gamma)
    exact = k * gamma / (2 * (k * 1.3 + gamma ** 2))
    assert abs(j - exact) <= max(err, 1e-15) + 1e-14 * exact
    assert err < 1e-9 * exact


@pytest.mark.parametrize("k_prime,k0", [(0.0, 0.0), (1.0, 0.0), (0.5, 0.05)])
@pytest.mark.parametrize("n", [60, pytest.param(300, marks=pytest.mark.slow)])
def test_disordered_chain_matches_secular_solver(n, k_prime, k0):
    masses = RNG.uniform(0.2, 1.8, n)  # strong disorder: localized modes, clustered peaks
    j, err, _ = nn_transfer.flux_transfer(masses, k=0.7, gamma=1.3, k_prime=k_prime, k0=k0)
    ref = mf.heat_flux_with_error(networks.nearest_neighbour(masses, k=0.7, gamma=1.3,
                                                             k_prime=k_prime, k0=k0))
    assert bool(ref.converged)
    tol = err + float(ref.error_estimate) + 1e-13 * abs(j)
    assert abs(j - float(ref.flux)) <= tol, (j, float(ref.flux), err)
    assert err < 1e-9 * j


def test_recurrence_transmittance_matches_package():
    masses = RNG.uniform(0.5, 1.5, 30)
    net = networks.nearest_neighbour(masses, k=0.8, gamma=0.6, k_prime=0.8, k0=0.1)
    omega = np.linspace(0.01, 2.5, 97)
    diag = np.full(30, 2 * 0.8 + 0.1)
    diag[0] = diag[-1] = 0.8 + 0.8 + 0.1
    damping = np.zeros(30)
    damping[0] = damping[-1] = 0.6
    ours = nn_transfer._evaluate(omega, (diag, masses, damping, 0.8))
    # T <= 1: the package's secular form is accurate in absolute terms (above the band, where
    # T < 1e-20, not in relative ones); the recurrence is, in relative terms (below, mpmath)
    np.testing.assert_allclose(ours, np.asarray(mf.transmittance(net, omega)), rtol=1e-9,
                               atol=1e-14)
    import mpmath as mp

    with mp.workdps(40):
        for w in (0.9, 2.0, 2.5):  # inside the band, at its edge, far above (T ~ 1e-39)
            z = mp.matrix(30, 30)
            for i in range(30):
                z[i, i] = mp.mpf(diag[i]) - mp.mpf(w) ** 2 * mp.mpf(masses[i]) \
                    - 1j * mp.mpf(w) * mp.mpf(damping[i])
                if i < 29:
                    z[i, i + 1] = z[i + 1, i] = -mp.mpf(0.8)
            exact = 4 * mp.mpf(0.6) ** 2 * mp.mpf(w) ** 2 * abs(mp.inverse(z)[0, 29]) ** 2
            got = nn_transfer._evaluate(np.array([w]), (diag, masses, damping, 0.8))[0]
            assert abs(got / float(exact) - 1) < 1e-12, (w, got, float(exact))


@pytest.mark.parametrize("m, k, gamma", [(1.0, 1.0, 1.0), (0.7, 2.0, 0.1), (1.0, 1.0, 5.0)])
def test_ordered_fixed_chain_rieder_lebowitz_lieb_limit(m, k, gamma):
    """The recurrence on the ordered fixed-end chain (N = 64, k' = k) against the N → ∞
    limit of Rieder, Lebowitz & Lieb (1967) to 1e-10."""
    nu = k * m / gamma**2
    limit = k / (2.0 * gamma) * (4.0 / nu) / (1.0 + np.sqrt(1.0 + 4.0 / nu)) ** 2
    j, err, _ = nn_transfer.flux_transfer(np.full(64, m), k=k, gamma=gamma, k_prime=k)
    assert j == pytest.approx(limit, rel=1e-10)
    assert err < 1e-10 * j
