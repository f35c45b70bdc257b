"""``alloc explore``: the local web page (alloc.explore), served on 127.0.0.1 only.

Panel comes with the ``explore`` extra; without it the command says how to install it.
"""

from __future__ import annotations

import click

from alloc.cli.errors import reports_errors


@click.command()
@click.argument("scenario", required=False, default="default")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=5006,
    show_default=True,
    help="Port on 127.0.0.1 to serve the page on (0: any free port).",
)
@click.option("--no-browser", is_flag=True, help="Do not open the page in a web browser.")
@reports_errors
def explore(scenario, port, no_browser):
    """Open a local web page to try policies on SCENARIO (a shipped name or a scenario file).

    The page re-runs the model as you change the floor, cap, convergence rate, envelope growth
    or geography, and downloads the result (Excel, CSV) and the scenario (TOML). It is served on
    127.0.0.1 only and fetches nothing from the internet. Stop it with Ctrl-C.
    """
    from alloc.errors import require_optional

    require_optional("panel", "explore", "alloc explore")
    from alloc.explore.app import check_port, free_port, make_server
    from alloc.explore.state import Explorer

    port = port or free_port()
    check_port(port)  # a taken port, then a scenario that does not run, are reported at once
    Explorer(scenario)
    server, url = make_server(scenario, port)
    server.start()
    click.echo(f"alloc explore: scenario {scenario} at {url} (Ctrl-C to stop)")
    if not no_browser:
        import webbrowser

        server.io_loop.add_callback(webbrowser.open, url)
    server.io_loop.start()


COMMANDS = [explore]
