"""``fastact accuracy``: every backend's and every peer's error against a 50-digit oracle.

Modules: :mod:`grid` (the fixed inputs), :mod:`ulp` (ULP arithmetic),
:mod:`oracle` (mpmath references, cached on disk), :mod:`measure` (evaluating and
scoring the implementations), :mod:`run` (the whole run), :mod:`report` and
:mod:`plot` (the outputs).  Needs mpmath; imports no peer until it runs.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence


def accuracy_report(functions: Sequence[str] = (), dtypes: Sequence[str] = ("float32", "float64"),
                    quick: bool = False, peers: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """The ``fastact accuracy --json`` report as a dict (see :mod:`fastact._accuracy.run`).

    ``functions``: names as in ``fastact bench --functions`` (empty: all);
    ``peers``: peer libraries to try (None: every installed one).
    """
    from .._bench.progress import PlainProgress
    from .run import Settings, run

    settings = Settings(functions=tuple(functions), dtypes=tuple(dtypes), quick=quick,
                        peers=peers)
    return run(settings, PlainProgress(enabled=False)).report
