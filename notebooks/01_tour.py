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
# # 1. A tour of `meanfield_jax`
#
# $N$ particles with masses $m_n$, every pair joined by a spring $k/\tilde N$, each particle
# pinned by $k_0$; particles $1$ and $N$ touch Langevin baths at temperatures $T_L$ and $T_R$
# with friction $\gamma$ (Defaveri, Olivares & Anteneodo, PRE **105**, 054149 (2022); equation
# and figure numbers below are the paper's). The Hamiltonian (Eq. 1) is
#
# $$\mathcal H=\sum_n \frac{p_n^2}{2m_n}+\frac{k_0}{2}\sum_n q_n^2
#   +\frac{k}{2\tilde N}\sum_{n}\sum_{j\ne n}\tfrac12 (q_n-q_j)^2 ,$$
#
# with $\tilde N=N-1$ (the Kac factor) or $\tilde N=1$. In frequency space the equations of
# motion (Eqs. 2–5) read $\hat Z(\omega)\hat q=\hat\eta$ with the dense matrix of Eq. 7,
# $Z_{nn}=\frac{N-1}{\tilde N}k+k_0-m_n\omega^2+i\omega\gamma(\delta_{n1}+\delta_{nN})$ and
# $Z_{n\ne j}=-k/\tilde N$ (Eqs. 8–10). Everything follows from the Green's operator
# $G=Z^{-1}$:
#
# * transmittance (Eq. 17): $\mathcal T(\omega)=4\gamma^2\omega^2|G_{1N}(\omega)|^2$,
# * heat flux (Eq. 16): $J=\frac{T_L-T_R}{4\pi}\int_{-\infty}^{\infty}\mathcal T(\omega)\,d\omega$,
# * local temperatures (Eq. 31):
#   $T_n=2\gamma m_n\int\frac{d\omega}{2\pi}\,\omega^2\left[T_L|G_{n1}|^2+T_R|G_{nN}|^2\right]$.
#
# The package evaluates $\mathcal T$ in $O(N)$ per frequency and $J$, $T_n$ **exactly** (a
# residue sum over the poles of $G$, no quadrature), in float64, with `jax.jit`, `jax.vmap`
# and `jax.grad`. This notebook builds a chain, compares it with the paper's closed forms,
# batches with `vmap`, differentiates with `grad`, and ends with sliders to play with.

# %%
import json
import os
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

import meanfield_jax as mf
from meanfield_jax import analytic as an

# JAX's persistent compilation cache: the first run of a notebook spends most of its time
# compiling the exact solvers (5-20 s per program on a 2-core CPU); reruns reuse them.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir",
                      os.path.expanduser("~/.cache/meanfield_jax/xla"))
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (9, 3.4)})
notebook_start = time.perf_counter()

# %% [markdown]
# The paper's closed forms for identical masses live in `meanfield_jax.analytic`. They are
# called through the small functions below (keyword arguments only), so this cell is the one
# place to update if their signatures change.

# %%
def closed_T(omega, n, m, k, k0, n_tilde, gamma):
    """Eqs. 20-23: exact T(omega) of identical masses."""
    return an.transmittance_identical(omega=omega, n=n, m=m, k=k, k0=k0, n_tilde=n_tilde,
                                      gamma=gamma)


def closed_J(n, m, k, k0, n_tilde, gamma):
    """Exact finite-N J/dT of identical masses (closed form beyond the paper)."""
    return an.flux_identical_exact(n=n, m=m, k=k, k0=k0, n_tilde=n_tilde, gamma=gamma)


def eq30_J(n, m, k, k0, gamma, kac):
    """Eqs. 25/30: J/dT ~ 1/(2 A N) at large N."""
    return an.flux_asymptotic(n, m, k, k0, "kac" if kac else 1, gamma)


def eq28_T(omega, n, m, k, k0, gamma, kac):
    """Eq. 28 with omega_c of Eq. 26 and A of Eq. 29: two Lorentzians."""
    return an.lorentzian_pinned(omega, n, m, k, k0, "kac" if kac else 1, gamma)


# %% [markdown]
# ## A chain
#
# The parameters of the paper's Fig. 4: $k=0.1$, $k_0=0.02$, $\gamma=m=1$, Kac factor, and
# $N=40$. `MeanFieldChain` is a pytree whose every number is an array leaf; masses come from
# `mf.masses` (identical, graded, or uniform in $[m-\delta,m+\delta]$ from a JAX key).
# All sizes in this notebook lie in one of the package's size buckets ($17\le N\le 64$), so
# each exact solver is compiled once.

