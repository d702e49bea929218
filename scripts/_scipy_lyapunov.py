"""Baseline for the benchmarks: scipy's dense Lyapunov solver on the 2N state space, O(N³)."""

import numpy as np
import scipy.linalg as sla


def scipy_temperatures(masses, k, k0, n_tilde, gamma, t_left, t_right):
    """T_n = m_n⟨v_n²⟩ of the mean-field chain from solve_continuous_lyapunov (no refinement)."""
    n = masses.size
    kmat = (k0 + n * k / n_tilde) * np.eye(n) - (k / n_tilde) * np.ones((n, n))
    gam = np.zeros(n)
    gam[[0, -1]] = gamma
    a = np.block([[np.zeros((n, n)), np.eye(n)], [-kmat / masses[:, None], -np.diag(gam / masses)]])
    d = np.zeros((2 * n, 2 * n))
    d[n, n] = 2 * gamma * t_left / masses[0] ** 2
    d[-1, -1] = 2 * gamma * t_right / masses[-1] ** 2
    c = sla.solve_continuous_lyapunov(a, -d)
    return masses * np.diag(c)[n:]


def scipy_flux(masses, k, k0, n_tilde, gamma, t_left=1.0, t_right=0.0):
    """J = γ(T_L − T_1)/m_1 from :func:`scipy_temperatures`."""
    t1 = scipy_temperatures(masses, k, k0, n_tilde, gamma, t_left, t_right)[0]
    return gamma / masses[0] * (t_left - t1)
