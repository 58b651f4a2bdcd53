"""The contracts skillstream publishes, and their JSON Schema.

Each contract carries its major version in the file name and in the data
(``version`` / ``dataschema``). Within a major version fields are only added;
a rename, retype or removal is a new major version, published beside the old
one for as long as consumers need it.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from schemas.catalog import CatalogFile
from schemas.deadletter import DeadLetter
from schemas.milestones import MilestoneEvent
from schemas.profiles import ProfileSnapshot

PUBLISHED: dict[str, type[BaseModel]] = {
    "milestone-event.v1": MilestoneEvent,
    "profile-snapshot.v1": ProfileSnapshot,
    "dead-letter.v1": DeadLetter,
    "catalog.v1": CatalogFile,
}


def json_schema(model: type[BaseModel], name: str) -> dict[str, object]:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:skillstream:schema:{name}"
    return schema


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in PUBLISHED.items():
        path = directory / f"{name}.schema.json"
        path.write_bytes(orjson.dumps(json_schema(model, name), option=orjson.OPT_INDENT_2))
        written.append(path)
    return written
