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
# # 6. Quantum baths: Landauer current and the thermal conductance κ(T)
#
# With quantum baths the harmonic heat current is Landauer's, with the transmittance of
# Eq. 17 (PRE 105, 054149):
#
# $$J=\int_0^\infty\frac{d\omega}{2\pi}\,\hbar\omega\,\mathcal T(\omega)\,[n_L(\omega)-n_R(\omega)],
# \qquad \kappa(T)=\int_0^\infty\frac{d\omega}{2\pi}\,\hbar\omega\,\mathcal T(\omega)\,
# \frac{\partial n}{\partial T}.$$
#
# `heat_flux(..., hbar=ħ)` and `thermal_conductance(system, temperatures, hbar=ħ)` evaluate
# them exactly: the poles of $\mathcal T$ once, then one digamma (Binet's formula, DLMF
# 5.9.16) per pole and temperature — no frequency grid, no broadening (docs/quantum.md).
# Here: κ/κ₀ from the quantum limit to the classical plateau (κ₀ = πT/(6ħ), the quantum of
# thermal conductance), the pinned T³ law, how size, disorder and the interaction range move
# the crossover, and what a frequency grid makes of the same integral.

# %%
import json
import os
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import meanfield_jax as mf
from meanfield_jax import networks

if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):   # reuse compiled programs across runs
    jax.config.update("jax_compilation_cache_dir",
                      os.path.expanduser("~/.cache/meanfield_jax/xla"))
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})
notebook_start = time.perf_counter()
HBAR = 1.0

# %% [markdown]
# ## From the quantum limit to the classical plateau
#
# A free (unpinned) chain conducts every long wavelength perfectly: $\mathcal T(0)=1$, so at
# low T it carries exactly one quantum of conductance, κ → κ₀. At high T, κ approaches the
# classical J/ΔT (the paper's flux per unit temperature difference, a constant; dotted), so
# κ/κ₀ falls like 1/T. The crossover sits near the bulk frequency.

# %%
temps = np.geomspace(1e-4, 1e2, 61)
kappa0 = np.pi * temps / (6 * HBAR)
N = 16
chains = {"identical": mf.MeanFieldChain(mf.masses.identical(N), k=1.0),
          "random δ = 0.5": mf.MeanFieldChain(
              mf.masses.uniform(jax.random.key(1), N, 1.0, 0.5), k=1.0)}
curves = {name: np.asarray(mf.thermal_conductance(c, temps, hbar=HBAR))
          for name, c in chains.items()}
classical = {name: float(mf.heat_flux(c) / (c.t_left - c.t_right)) for name, c in chains.items()}
fig, ax = plt.subplots(figsize=(6, 3.8))
for (name, kappa), color in zip(curves.items(), ("tab:blue", "tab:red")):
    ax.loglog(temps, kappa / kappa0, color=color, label=f"free chain N = {N}, {name}")
    ax.loglog(temps, classical[name] / kappa0, ":", color=color, lw=0.8)
ax.axhline(1.0, color="gray", lw=0.8, ls="--")
ax.set(xlabel=r"$T$ (units of $\hbar\omega_b$)", ylabel=r"$\kappa/\kappa_0$")
ax.legend(fontsize=8)
plt.show()
low = {name: float(k[0] / kappa0[0]) for name, k in curves.items()}
high = {name: float(k[-1] / classical[name]) for name, k in curves.items()}
print("κ/κ₀ at T = 1e-4:", low, "  κ/κ_classical at T = 100:", high)

# %%
for name in curves:
    # T(0) = 1: one quantum of conductance; approached like (T/ω_c)², ω_c the width ~γ/N
    # of the momentum mode's Lorentzian: 4e-6 short of 1 at T = 1e-4 for N = 16
    assert abs(low[name] - 1.0) < 1e-5
    assert abs(high[name] - 1.0) < 1e-4         # the classical plateau (correction ∝ (ħω/T)²)
    assert np.all(np.diff(curves[name]) > 0)    # κ grows with T

# %% [markdown]
# ## Pinned chains: the T³ law
#
# With on-site springs $k_0$ (or walls $k'$) no wave of zero frequency propagates:
# $\mathcal T(\omega)\approx4\gamma^2\omega^2|(K^{-1})_{1N}|^2$ at low frequency, so
# κ → (2π³/15)·4γ²|(K⁻¹)_{1N}|²·T³/ħ³ — the phonon T³ law of a gapped junction.

