"""Numba kernels on plain arrays: the pace-of-change solve (:mod:`~alloc.kernels.pace`), its
run-time invariant checks (:mod:`~alloc.kernels.checks`), the pathway cohort engine
(:mod:`~alloc.kernels.cohort`), the streaming regression sums (:mod:`~alloc.kernels.regression`)
and category draws for the synthetic population (:mod:`~alloc.kernels.sampling`).

No pandas, no xarray, no I/O, no imports from the rest of ``alloc``.
"""
