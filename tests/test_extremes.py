"""Property test over the whole parameter box: the exact solvers are right or say they are not.

For every random draw — γ ∈ [1e-6, 1e6], k and k0 over 8 decades (k0 = 0 a quarter of the
time), k' = 0 or over 8 decades, Ñ = Kac or 1, mass scale over 4 decades, identical /
near-identical / random (mass ratio up to 1e4) / clustered (pairs 1e-9 apart) masses —
``heat_flux_with_error`` and ``local_temperatures_with_error`` must either report
``converged=False`` or be within 1e-9 (J relative, T_n absolute in units of T_L) of an
independent high-precision reference, and within their own error estimate:

* identical and near-identical masses, any N: the closed form of Eqs. (20)-(22) summed over
  its poles in 50-digit mpmath (``reference_numpy.identical_masses_flux_residues``);
* every mass configuration at N <= 8: the steady-state Lyapunov equation in normal modes in
  40-digit mpmath (``reference_mp``, self-checked against 70 digits, and redone at 100 and
  130 where those disagree: near-identical masses with widths of 1e-36 need more than 40),
  for J and every T_n;
* T_n for identical masses at any N: the energy balance at the ends and the bulk level
  (T_L + T_R)/(2(N − 2)).

The default suite runs a small sample; the slow test runs >= 2000 draws and prints the
counts (draws, not converged, worst converged error) and the false alarms: right answers
(within 1e-9 and within 100 ε of the reference) flagged not converged, as a fraction of
the draws (issue 27: the other side of an honest bound).
"""

from __future__ import annotations

import numpy as np
import pytest

import jax

import meanfield_jax as mf
from reference_mp import chain_steady_state_mp
from reference_numpy import identical_masses_flux_residues

_TOL = 1e-9
_EPS = float(np.finfo(np.float64).eps)


