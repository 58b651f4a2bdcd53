"""The exported JSON Schemas follow the evolution rule: real records validate, and so do
records with fields and CloudEvents extensions added later; ``dataschema`` is an ``$id``."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas.milestones import MILESTONE_DATASCHEMA, MilestoneEvent
from schemas.profiles import ProfileSnapshot
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from skillstream.contracts import PUBLISHED, export_schemas, schema_id
from streams.offline import OfflineResult, run_offline
from tools.simulate import Simulation

OPEN = ("milestone-event", "milestone", "profile-snapshot", "dead-letter")


@cache
def real_output() -> OfflineResult:
    """What the core publishes for a small simulated organisation (invalid statements too)."""
    return run_offline(
        Simulation(12, 90, 5),
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=b"test secret",
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("schemas")
    files = export_schemas(directory)
    assert sorted(p.name for p in files) == sorted(
        f"{name}.v{major}.schema.json" for name, (_, major) in PUBLISHED.items()
    )
    return {p.name.split(".v")[0]: orjson.loads(p.read_bytes()) for p in files}


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def closed_objects(node: object, path: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            found.append(path)
        for key, value in node.items():
            found += closed_objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += closed_objects(value, f"{path}[{i}]")
    return found


def records() -> dict[str, list[dict[str, Any]]]:
    out = real_output()
    events = [orjson.loads(m.model_dump_json()) for m in out.milestones]
    return {
        "milestone-event": events,
        "milestone": [e["data"] for e in events],
        "profile-snapshot": [orjson.loads(p.model_dump_json()) for p in out.profiles.values()],
        "dead-letter": [orjson.loads(d.model_dump_json()) for d in out.dead_letters],
    }


def test_each_file_is_identified_by_name_and_major_version(
    exported: dict[str, dict[str, Any]],
) -> None:
    for name, schema in exported.items():
        assert schema["$id"] == f"urn:skillstream:schema:{name}:v{PUBLISHED[name][1]}"
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", OPEN)
def test_published_schemas_name_no_closed_object(
    name: str, exported: dict[str, dict[str, Any]]
) -> None:
    assert closed_objects(exported[name]) == []


@pytest.mark.parametrize("name", OPEN)
def test_real_records_validate(name: str, exported: dict[str, dict[str, Any]]) -> None:
    check = validator(exported[name])
    found = records()[name]
    assert found, f"the simulated organisation should produce {name} records"
    for record in found:
        assert list(check.iter_errors(record)) == [], record


@pytest.mark.parametrize("name", OPEN)
def test_records_with_added_fields_still_validate(
    name: str, exported: dict[str, dict[str, Any]]
) -> None:
    check = validator(exported[name])
    record = copy.deepcopy(records()[name][0])
    record["added_in_a_later_minor_version"] = {"any": ["shape"]}
    for value in record.values():  # and inside every nested object
        if isinstance(value, dict):
            value["also_added"] = 1
    assert list(check.iter_errors(record)) == []


def test_a_cloudevents_extension_passes_schema_and_reader_and_survives_a_round_trip(
    exported: dict[str, dict[str, Any]],
) -> None:
    event = orjson.loads(real_output().milestones[0].model_dump_json())
    event["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    event["data"]["confidence"] = 0.9
    assert list(validator(exported["milestone-event"]).iter_errors(event)) == []
    read = MilestoneEvent.model_validate_json(orjson.dumps(event))
    again = orjson.loads(read.model_dump_json())
    assert again["traceparent"] == event["traceparent"]
    assert again["data"]["confidence"] == 0.9


def test_a_profile_reader_accepts_a_field_it_does_not_know() -> None:
    snapshot = orjson.loads(next(iter(real_output().profiles.values())).model_dump_json())
    snapshot["mentoring_sessions"] = 3
    assert ProfileSnapshot.model_validate_json(orjson.dumps(snapshot)).learner


def test_dataschema_is_the_id_of_the_exported_schema_of_data(
    exported: dict[str, dict[str, Any]],
) -> None:
    assert exported["milestone"]["$id"] == MILESTONE_DATASCHEMA == schema_id("milestone", 1)
    check = validator(exported["milestone"])
    for event in records()["milestone-event"]:
        assert event["dataschema"] == exported["milestone"]["$id"]
        assert list(check.iter_errors(event["data"])) == []


def test_the_catalog_schema_stays_closed_so_an_editor_flags_a_typo(
    exported: dict[str, dict[str, Any]],
) -> None:
    import yaml

    check = validator(exported["catalog"])
    # As a YAML-aware editor sees it: dates as ISO strings.
    sample = orjson.loads(orjson.dumps(yaml.safe_load(Path(SAMPLE_CATALOG).read_text("utf-8"))))
    assert list(check.iter_errors(sample)) == []
    sample["skils"] = sample.pop("skills")
    assert [e.message for e in check.iter_errors(sample)]