# %%
N, K, K0, GAMMA = 40, 0.1, 0.02, 1.0
identical = mf.MeanFieldChain(mf.masses.identical(N), k=K, k0=K0, n_tilde="kac", gamma=GAMMA,
                              t_left=1.0, t_right=0.0)
random = identical.replace(masses=mf.masses.uniform(jax.random.key(1), N, 1.0, 0.1))
print(identical)

# %% [markdown]
# ## Transmittance: two Lorentzian peaks at $\pm\omega_c$ (Eqs. 26, 28)
#
# For identical masses $\mathcal T$ is known in closed form (Eqs. 20–22); at large $N$ it
# tends to two Lorentzians of width $1/(N\mathcal A)$ around $\pm\omega_c\approx\omega_0=
# \sqrt{k_0/m}$ (Eqs. 26, 28–29). Random masses ($\delta=0.1$) add one narrow resonance per
# bulk normal mode, near the bulk frequencies $\sqrt{(Nk/\tilde N+k_0)/m_n}$.

# %%
omega = np.linspace(0.0, 0.6, 3001)
T_id = np.asarray(mf.transmittance(identical, omega))
T_rnd = np.asarray(mf.transmittance(random, omega))
T_closed = np.asarray(closed_T(omega, N, 1.0, K, K0, N - 1.0, GAMMA))
T_eq28 = np.asarray(eq28_T(omega, N, 1.0, K, K0, GAMMA, True))

fig, ax = plt.subplots()
ax.semilogy(omega, T_id, lw=2, label="identical (exact, Eq. 17)")
ax.semilogy(omega, T_closed, "k:", label="closed form, Eqs. 20-22")
ax.semilogy(omega, T_eq28, "--", color="gray", lw=1, label="Lorentzians, Eq. 28")
ax.semilogy(omega, T_rnd, lw=0.8, label=r"random masses, $\delta=0.1$")
ax.set(xlabel=r"$\omega$", ylabel=r"$\mathcal{T}(\omega)$", ylim=(1e-6, 2),
       title=f"N = {N}, k = {K}, k0 = {K0}, Kac factor")
ax.legend(fontsize=8)
plt.show()

err_T = float(np.max(np.abs(T_id - T_closed)))
print(f"max |T - closed form| = {err_T:.1e};  random: min T = {T_rnd.min():.2e}, "
      f"max T = {T_rnd.max():.6f}")

# %%
assert err_T < 1e-10, err_T                                      # Eqs. 20-22, exact
assert T_rnd.min() >= 0.0 and T_rnd.max() <= 1.0 + 1e-12         # 0 <= T <= 1

# %% [markdown]
# ## Exact heat flux against Eqs. 25/30 and the finite-$N$ closed form
#
# $J$ is computed exactly (`heat_flux_with_error` returns the value, an error bound and a
# convergence flag). For identical masses the integral of Eq. 16 can be done in closed form
# at any $N$ (`analytic.flux_identical_exact`, derived in `scripts/derive_identical_flux.py`):
#
# $$\frac{J}{\Delta T}=\frac{\gamma}{2m}\,
#   \frac{(N-1)\kappa^2}{(N-1)^2\kappa^2+(\gamma^2/m)(\kappa+k_0)},
#   \qquad \kappa=k/\tilde N ,$$
#
# which tends to the paper's $J/\Delta T\simeq 1/(2\mathcal A N)$ (Eq. 30, Eq. 25 when
# $k_0=0$) with $O(1/N)$ corrections. The paper's point: small mass disorder changes little.

# %%
r_id = mf.heat_flux_with_error(identical)
r_rnd = mf.heat_flux_with_error(random)
j_closed = float(closed_J(N, 1.0, K, K0, N - 1.0, GAMMA))
j_eq30 = float(eq30_J(N, 1.0, K, K0, GAMMA, True))
print(f"identical: N J = {N * float(r_id.flux):.12f} "
      f"(error bound {N * float(r_id.error_estimate):.1e}, converged {bool(r_id.converged)})")
print(f"closed form N J = {N * j_closed:.12f}")
print(f"random   : N J = {N * float(r_rnd.flux):.12f}")
print(f"Eq. 30   : N J = {N * j_eq30:.12f}")

# the closed form approaches Eq. 30 like 1/N
sizes = np.array([40, 400, 4000, 40000])
dev = np.array([float(closed_J(n, 1.0, K, K0, n - 1.0, GAMMA) / eq30_J(n, 1.0, K, K0, GAMMA,
                                                                          True)) - 1
                for n in sizes])
print("N (J/J_Eq30 - 1):", np.round(sizes * dev, 6))

