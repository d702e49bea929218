"""Self-checks of the mpmath reference tests/reference_mp.py (fast: a few seconds).

Neither module imports meanfield_jax.  Tolerances are far below 1e-9 on purpose: the
reference is meant to be right to ~1e-25 or better in these cases."""

import mpmath
import pytest
from mpmath import mp

import reference_mp as R
import reference_numpy as RN

RANDOM_CASES = [
    # masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime
    ([1.0, 2.0, 1.5], 1.0, 0.5, "kac", 1.0, 1.5, 0.5, 0.0),
    ([1.3, 0.4, 2.2, 0.9], 0.7, 0.0, "kac", 0.3, 2.0, 1.0, 0.0),
    ([0.8, 3.0, 1.1, 0.6, 1.9], 2.0, 0.1, 1.0, 2.5, 1.0, 0.25, 0.4),
    ([1e4, 1.0, 30.0, 0.5, 1e2, 1e-0], 1e4, 1e-4, 3.0, 1e-3, 1.5, 0.5, 1e4),
    ([1.0, 2.0, 2.0, 3.0, 3.0, 1.5], 1.0, 0.0, "kac", 1.0, 1.5, 0.5, 0.0),  # equal bulk pairs
]


@pytest.fixture(autouse=True)
def _high_precision_arithmetic():
    """Arithmetic on the returned mpf values inside the tests at 100 digits."""
    with mp.workdps(100):
        yield


def _rel(a, b):
    with mp.workdps(120):
        return abs(a - b) / abs(b)


@pytest.mark.parametrize("case", RANDOM_CASES)
def test_two_methods_agree_and_energy_balance(case):
    J, T = R.chain_steady_state_mp(*case, dps=50)
    Jres = R.chain_flux_residues_mp(*case, dps=50)
    Tres = R.chain_temperatures_residues_mp(*case, dps=50)
    assert _rel(J, Jres) < 1e-35
    assert max(_rel(a, b) for a, b in zip(T, Tres)) < 1e-35
    with mp.workdps(50):
        g = mp.mpf(case[4])
        m = case[0]
        j_left = g * (mp.mpf(case[5]) - T[0]) / m[0]
        j_right = g * (T[-1] - mp.mpf(case[6])) / m[-1]
    assert _rel(j_left, J) < 1e-30 and _rel(j_right, J) < 1e-30
    assert R.chain_flux_mp(*case, dps=50) == J
    assert J * (case[5] - case[6]) > 0


@pytest.mark.parametrize("case", RANDOM_CASES[:3] + [RANDOM_CASES[4]])
def test_equilibrium_and_linearity(case):
    c = list(case)
    c[5] = c[6] = 0.7
    T = R.chain_temperatures_mp(*c, dps=40)
    if case is RANDOM_CASES[4]:
        # equal bulk masses: the decoupled modes stay empty (from rest), so only the bath
        # particles reach T; the bulk gets T times its weight in the coupled modes (< 1)
        assert abs(T[0] - mp.mpf(0.7)) < 1e-35 and abs(T[-1] - mp.mpf(0.7)) < 1e-35
        assert all(0 < t < mp.mpf(0.7) * (1 - 1e-3) for t in T[1:-1])
        assert abs(T[1] - T[2]) < 1e-35 and abs(T[3] - T[4]) < 1e-35
    else:
        assert max(abs(t - mp.mpf(0.7)) for t in T) < 1e-35
    assert R.chain_flux_residues_mp(*c, dps=40) == 0
    # shift invariance of the flux computed from the temperatures: (T_L, T_R) -> +3
    c1, c2 = list(case), list(case)
    c2[5], c2[6] = c1[5] + 3.0, c1[6] + 3.0
    J1, T1 = R.chain_steady_state_mp(*c1, dps=40)
    J2, T2 = R.chain_steady_state_mp(*c2, dps=40)
    g, m1 = mp.mpf(case[4]), case[0][0]
    assert _rel(g * (mp.mpf(c2[5]) - T2[0]) / m1, J1) < 1e-30
    # T_n(T_L + 3, T_R + 3) = T_n(T_L, T_R) + 3 w_n, w_n = T_n(1, 1) (= 1 if all coupled)
    assert max(abs((b - a) - 3 * t / mp.mpf(0.7)) for a, b, t in zip(T1, T2, T)) < 1e-35
    # linearity in Delta T
    c3 = list(case)
    c3[5] = c3[6] + 2 * (c1[5] - c1[6])
    assert _rel(R.chain_flux_residues_mp(*c3, dps=40), 2 * J1) < 1e-30


def _eq20_flux(n, m, k, k0, nt, gamma, dT):
    """Paper Eqs. (20)-(22) (k' = 0) integrated here with mpmath.quad (moderate params)."""
    with mp.workdps(40):
        m, k, k0, gamma = (mp.mpf(x) for x in (m, k, k0, gamma))  # exact, no float powers
        b = k / nt

        def T(w):
            P = n * b + k0 - m * w**2
            f = P**2 + (gamma * w) ** 2
            dl = (gamma * w) ** 2 * (2 * b + k0 - m * w**2) ** 2 + (k0 - m * w**2) ** 2 * P**2
            return 4 * gamma**2 * w**2 * b**2 * P**2 / (f * dl)

        w0 = mp.sqrt(mp.mpf(k0) / m)
        wp = mp.sqrt(n * b / m)
        pts = [mp.mpf(0)] + [wp * x for x in (0.25, 0.5, 1, 2, 4)] + [mp.inf]
        if w0 > 0:
            pts = sorted(pts[:-1] + [w0 * (1 + x) for x in (-0.1, -0.01, 0, 0.01, 0.1)])
            pts.append(mp.inf)
        return dT / (2 * mp.pi) * mp.quad(T, pts, maxdegree=10)


