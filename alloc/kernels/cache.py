"""Whether numba's on-disk cache already holds the kernels (so a run need not compile them).

The first run after installing alloc, or after a kernel's source changed, compiles its kernels
(tens of seconds); later runs load them from numba's cache (``__pycache__/*.nbi`` index and
``*.nbc`` data files beside the kernel's source, or numba's user cache folder). The CLI uses
:func:`cached` to say "compiling kernels (first run only)" before a long silence.
"""

from __future__ import annotations


def cached(*kernels) -> bool:
    """Whether every kernel has a current entry in numba's on-disk cache.

    Reads each kernel's cache index as numba does before compiling (missing, written by another
    numba version, or stale because the source file changed since: not cached). Cheap: one small
    file per kernel, and nothing is compiled or loaded.

    Parameters
    ----------
    kernels : numba dispatchers
        Functions decorated with ``@njit(cache=True)`` that the caller is about to run.

    Returns
    -------
    bool
        False when any kernel would be compiled. True when numba's cache cannot be inspected
        (another numba version): the answer only decides whether a notice is printed.
    """
    for kernel in kernels:
        try:
            # numba.core.caching.IndexDataCacheFile._load_index: {} unless the index is current.
            overloads = kernel._cache._cache_file._load_index()
        except (AttributeError, OSError, EOFError, ValueError):
            return True
        if not overloads:
            return False
    return True


__all__ = ["cached"]