# %%
assert bool(r_id.converged) and bool(r_rnd.converged)
assert abs(float(r_id.flux) / j_closed - 1) < 1e-10                # exact closed form
assert abs(float(r_rnd.flux) / float(r_id.flux) - 1) < 0.05       # small disorder: ~identical
assert abs(N * dev[0]) < 5 and abs(sizes[-1] * dev[-1] - sizes[-2] * dev[-2]) < 0.01  # O(1/N)

# %% [markdown]
# ## Local temperatures (Eq. 31, Fig. 5)
#
# $T_n=m_n\langle\dot q_n^2\rangle$ with $T_L=1.5$, $T_R=0.5$. The random chain thermalizes
# its bulk near $(T_L+T_R)/2$; the identical chain does not: only three of its normal modes
# touch the baths (Sec. III B), and its bulk sits at $(T_L+T_R)/(2(N-2))$. Two physics checks:
# at equilibrium ($T_L=T_R$) every $T_n$ equals the bath temperature, and out of equilibrium
# $T_R\le T_n\le T_L$.

# %%
hot = dict(t_left=1.5, t_right=0.5)
Tn_rnd = np.asarray(mf.local_temperatures(random.replace(**hot)))
Tn_id = np.asarray(mf.local_temperatures(identical.replace(**hot)))
Tn_eq = np.asarray(mf.local_temperatures(random.replace(t_left=0.8, t_right=0.8)))

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(np.arange(1, N + 1), Tn_rnd, "o-", ms=3, label=r"random, $\delta=0.1$")
ax.plot(np.arange(1, N + 1), Tn_id, "s-", ms=3, label="identical")
ax.set(xlabel="n", ylabel="$T_n$", title="Eq. 31, $T_L=1.5$, $T_R=0.5$")
ax.legend(fontsize=8)
plt.show()
print(f"random bulk mean T_n = {Tn_rnd[1:-1].mean():.4f}; identical bulk T_n = {Tn_id[1]:.6f} "
      f"(1/(N-2) = {1 / (N - 2):.6f}); equilibrium max|T_n - 0.8| = "
      f"{np.max(np.abs(Tn_eq - 0.8)):.1e}")

# %%
assert np.max(np.abs(Tn_eq - 0.8)) < 1e-10                       # equilibrium: T_n = T
assert np.all(Tn_rnd >= 0.5 - 1e-12) and np.all(Tn_rnd <= 1.5 + 1e-12)
assert np.max(np.abs(Tn_id[1:-1] - 2.0 / (2 * (N - 2)))) < 1e-10  # (T_L+T_R)/(2(N-2))
assert abs(Tn_rnd[1:-1].mean() - 1.0) < 0.05                      # bulk thermalizes

# %% [markdown]
# ## Batching with `jax.vmap`
#
# A batch of systems is the same class with a leading axis on every leaf
# (`mf.batch_chains` from an $(R, N)$ mass array, or `mf.stack_systems`), so `jax.vmap`
# maps any function of one system over it. Here: $\mathcal T(\omega)$ of 32 random-mass
# realizations in one call, and its ensemble mean.

# %%
R = 32
batch = mf.batch_chains(mf.masses.uniform_ensemble(0, N, R, 1.0, 0.1), k=K, k0=K0,
                        n_tilde="kac", gamma=GAMMA)
T_batch = np.asarray(jax.vmap(mf.transmittance, in_axes=(0, None))(batch, omega))
one = jax.tree_util.tree_map(lambda x: x[3], batch)          # realization 3 on its own
err_vmap = float(np.max(np.abs(T_batch[3] - np.asarray(mf.transmittance(one, omega)))))

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(omega, T_batch.mean(axis=0), label=f"mean over {R} realizations")
ax.semilogy(omega, T_id, "k:", label="identical")
ax.set(xlabel=r"$\omega$", ylabel=r"$\langle\mathcal{T}(\omega)\rangle$", ylim=(1e-6, 2))
ax.legend(fontsize=8)
plt.show()
print(f"T_batch shape {T_batch.shape}; vmap vs single call: max diff {err_vmap:.1e}")

# %%
assert T_batch.shape == (R, omega.size) and err_vmap < 1e-13

# %% [markdown]
# ## Sensitivities with `jax.grad`
#
# The exact flux is differentiable in every parameter (the residue solver is written in
# JAX). For identical masses the gradient of the exact $J$ must equal the gradient of the
# closed form; for random masses we compare with central finite differences.

# %%
def flux_of(chain):
    def f(k, k0, gamma):
        return mf.heat_flux(chain.replace(k=k, k0=k0, gamma=gamma))
    return f


grad_exact = jax.grad(flux_of(identical), argnums=(0, 1, 2))
g_id = np.array(grad_exact(K, K0, GAMMA))
g_closed = np.array(jax.grad(lambda k, k0, g: closed_J(N, 1.0, k, k0, N - 1.0, g),
                             argnums=(0, 1, 2))(K, K0, GAMMA))
