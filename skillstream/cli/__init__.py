"""The ``skillstream`` command: one sub-command per operator job.

Every command prints a clear message and exits non-zero on misuse (2), on an
invalid config file (2) or when a service is unreachable (3) — never a
traceback for those. ``SKILLSTREAM_DEBUG=1`` shows tracebacks anyway.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from skillstream.errors import SkillstreamError

app = typer.Typer(
    name="skillstream",
    help=(
        "skillstream: xAPI learning statements in, rolling skill profiles and career "
        "milestones out.\n\nSettings come from SKILLSTREAM_* environment variables "
        "(see README). Start with `make demo` to see the whole pipeline."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True, soft_wrap=True)


def file_progress(label: str) -> Progress:
    """The bar of a command reading a statements file: bytes read, speed, time left."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


_registered = False


def _register() -> None:
    """Each ``skillstream/cli/*_cmd.py`` module adds its commands through ``register(app)``."""
    global _registered  # noqa: PLW0603 - registration happens once per process
    if _registered:
        return
    _registered = True
    import importlib
    import pkgutil

    package = importlib.import_module("skillstream.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"skillstream.cli.{info.name}").register(app)


def main(argv: list[str] | None = None) -> None:
    _register()
    run(app, argv)


def run(
    command: Callable[..., object], argv: list[str] | None, prog_name: str | None = None
) -> None:
    """Run a command (the ``skillstream`` app, or one of its commands on its own, as
    ``python -m tools.simulate`` does) with the errors and exit codes of the module docstring."""
    # Kafka clients log connection trouble as they meet it; a command reports it once,
    # as its error. Commands that set up logging (worker, serve, sinks) still log it.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    debug = os.environ.get("SKILLSTREAM_DEBUG") == "1"
    try:
        command(args=argv, prog_name=prog_name)  # standalone: click reports usage errors (exit 2)
    except SkillstreamError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as exc:
        if debug or exc.filename is None:
            raise
        # A path the command was given or configured with: name it and the reason.
        _fail(f"{exc.filename}: {exc.strerror or exc}", 2)


def _fail(message: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    sys.exit(code)
