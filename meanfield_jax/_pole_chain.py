"""The mean-field chain as its pole solver sees it: PoleChain, end factors and residue terms.

The chain algebra (A_n, a_n, κ̄, the bulk frequencies) is ``_green``'s; this module adds
what the pole finder needs on top of it: the distinct bulk frequencies with their weights
(:class:`PoleChain`, an immutable pytree), the end factors, the smooth part of the gap
function F = h + 1/A_1 + 1/A_N, the pole distances from exact offsets, and the residue term
t_p of a zero of D in its two equal forms (``_poles`` states the method: D, h, Q, t_p).
Everything here is O(1) or O(N) per evaluation.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from . import _config  # noqa: F401
from ._green import bulk_frequencies


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["n", "coupled", "kappa_bar", "inv_b", "kappa_bulk", "kappa_end", "gamma",
                 "k0", "k_prime", "m1", "mn", "n_bulk", "bulk_real", "bulk_mean_mass", "w",
                 "mb", "weight", "distinct", "n_unique", "merged_unequal"],
    meta_fields=["nb"])
@dataclasses.dataclass(frozen=True)
class PoleChain:
    """The chain's quantities that the pole finder needs: an immutable pytree, every number
    an array leaf (traced); ``nb`` (the static length of the bulk arrays) is static.

    Build it with :meth:`from_chain`. ``n`` is the true number of particles (a Python int,
    or traced for a chain padded to a size bucket, ``_buckets``): masses [m_1, bulk
    (n − 2), padding, m_N]. The padded bulk entries are inert: weight 0, above the band,
    like the padding of the distinct-frequency list ``w``; κ̄ = n k/Ñ uses the true n.
    """

    n: Any  # true N
    coupled: jax.Array  # k > 0
    kappa_bar: jax.Array  # κ̄ = n k/Ñ
    inv_b: jax.Array  # 1/b (Eq. 9)
    kappa_bulk: jax.Array  # κ_b = κ̄ + k0
    kappa_end: jax.Array  # κ_e = κ̄ + k0 + k'
    gamma: jax.Array
    k0: jax.Array
    k_prime: jax.Array
    m1: jax.Array
    mn: jax.Array
    nb: int  # static length of the bulk arrays
    n_bulk: Any  # true number of bulk particles (traced when padded)
    bulk_real: jax.Array  # (nb,) real (not padding) bulk entries
    bulk_mean_mass: jax.Array
    w: jax.Array  # (nb,) distinct bulk frequencies ω_u, ascending, padded above the band
    mb: jax.Array  # κ_b/ω_u²: the mass of each distinct frequency
    weight: jax.Array  # multiplicities (0 for padding)
    distinct: jax.Array  # weight > 0
    n_unique: jax.Array  # number of distinct bulk frequencies
    merged_unequal: jax.Array  # unequal masses merged into one pole (T_n flagged)

    @classmethod
    def from_chain(cls, chain, n=None) -> "PoleChain":
        """The pole finder's view of a MeanFieldChain; ``n``: its true N if padded."""
        k_safe = jnp.where(chain.k > 0, chain.k, 1.0)
        nb = chain.n - 2  # static length of the bulk arrays
        padded = n is not None
        n = chain.n if n is None else n
        n = n
        coupled = chain.k > 0
        kappa_bar = n * k_safe / chain.n_tilde
        inv_b = -chain.n_tilde / k_safe  # 1/b (Eq. 9)
        kappa_bulk = kappa_bar + chain.k0
        kappa_end = kappa_bar + chain.k0 + chain.k_prime
        gamma = chain.gamma
        k0 = chain.k0
        k_prime = chain.k_prime
        m1 = chain.masses[0]
        mn = chain.masses[-1]
        bulk = chain.masses[1:-1]
        n_bulk = n - 2  # true number of bulk particles (traced when padded)
        real = jnp.arange(nb) < n_bulk if padded else jnp.ones(nb, bool)
        bulk_real = real
        if nb > 0:
            bulk_mean_mass = (jnp.sum(jnp.where(real, bulk, 0.0)) / n_bulk if padded
                                   else jnp.mean(bulk))
        else:
            bulk_mean_mass = jnp.array(1.0)
        # Distinct bulk frequencies ω_u (ascending) with multiplicities: equal masses give
        # one pole of weight > 1 (their difference modes are decoupled and drop out).
        # Padding entries (weight 0) sit above the band; only the first n_unique are real.
        w = bulk_frequencies(kappa_bulk, bulk)
        if nb > 0:
            fill = 2.0 * jnp.max(jnp.where(real, w, 0.0)) + 1.0
            if padded:
                w = jnp.where(real, w, fill)
            uw, counts = jnp.unique(w, size=nb, fill_value=fill, return_counts=True)
            if padded:  # the padded particles sit at the fill value: weight 0
                counts = jnp.where(uw == fill, 0, counts)
        else:
            uw, counts = w, jnp.zeros((0,), jnp.int32)
        w = uw
        mb = kappa_bulk / uw**2
        weight = counts.astype(jnp.float64)
        distinct = counts > 0
        n_unique = jnp.sum(distinct)
        # Unequal masses whose bulk frequencies round to one float (a few ulp apart) are
        # merged into one pole: right for J (their difference mode carries ~nothing), but
        # the true steady state thermalises that mode (relaxation time ~1e30), so T_n is
        # then not the exact answer: flagged, not silently replaced.
        if nb > 1:  # (padding takes the first bulk mass's value: no new distinct mass)
            sorted_bulk = jnp.sort(jnp.where(real, bulk, bulk[0]))
            n_masses = jnp.where(n_bulk > 0,
                                 1 + jnp.sum(sorted_bulk[1:] != sorted_bulk[:-1]), 0)
            merged_unequal = n_unique < n_masses
        else:
            merged_unequal = jnp.array(False)
        return cls(n=n, coupled=coupled, kappa_bar=kappa_bar, inv_b=inv_b,
                   kappa_bulk=kappa_bulk, kappa_end=kappa_end, gamma=gamma, k0=k0,
                   k_prime=k_prime, m1=m1, mn=mn, nb=nb, n_bulk=n_bulk, bulk_real=bulk_real,
                   bulk_mean_mass=bulk_mean_mass, w=w, mb=mb, weight=weight,
                   distinct=distinct, n_unique=n_unique, merged_unequal=merged_unequal)

    def fixed(self) -> "PoleChain":
        """The same chain with every array gradient-stopped (= from_chain(stop_gradient(
        chain)), without a second sort of the bulk frequencies to compile)."""
        def stop(value):
            is_array = isinstance(value, (jax.Array, jax.core.Tracer))
            return jax.lax.stop_gradient(value) if is_array else value

        return jax.tree_util.tree_map(stop, self)

    # -- end particles -------------------------------------------------------------------
    def ends(self, omega):
        """(A_1, A_N, A_1', A_N', a_1, a_N) at complex ω."""
        # _green.end_factor for both ends at once, written out: a_1, a_N first, then A_1,
        # A_N (the order of the operations fixes how reverse mode sums the cotangents of ω
        # and γ: kept as it was, gradients stay bit for bit)
        a1 = self.kappa_end - self.m1 * omega**2
        an = self.kappa_end - self.mn * omega**2
        big_a1 = a1 + 1j * self.gamma * omega
        big_an = an + 1j * self.gamma * omega
        d1 = -2.0 * self.m1 * omega + 1j * self.gamma
        dn = -2.0 * self.mn * omega + 1j * self.gamma
        return big_a1, big_an, d1, dn, a1, an


