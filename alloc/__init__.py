"""alloc: NHS England specialised services allocation modelling.

Projects the delegated specialised budgets of the 42 integrated care boards from a historic-cost
baseline towards needs-based targets under pace-of-change policies, year by year.
"""

__version__ = "0.1.0"


def run(*args, **kwargs):
    """Run a scenario; see :func:`alloc.engine.run`."""
    from alloc.engine import run as _run

    return _run(*args, **kwargs)


__all__ = ["__version__", "run"]
