"""Disordered nearest-neighbour chains (free and fixed ends) and random-spring networks: J(N).

The laws the paper contrasts the mean-field chain with, reproduced exactly (secular
normal-mode solver, ``networks.nearest_neighbour`` / ``networks.random_springs``, run as
resumable sweeps, ``model = "nearest_neighbour"`` / ``"random_springs"``):

* nearest-neighbour chain with random masses (uniform in m ± δ), springs k, no pinning,
  Langevin baths γ on particles 1 and N:
  - free ends (k' = 0): J ∝ N^−1/2 (Casher–Lebowitz, Rubin–Greer; Dhar, PRL 86, 5882 (2001));
  - fixed ends (wall springs k' = k): J ∝ N^−3/2 (Dhar 2001; proven by Ajanki & Huveneers,
    CMP 301, 841 (2011)).
  Why: modes with ω ≲ ω_c ∝ N^−1/2 have a localization length ξ(ω) ∝ 1/ω² longer than the
  chain and carry the heat; with free ends T(ω → 0) is O(1) (J ∝ ω_c), with fixed ends
  T(ω) ∝ ω² (J ∝ ω_c³). The asymptotic laws need ω_c well below the band edge: strong
  disorder (δ = 0.8 by default, masses in [0.2, 1.8]) and N of several hundred or more.
* random springs (Schmidt, Kottos & Shapiro, PRE 88, 022126 (2013)): all-to-all springs
  k_ij = k u_ij, u_ij ~ U(0, 1), equal masses, Ñ = 1: ⟨J⟩ independent of N.

A finished dataset of the same configuration in ``--nc-dir`` is reused (replotting is
quick). Prints the fitted exponent of J ∝ N^−a over N >= ``--fit-min-n`` (weighted least squares on
the realization means, standard error from the realization spread), writes the datasets and
a figure. A flux counts if converged or if its error estimate is below 1e-6 relative, far
below the spread over realizations (the free-end chains at N >= 1024 carry error estimates
of ~2e-9 relative, just above the 1e-9 converged threshold).

Usage: python scripts/disordered_chains.py [--sizes 64 128 ... 2048] [--realizations 8]
       [--delta 0.8] [--springs-sizes 16 ... 1024] [--out docs/figures/disordered_chains.png]
       [--nc-dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import meanfield_jax as mf  # noqa: E402

RTOL = 1e-6  # accepted error estimate of a flux, relative

NN_CONFIG = """\
model = "nearest_neighbour"
sizes = {sizes}
masses = ["random"]
delta = {delta}
m = 1.0
k = 1.0
k0 = [0.0]
n_tilde = [1.0]
gamma = 1.0
k_prime = {k_prime}
realizations = {realizations}
seed = 0
chunk_size = 4
"""

SPRINGS_CONFIG = """\
model = "random_springs"
sizes = {sizes}
masses = ["identical"]
m = 1.0
k = 1.0
k0 = [0.0]
n_tilde = [1.0]
gamma = 1.0
realizations = {realizations}
seed = 0
chunk_size = 4
"""


def _sweep(toml: str, nc: str):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write(toml)
    cfg = mf.load_config(fh.name)  # validated like any sweep config
    os.unlink(fh.name)
    ds = None
    if os.path.exists(nc):  # a finished sweep of this configuration: reuse it (replot)
        old = xr.load_dataset(nc)
        if old.attrs.get("config_hash") == cfg.config_hash() and old.attrs.get("complete"):
            ds = old
    if ds is None:
        ds = mf.run_sweep(cfg, nc, progress=True)
    flux = ds["flux"].values.reshape(len(ds["N"]), -1)
    err = ds["flux_error"].values.reshape(flux.shape)
    ok = ds["converged"].values.astype(bool).reshape(flux.shape)
    use = ok | (np.abs(err) < RTOL * np.abs(flux))
    stats = mf.ensemble_mean(np.where(use, flux, np.nan), axis=-1)
    print(f"  {nc}: {ds.attrs['elapsed_s']:.0f} s; {int(np.sum(~ok))} of {flux.size} fluxes "
          f"flagged not converged, {int(np.sum(~use))} with error estimate > {RTOL:g} "
          f"relative (left out); worst error estimate of those used "
          f"{np.nanmax(np.where(use, np.abs(err / flux), np.nan)):.1e} relative")
    return ds["N"].values, stats


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[64, 128, 256, 512, 1024, 2048])
    p.add_argument("--springs-sizes", type=int, nargs="+",
                   default=[16, 32, 64, 128, 256, 512, 1024])
    p.add_argument("--realizations", type=int, default=8)
    p.add_argument("--delta", type=float, default=0.8)
    p.add_argument("--fit-min-n", type=float, default=512)
    p.add_argument("--springs-fit-min-n", type=float, default=256)
    p.add_argument("--out", default="docs/figures/disordered_chains.png")
    p.add_argument("--nc-dir", default=tempfile.gettempdir())
    args = p.parse_args()

    curves = {}
    for name, k_prime in (("free ends", 0.0), ("fixed ends", 1.0)):
        toml = NN_CONFIG.format(sizes=args.sizes, delta=args.delta, k_prime=k_prime,
                                realizations=args.realizations)
        print(f"nearest neighbours, {name}:")
        curves[name] = _sweep(toml, os.path.join(args.nc_dir, f"nn_{name[:4]}.nc"))
    print("random springs:")
    springs = _sweep(SPRINGS_CONFIG.format(sizes=args.springs_sizes,
                                           realizations=args.realizations),
                     os.path.join(args.nc_dir, "random_springs.nc"))

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    expected = {"free ends": 0.5, "fixed ends": 1.5}
    print(f"J ∝ N^-a fitted over N in [{args.fit_min_n:g}, {max(args.sizes)}], "
          f"R = {args.realizations}, random masses 1 ± {args.delta:g}, k = γ = 1, k0 = 0:")
    for (name, (sizes, st)), color in zip(curves.items(), ("tab:blue", "tab:red")):
        a, da, _, _ = mf.fit_power_law(sizes, st.mean, st.stderr, min_n=args.fit_min_n)
        print(f"  {name:<10}  a = {a:.3f} ± {da:.3f}   (expected {expected[name]})")
        for n, m_, s in zip(sizes, st.mean, st.stderr):
            print(f"    N = {n:5d}  J = {m_:.6e} ± {s:.1e}")
        ax.errorbar(sizes, st.mean, yerr=st.stderr, marker="o", ms=4, color=color,
                    label=f"{name}: $N^{{-{a:.2f}\\pm {da:.2f}}}$")
        ref = st.mean[-1] * (sizes / sizes[-1]) ** -expected[name]
        ax.plot(sizes, ref, ls=":", color=color, lw=1,
                label=f"$N^{{-{expected[name]:g}}}$")
    ax.set(xscale="log", yscale="log", xlabel="N", ylabel="J / ΔT",
           title=f"nearest neighbours, masses 1 ± {args.delta:g}")
    ax.legend(fontsize=8)
    sizes, st = springs
    a, da, _, _ = mf.fit_power_law(sizes, st.mean, st.stderr,
                                   min_n=args.springs_fit_min_n)
    print(f"random springs (Ñ = 1, equal masses): a = {a:.3f} ± {da:.3f} over N in "
          f"[{args.springs_fit_min_n:g}, {max(sizes)}]   (expected 0: ⟨J⟩ independent of N)")
    for n, m_, s in zip(sizes, st.mean, st.stderr):
        print(f"    N = {n:5d}  J = {m_:.6e} ± {s:.1e}")
    bx.errorbar(sizes, st.mean, yerr=st.stderr, marker="s", ms=4, color="k",
                label=f"fit N ≥ {args.springs_fit_min_n:g}: $N^{{-({a:.3f}\\pm {da:.3f})}}$")
    bx.set(xscale="log", xlabel="N", ylabel="⟨J⟩ / ΔT",
           title="random springs $k u_{ij}$, equal masses")
    bx.set_ylim(0, 1.3 * np.nanmax(st.mean + st.stderr))
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