def residue_term(ends, gamma, omega, h, deriv, simplified_coef, direct_coef):
    """The residue term t_p of a zero ω of D (or Q) in its two equal forms (``_poles``
    docstring): c_s·A_1 A_N/(deriv·X) where |X| is not small against its terms' sizes,
    else c_d/(deriv·(h s + 2)), with (c_s, c_d, deriv) = (γω, −γω, D'(ω)) or
    (−γκ̄, γκ̄, Q'(ω)). ``ends``: PoleChain.ends(ω); the coefficients are thunks, formed
    where they are used (the order of operations fixes the gradients' rounding)."""
    big_a1, big_an, _, _, a1, an = ends
    x = a1**2 + an**2 + 2.0 * gamma**2 * omega**2
    x_scale = jnp.abs(a1) ** 2 + jnp.abs(an) ** 2 + 2.0 * gamma**2 * jnp.abs(omega) ** 2
    use_simplified = jnp.abs(x) >= 0.25 * x_scale
    # double where: the branch not taken may divide by zero (x = 0 at a zero of A_1 = A_N)
    term_simplified = (simplified_coef() * big_a1 * big_an
                       / (deriv * jnp.where(use_simplified, x, 1.0)))
    direct_den = h * (a1 + an) + 2.0
    term_direct = direct_coef() / (deriv * jnp.where(use_simplified, 1.0, direct_den))
    return jnp.where(use_simplified, term_simplified, term_direct)


def term_from_sums(c: PoleChain, omega, h, dh):
    """Residue contribution t_p (``_poles`` docstring) at a zero ω of D, given h(ω) and h'(ω)."""
    ends = c.ends(omega)
    big_a1, big_an, d1, dn, _, _ = ends
    d_prime = d1 + dn + (d1 * big_an + big_a1 * dn) * h + big_a1 * big_an * dh
    return residue_term(ends, c.gamma, omega, h, d_prime, lambda: c.gamma * omega,
                        lambda: -c.gamma * omega)


def end_terms(c: PoleChain, omega):
    """1/b + 1/A_1 + 1/A_N and its derivative: the smooth part of F. O(1)."""
    big_a1, big_an, d1, dn, _, _ = c.ends(omega)
    return c.inv_b + 1.0 / big_a1 + 1.0 / big_an, -d1 / big_a1**2 - dn / big_an**2
