"""Allocations: pace-of-change policies (:mod:`~alloc.allocation.policy`) turned into kernel
bounds, and the engine (:mod:`~alloc.allocation.engine`) that runs a scenario into an
``xarray.Dataset``.
"""