def _masses(rng, kind, n, m):
    if kind == "identical":
        return np.full(n, m)
    if kind == "near":  # relative differences of 1e-13: modes coupled ~1e-13, not decoupled
        return m * (1.0 + 1e-13 * rng.uniform(-1.0, 1.0, n))
    if kind == "random":  # log-uniform, ratio up to 1e4
        ratio = 10.0 ** rng.uniform(0.0, 4.0)
        return m * np.exp(rng.uniform(0.0, np.log(ratio), n))
    if kind == "clustered":  # pairs of masses 1e-9 apart
        base = m * np.exp(rng.uniform(0.0, np.log(10.0 ** rng.uniform(0.0, 2.0)), (n + 1) // 2))
        return np.repeat(base, 2)[:n] * (1.0 + 1e-9 * (np.arange(n) % 2))
    raise ValueError(kind)


def _draw(rng, kind, n):
    gamma = 10.0 ** rng.uniform(-6, 6)
    k = 10.0 ** rng.uniform(-4, 4)
    k0 = 0.0 if rng.random() < 0.25 else 10.0 ** rng.uniform(-4, 4)
    k_prime = 0.0 if rng.random() < 0.5 else 10.0 ** rng.uniform(-4, 4)
    n_tilde = "kac" if rng.random() < 0.5 else 1.0
    masses = _masses(rng, kind, n, 10.0 ** rng.uniform(-2, 2))
    return dict(masses=masses, k=k, k0=k0, n_tilde=n_tilde, gamma=gamma, k_prime=k_prime)


def _reference(kind, p, with_temperatures):
    """(J, T_n or None) in high precision, for T_L = 1, T_R = 0."""
    n, ms = p["masses"].size, p["masses"]
    if n <= 8:
        args = (list(map(float, ms)), p["k"], p["k0"], p["n_tilde"], p["gamma"], 1.0, 0.0,
                p["k_prime"])
        try:
            j, t = chain_steady_state_mp(*args, dps=40, check=True)
        except ArithmeticError:  # 40 digits disagree with 70: escalate
            j, t = chain_steady_state_mp(*args, dps=100, check=True)
        return float(j), (np.array([float(x) for x in t]) if with_temperatures else None)
    m = float(np.mean(ms))
    j = identical_masses_flux_residues(n, m, p["k"], p["k0"], p["n_tilde"], p["gamma"], 1.0,
                                       0.0, p["k_prime"], dps=50)
    if kind != "identical" or not with_temperatures:
        return j, None
    # identical masses: the ends from the energy balance J = γ(T_L − T_1)/m = γ(T_N − T_R)/m,
    # the bulk at (T_L + T_R)/(2(N − 2)) (mirror symmetry and equipartition of the three
    # bath-coupled modes; reference_mp confirms it to 1e-40 at N <= 8 for any parameters)
    t = np.full(n, 1.0 / (2 * (n - 2)))
    t[0], t[-1] = 1.0 - m * j / p["gamma"], m * j / p["gamma"]
    return j, t


def run_box(seed, plan, *, with_temperatures=True, batched=True):
    """Draw ``plan = [(kind, n, count), ...]``, solve each size as one vmapped batch (or,
    ``batched=False``, chain by chain: the programs of single chains, which other tests
    compile too) and compare with the references. Returns (stats, failures)."""
    rng = np.random.default_rng(seed)
    stats = dict(draws=0, not_converged=0, worst_converged=0.0, t_draws=0,
                 t_not_converged=0, t_worst_converged=0.0, false_alarms=0, t_false_alarms=0)
    failures = []
    by_size = {}
    for kind, n, count in plan:
        by_size.setdefault(n, []).extend((kind, _draw(rng, kind, n)) for _ in range(count))
    for n, draws in sorted(by_size.items()):
        chains = [mf.MeanFieldChain(t_left=1.0, t_right=0.0, **p) for _, p in draws]
        if batched:
            batch = mf.stack_systems(chains)
            flux = jax.vmap(mf.heat_flux_with_error)(batch)
            temps = (jax.vmap(mf.local_temperatures_with_error)(batch)
                     if with_temperatures else None)
        else:
            def stacked(results):
                return jax.tree_util.tree_map(lambda *x: np.stack(x), *results)

            flux = stacked([mf.heat_flux_with_error(c) for c in chains])
            temps = (stacked([mf.local_temperatures_with_error(c) for c in chains])
                     if with_temperatures else None)
        for i, (kind, p) in enumerate(draws):
            j_ref, t_ref = _reference(kind, p, temps is not None)
            j, err, ok = float(flux.flux[i]), float(flux.error_estimate[i]), bool(flux.converged[i])
            rel = abs(j - j_ref) / abs(j_ref)
            # near-identical masses at N > 8 are compared with the identical-mass closed form
            # at their mean mass, which leaves out the ~N narrow resonances of the weakly
            # coupled modes (measured up to 2e-10 relative at N = 2000, γ = 6e-4): only the
            # 1e-9 criterion applies there, not the error estimate
            slack = 1e-9 * abs(j_ref) if (kind == "near" and n > 8) else 0.0
            stats["draws"] += 1
            label = (kind, n, {key: v for key, v in p.items() if key != "masses"},
                     p["masses"].tolist())
            if not ok:
                stats["not_converged"] += 1
                # a false alarm: right to the 1e-9 contract and within 100 ε of the reference
                # (the answer a user wanted), yet flagged: the other side of an honest bound
                right = rel <= _TOL and abs(j - j_ref) <= 100 * _EPS * abs(j_ref)
                stats["false_alarms"] += int(right)
            elif rel > _TOL or abs(j - j_ref) > 2.0 * err + 4 * _EPS * abs(j_ref) + slack:
                failures.append(("J", rel, err / abs(j_ref), label))
            else:
                stats["worst_converged"] = max(stats["worst_converged"], rel)
            if t_ref is None:
                continue
            t = np.asarray(temps.temperatures[i])
            t_err = np.asarray(temps.error_estimate[i])
            stats["t_draws"] += 1
            if not bool(temps.converged[i]):
                stats["t_not_converged"] += 1
                stats["t_false_alarms"] += int(np.all(np.abs(t - t_ref) <= 100 * _EPS))
                continue
            diff = np.abs(t - t_ref)
            if np.any(diff > _TOL) or np.any(diff > 2.0 * t_err + 8 * _EPS):
                failures.append(("T_n", float(diff.max()), float(t_err.max()), label))
            else:
                stats["t_worst_converged"] = max(stats["t_worst_converged"], float(diff.max()))
    return stats, failures


_KINDS = ("identical", "near", "random", "clustered")


def test_parameter_box_sample():
    """A fast sample: every mass kind at N = 2 and 5 (high-precision Lyapunov reference for
    J and T_n), identical and near-identical masses at N = 12 (closed form). Chain by
    chain: N = 5 and 12 run the single-chain programs of the size bucket 16, which other
    tests compile too (the large sample runs vmapped batches)."""
    plan = ([(kind, 2, 3) for kind in _KINDS] + [(kind, 5, 4) for kind in _KINDS]
            + [("identical", 12, 8), ("near", 12, 8)])
    stats, failures = run_box(2026, plan, batched=False)
    assert not failures, failures
    assert stats["draws"] == 44
    # the box is extreme, but most draws are answered
    assert stats["not_converged"] <= stats["draws"] // 3, stats


@pytest.mark.slow
def test_parameter_box_large_sample(capsys):
    """>= 2000 draws over the whole box; prints the counts (the issue's acceptance run)."""
    plan = ([(kind, n, 40) for kind in _KINDS for n in (2, 3, 4, 6, 8)]
            + [("identical", n, 150) for n in (10, 200, 2000)]
            + [("near", n, 75) for n in (10, 200, 2000)]
            + [("identical", 3, 200), ("near", 3, 100), ("random", 7, 120),
               ("clustered", 7, 120), ("identical", 7, 60)])
    stats, failures = run_box(7, plan)
    with capsys.disabled():
        print(f"\nparameter box: {stats}; silent failures: {len(failures)}")
        print(f"right answers flagged not converged: J {stats['false_alarms']}/{stats['draws']}"
              f" = {stats['false_alarms'] / stats['draws']:.3f}, T_n {stats['t_false_alarms']}/"
              f"{stats['t_draws']} = {stats['t_false_alarms'] / max(stats['t_draws'], 1):.3f}")
        for what, error, estimate, (kind, n, params, masses) in failures:
            print(f"  {what} {kind} N={n} error {error:.3g} estimate {estimate:.3g} {params} "
                  f"masses {masses}")
    assert stats["draws"] >= 2000
    assert not failures, failures[:10]


@pytest.mark.parametrize("n, gamma, near", [(10, 1e5, False), (50, 1e6, False), (10, 1e5, True),
                                            (50, 1e3, True)])
def test_issue_reproductions_strong_damping(n, gamma, near):
    """The reported failures (issue 10): identical or nearly identical masses with strong
    damping gave J off by 3.6e-6 (N = 10, γ = 1e5) and 0.9% (N = 50, γ = 1e6) while reporting
    converged with error estimates of 1e-20. Now right to 1e-12 and converged."""
    masses = 1.0 + 1e-12 * np.arange(n) if near else np.ones(n)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=0.02, gamma=gamma)
    result = mf.heat_flux_with_error(chain)
    # the mass spread (≤ 5e-11) moves J by less than 1e-10 of itself
    ref = identical_masses_flux_residues(n, float(np.mean(masses)), 0.1, 0.02, "kac", gamma,
                                         1.0, 0.0, dps=50)
    assert bool(result.converged)
    assert abs(float(result.flux) / ref - 1) <= (1e-10 if near else 1e-12)
    slack = 1e-10 * ref if near else 0.0
    assert abs(float(result.flux) - ref) <= float(result.error_estimate) + slack


@pytest.mark.slow
@pytest.mark.parametrize("gamma, near", [(1e6, False), (1e3, False), (1e6, True)])
def test_issue_reproductions_n200(gamma, near):
    """N = 200: 3% off at γ = 1e6, 1.2e-9 at γ = 1e3 (issue 10); nearly identical masses."""
    masses = 1.0 + 1e-12 * np.arange(200) if near else np.ones(200)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=0.02, gamma=gamma)
    result = mf.heat_flux_with_error(chain)
    ref = identical_masses_flux_residues(200, float(np.mean(masses)), 0.1, 0.02, "kac", gamma,
                                         1.0, 0.0, dps=50)
    assert bool(result.converged)
    assert abs(float(result.flux) / ref - 1) <= (1e-9 if near else 1e-12)


