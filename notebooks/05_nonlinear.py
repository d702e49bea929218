# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Nonlinear chains: FPUT-β and XY rotors on the Langevin engine
#
# `meanfield_jax.nonlinear` wraps any harmonic system (a `MeanFieldChain`, a power law from
# `networks.power_law`, any `HarmonicNetwork`) into a nonlinear one with the same masses,
# couplings $k_{ij}$, baths, pinning and walls:
#
# $$V_\mathrm{FPUT}=\sum_{i<j}k_{ij}\Big[\frac{x^2}{2}+\beta\frac{x^4}{4}\Big]
#   +\sum_i\Big[\kappa_i\frac{q_i^2}{2}+\lambda\frac{q_i^4}{4}\Big],\quad x=q_i-q_j,\qquad
#   V_\mathrm{XY}=\sum_{i<j}k_{ij}[1-\cos(\theta_i-\theta_j)]+h\sum_i[1-\cos\theta_i].$$
#
# `simulate` runs them with BAOAB, forces at the cost the couplings allow: $O(N)$ for the
# mean field (power sums), $O(N\log N)$ for a power law (FFT of the circulant embedding of
# the Toeplitz couplings), $O(N)$ for nearest neighbours, $O(N^2)$ otherwise. There is no
# exact solution; at small β the exact harmonic solver is the reference.

# %%
import json
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

import meanfield_jax as mf
from meanfield_jax import nonlinear as nl

plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})
notebook_start = time.perf_counter()

# %% [markdown]
# ## Weak FPUT against the exact harmonic limit
#
# A power-law chain (α = 1.5), $N=16$, masses graded $0.5\to1.5$, $k=1$, $k_0=0.1$,
# $T_L=1$, $T_R=0$, β = 10⁻⁴: the simulated $J$ and $T_n$ must agree with `heat_flux` and
# `local_temperatures` of the harmonic chain within their standard errors (the β correction
# is ~10⁻⁴ relative, the dt² bias ~10⁻³). The burn-in is 5 relaxation times.

# %%
chain = mf.networks.power_law(np.linspace(0.5, 1.5, 16), 1.5, k=1.0, k0=0.1, t_left=1.0,
                              t_right=0.0)
tau = mf.relaxation_time(chain)
burn = int(5 * tau / 0.1)
print(f"harmonic relaxation time: {tau:.1f}; burn-in {burn} steps of dt = 0.1")
weak = mf.simulate(nl.fput(chain, beta=1e-4), jax.random.PRNGKey(0), 192, 0.1, burn + 5000,
                   burn, initial="thermal")
j_exact = float(mf.heat_flux(chain))
t_exact = np.asarray(mf.local_temperatures(chain))
z_j = (weak.flux_left - j_exact) / weak.flux_left_stderr
z_t = (weak.temperatures - t_exact) / weak.temperatures_stderr
print(f"J = {weak.flux_left:.5f} ± {weak.flux_left_stderr:.5f}, exact {j_exact:.5f} "
      f"({z_j:+.1f} σ); max |z| of T_n: {np.max(np.abs(z_t)):.1f}")
fig, ax = plt.subplots(figsize=(5.5, 3.4))
n = np.arange(1, 17)
ax.errorbar(n, weak.temperatures, weak.temperatures_stderr, fmt="o", ms=4,
            label="FPUT β = 1e-4 (Langevin)")
ax.plot(n, t_exact, "k-", lw=1, label="harmonic, exact (Eq. 31)")
ax.set(xlabel="n", ylabel="$T_n$")
ax.legend(fontsize=8)
plt.show()

# %%
assert abs(z_j) < 4 and np.max(np.abs(z_t)) < 4

# %% [markdown]
# ## A J(N) curve: FPUT-β with power-law couplings, α = 1.5
#
# Kac-normalised couplings $k/(\tilde N|i-j|^\alpha)$ (every particle's total coupling is
# $k=1$), β = 1, no pinning, unit masses, $T_L=1.2$, $T_R=0.8$. The conductivity
# $\kappa=JN/\Delta T$ of a normal conductor would not depend on N; here it grows. (Short
# runs, $N\le 64$: `scripts/nonlinear_studies.py` goes further.)

# %%
sizes = np.array([16, 32, 64])
flux, err = [], []
for size in sizes:
    net = mf.networks.power_law(np.ones(size), 1.5, k=1.0, t_left=1.2, t_right=0.8)
    r = mf.simulate(nl.fput(net, beta=1.0), jax.random.PRNGKey(int(size)), 64, 0.05, 16_000,
                    4000, initial="thermal", profiles=False)
    flux.append(0.5 * (r.flux_left + r.flux_right))
    err.append(max(r.flux_left_stderr, r.flux_right_stderr))
flux, err = np.array(flux), np.array(err)
kappa, kappa_err = flux * sizes / 0.4, err * sizes / 0.4
decay, decay_err, _, _ = mf.fit_power_law(sizes, flux, err)
print("kappa:", np.round(kappa, 4), f"-> kappa ~ N^{1 - decay:.2f} ± {decay_err:.2f}")
fig, ax = plt.subplots(figsize=(5, 3.4))
ax.errorbar(sizes, kappa, kappa_err, fmt="o-", capsize=3, label="FPUT-β, α = 1.5")
ax.set(xscale="log", yscale="log", xlabel="N", ylabel=r"$\kappa = JN/\Delta T$")
ax.legend(fontsize=8)
plt.show()

# %%
assert np.all(np.diff(kappa) > 0)              # κ grows with N at α = 1.5

# %% [markdown]
# ## The sign of rectification
#
# A graded-mass FPUT chain (masses $1\to4$, α = 1.5, $N=16$) run with $T_L=1.5$,
# $T_R=0.5$ and with the baths swapped: $R=(|J_+|-|J_-|)/|J_-|$. The same harmonic chain
# (β = 0) cannot rectify: J is linear in ΔT.

# %%
graded = mf.networks.power_law(np.linspace(1.0, 4.0, 16), 1.5, k=1.0, t_left=1.5,
                               t_right=0.5)
rect = mf.rectification(nl.fput(graded, beta=1.0), jax.random.PRNGKey(7), 128, 0.05, 14_000,
                        3000, initial="thermal", profiles=False)
rect_h = mf.rectification(graded, jax.random.PRNGKey(8), 64, 0.05, 14_000, 3000,
                          initial="thermal")
print(f"FPUT:     R = {rect.ratio:+.3f} ± {rect.stderr:.3f}  (J+ = {rect.flux_forward:.4f}, "
      f"J- = {rect.flux_reverse:.4f})")
print(f"harmonic: R = {rect_h.ratio:+.3f} ± {rect_h.stderr:.3f}")

# %%
assert abs(rect_h.ratio) < 3 * rect_h.stderr   # harmonic: no rectification

# %% [markdown]
# ## Numbers

# %%
summary = {
    "weak_fput_J": float(weak.flux_left),
    "exact_J": j_exact,
    "kappa_exponent": float(1 - decay),
    "kappa_N64": float(kappa[-1]),
    "R_fput": float(rect.ratio),
    "R_fput_stderr": float(rect.stderr),
    "R_harmonic": float(rect_h.ratio),
}
print(f"notebook run time: {time.perf_counter() - notebook_start:.0f} s")
print(json.dumps(summary, indent=1))