g_rnd = np.array(jax.grad(flux_of(random), argnums=(0, 1, 2))(K, K0, GAMMA))
f_rnd, h = flux_of(random), 1e-5
g_fd = np.array([(f_rnd(*(p + h * e)) - f_rnd(*(p - h * e))) / (2 * h)
                 for p, e in [(np.array([K, K0, GAMMA]), np.eye(3)[i]) for i in range(3)]])
print("dJ/d(k, k0, gamma), identical:", g_id, "\n                 closed form:", g_closed)
print("dJ/d(k, k0, gamma), random   :", g_rnd, "\n         finite differences:", g_fd)

# %%
assert np.allclose(g_id, g_closed, rtol=1e-8, atol=0)
assert np.allclose(g_rnd, g_fd, rtol=1e-5, atol=0)

# %% [markdown]
# ## Explore: $N$, $\delta$, $k_0$, $\tilde N$
#
# `draw` recomputes $\mathcal T(\omega)$ and $T_n$ for one chain. Every $N$ in
# $17\ldots64$ is padded to the same compiled program (the size bucket of 64), so a redraw
# takes milliseconds of computation. In a live Jupyter session the sliders below call it;
# without `ipywidgets` (or headless) only the static figure is drawn.

# %%
def draw(n=40, delta=0.1, k0=0.02, n_tilde="kac", seed=1):
    masses = (mf.masses.uniform(jax.random.key(seed), n, 1.0, delta) if delta > 0
              else mf.masses.identical(n))
    chain = mf.MeanFieldChain(masses, k=K, k0=k0, n_tilde=n_tilde, gamma=GAMMA,
                              t_left=1.5, t_right=0.5)
    w_top = 1.3 * float(np.sqrt((n * K / float(chain.n_tilde) + k0) / (1 - delta)))
    w = np.linspace(0.0, w_top, 2001)
    t_w = np.asarray(mf.transmittance(chain, w))
    t_n = np.asarray(mf.local_temperatures(chain))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3))
    a1.semilogy(w, np.maximum(t_w, 1e-12))
    a1.set(xlabel=r"$\omega$", ylabel=r"$\mathcal{T}$", ylim=(1e-8, 2),
           title=f"N={n}, δ={delta:g}, k0={k0:g}, Ñ={n_tilde}")
    a2.plot(np.arange(1, n + 1), t_n, "o-", ms=3)
    a2.set(xlabel="n", ylabel="$T_n$", ylim=(0, 1.6),
           title=f"N J/ΔT = {n * float(mf.heat_flux(chain)):.4f}")
    fig.tight_layout()
    plt.show()


draw()                                       # warm-up + the static figure
t0 = time.perf_counter()
draw(n=23, delta=0.05, k0=0.1, n_tilde=1.0)
redraw_s = time.perf_counter() - t0
print(f"redraw at a new N: {redraw_s:.2f} s")

# %%
assert redraw_s < 10.0                       # compiled once: no recompilation for a new N

# %%
try:
    import ipywidgets as widgets
    from IPython import get_ipython

    live = get_ipython() is not None and "IPKernelApp" in get_ipython().config
    live = live and not os.environ.get("MEANFIELD_JAX_NOTEBOOK_HEADLESS")
except ImportError:
    live = False
if live:
    widgets.interact(draw,
                     n=widgets.IntSlider(value=40, min=17, max=64, description="N"),
                     delta=widgets.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.01,
                                               description="δ"),
                     k0=widgets.FloatLogSlider(value=0.02, base=10, min=-3, max=0,
                                               description="k0"),
                     n_tilde=widgets.Dropdown(options=[("N-1 (Kac)", "kac"), ("1", 1.0)],
                                              description="Ñ"),
                     seed=widgets.IntSlider(value=1, min=0, max=20, description="seed"))
else:
    print("ipywidgets not available or no live kernel: sliders skipped")

# %% [markdown]
# ## Numbers
#
# The numbers this notebook checks; `tests/test_notebooks.py` re-executes it and compares
# them with the stored output.

# %%
summary = {
    "NJ_identical": N * float(r_id.flux),
    "NJ_closed_form": N * j_closed,
    "NJ_random": N * float(r_rnd.flux),
    "NJ_eq30": N * j_eq30,
    "bulk_T_random": float(Tn_rnd[1:-1].mean()),
    "bulk_T_identical": float(Tn_id[1]),
    "dJ_dk_identical": float(g_id[0]),
    "dJ_dk_random": float(g_rnd[0]),
}
print(f"notebook run time: {time.perf_counter() - notebook_start:.0f} s")
print(json.dumps(summary, indent=1))
