"""The contracts skillstream publishes, and their JSON Schema.

Each contract carries its major version in the file name, in its ``$id``
(``urn:skillstream:schema:<name>:v<major>``) and in the data (``version``;
``dataschema`` for the milestone CloudEvent, whose value is the ``$id`` of the
exported schema of its ``data``). Within a major version fields are only added:
the exported schemas of what skillstream publishes accept properties they do not
name (see ``schemas._base.Published``), so a consumer that validates with them
keeps working when a field or a CloudEvents extension appears. A rename, retype
or removal is a new major version, published beside the old one for as long as
consumers need it.

The catalog file is different: it is input that operators write, and its schema
stays closed so that an editor flags a misspelt key, as skillstream does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import orjson
from pydantic import BaseModel

from schemas.catalog import CatalogFile
from schemas.deadletter import DeadLetter
from schemas.milestones import MilestoneData, MilestoneEvent
from schemas.profiles import ProfileSnapshot

SCHEMA_ID_PREFIX: Final = "urn:skillstream:schema:"

PUBLISHED: dict[str, tuple[type[BaseModel], int]] = {
    "milestone-event": (MilestoneEvent, 1),
    "milestone": (MilestoneData, 1),
    "profile-snapshot": (ProfileSnapshot, 1),
    "dead-letter": (DeadLetter, 1),
    "catalog": (CatalogFile, 1),
}
"""File stem -> (model, major version)."""


def schema_id(name: str, major: int) -> str:
    return f"{SCHEMA_ID_PREFIX}{name}:v{major}"


def json_schema(name: str) -> dict[str, object]:
    model, major = PUBLISHED[name]
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = schema_id(name, major)
    return schema


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_, major) in PUBLISHED.items():
        path = directory / f"{name}.v{major}.schema.json"
        path.write_bytes(orjson.dumps(json_schema(name), option=orjson.OPT_INDENT_2))
        written.append(path)
    return written
