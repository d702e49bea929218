# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # meanfield_jax quick start
#
# The mean-field chain of PRE 105, 054149: transmittance (Eq. 17), exact heat flux (Eq. 16)
# against the paper's asymptotics (Eqs. 25, 30), and local temperatures (Eq. 31).
# Open with `jupytext --to notebook notebooks/quickstart.py` or run as a script.

# %%
import jax
import numpy as np

import meanfield_jax as mf

n = 200
chain = mf.MeanFieldChain(mf.masses.uniform(jax.random.key(0), n, 1.0, 0.1), k=0.1, k0=0.02)
identical = chain.replace(masses=np.ones(n))

# %% [markdown]
# ## Transmittance: two Lorentzian peaks at ±ω_c of width ~1/N (Eqs. 26, 28)

# %%
omega = np.linspace(0.0, 0.4, 2001)
t_random = np.asarray(mf.transmittance(chain, omega))
t_identical = np.asarray(mf.transmittance(identical, omega))
print("peak of T (identical):", omega[t_identical.argmax()], "Eq. 26:",
      float(mf.analytic.omega_c_asymptotic(n, 1.0, 0.1, 0.02, "kac", 1.0)))

# %% [markdown]
# ## Exact heat flux, N·J/ΔT against Eq. 30

# %%
for system, name in [(identical, "identical"), (chain, "random")]:
    r = mf.heat_flux_with_error(system)
    print(f"{name:9s}: N·J/ΔT = {n * float(r.flux):.10f} ± {n * float(r.error_estimate):.1e}")
print("Eq. 30   :", n * float(mf.analytic.flux_asymptotic(n, 1.0, 0.1, 0.02, "kac", 1.0)))
print("exact identical-mass closed form:",
      n * float(mf.analytic.flux_identical_exact(n, 1.0, 0.1, 0.02, n - 1, 1.0)))

# %% [markdown]
# ## Local temperatures: the random chain thermalizes, the identical one does not (Fig. 5)

# %%
hot = chain.replace(t_left=1.5, t_right=0.5)
t_n = np.asarray(mf.local_temperatures(hot))
t_id = np.asarray(mf.local_temperatures(identical.replace(t_left=1.5, t_right=0.5)))
print("random bulk mean T_n:", t_n[1:-1].mean(), " identical bulk T_n:", t_id[1])

# %%
try:
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.semilogy(omega, t_identical, label="identical")
    ax1.semilogy(omega, t_random, lw=0.6, label="random δ = 0.1")
    ax1.set_xlabel("ω")
    ax1.set_ylabel("T(ω)")
    ax1.legend()
    ax2.plot(t_n, ".", label="random")
    ax2.plot(t_id, ".", label="identical")
    ax2.set_xlabel("n")
    ax2.set_ylabel("T_n")
    ax2.legend()
    fig.tight_layout()
except ImportError:  # plotting is optional in a script run
    pass
