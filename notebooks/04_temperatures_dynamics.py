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
# # 4. Local temperatures and dynamics: Fig. 5, the particular solution, Langevin runs
#
# The local temperature is twice the mean kinetic energy (Eq. 31,
# PRE 105, 054149, Sec. III B),
#
# $$T_n=m_n\langle\dot q_n^2\rangle=2\gamma m_n\int\frac{d\omega}{2\pi}\,\omega^2\left[T_L|G_{n1}|^2
#   +T_R|G_{nN}|^2\right],$$
#
# computed exactly by `local_temperatures` (residues, no quadrature). Identical masses are
# special: only three normal modes touch the baths (the relative motion of the end particles
# and two rigid motions of the bulk), the other $N-3$ never thermalize, and Eq. 31 describes
# the *particular solution*, the state reached from rest. Any mass difference couples every
# mode, but, as we will see, so weakly that relaxation takes very long.

# %%
import json
import os
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

import meanfield_jax as mf

if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):   # reuse compiled programs across runs
    jax.config.update("jax_compilation_cache_dir",
                      os.path.expanduser("~/.cache/meanfield_jax/xla"))
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})
notebook_start = time.perf_counter()

# %% [markdown]
# ## Fig. 5
#
# $N=20$, $k=\gamma=1$, $T_L=1.5$, $T_R=0.5$, $\tilde N=N-1$, average mass 1; identical,
# graded ($m_n=1-\delta+2\delta(n-1)/(N-1)$) and random (uniform in $[1-\delta,1+\delta]$)
# masses with $\delta=0.1$; $k_0=0$ (large symbols) and $k_0=1$ (small symbols).

# %%
N, TL, TR = 20, 1.5, 0.5
configs = {"identical": mf.masses.identical(N), "graded": mf.masses.graded(N, 1.0, 0.1),
           "random": mf.masses.uniform(jax.random.key(0), N, 1.0, 0.1)}
profiles, fluxes = {}, {}
fig, ax = plt.subplots(figsize=(6.5, 4))
for k0, color, size in ((0.0, "tab:orange", 8), (1.0, "tab:purple", 4)):
    for (name, m), marker in zip(configs.items(), "os^"):
        chain = mf.MeanFieldChain(m, k=1.0, k0=k0, n_tilde="kac", gamma=1.0, t_left=TL,
                                  t_right=TR)
        res = mf.local_temperatures_with_error(chain)
        assert bool(res.converged)
        profiles[(name, k0)] = np.asarray(res.temperatures)
        fluxes[(name, k0)] = float(mf.heat_flux(chain))
        ax.plot(np.arange(1, N + 1), profiles[(name, k0)], marker=marker, ms=size, lw=0.8,
                color=color, label=f"{name}, k0 = {k0:g}")
ax.set(xlabel="n", ylabel="$T_n$", title="Fig. 5: local temperatures (Eq. 31), N = 20")
ax.legend(fontsize=7, ncol=2)
plt.show()
for (name, k0), t in profiles.items():
    print(f"k0 = {k0:g} {name:9s}: T_1 = {t[0]:.6f}  bulk mean = {t[1:-1].mean():.6f}  "
          f"T_N = {t[-1]:.6f}  J = {fluxes[(name, k0)]:.6f}")

# %% [markdown]
# Checks, all exact:
#
# * **the particular solution of identical masses.** The bulk moves only through the rigid
#   bulk mode $(0,1,\dots,1,0)/\sqrt{N-2}$; by the $1\leftrightarrow N$ symmetry and
#   linearity in $(T_L, T_R)$ each bulk particle gets $1/(N-2)$ of that mode's kinetic
#   temperature $(T_L+T_R)/2$: $T_n=(T_L+T_R)/(2(N-2))$ for $1<n<N$ (the flat, low
#   profile of Fig. 5);
# * **energy balance at the baths** (Eq. 15): the left bath injects
#   $\langle(\eta_L-\gamma\dot q_1)\dot q_1\rangle=\frac{\gamma}{m_1}(T_L-T_1)$, so
#   $J=\frac{\gamma}{m_1}(T_L-T_1)=\frac{\gamma}{m_N}(T_N-T_R)$, linking the $T_n$ solver to
#   the flux solver;
# * for graded and random masses (which thermalize) $T_R\le T_n\le T_L$, and at
#   equilibrium every $T_n$ equals the bath temperature; the identical-mass bulk, at
#   $(T_L+T_R)/(2(N-2))$, is colder than both baths.

# %%
for k0 in (0.0, 1.0):
    bulk = profiles[("identical", k0)][1:-1]
    assert np.max(np.abs(bulk - (TL + TR) / (2 * (N - 2)))) < 1e-10
    for name, m in configs.items():
        t, j, m = profiles[(name, k0)], fluxes[(name, k0)], np.asarray(m)
        assert abs(j - (TL - t[0]) / m[0]) < 1e-10 * j and abs(j - (t[-1] - TR) / m[-1]) < 1e-10 * j
        if name == "identical":
            continue                  # the particular solution: bulk far below T_R
        assert np.all(t >= TR - 1e-12) and np.all(t <= TL + 1e-12)
        eq = mf.local_temperatures(mf.MeanFieldChain(m, k=1.0, k0=k0, t_left=0.7, t_right=0.7))
        assert np.max(np.abs(np.asarray(eq) - 0.7)) < 1e-10
