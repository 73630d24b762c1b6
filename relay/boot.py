"""The `relay` command's entry point: the program is imported with the cyclic collector paused."""

from __future__ import annotations

import gc


def main() -> int:
    """Import the command line without collections (each full one walks the growing heap), then run it."""
    gc.disable()
    try:
        from relay.cli import main as cli_main
    finally:
        gc.enable()
    return cli_main()