# Issue 27: identical masses at weak and strong damping, the textbook weak-coupling limit. J
# is right to ~1e-15 here; a bound 1e4-1e9 times larger made the plain heat_flux raise. The
# estimate must stay a bound and be tight: <= 1e-11 relative, or <= 100x the actual error.
_IDENTICAL_BOX = [(n, gamma, k0, n_tilde) for n in (10, 100, 1000)
                  for gamma in (1e-5, 1e-3, 1e3, 1e5) for k0 in (0.0, 0.02)
                  for n_tilde in ("kac", 1.0)]


def _identical_case(n, gamma, k0, n_tilde):
    chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=k0, n_tilde=n_tilde, gamma=gamma)
    result = mf.heat_flux_with_error(chain)
    ref = identical_masses_flux_residues(n, 1.0, 0.1, k0, n_tilde, gamma, 1.0, 0.0, dps=40)
    error = abs(float(result.flux) - float(ref))
    estimate = float(result.error_estimate)
    assert bool(result.converged), (estimate / abs(float(ref)))
    assert error <= estimate + 4 * _EPS * abs(float(ref))
    # tight: the 2 of 48 cases at N = 1000, Ñ = 1, γ = 1e-5 sit at 2.5e-11 (their mirror
    # pairs' imaginary residue; the bound counts it), hence the 3e-11 below for N = 1000
    tight = 1e-11 if n < 1000 else 3e-11
    assert estimate <= max(tight * abs(float(ref)), 100 * error), estimate / abs(float(ref))