print("particular solution, energy balance, bounds and equilibrium: all checks passed")

# %% [markdown]
# ## A Langevin ensemble against the exact $T_n$ and $J$
#
# `simulate` integrates Eqs. 2–5 with the BAOAB scheme for many independent trajectories
# (vmapped), discards a burn-in and returns time and ensemble averages with standard errors
# over the trajectories. Started from rest, identical masses reach the particular solution
# above: the three coupled modes relax on the time scale `relaxation_time` (the slowest
# damped mode, uncoupled modes excluded), and the others stay at rest. We run $k_0=0$,
# $dt=0.05$ (time-step bias $O(dt^2)$, well below the statistical error here) and burn in
# for $10\tau$.

# %%
chain = mf.MeanFieldChain(configs["identical"], k=1.0, k0=0.0, t_left=TL, t_right=TR)
tau = mf.relaxation_time(chain)
dt = 0.05
burn = int(10 * tau / dt)
run = mf.simulate(chain, jax.random.key(0), 256, dt, burn + 12_000, burn)
t_exact = np.asarray(mf.local_temperatures(chain))
j_exact = float(mf.heat_flux(chain))
z_t = (run.temperatures - t_exact) / run.temperatures_stderr
z_j = np.array([run.flux_left - j_exact, run.flux_right - j_exact]) / np.array(
    [run.flux_left_stderr, run.flux_right_stderr])
print(f"tau = {tau:.2f}, burn-in {burn} steps, {run.n_trajectories} trajectories")
print(f"J: left bath {run.flux_left:.5f} ± {run.flux_left_stderr:.5f}, right bath "
      f"{run.flux_right:.5f} ± {run.flux_right_stderr:.5f}, exact {j_exact:.5f}")

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.errorbar(np.arange(1, N + 1), run.temperatures, run.temperatures_stderr, fmt="o", ms=3,
            capsize=2, label="Langevin (BAOAB), from rest")
ax.plot(np.arange(1, N + 1), t_exact, "k_", ms=12, label="exact, Eq. 31")
ax.set(xlabel="n", ylabel="$T_n$", yscale="log", title="identical masses, k0 = 0")
ax.legend(fontsize=8)
plt.show()
print("largest |z| of T_n:", float(np.max(np.abs(z_t))), " of J:", float(np.max(np.abs(z_j))))

# %%
assert np.max(np.abs(z_t)) < 4 and np.max(np.abs(z_j)) < 4    # within 4 standard errors

# %% [markdown]
# ## Why nearly identical masses relax slowly
#
# With masses $1\pm\delta$ every mode couples to the baths, but the bulk modes only through
# the mass differences: their damping rate is of order $\delta^2$, so the relaxation time
# grows like $\delta^{-2}$. A Langevin run must burn in for several $\tau$ before its averages
# describe the steady state; for $\delta=0.1$ that is $\sim10^4$–$10^5$ time units already at
# $N=10$. This is why the exact steady-state solver is the practical tool for the nearly
# identical masses of Figs. 4–5, and why the Langevin check above uses the particular
# solution of identical masses.

# %%
deltas = np.array([0.01, 0.03, 0.1, 0.3])
taus = np.array([mf.relaxation_time(mf.MeanFieldChain(mf.masses.graded(10, 1.0, d), k=1.0))
                 for d in deltas])
tau_identical = mf.relaxation_time(mf.MeanFieldChain(mf.masses.identical(10), k=1.0))
slope = float(np.polyfit(np.log(deltas[:3]), np.log(taus[:3]), 1)[0])
fig, ax = plt.subplots(figsize=(5, 3.4))
ax.loglog(deltas, taus, "o-", label="graded masses, N = 10, k = 1")
ax.loglog(deltas, taus[0] * (deltas / deltas[0]) ** -2.0, "k:", label=r"$\propto\delta^{-2}$")
ax.axhline(tau_identical, color="gray", ls="--", lw=0.8, label="identical (coupled modes)")
ax.set(xlabel=r"$\delta$", ylabel=r"relaxation time $\tau$")
ax.legend(fontsize=8)
plt.show()
print("tau:", dict(zip(deltas.tolist(), np.round(taus, 1).tolist())),
      f"identical: {tau_identical:.2f}; slope {slope:.3f}")

# %%
assert abs(slope + 2) < 0.1                    # tau ~ delta^-2
assert np.all(taus > 10 * tau_identical)

# %% [markdown]
# ## Numbers

# %%
summary = {
    "bulk_T_identical_k0=0": float(profiles[("identical", 0.0)][1]),
    "bulk_mean_T_random_k0=1": float(profiles[("random", 1.0)][1:-1].mean()),
    "J_graded_k0=0": fluxes[("graded", 0.0)],
    "langevin_J_left": float(run.flux_left),
    "langevin_T_1": float(run.temperatures[0]),
    "tau_graded_delta=0.1": float(taus[2]),
    "tau_slope": slope,
}
print(f"notebook run time: {time.perf_counter() - notebook_start:.0f} s")
print(json.dumps(summary, indent=1))
