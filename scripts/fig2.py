"""Reproduce Fig. 2 of PRE 105, 054149: T(ω) of the momentum-conserving chain (k0 = 0).

m = k = γ = 1, k0 = 0, identical masses, several N. Panels: (a) Ñ = N − 1 and (c) Ñ = 1,
T(ω) on log axes with insets of the high-frequency tail T ~ 1/(ω⁶Ñ²); (b), (d) the main
peak at ω = 0 with the Lorentzian of Eq. (24) (dashed) and a least-squares Lorentzian fit
(dotted, :func:`fit_resonance_lorentzians`). T is the exact O(N) transmittance (Eq. 17).

    python scripts/fig2.py --out figures/       # writes fig2.png (a few seconds)
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import meanfield_jax as mf
from meanfield_jax import analytic as an

SIZES = (10, 20, 50, 100, 200)


def _panels(k0, out, name, lorentzian, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    colors = plt.cm.viridis(np.linspace(0.85, 0.05, len(SIZES)))  # lighter → darker with N
    for col, kac in enumerate((True, False)):
        ax_full, ax_peak = axes[0, col], axes[1, col]
        inset = ax_full.inset_axes([0.08, 0.08, 0.38, 0.38])
        for n, c in zip(SIZES, colors):
            nt = n - 1.0 if kac else 1.0
            chain = mf.MeanFieldChain(np.ones(n), k=1.0, k0=k0, n_tilde=nt)
            w_bulk = np.sqrt(n / nt + k0)
            w = np.linspace(1e-4, 2.5 * w_bulk, 20_001)
            ax_full.plot(w, np.asarray(mf.transmittance(chain, w)), color=c, lw=1, label=f"N={n}")
            tail = np.geomspace(10 * w_bulk, 1000 * w_bulk, 200)
            inset.loglog(tail, np.asarray(mf.transmittance(chain, tail)), color=c, lw=1)
            guess = float(an.omega_c_asymptotic(n, 1.0, 1.0, k0, "kac" if kac else 1, 1.0))
            fit = mf.fit_resonance_lorentzians(chain, omega_guess=guess)
            wc, width = float(fit.omega_c), float(fit.hwhm)
            wp = np.linspace(max(0.0, wc - 6 * width), wc + 6 * width, 2001)
            ax_peak.plot(wp, np.asarray(mf.transmittance(chain, wp)), color=c, lw=1.5, label=f"N={n}")
            ax_peak.plot(wp, np.asarray(lorentzian(wp, n, kac)), "k--", lw=0.8)
            na = n * float(fit.A)
            ctr = float(fit.centers[1])
            model = 1 / (1 + (na * (wp - ctr)) ** 2)
            if k0 > 0:
                model = model + 1 / (1 + (na * (wp + ctr)) ** 2)
            ax_peak.plot(wp, model, ":", color="C3", lw=1)
        ref_t = np.geomspace(10 * np.sqrt(SIZES[-1] / (SIZES[-1] - 1.0 if kac else 1.0) + k0),
                             1000 * np.sqrt(SIZES[-1] / (SIZES[-1] - 1.0 if kac else 1.0) + k0), 10)
        nt_ref = SIZES[-1] - 1.0 if kac else 1.0
        inset.loglog(ref_t, 40.0 / (ref_t**6 * nt_ref**2), "k:", lw=1.2)
        inset.text(0.55, 0.75, r"$\propto\omega^{-6}$", transform=inset.transAxes, fontsize=8)
        inset.tick_params(labelsize=6)
        ax_full.set_yscale("log")
        ax_full.set_ylim(1e-8, 2)
        ax_full.set_xlabel(r"$\omega$")
        ax_full.set_ylabel(r"$\mathcal{T}(\omega)$")
        tag = r"$\tilde N=N-1$" if kac else r"$\tilde N=1$"
        ax_full.set_title(f"({'a' if kac else 'c'}) {tag}")
        ax_peak.set_title(f"({'b' if kac else 'd'}) {tag}: main peak; dashed {lorentzian.__doc__}, "
                          "dotted: fit", fontsize=9)
        ax_peak.set_xlabel(r"$\omega$")
        ax_peak.set_ylabel(r"$\mathcal{T}(\omega)$")
        ax_peak.legend(fontsize=7)
        ax_full.legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    fig.savefig(path, dpi=120)
    print("wrote", path)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="figures/")
    args = p.parse_args(argv)

    def eq24(w, n, kac):
        """Eq. 24"""
        return an.lorentzian_k0_zero(w, n, 1.0, 1.0)

    _panels(0.0, args.out, "fig2.png", eq24,
            "Fig. 2: transmittance, momentum-conserving chain (m = k = γ = 1, k0 = 0)")


if __name__ == "__main__":
    main()
