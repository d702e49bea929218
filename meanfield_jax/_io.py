"""Files of the pipelines: atomic writes, checkpoints and netCDF results.

Every file the sweep and the simulation produce (checkpoints, netCDF results, figures) is
written by :func:`atomic_write`: into a temporary file in the destination folder, fsynced,
then renamed over the destination with :func:`os.replace`. A reader (or a resumed run) sees
either the previous complete file or the new complete file, never a partial one, whatever
kills the process. The write runs inside :func:`meanfield_jax._interrupt.critical`, so a
SIGINT / SIGTERM that arrives meanwhile ends the process only once the rename is done.

Checkpoints: a sweep keeps its finished tasks in :class:`TaskResults` (``OUT.partial.npz``,
per process ``OUT.partial.p<rank>.npz``); a simulation keeps its state arrays with a
fingerprint of its parameters (:func:`save_state`, :func:`load_state`). Both are written
atomically, and a checkpoint of a different run is an error, never silently mixed in.

Permissions: :func:`tempfile.mkstemp` creates files with mode 0600; the temporary file is
given ``0o666 & ~umask`` before the rename, the mode of any file the user creates, so that
colleagues sharing a project folder can read the results.

Cost: O(file size) plus one fsync per file.
"""

from __future__ import annotations

import glob
import io
import os
import tempfile
import zipfile

import numpy as np

from . import _interrupt

__all__ = ["atomic_write", "atomic_write_bytes", "check_writable", "default_file_mode",
           "netcdf_engine", "write_netcdf", "TaskResults", "CheckpointMismatch",
           "checkpoint_paths", "process_checkpoint", "task_checkpoint", "save_state",
           "load_state"]


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, briefly, for every
    thread): from /proc on Linux, else from a probe file created with mode 0o666."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    folder = tempfile.gettempdir()
    for attempt in range(100):
        probe = os.path.join(folder, f".meanfield_jax-umask-{os.getpid()}-{attempt}")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            return 0o666 & ~os.fstat(fd).st_mode & 0o777
        finally:
            os.close(fd)
            os.unlink(probe)
    return 0o022


def default_file_mode() -> int:
    """Mode of a newly created file under the current umask: ``0o666 & ~umask``."""
    return 0o666 & ~_umask()


def atomic_write(path, write) -> None:
    """Atomically create or replace ``path``.

    ``write(tmp)`` fills a temporary file (a path in the same folder, empty, mode
    ``0o666 & ~umask``); it is then fsynced and renamed over ``path``. On any failure the
    temporary file is removed and the exception propagates; ``path`` is left untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    with _interrupt.critical():
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                                   dir=folder)
        try:
            os.fchmod(fd, default_file_mode())
            os.close(fd)
            write(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write(path, write)


def check_writable(path, what: str) -> None:
    """Fail at once, naming ``what``, if ``path`` cannot be (over)written.

    Raises:
      ValueError: if ``path`` is a directory, its folder does not exist or is not writable,
        or ``path`` exists read-only.
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise ValueError(f"{what} {path} is a directory; give a file name")
    if not os.path.isdir(folder):
        raise ValueError(f"{what}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".meanfield_jax-write-test-", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ValueError(f"{what}: cannot write to {folder} ({exc.strerror})") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{what}: {path} exists and is not writable")


def netcdf_engine() -> str:
    """The xarray netCDF4 engine available here: ``netcdf4``, else ``h5netcdf`` (needs h5py)."""
    import importlib.util

    for module, engine in (("netCDF4", "netcdf4"), ("h5py", "h5netcdf")):
        if importlib.util.find_spec(module) is not None:
            return engine
    raise RuntimeError("writing netCDF-4 needs the netCDF4 package (or h5netcdf with h5py)")