# %%
pinned = mf.MeanFieldChain(mf.masses.uniform(jax.random.key(2), N, 1.0, 0.3), k=1.0, k0=0.5)
K = np.asarray(pinned.stiffness_matrix())
g1n = np.linalg.inv(K)[0, -1]
law = 2 * np.pi**3 / 15 * 4 * float(pinned.gamma) ** 2 * g1n**2 * temps**3 / HBAR**3
kappa_pinned = mf.thermal_conductance_with_error(pinned, temps, hbar=HBAR)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(temps, np.asarray(kappa_pinned.conductance), label="pinned chain, k0 = 0.5")
ax.loglog(temps, law, "k:", label=r"$(2\pi^3/15)\,4\gamma^2|K^{-1}_{1N}|^2T^3/\hbar^3$")
ax.set(xlabel=r"$T$", ylabel=r"$\kappa$", ylim=(1e-16, 1))
ax.legend(fontsize=8)
plt.show()
i = int(np.searchsorted(temps, 1e-3))
ratio_t3 = float(kappa_pinned.conductance[i] / law[i])
print(f"κ / T³-law at T = {temps[i]:.2g}: {ratio_t3:.6f}; relative error estimate there "
      f"{float(kappa_pinned.error_estimate[i] / kappa_pinned.conductance[i]):.1e}")

# %%
assert abs(ratio_t3 - 1.0) < 1e-3

# %% [markdown]
# Below T ≈ 10⁻³ the pole sum cancels (terms O(T²), result O(T³)): the error estimate grows
# like (ħω/T)² ε and says so (`converged` is False there; docs/quantum.md).

# %% [markdown]
# ## Size, disorder and interaction range move the crossover
#
# The crossover temperature T× where κ reaches half its classical plateau: longer
# disordered chains filter their high-frequency modes (Anderson localization in the
# nearest-neighbour case), which pushes T× down; a long-range network (power-law springs
# $1/|i-j|^\alpha$) keeps more modes extended.

# %%
def crossover(system):
    kappa = np.asarray(mf.thermal_conductance(system, temps, hbar=HBAR))
    plateau = kappa[-1]
    return float(np.interp(0.5, kappa / plateau, temps)), kappa / plateau


rows = {}
for n in (8, 16):
    m = mf.masses.uniform(jax.random.key(3), n, 1.0, 0.5)
    rows[f"mean-field N={n}"] = crossover(mf.MeanFieldChain(m, k=1.0))
    for alpha in (0.5, 3.0):
        rows[f"power law α={alpha} N={n}"] = crossover(networks.power_law(m, alpha, k=1.0))
fig, ax = plt.subplots(figsize=(6, 3.8))
for name, (tx, curve) in rows.items():
    ax.semilogx(temps, curve, label=f"{name}: $T_\\times$ = {tx:.3f}")
ax.set(xlabel=r"$T$", ylabel=r"$\kappa/\kappa(T{=}100)$")
ax.legend(fontsize=7)
plt.show()
print({name: round(tx, 4) for name, (tx, _) in rows.items()})

# %%
assert all(0.01 < tx < 10 for tx, _ in rows.values())

# %% [markdown]
# ## Against a frequency grid
#
# NEGF codes integrate Landauer's formula on a grid with a small broadening η (trapezoid,
# η = 1e-8 in negfpy; a fixed ~500-point contour in sisl/TBtrans). The narrow resonances of
# a disordered chain make such grids wrong: below, the trapezoid with G points over the
# band against the exact residue result, for a random-mass chain (N = 16, δ = 0.5).

# %%
chain = chains["random δ = 0.5"].replace(t_left=0.5, t_right=0.05)
exact = float(mf.heat_flux(chain, hbar=HBAR))
omega_max = 4.0 * float(np.sqrt((chain.kappa_bar + chain.k0) / np.min(np.asarray(chain.masses))))


def occupation(w, t):
    x = HBAR * w / t
    return np.where(w > 0, HBAR * w / np.expm1(np.where(w > 0, x, 1.0)), t)


errors = {}
for g in (100, 500, 5000, 50000):
    w = np.linspace(0.0, omega_max, g)
    tw = np.asarray(mf.transmittance(chain, jnp.asarray(w)))
    value = np.trapezoid(tw * (occupation(w, 0.5) - occupation(w, 0.05)) / (2 * np.pi), w)
    errors[g] = abs(value - exact) / exact
print(f"exact J = {exact:.15e}")
for g, e in errors.items():
    print(f"grid {g:>6}: relative error {e:.1e}")

# %%
assert errors[100] > 1e-6            # a coarse grid misses the narrow resonances
assert errors[50000] < errors[100]

# %% [markdown]
# ## Numbers

# %%
summary = {
    "kappa_over_kappa0_T=1e-4_identical": low["identical"],
    "kappa_over_classical_T=100_random": high["random δ = 0.5"],
    "pinned_T3_ratio_T=1e-3": ratio_t3,
    "crossover_meanfield_N=16": rows["mean-field N=16"][0],
    "exact_J_random_N=16": exact,
}
print(f"notebook run time: {time.perf_counter() - notebook_start:.0f} s")
print(json.dumps(summary, indent=1))
