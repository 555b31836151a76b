"""Keep Numba's process-wide block-label counter bounded.

Numba numbers the blocks of inlined IR from one global counter
(``numba.core.ir_utils._the_max_label``) and offsets cached callee IR by it, so
in a process that compiles many kernels built from ``inline="always"`` helpers
(``fastact.warmup()``, a test session, a user's Numba code calling fastact) the
labels grow geometrically until LLVM rejects them ("unable to create block
named B9367...").  Every compilation runs under Numba's global compiler lock;
when a thread releases it for the last time no IR is under construction, so the
counter goes back to its start value, 0, as in a fresh process (the inliner
keeps labels unique within a function from the function's own blocks).
"""
from __future__ import annotations

import threading

from numba.core import compiler_lock, event, ir_utils

_state = {"installed": False}
_install_lock = threading.Lock()


class _ResetAfterOutermostRelease(event.Listener):
    """On the end of a ``numba:compiler_lock`` event (a release) that left the lock
    free for this thread: reset the counter, holding the lock's own RLock so no
    compilation can start meanwhile (its acquire emits no event)."""

    def on_start(self, ev):
        pass

    def on_end(self, ev):
        lock = compiler_lock.global_compiler_lock
        if lock.is_locked():  # an inner release: a compilation is still running here
            return
        with lock._lock:
            ir_utils._the_max_label._value = 0


def install() -> None:
    """Register the listener once per process (idempotent); skipped where Numba's
    internals are not the ones this relies on."""
    with _install_lock:
        if _state["installed"]:
            return
        lock = compiler_lock.global_compiler_lock
        if not (hasattr(lock, "_lock") and hasattr(ir_utils._the_max_label, "_value")):
            return
        event.register("numba:compiler_lock", _ResetAfterOutermostRelease())
        _state["installed"] = True
