"""The Binet pole weights (``meanfield_jax._quantum``) on a Lorentzian pair against quadrature.

T(ω) = Γ²/((ω − ω₀)² + Γ²) + Γ²/((ω + ω₀)² + Γ²) has the upper-half-plane poles ±ω₀ + iΓ,
each with the classical residue term t = (i/2) Res T = Γ/4 (so ∫_0^∞ (dω/2π) T = Γ/2). The
quantum current into a bath at T is then (Γ/4)[g_T(ω₀ + iΓ) + g_T(−ω₀ + iΓ)] and the
conductance (Γ/4)[K + K]: compared with tanh-sinh quadrature (mpmath, 30 digits) of
∫_0^∞ (dω/2π) ħω n_T(ω) T(ω) and of its T-derivative, over narrow and broad resonances,
quantum (α ≫ 1) and classical (α ≪ 1) temperatures.
"""

import mpmath as mp
import numpy as np
import pytest

from meanfield_jax._quantum import bath_weight, conductance_weight

CASES = [  # (ω₀, Γ, ħ, T)
    (1.0, 0.1, 1.0, 0.05), (1.0, 0.1, 1.0, 1.0), (1.0, 0.1, 1.0, 30.0),
    (2.0, 1e-6, 1.0, 0.3), (0.0, 0.5, 1.0, 0.01), (0.3, 3.0, 0.2, 2.0),
    (1.0, 0.1, 1e-8, 1.0), (5.0, 1e-3, 1.0, 1e-2),
]


def _quad(omega0, width, hbar, temperature, derivative):
    with mp.workdps(30):
        w0, g, h, t = (mp.mpf(x) for x in (omega0, width, hbar, temperature))

        def transmittance(w):
            return g * g / ((w - w0) ** 2 + g * g) + g * g / ((w + w0) ** 2 + g * g)

        def integrand(w):
            x = h * w / t
            if derivative:  # ħω ∂n/∂T = x² eˣ/(eˣ − 1)²
                weight = x * x * mp.exp(-x) / (-mp.expm1(-x)) ** 2
            else:  # ħω n = T x/(eˣ − 1)
                weight = t * x / mp.expm1(x)
            return weight * transmittance(w) / (2 * mp.pi)

        points = sorted({mp.mpf(0), w0 - 20 * g if w0 > 20 * g else mp.mpf(0), w0, w0 + 20 * g,
                         t / h, 10 * t / h, 60 * t / h} - {mp.mpf(0)})
        return float(mp.quad(integrand, [0] + points + [mp.inf]))


@pytest.mark.parametrize("omega0,width,hbar,temperature", CASES)
def test_lorentzian_pair(omega0, width, hbar, temperature):
    poles = np.array([omega0 + 1j * width, -omega0 + 1j * width])
    current = float(np.sum(width / 4 * bath_weight(poles, hbar, temperature)).real)
    conductance = float(np.sum(width / 4 * conductance_weight(poles, hbar, temperature)).real)
    np.testing.assert_allclose(current, _quad(omega0, width, hbar, temperature, False), rtol=1e-12)
    np.testing.assert_allclose(conductance, _quad(omega0, width, hbar, temperature, True),
                               rtol=1e-12)


def test_limits_of_the_weights():
    """ħ = 0: g = T, K = 1 exactly; T = 0 < ħ: g = K = 0; real ω: Re g = ħω n_T(ω)."""
    omega = np.array([0.7 + 0.2j, 3.0 + 1e-9j, 1e-3j])
    assert np.all(bath_weight(omega, 0.0, 1.3) == 1.3)
    assert np.all(conductance_weight(omega, 0.0, 1.3) == 1.0)
    assert np.all(bath_weight(omega, 1.0, 0.0) == 0.0)
    assert np.all(conductance_weight(omega, 1.0, 0.0) == 0.0)
    w, t = 2.5, 0.7
    np.testing.assert_allclose(bath_weight(w + 0j, 1.0, t).real, w / np.expm1(w / t), rtol=1e-14)