def write_netcdf(ds, path) -> None:
    """Write an xarray Dataset to netCDF-4 atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine=netcdf_engine(), format="NETCDF4"))


# ----------------------------------------------------------------------------- sweep checkpoints


class TaskResults:
    """Per-task results of a sweep with a done mask; serialised to / from npz bytes.

    ``flux``, ``error``, ``converged`` per task, plus the named float arrays ``extra``
    (name → per-task shape, e.g. ``{"temperatures": (N_max,)}``: a Langevin sweep's
    observables; NaN until computed). The bytes carry ``config_hash``: merging bytes of
    another configuration (or another number of tasks or other extras) raises
    :class:`CheckpointMismatch`. O(tasks × extra sizes).
    """

    def __init__(self, n_tasks: int, config_hash: str, extra: dict | None = None):
        self.config_hash = config_hash
        self.flux = np.full(n_tasks, np.nan)
        self.error = np.full(n_tasks, np.nan)
        self.converged = np.zeros(n_tasks, dtype=bool)
        self.done = np.zeros(n_tasks, dtype=bool)
        self.extra = {name: np.full((n_tasks, *shape), np.nan)
                      for name, shape in (extra or {}).items()}

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, flux=self.flux, error=self.error, converged=self.converged,
                 done=self.done, config_hash=np.array(self.config_hash),
                 **{"extra_" + name: value for name, value in self.extra.items()})
        return buf.getvalue()

    def merge_bytes(self, data: bytes, source: str) -> None:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            if str(f["config_hash"]) != self.config_hash:
                raise CheckpointMismatch(source)
            if f["done"].shape != self.done.shape:
                raise CheckpointMismatch(source)
            stored = {name[6:] for name in f.files if name.startswith("extra_")}
            if stored != set(self.extra) or any(
                    f["extra_" + name].shape != value.shape
                    for name, value in self.extra.items()):
                raise CheckpointMismatch(source)
            new = f["done"] & ~self.done
            self.flux[new] = f["flux"][new]
            self.error[new] = f["error"][new]
            self.converged[new] = f["converged"][new]
            for name, value in self.extra.items():
                value[new] = f["extra_" + name][new]
            self.done |= new


class CheckpointMismatch(Exception):
    """A checkpoint written by a run with a different configuration."""


def checkpoint_paths(out: str) -> list[str]:
    """Every checkpoint of the sweep writing ``out`` (all processes'), sorted."""
    return sorted(glob.glob(glob.escape(out) + ".partial*.npz"))


def process_checkpoint(out: str, rank: int, count: int) -> str:
    """The checkpoint file of process ``rank`` of ``count`` for the sweep writing ``out``."""
    return out + (".partial.npz" if count == 1 else f".partial.p{rank}.npz")


def task_checkpoint(out: str, task: int) -> str:
    """The state checkpoint (:func:`save_state`) of a running Langevin task of the sweep
    writing ``out``: ``OUT.task<t>.npz`` (not a :func:`checkpoint_paths` file)."""
    return f"{out}.task{int(task)}.npz"


# ----------------------------------------------------------------------------- state checkpoints


def save_state(path, arrays: dict, fingerprint: str) -> None:
    """Save named arrays with the fingerprint of the run that owns them (npz, atomic)."""
    host = {name: np.asarray(value) for name, value in arrays.items()}

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, fingerprint=np.asarray(fingerprint), **host)

    atomic_write(path, write)  # temporary file + fsync + os.replace


def load_state(path, fingerprint: str, names, parameters: str) -> dict:
    """The arrays ``names`` of a checkpoint written by :func:`save_state` for this run.

    Raises:
      ValueError: if the file is unreadable, or its fingerprint differs (the message lists
        ``parameters``, the run's parameters that enter the fingerprint).
    """
    try:
        with np.load(os.fspath(path)) as z:
            stored = str(z["fingerprint"])
            arrays = {name: z[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"checkpoint {os.fspath(path)!r} is unreadable ({exc}); delete it "
                         "(command line: rerun with --fresh)") from None
    if stored != fingerprint:
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} was written by a run with different parameters "
            f"({parameters}); delete it or choose another checkpoint path (command line: "
            "rerun with --fresh)")
    return arrays
