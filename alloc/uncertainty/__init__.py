"""Uncertainty: scenario grids and Monte Carlo ensembles (:mod:`~alloc.uncertainty.ensemble`,
in process or on dask), the temporary draw store (:mod:`~alloc.uncertainty.draw_store`) and
sensitivity analysis (:mod:`~alloc.uncertainty.sensitivity`: tornado and Sobol).
"""
