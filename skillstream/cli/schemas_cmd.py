"""``skillstream schemas``: the published contracts as JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer

from skillstream.contracts import export_schemas
from skillstream.errors import UsageError


def register(app: typer.Typer) -> None:
    schemas = typer.Typer(help="Published data contracts.", no_args_is_help=True)
    app.add_typer(schemas, name="schemas")

    @schemas.command("export")
    def export(
        directory: Path = typer.Argument(..., help="A new or empty folder to write into."),
    ) -> None:
        """Write JSON Schema for the milestone event, profile snapshot, dead letter and catalog.

        File names carry the contract's major version, e.g. milestone-event.v1.schema.json;
        each file's $id is urn:skillstream:schema:<name>:v<major>.

        Example: skillstream schemas export contracts/ && ls contracts/
        """
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise UsageError(f"{directory} exists and is not an empty folder; give a new one")
        for path in export_schemas(directory):
            typer.echo(path)
