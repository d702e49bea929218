"""Fig. 5 of the paper: local temperature profiles T_n (Eq. 31), exact.

Identical, graded and random (δ = 0.1) masses, m = 1, k = γ = 1, T_L = 1.5, T_R = 0.5,
N = 20, Ñ = N − 1, k0 ∈ {0, 1}. Writes the figure and a CSV of the numbers behind it.
Random masses: one realization from jax.random key ``--seed`` (meanfield_jax.masses).

Usage: python scripts/fig5.py [--out figures/] [--n 20] [--seed 0]
"""

import argparse
import os

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import meanfield_jax as mf  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="figures")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    n = args.n
    configs = {
        "identical": mf.masses.identical(n),
        "graded": mf.masses.graded(n, 1.0, 0.1),
        "random": mf.masses.uniform(jax.random.PRNGKey(args.seed), n, 1.0, 0.1),
    }
    rows = []
    fig, ax = plt.subplots(figsize=(6, 4.2))
    markers = {"identical": "o", "graded": "s", "random": "^"}
    for k0, color, size in [(0.0, "tab:orange", 8), (1.0, "tab:purple", 5)]:
        for name, masses in configs.items():
            chain = mf.MeanFieldChain(masses, k=1.0, k0=k0, n_tilde="kac", gamma=1.0,
                                      t_left=1.5, t_right=0.5)
            result = mf.local_temperatures_with_error(chain)
            t = np.asarray(result.temperatures)
            assert bool(result.converged)
            idx = np.arange(1, n + 1)
            ax.plot(idx, t, marker=markers[name], ms=size, color=color, lw=0.8,
                    label=f"{name}, k0 = {k0:g}")
            for i, ti, ei in zip(idx, t, np.asarray(result.error_estimate)):
                rows.append((name, k0, i, ti, ei))
            print(f"k0 = {k0:g} {name:9s}: T_1 = {t[0]:.6f}, bulk mean = {t[1:-1].mean():.6f}, "
                  f"T_N = {t[-1]:.6f}, J = {float(mf.heat_flux(chain)):.6e}")
    ax.set_xlabel("n")
    ax.set_ylabel(r"$T_n$")
    ax.set_title(f"Local temperatures (Eq. 31), N = {n}, k = γ = 1, Ñ = N − 1")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    png = os.path.join(args.out, "fig5.png")
    fig.savefig(png, dpi=130)
    csv = os.path.join(args.out, "fig5.csv")
    with open(csv, "w") as fh:
        fh.write("masses,k0,n,T_n,error_estimate\n")
        for row in rows:
            fh.write(f"{row[0]},{row[1]},{row[2]},{row[3]:.15e},{row[4]:.1e}\n")
    print(f"wrote {png} and {csv}")


if __name__ == "__main__":
    main()
