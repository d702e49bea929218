"""Bit-identical check for refactors: compute the public results on varied systems and save
them, or compare them exactly (==, NaN == NaN) with a saved file.

    python scripts/check_bit_identical.py save /tmp/before.npz
    python scripts/check_bit_identical.py compare /tmp/before.npz

Covers heat_flux / local_temperatures (residues and Lyapunov), transmittance, Z(ω), G(ω),
normal_modes, resonance_frequency, find_resonances, the two Lorentzian fits, the ensemble
flux and the closed forms of ``analytic``, for ~10 systems (random and identical masses,
k0 = 0 and > 0, Kac and Ñ = 1, k' > 0, a HarmonicNetwork). Written against the API names
that exist both before and after the issue-11 refactor (the old names stay as aliases).
"""

from __future__ import annotations

import sys
import warnings

import jax
import numpy as np

import meanfield_jax as mf
from meanfield_jax import analytic as an


def _systems():
    rng = np.random.default_rng(1234)
    rand = lambda n: rng.uniform(0.9, 1.1, n)  # noqa: E731
    chains = {
        "rand_kac_k0": mf.MeanFieldChain(rand(12), k=1.0, k0=0.3, n_tilde="kac", gamma=0.7,
                                         t_left=1.5, t_right=0.5),
        "rand_kac_free": mf.MeanFieldChain(rand(20), k=0.5, k0=0.0, n_tilde="kac", gamma=1.0),
        "rand_one_k0": mf.MeanFieldChain(rand(9), k=0.2, k0=0.1, n_tilde=1.0, gamma=0.3),
        "ident_kac_k0": mf.MeanFieldChain(np.ones(15), k=1.0, k0=1.0, n_tilde="kac"),
        "ident_one_free": mf.MeanFieldChain(np.ones(10), k=1.0, k0=0.0, n_tilde=1.0,
                                            gamma=2.0),
        "rand_kprime": mf.MeanFieldChain(rand(14), k=1.0, k0=0.2, n_tilde="kac",
                                         k_prime=0.4, gamma=0.5),
        "ident_kprime_free": mf.MeanFieldChain(np.ones(8), k=0.3, k0=0.0, n_tilde="kac",
                                               k_prime=0.1),
        "two": mf.MeanFieldChain([1.0, 2.0], k=1.0, k0=0.1),
        "rand_300": mf.MeanFieldChain(rand(300), k=1.0, k0=0.5, n_tilde="kac"),
    }
    kmat = rng.uniform(-0.3, 0.0, (6, 6))
    kmat = 0.5 * (kmat + kmat.T)
    np.fill_diagonal(kmat, 0.0)
    np.fill_diagonal(kmat, -kmat.sum(axis=1) + 0.2)
    net = mf.HarmonicNetwork(rand(6), kmat, gamma=0.8, t_left=2.0, t_right=1.0, k_prime=0.1)
    return chains, net


def _put(out, key, value):
    leaves = jax.tree_util.tree_leaves(value)
    for i, leaf in enumerate(leaves):
        out[f"{key}/{i}"] = np.asarray(leaf)


