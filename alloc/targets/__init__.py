"""Needs-based targets: the target formula (:mod:`~alloc.targets.formula`), need-model
estimation (:mod:`~alloc.targets.estimate`), what moved a target (:mod:`~alloc.targets.explain`)
and synthetic person-level records for testing the estimator (:mod:`~alloc.targets.synthetic`).
"""
