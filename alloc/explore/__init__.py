"""``alloc explore``: a local web page to try policies on a scenario and see the result at once.

The top layer beside the CLI (docs/architecture.md): it runs the model and shows what
:mod:`alloc.outputs` makes of the result. :mod:`alloc.explore.state` holds the state behind
the page and needs no web framework; :mod:`alloc.explore.app` is the page itself (Panel, from
the ``explore`` extra: ``pip install "alloc[explore]"``), served on 127.0.0.1 only.
"""
