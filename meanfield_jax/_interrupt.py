"""Prompt, clean ends on SIGINT / SIGTERM for the command line's long runs.

Turning a signal into a Python exception (KeyboardInterrupt, or an exception raised by a
handler) is not safe in a JAX program: the exception can surface inside a callback that
XLA's C++ compiler makes into Python (a segmentation fault was seen when Ctrl-C hit a cold
compilation), or inside library code that catches ``Exception`` and carries on (a SIGTERM
raised while JAX read its persistent compilation cache was swallowed, and the run went on).
It is also late: Python runs signal handlers only between bytecodes of the main thread, so
not before a minute-long compilation returns.

So :func:`exit_on_signals` installs handlers that never raise. A signal ends the process
with ``os._exit(128 + signum)`` (130 for SIGINT, 143 for SIGTERM) after writing one line to
stderr, at once, unless a file write is in progress (:func:`critical`, used by every atomic
write in :mod:`meanfield_jax._io`): then it ends the process right after that write.
Checkpoints are complete files renamed into place, so the last checkpoint is always valid
and a rerun resumes from it. Promptness during compilation: Python's C-level signal handler
writes the signal number to a wakeup pipe (:func:`signal.set_wakeup_fd`) and a watcher
thread, which runs while the main thread is inside XLA (the compiler releases the GIL),
acts on it.

Nothing runs at exit (no ``finally`` blocks, no atexit handlers); since no write is ever
cut short, what is on disk is complete files only.

When: for the ``meanfield-jax`` process the handlers are installed by the package's
``__init__`` before JAX is imported (:func:`install_if_command_line`), so a signal during
start-up is handled the same way. What remains is the interpreter's own start-up, about
15 ms before any package code runs: there a signal gets Python's defaults (killed by the
signal, which a shell reports as 130 / 143, or rarely a KeyboardInterrupt traceback from
Python's ``site`` imports).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

__all__ = ["critical", "end_process", "exit_on_signals", "install_if_command_line",
           "set_message"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_lock = threading.RLock()  # reentrant: the main-thread handler may run inside critical()
_depth = 0  # nesting depth of critical sections in progress
_pending: int | None = None  # a signal received while a write was in progress
_message = "interrupted"


def set_message(message: str) -> None:
    """The line written on an interrupt (after ``meanfield-jax: ``), e.g. how to resume."""
    global _message
    _message = message


def _exit(signum: int) -> None:
    name = signal.Signals(signum).name
    line = f"meanfield-jax: {_message} [{name}]\n"
    try:
        os.write(2, line.encode("utf-8", "replace"))
    except OSError:
        pass
    os._exit(128 + signum)


def _request(signum: int) -> None:
    """Act on a signal: exit now, or after the write in progress."""
    global _pending
    with _lock:  # while held, no critical section can begin or end
        if _pending is None:
            _pending = signum
        if _depth == 0:
            _exit(_pending)


@contextlib.contextmanager
def critical():
    """A section that an interrupt must not cut short (a file write and its rename).

    Without :func:`exit_on_signals` installed it only counts; with it, a signal received
    inside the section ends the process when the outermost section ends.
    """
    global _depth
    with _lock:
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _pending is not None:
                _exit(_pending)


def _handler(signum, frame):  # main thread, between bytecodes
    _request(signum)


def _watch(fd: int) -> None:  # watcher thread: reads the wakeup pipe
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            if signum in _SIGNALS:
                _request(signum)


def _install() -> tuple[dict, int, int, int, threading.Thread]:
    """Handlers, wakeup pipe and watcher thread; returns what :func:`_uninstall` restores."""
    global _pending
    _pending = None
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    watcher = threading.Thread(target=_watch, args=(read_fd,), daemon=True,
                               name="meanfield_jax-signals")
    watcher.start()
    for s in _SIGNALS:
        if previous[s] is not signal.SIG_IGN:  # an ignored signal stays ignored (nohup, &)
            signal.signal(s, _handler)
    return previous, old_fd, read_fd, write_fd, watcher


def _uninstall(previous, old_fd, read_fd, write_fd, watcher) -> None:
    for s, h in previous.items():
        signal.signal(s, h if h is not None else signal.SIG_DFL)
    signal.set_wakeup_fd(old_fd)
    os.close(write_fd)  # the watcher reads end-of-file and returns
    watcher.join(timeout=5)
    os.close(read_fd)


_process_wide = False  # installed for the whole life of a meanfield-jax process


def install_if_command_line() -> None:
    """Install the handlers for good if this process is the ``meanfield-jax`` program.

    Called first thing by ``meanfield_jax/__init__.py``, before JAX is imported: a signal
    during that import (over a second on a loaded machine) otherwise gives an ImportError,
    a KeyboardInterrupt traceback, or a KeyboardInterrupt that a JAX callback swallows (the
    run then goes on). Only the console script ``meanfield-jax`` and ``python -m
    meanfield_jax._cli`` count; importing the package anywhere else changes nothing.
    """
    global _process_wide
    argv = getattr(sys, "orig_argv", [])
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    as_module = any(a == "-m" and b == "meanfield_jax._cli" for a, b in zip(argv, argv[1:]))
    if _process_wide or not (script == "meanfield-jax" or as_module):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    _install()
    _process_wide = True


def end_process(code: int) -> int:
    """For the ``meanfield-jax`` process: flush stdout / stderr and end it now with ``code``.

    Skips the interpreter's teardown (JAX's takes seconds), during which Python restores the
    default handlers: a signal there killed the process with no message though its work was
    done. Elsewhere (``main()`` called from Python, or a ``jax.distributed`` run, which must
    shut down its coordination service) it returns ``code``.
    """
    if not _process_wide:
        return code
    try:
        from jax._src import distributed

        if distributed.global_state.client is not None:
            return code
    except (ImportError, AttributeError):
        return code
    with _lock:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


@contextlib.contextmanager
def exit_on_signals(message: str = "interrupted"):
    """Within this block, SIGINT / SIGTERM end the process cleanly (module docstring).

    Main thread only (elsewhere it does nothing); a signal the parent set to be ignored
    (``nohup``, a background job of a script) stays ignored. Restores the previous handlers
    and wakeup fd on leaving (unless installed for the whole process).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    set_message(message)
    if _process_wide:
        yield
        return
    saved = _install()
    try:
        yield
    finally:
        _uninstall(*saved)
