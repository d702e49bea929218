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

__all__ = ["read_toml", "number", "fail"]


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
        fail(what, key, f"must be a number, got {kind} {value!r}"
                        + (" (write it without quotes)" if isinstance(value, str) else ""))
    if integer:
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            fail(what, key, f"must be an integer, got {value!r}")
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
