"""JIT flags and dtypes in one place.

All Numba kernels use ``cache=True`` (compiled once per machine, stored under
``~/.cache/microsyn/numba-<hash of the kernel sources>``, or ``$MICROSYN_CACHE_DIR``; see
:mod:`microsyn._kernels`) and no
``fastmath`` (NaN and inf keep their meaning). Positions are float64 [um]; particle ids uint64;
species indices int16; particle states int16.
"""
from __future__ import annotations

import os

import numpy as np

POSITION_DTYPE = np.float64
ID_DTYPE = np.uint64
SPECIES_DTYPE = np.int16
STATE_DTYPE = np.int16

#: keyword arguments of every ``numba.njit`` in microsyn
JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
#: the same with ``parallel=True`` for kernels that use ``prange``
JIT_PARALLEL = dict(JIT, parallel=True)
#: helpers that never allocate: no reference counting of their array arguments (Numba's
#: refcount pruning misses them in branchy code, and an atomic incref/decref pair per array per
#: call cost 70 ns of a 3 ns signed-distance call when measured)
JIT_NOALLOC = dict(JIT, _nrt=False)
#: small hot helpers: as JIT_NOALLOC, and always inlined by LLVM
JIT_HOT = dict(JIT_NOALLOC, forceinline=True)

#: particles per block in the parallel stepping kernels: each block takes all the steps of a
#: call, so each parallel region gets milliseconds of work
BLOCK_SIZE = int(os.environ.get("MICROSYN_BLOCK_SIZE", "512"))

#: below this many particles a kernel call runs on one thread (a parallel region costs more
#: than it saves)
PARALLEL_MIN_PARTICLES = int(os.environ.get("MICROSYN_PARALLEL_MIN", "20000"))

#: ... unless the simulation asks for threads by work (``Simulation.parallel_min_work``, which
#: the presynaptic Terminal sets to this): a call of at least this many particle-steps over at
#: least two blocks. Measured on the 2-core machine: a bouton's AP 1.6 times faster, but demo
#: 06's run (40-step calls of 12,000 ions at a membrane patch) 1.8 times slower, cause not
#: found; so it is not the default
PARALLEL_MIN_WORK = int(os.environ.get("MICROSYN_PARALLEL_WORK", "30000"))


def num_threads() -> int:
    """Number of threads Numba's parallel kernels use."""
    import numba

    return numba.get_num_threads()
