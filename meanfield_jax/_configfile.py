"""TOML run configurations (``sweep``, ``simulate``): reading and strict value checks.

One convention for every config key of every command: numbers must be TOML numbers (a
string such as ``"0.1"`` is an error naming the key, never silently converted); integer
keys also accept a float with an integral value (``n_steps = 1e6``); every error is a
``ValueError`` whose message starts with the config's name and the key, which the command
line prints as one line ``meanfield-jax: error: ...`` (exit status 2).
"""

from __future__ import annotations

import math
import tomllib

import numpy as np

__all__ = ["read_toml", "number", "fail", "plain"]


def plain(value) -> str:
    """``value`` as an error message shows it: numbers as Python prints them (a NumPy
    scalar, 0-d array or JAX array as its Python number: ``-1.0``, not
    ``np.float64(-1.0)``), arrays and lists element by element, strings quoted, anything
    else (a tracer, an object) as its repr. The one formatter of the package's messages.

    >>> import numpy as np
    >>> plain(np.float64(-1.0)), plain([np.float64(1.5), 2]), plain(np.array([1.0, -2.0]))
    ('-1.0', '[1.5, 2]', '[1.0, -2.0]')
    >>> plain("kac"), plain(np.int64(3)), plain(np.array(2.5)), plain(1j)
    ("'kac'", '3', '2.5', '1j')
    """
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(plain(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - tracers and other objects: their own repr
        return repr(value)
    if arr.dtype.kind not in "biufc":
        return repr(value)
    if arr.ndim == 0:
        return repr(arr.item())
    if arr.size > 8:
        return f"array of shape {arr.shape}"
    return plain(arr.tolist())


def fail(what: str, key: str, message: str):
    """Raise ``ValueError("<what>: '<key>' <message>")``."""
    raise ValueError(f"{what}: {key!r} {message}")


def read_toml(path, what: str) -> dict:
    """Parse a TOML file; a missing or malformed file is a ``ValueError`` naming it."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{what} {path} is a directory, not a TOML file") from None
    except PermissionError:
        raise ValueError(f"{what} file {path} is not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{what} {path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {path}: not a UTF-8 text file ({exc.reason})") from None


def number(what: str, key: str, value, *, positive=False, nonnegative=False, integer=False,
           allow_inf=False):
    """Check that ``value`` (of config key ``key``) is a number; return it as int or float.

    Strings are refused (except ``"inf"`` where ``allow_inf``), as are booleans, NaN and,
    unless ``allow_inf``, infinities.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, str) and allow_inf and value.lower() == "inf":
            return math.inf
        kind = "a string" if isinstance(value, str) else type(value).__name__
        fail(what, key, f"must be a number, got {kind} {plain(value)}"
                        + (" (write it without quotes)" if isinstance(value, str) else ""))
    if integer:
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            fail(what, key, f"must be an integer, got {plain(value)}")
        value = int(value)
    else:
        value = float(value)
    if not (math.isfinite(value) or (allow_inf and value == math.inf)):
        fail(what, key, f"must be finite, got {value!r}")
    if positive and not value > 0:
        fail(what, key, f"must be > 0, got {value!r}")
    if nonnegative and not value >= 0:
        fail(what, key, f"must be >= 0, got {value!r}")
    return value