@pytest.mark.parametrize("n, gamma, k0, n_tilde", [c for c in _IDENTICAL_BOX if c[0] < 1000])
def test_identical_masses_tight_bounds(n, gamma, k0, n_tilde):
    _identical_case(n, gamma, k0, n_tilde)


@pytest.mark.slow
@pytest.mark.parametrize("n, gamma, k0, n_tilde", [c for c in _IDENTICAL_BOX if c[0] == 1000])
def test_identical_masses_tight_bounds_n1000(n, gamma, k0, n_tilde):
    _identical_case(n, gamma, k0, n_tilde)


# Issue 27 regression: identical masses (mirror-symmetric ends) whose T_n went below its
# estimate in a 521-draw box sample once the end factor took its smooth mirror form where h
# cancels (near a bulk frequency): 2.4e-8 off with an estimate of 8.8e-12 at N = 3.
_MIRROR_T_CASES = [
 (3, 0.11404523074832104, {'k': 0.001316354706021452, 'k0': 0.002088232855858525, 'n_tilde': 'kac', 'gamma': 332.61624102880603, 'k_prime': 0.870978560876854}),
 (3, 3.811196944273325, {'k': 0.040444015070699835, 'k0': 300.3517591652238, 'n_tilde': 1.0, 'gamma': 55.81394014835182, 'k_prime': 2796.4609916486374}),
 (4, 28.26421575805187, {'k': 0.03499657817855487, 'k0': 0.0, 'n_tilde': 'kac', 'gamma': 0.011585665903325007, 'k_prime': 239.6985478206566}),
 (7, 1.111349350971201, {'k': 0.0003098999502306181, 'k0': 0.00017768128640035803, 'n_tilde': 'kac', 'gamma': 10.951415089745797, 'k_prime': 0.20682402382824294}),
 (7, 8.697652428235891, {'k': 0.05216151982193184, 'k0': 4.9399897548866845, 'n_tilde': 'kac', 'gamma': 108431.26701846044, 'k_prime': 27.66283696864382}),
 (8, 95.8178976472744, {'k': 0.00018216570259367302, 'k0': 0.03146627931343487, 'n_tilde': 'kac', 'gamma': 0.4795468615940276, 'k_prime': 0.4366564354882588}),
 (10, 0.07963789773044086, {'k': 0.13560627915639284, 'k0': 0.0, 'n_tilde': 1.0, 'gamma': 33653.62862627742, 'k_prime': 7767.540871541432}),
 (10, 0.11764955980118727, {'k': 8.445680042735445, 'k0': 18.662003506701325, 'n_tilde': 'kac', 'gamma': 10559.516355459484, 'k_prime': 1495.5403779455298}),
]


@pytest.mark.parametrize("n, m, params", _MIRROR_T_CASES)
def test_identical_masses_temperatures_within_estimate(n, m, params):
    chain = mf.MeanFieldChain(np.full(n, m), t_left=1.0, t_right=0.0, **params)
    result = mf.local_temperatures_with_error(chain)
    flux = identical_masses_flux_residues(n, m, params["k"], params["k0"], params["n_tilde"],
                                          params["gamma"], 1.0, 0.0, params["k_prime"], dps=50)
    want = np.full(n, 1.0 / (2 * (n - 2)))
    want[0], want[-1] = 1.0 - m * flux / params["gamma"], m * flux / params["gamma"]
    assert bool(result.converged)
    diff = np.abs(np.asarray(result.temperatures) - want)
    assert np.all(diff <= np.asarray(result.error_estimate) + 8 * _EPS), diff
