"""A non-last axis: arrays ``(outer, n, inner)`` reduced over n, by column tiles.

Tile t (of ``outer * ceil(inner / TILE_COLUMNS)``) is TILE_COLUMNS neighbouring
columns of one outer index: gathered into rows of scratch (each source row read
as contiguous elements), the scratch rows run through the row functions of
``_rows`` (the code the 2-D kernel runs on those rows: ``short_rows``, the pipelined
short rows, on the tile's rows at once for the task kind SHORT_TILES, else the long rows'
functions row by row), the results scattered back.  Every column gets the bits the last-axis kernel gives its
transposed row, whatever the number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import types

from .._cache import linked
from ._alloc import empty
from ._bits import smaller
from ._exp import BLOCK
from ._kind import chosen
from ._plan import TILE_COLUMNS
from ._rows import LOGSUMEXP, backward_rows, forward_row, short_rows

_JIT = dict(nogil=True, error_model="numpy")


@linked(**_JIT)
def _scratch_rows(n):
    """(ns, (offset 0, column step 1, row stride ns)) of a tile's scratch rows for columns
    of n: ns whole 64-byte lines (16 elements: enough for both dtypes), an odd number of
    16-element groups, so the rows of a tile do not all map to one set of the L1 cache;
    int64s (literal 0 and 1 would type a second copy of :func:`_copy_columns`)."""
    ns = (((n + 15) // 16) | 1) * 16
    return ns, (np.int64(0), np.int64(1), ns)


@linked(**_JIT)
def _copy_columns(dst, dst_at, src, src_at, n, w):
    """dst[o + i * si + c * sc] = src[...] likewise, for i < n, c < w, with
    (o, si, sc) = dst_at and src_at (flat arrays): a gather or a scatter of a tile."""
    d0, di, dc = dst_at
    s0, si, sc = src_at
    if w == TILE_COLUMNS:  # full tiles: a fixed inner trip count (unrolled)
        for i in range(n):
            for c in range(TILE_COLUMNS):
                dst[d0 + i * di + c * dc] = src[s0 + i * si + c * sc]
    else:
        for i in range(n):
            for c in range(w):
                dst[d0 + i * di + c * dc] = src[s0 + i * si + c * sc]


@linked(**_JIT)
def _tile_at(t, n, inner):
    """(flat index of tile t's first element, its first column, its width)."""
    per = (inner + TILE_COLUMNS - 1) // TILE_COLUMNS
    o_idx = t // per
    c0 = (t - o_idx * per) * TILE_COLUMNS
    return o_idx * n * inner + c0, o_idx * inner + c0, smaller(inner - c0, TILE_COLUMNS)


def _choose_column_code(column, mask, buf, r0, r1):
    if isinstance(buf, types.NoneType):  # the pipelined rows: n is not known while typing
        return short_rows, (0, 3, 4)
    return forward_row, (0, 1, 3, 2)


_forward_column = chosen(_choose_column_code)
_forward_column.__doc__ = """``_forward_column(column, mask, buf, 0, 1)``: the forward row function
    on one gathered column, chosen by type: ``short_rows(column, 0, 1)`` when buf is None
    (SHORT_TILES), else ``forward_row(column, mask, 0, buf)`` (mask: the column's, or None)."""


@linked(**_JIT)
def _forward_columns(op, mask, scratch, buf, w):
    """The forward row on each of the w gathered columns (:func:`_forward_column`; buf
    None, SHORT_TILES: on all w at once, as the rows of one array); op's out: the tile's
    logsumexp results (flat), unused otherwise; mask: the call's mask, None or not (each
    choice made while typing: one row code)."""
    kind, negate, out, _ = op
    sx, so, sm, ns, n = scratch
    first, one = np.int64(0), np.int64(1)
    if buf is None:  # SHORT_TILES: the w columns are the rows of one C array (ns == n)
        oc = out[:w].reshape(w, 1) if kind == LOGSUMEXP else so[:w * n].reshape(w, n)
        _forward_column((kind, negate, oc, sx[:w * n].reshape(w, n)), None, buf, first,
                        np.int64(w))
        return
    for c in range(w):
        lo = c * ns
        oc = out[c:c + 1].reshape(1, 1) if kind == LOGSUMEXP else so[lo:lo + n].reshape(1, n)
        column = (kind, negate, oc, sx[lo:lo + n].reshape(1, n))
        if mask is None:
            _forward_column(column, None, buf, first, one)
        else:
            _forward_column(column, sm[lo:lo + n].reshape(1, n), buf, first, one)


@linked(**_JIT)
def forward_tiles(op, mask, tiles, buf):
    """Tiles [t0, t1) = tiles of a forward op on (outer, n, inner) x (out shaped like x,
    or (outer, inner) for logsumexp), through ``_rows.short_rows`` on scratch rows (buf
    None: SHORT_TILES) or ``_rows.forward_row`` (buf: min(BLOCK, n) elements of x's
    dtype)."""
    kind, negate, out, x = op
    _, n, inner = x.shape
    ns, at = _scratch_rows(n)
    if buf is None:  # SHORT_TILES: one short-rows call per tile, on rows of n
        ns, at = n, (np.int64(0), np.int64(1), n)
    xf, of = x.reshape(-1), out.reshape(-1)
    sx = empty(TILE_COLUMNS * ns, x.dtype)
    so = empty(TILE_COLUMNS * ns if kind != LOGSUMEXP else 0, x.dtype)
    sm = empty(TILE_COLUMNS * ns if mask is not None else 0, np.bool_)
    scratch = (sx, so, sm, ns, n)
    for t in range(tiles[0], tiles[1]):
        base, j, w = _tile_at(t, n, inner)
        _copy_columns(sx, at, xf, (base, inner, at[1]), n, w)
        if mask is not None:
            _copy_columns(sm, at, mask.reshape(-1), (base, inner, at[1]), n, w)
        _forward_columns((kind, negate, of[j:j + w], x), mask, scratch, buf, w)
        if kind != LOGSUMEXP:
            _copy_columns(of, (base, inner, at[1]), so, at, n, w)


@linked(**_JIT)
def backward_tiles(op, g, tiles):
    """Tiles [t0, t1) = tiles of a backward op on (outer, n, inner) arrays, through
    ``_rows.backward_rows`` on scratch rows."""
    kind, negate, out, y = op
    _, n, inner = y.shape
    ns, at = _scratch_rows(n)
    yf, gf, of = y.reshape(-1), g.reshape(-1), out.reshape(-1)
    sy = empty(TILE_COLUMNS * ns, y.dtype)
    sg = empty(TILE_COLUMNS * ns, y.dtype)
    so = empty(TILE_COLUMNS * ns, y.dtype)
    for t in range(tiles[0], tiles[1]):
        base, _, w = _tile_at(t, n, inner)
        _copy_columns(sy, at, yf, (base, inner, at[1]), n, w)
        _copy_columns(sg, at, gf, (base, inner, at[1]), n, w)
        for c in range(w):
            lo = c * ns
            column = (kind, negate, so[lo:lo + n].reshape(1, n), sy[lo:lo + n].reshape(1, n))
            backward_rows(column, sg[lo:lo + n].reshape(1, n), 0, 1)
        _copy_columns(of, (base, inner, at[1]), so, at, n, w)
