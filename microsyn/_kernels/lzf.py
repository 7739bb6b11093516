"""LZF compression of the chunks of a 3D array, for HDF5 datasets with the LZF filter.

HDF5's filter pipeline (h5py's LZF filter) compressed a (60, 60, 30) float32 lattice field in
about 1.5 ms; the results writer instead compresses all chunks of a field here, in one compiled
call, and hands the compressed chunks to HDF5 as they are (``write_direct_chunk``). Any LZF reader (h5py's LZF filter)
decompresses them to the same bytes.

The LZF stream (the format that LZF decompressors read): a sequence of items, each starting
with a control byte ``c``:

- ``c < 32``: a literal run; the next ``c + 1`` bytes are copied to the output.
- ``c >= 32``: a back reference of length ``L = (c >> 5) + 2`` (if ``c >> 5 == 7``, one more
  byte follows and is added to ``L``), then one byte ``b``: copy ``L`` bytes starting
  ``((c & 31) << 8) + b + 1`` bytes back in the output, byte by byte (they may overlap the
  bytes being written, which repeats a short pattern).

The compressor here finds repeats of 4-byte words with a hash table of the last position of
each word's hash (greedy, longest match at that position, up to 264 bytes, at most 8192 bytes
back).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from ..config import JIT

HASH_BITS = 13
MAX_OFFSET = 8192
MAX_MATCH = 264


@nb.njit(**JIT)
def _flush_literals(src, lit, end, dst, op, cap):
    """Copy ``src[lit:end]`` to ``dst[op:]`` as literal runs of at most 32 bytes; return the new
    ``op``, or -1 if ``dst`` would pass ``cap``."""
    while lit < end:
        run = min(32, end - lit)
        if op + 1 + run > cap:
            return -1
        dst[op] = run - 1
        op += 1
        for t in range(run):
            dst[op + t] = src[lit + t]
        op += run
        lit += run
    return op


@nb.njit(**JIT)
def lzf_compress(src, words, dst, htab, base):
    """LZF-compress the bytes ``src`` (uint8, a multiple of 4 long; ``words`` is the same memory
    as uint32) into ``dst`` (uint8). Returns the compressed length, or 0 if it would not be
    shorter than ``src`` (then store the bytes uncompressed).

    Repeats are searched word by word (4 bytes, at offsets that are multiples of 4 bytes), which
    suits arrays of 4-byte numbers and compares 4 bytes per step; the stream is plain LZF.
    ``htab`` (int64, 2**HASH_BITS) is scratch space holding word positions plus ``base``;
    entries below ``base`` are ignored, so one table serves many calls without being cleared if
    each call's ``base`` is at least the previous call's ``base`` plus its word count (start
    with a table of -1).
    """
    n = src.shape[0]
    nw = words.shape[0]
    cap = min(dst.shape[0], n - 1)
    if nw < 2 or cap <= 0:
        return 0
    max_words = MAX_MATCH // 4
    max_back = MAX_OFFSET // 4
    mask = (1 << HASH_BITS) - 1
    w = 0
    lit = 0          # first byte of the pending literal run
    op = 0
    while w < nw:
        v = np.int64(words[w])
        h = (((v * 2654435761) & 0xFFFFFFFF) >> (32 - HASH_BITS)) & mask
        ref = htab[h] - base
        htab[h] = w + base
        if ref >= 0 and w - ref <= max_back and words[ref] == words[w]:
            maxlen = min(max_words, nw - w)
            L = 1
            while L < maxlen and words[ref + L] == words[w + L]:
                L += 1
            op = _flush_literals(src, lit, 4 * w, dst, op, cap)
            if op < 0:
                return 0
            off = 4 * (w - ref) - 1
            ln = 4 * L - 2
            if ln < 7:
                if op + 2 > cap:
                    return 0
                dst[op] = (ln << 5) | (off >> 8)
                op += 1
            else:
                if op + 3 > cap:
                    return 0
                dst[op] = (7 << 5) | (off >> 8)
                dst[op + 1] = ln - 7
                op += 2
            dst[op] = off & 255
            op += 1
            w += L
            lit = 4 * w
            q = w - 1  # remember the last word of the match as well
            v = np.int64(words[q])
            htab[(((v * 2654435761) & 0xFFFFFFFF) >> (32 - HASH_BITS)) & mask] = q + base
        else:
            w += 1
    op = _flush_literals(src, lit, n, dst, op, cap)
    return op if op > 0 else 0


@nb.njit(**JIT)
def lzf_compress_chunks(a, cx, cy, cz, raw, comp, lens):
    """Cut a 3D array of 4-byte numbers into HDF5 chunks and LZF-compress each.

    Parameters
    ----------
    a : (nx, ny, nz) uint32
        The C-ordered array's elements as uint32 (a view of e.g. a float32 array).
    cx, cy, cz : int
        Chunk shape [elements]; chunk ``c`` is number ``(i * ncy + j) * ncz + k`` of the chunk
        grid (``ncx = ceil(nx / cx)``, ...), C order.
    raw : (n_chunks, cx * cy * cz) uint32
        Out: each chunk's elements in C order, zero beyond the array's edge (as HDF5 stores
        them).
    comp : (n_chunks, >= 4 * cx * cy * cz) uint8
        Out: the compressed chunks.
    lens : (n_chunks,) int64
        Out: compressed length of each chunk [bytes], 0 where compression would not make it
        shorter (store ``raw`` then), -1 where every byte of the chunk is zero (not compressed:
        such a chunk need not be stored, HDF5 reads it as the fill value 0).
    """
    nx, ny, nz = a.shape
    flat = a.reshape(nx * ny * nz)
    ncy = (ny + cy - 1) // cy
    ncz = (nz + cz - 1) // cz
    nw = cx * cy * cz
    htab = np.full(1 << HASH_BITS, -1, np.int64)
    for c in range(lens.shape[0]):
        i0 = (c // (ncy * ncz)) * cx
        j0 = ((c // ncz) % ncy) * cy
        k0 = (c % ncz) * cz
        row = raw[c]
        ni = min(nx, i0 + cx) - i0
        nj = min(ny, j0 + cy) - j0
        nk = min(nz, k0 + cz) - k0
        if ni < cx or nj < cy or nk < cz:
            row[:] = 0  # an edge chunk: HDF5 stores it whole
        bits = np.uint32(0)  # OR of every element: zero iff the chunk is all zero bytes
        for i in range(ni):
            for j in range(nj):
                b0 = (i * cy + j) * cz
                src = ((i0 + i) * ny + j0 + j) * nz + k0
                for k in range(nk):
                    v = flat[src + k]
                    row[b0 + k] = v
                    bits |= v
        if bits != 0:
            lens[c] = lzf_compress(row.view(np.uint8), row, comp[c], htab, c * nw)
        else:
            lens[c] = -1