@pytest.mark.parametrize("n,k,k0,nt,gamma,kp", [
    (6, 1.0, 0.0, "kac", 1e6, 0.0),
    (6, 1.0, 0.5, "kac", 1e-6, 0.0),
    (4, 2.0, 0.5, 1.0, 0.7, 0.3),
    (7, 1e-4, 1e4, "kac", 1.0, 0.0),
    (3, 1e4, 0.0, 2.0, 1e-3, 1e-4),
    (2, 1.0, 0.0, "kac", 1.0, 0.0),
])
def test_identical_masses_closed_form(n, k, k0, nt, gamma, kp):
    masses = [1.7] * n
    J, T = R.chain_steady_state_mp(masses, k, k0, nt, gamma, 1.5, 0.5, kp, dps=50)
    Jres = R.chain_flux_residues_mp(masses, k, k0, nt, gamma, 1.5, 0.5, kp, dps=50)
    ref = RN.identical_masses_flux_residues(n, 1.7, k, k0, nt, gamma, 1.5, 0.5, kp, dps=40)
    assert _rel(J, Jres) < 1e-35
    assert abs(float(J) / ref - 1) < 1e-13
    # bulk particles are all equivalent
    assert max(abs(t - T[1]) for t in T[1:-1]) < 1e-35 * abs(T[1]) if n > 2 else True


def test_identical_masses_paper_eq20_quad():
    ntl = mp.mpf(3)
    J = R.chain_flux_mp([1.0] * 4, 1.0, 0.5, "kac", 1.0, 1.5, 0.5)
    assert _rel(_eq20_flux(4, 1, 1, 0.5, ntl, 1, 1), J) < 1e-20
    J = R.chain_flux_mp([2.0] * 5, 0.5, 0.0, 1.0, 0.8, 2.0, 1.0)
    assert _rel(_eq20_flux(5, 2, 0.5, 0, 1, 0.8, 1), J) < 1e-20


STABILITY_CASES = [
    ([1.0] * 6, 1.0, 0.0, "kac", 1e6, 1.5, 0.5, 0.0),
    ([1.0, 2.0, 1.5, 0.7, 3.0, 1.2, 0.9, 1.1], 1.0, 0.0, "kac", 1e-6, 1.5, 0.5, 0.0),
    ([1 + 1e-12 * n for n in range(6)], 1.0, 0.0, "kac", 1.0, 1.5, 0.5, 0.0),
    ([1 + 2.0**-52 * n for n in range(5)], 1e-4, 1e4, 1.0, 1e6, 1.5, 0.5, 1e-4),
    ([1e4, 1.0, 30.0, 0.5, 1e2, 2.0, 7.0, 1.0], 1e4, 1e-4, 3.0, 1e-6, 1.5, 0.5, 1e4),
    ([1.0, 1e4, 3.0, 3.0, 3.0, 1e-0], 1e-4, 0.0, "kac", 1e6, 1.5, 0.5, 0.0),
]


@pytest.mark.parametrize("case", STABILITY_CASES)
def test_dps_stability(case):
    J60, T60 = R.chain_steady_state_mp(*case, dps=60, check=True)  # also vs dps 90 inside
    J90, T90 = R.chain_steady_state_mp(*case, dps=90)
    assert _rel(J60, J90) < 1e-25
    assert max(_rel(a, b) for a, b in zip(T60, T90)) < 1e-20
    assert _rel(R.chain_flux_residues_mp(*case, dps=40), J90) < 1e-25


def test_nearly_identical_masses_thermalise():
    """1 + 1e-12 n: all modes coupled (exact steady state, bulk at (T_L + T_R)/2 here),
    whereas exactly identical masses (from rest) leave the bulk at a different level."""
    near = [1 + 1e-12 * n for n in range(6)]
    Tn = R.chain_temperatures_mp(near, 1.0, 0.0, "kac", 1.0, 1.5, 0.5)
    Ti = R.chain_temperatures_mp([1.0] * 6, 1.0, 0.0, "kac", 1.0, 1.5, 0.5)
    assert max(abs(t - 1) for t in Tn[1:-1]) < 1e-6
    assert abs(Ti[1] - Tn[1]) > 0.1


@pytest.mark.parametrize("n,k,k0,nt,gamma,kp", [
    (3, 1.0, 0.0, "kac", 1.0, 0.0),
    (6, 1e-4, 1e4, 2.0, 1e6, 3.0),
    (8, 1e4, 0.0, "kac", 1e-6, 1e-4),
    (5, 0.3, 0.02, 0.5, 0.01, 0.0),
])
def test_identical_masses_bulk_temperature(n, k, k0, nt, gamma, kp):
    """All masses identical: the bath-coupled modes are e_1 - e_N and two modes in
    span{e_1 + e_N, bulk-uniform}; at T_L = T_R = T these are at equipartition and the
    rest is empty (from rest), so a bulk particle has T/(N-2); by linearity and the mirror
    symmetry, T_n = (T_L + T_R) / (2 (N - 2)) exactly, for any k, k0, k', gamma."""
    T = R.chain_temperatures_mp([0.37] * n, k, k0, nt, gamma, 2.5, 0.25, kp)
    want = mp.mpf(2.75) / (2 * (n - 2))
    assert max(abs(t / want - 1) for t in T[1:-1]) < 1e-40
