"""``python -m alloc`` runs the command-line interface, as the ``alloc`` command does."""

from alloc.cli import main

main(prog_name="alloc")