def compute() -> dict:
    warnings.simplefilter("ignore", DeprecationWarning)
    chains, net = _systems()
    out: dict = {}
    omega = np.linspace(0.0, 2.5, 37)
    for name, c in chains.items():
        _put(out, f"{name}/flux", mf.heat_flux_with_error(c))
        _put(out, f"{name}/temps", mf.local_temperatures_with_error(c))
        _put(out, f"{name}/T", mf.transmittance(c, omega))
        _put(out, f"{name}/res_fit", mf.fit_lorentzians(c))
        if c.n <= 20:
            _put(out, f"{name}/flux_lyap", mf.heat_flux_with_error(c, method="lyapunov"))
            _put(out, f"{name}/temps_lyap", mf.local_temperatures_with_error(c, "lyapunov"))
            _put(out, f"{name}/Z", mf.dynamical_matrix(c, omega[:3]))
            _put(out, f"{name}/G", mf.greens_function(c, omega[1:4]))
            _put(out, f"{name}/modes", mf.normal_modes(c))
            _put(out, f"{name}/peaks", mf.find_resonances(c, threshold=1e-4))
            _put(out, f"{name}/peak", mf.resonance_frequency_with_status(c, 0.9))
            _put(out, f"{name}/grad", jax.grad(mf.heat_flux)(c))
    _put(out, "net/flux", mf.heat_flux_with_error(net))
    _put(out, "net/temps", mf.local_temperatures_with_error(net))
    _put(out, "net/T", mf.transmittance(net, omega))
    _put(out, "net/modes", mf.normal_modes(net))
    _put(out, "net/peaks", mf.find_resonances(net, threshold=1e-4))
    _put(out, "net/peak", mf.resonance_frequency_with_status(net, 1.0))
    w = np.linspace(0.9, 1.1, 101)
    _put(out, "curve_fit", mf.fit_lorentzian(w, 0.8 / (1 + ((w - 1.01) / 0.02) ** 2), n=10))
    batch = mf.batch_chains(np.random.default_rng(5).uniform(0.5, 1.5, (5, 10)), k=1.0, k0=0.1)
    _put(out, "ensemble_flux", mf.ensemble_flux(batch, chunk_size=2))
    _put(out, "ensemble_T", mf.ensemble_transmittance(batch, omega[:5], chunk_size=2))
    # analytic, positional arguments in the (old) order are avoided: keywords only
    for nt, kac in ((9.0, True), (1.0, False)):
        kw = dict(n=10, m=1.0, k=0.7, k0=0.2, gamma=0.6)
        _put(out, f"an/{nt}/greens", an.greens_1n_identical(omega=omega, n_tilde=nt, **kw))
        _put(out, f"an/{nt}/T", an.transmittance_identical(omega=omega, n_tilde=nt,
                                                           k_prime=0.1, **kw))
        _put(out, f"an/{nt}/eig", an.eigenvalues_identical(omega=omega, n_tilde=nt, **kw))
        _put(out, f"an/{nt}/exact", an.flux_identical_exact(n_tilde=nt, k_prime=0.3, **kw))
        _put(out, f"an/{nt}/lor0", an.lorentzian_k0_zero(omega, 10, 1.0, 0.6))
        _put(out, f"an/{nt}/A", _call_kac(an.amplitude_A, kac, m=1.0, k=0.7, k0=0.2, gamma=0.6))
        _put(out, f"an/{nt}/wc", _call_kac(an.omega_c_asymptotic, kac, n=10, m=1.0, k=0.7,
                                            k0=0.2, gamma=0.6))
        _put(out, f"an/{nt}/flux_asym", _call_kac(an.flux_asymptotic, kac, n=10, m=1.0, k=0.7,
                                                   k0=0.2, gamma=0.6))
        _put(out, f"an/{nt}/valid", _call_kac(an.validity_condition, kac, m=1.0, k=0.7, k0=0.2,
                                               gamma=0.6))
        _put(out, f"an/{nt}/lorp", _call_kac(an.lorentzian_pinned, kac, omega=omega, n=10,
                                              m=1.0, k=0.7, k0=0.2, gamma=0.6))
    return out


def _call_kac(fn, kac, **kw):
    """The Kac switch under its old (kac / n_tilde_is_kac) or new (n_tilde) spelling."""
    import inspect

    params = inspect.signature(fn).parameters
    if "kac" in params:
        return fn(kac=kac, **kw)
    if "n_tilde_is_kac" in params:
        return fn(n_tilde_is_kac=kac, **kw)
    return fn(n_tilde="kac" if kac else 1, **kw)


def main(argv):
    mode, path = argv[1], argv[2]
    out = compute()
    if mode == "save":
        np.savez(path, **out)
        print(f"saved {len(out)} arrays to {path}")
        return 0
    ref = np.load(path)
    bad = []
    for key in ref.files:
        if key not in out:
            bad.append(f"{key}: missing")
            continue
        a, b = ref[key], out[key]
        if a.shape != b.shape or a.dtype != b.dtype:
            bad.append(f"{key}: shape/dtype {a.shape}{a.dtype} vs {b.shape}{b.dtype}")
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            bad.append(f"{key}: max |diff| {np.max(np.abs(a - b))}")
    extra = sorted(set(out) - set(ref.files))
    print(f"compared {len(ref.files)} arrays: {len(bad)} differ" +
          (f"; {len(extra)} new keys ignored" if extra else ""))
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
