"""``skillstream catalog gaps`` and ``catalog load --add``: from traffic to a catalog.

The tally itself is :mod:`streams.gaps`; this module reads the statements (a file, the
way ``skillstream offline`` does, or the statements topic: same validation and
normalisation) and renders the result as JSON or as a template an L&D person fills in
(CSV for a spreadsheet, or YAML in the catalog's own shape); :func:`with_additions`
takes a filled template back into a catalog.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import yaml
from pydantic import ValidationError

from schemas.catalog import ActivityMapping, Catalog, CatalogFile
from schemas.normalize import normalize
from schemas.vocabulary import Vocabulary
from schemas.xapi import parse_statement
from skillstream.config import input_file, load_catalog_file
from skillstream.errors import ConfigError
from skillstream.kafka_io import read_range, read_to_end
from skillstream.settings import Settings
from streams.followers import apply_catalog_record
from streams.gaps import Gap, GapTally, Suggester, Suggestion
from streams.ingest_loop import header_version

TEMPLATE_COLUMNS = (
    "activity_id",
    "skills",
    "suggested",
    "matched",
    "learners",
    "statements",
    "type",
    "name",
    "description",
    "verbs",
    "example_statement",
)
"""The CSV template's columns; ``skills`` is the one to fill in (skill ids, space-separated)."""


def tally_file(
    records: Iterable[bytes],
    catalog: Catalog,
    vocabulary: Vocabulary,
    secret: bytes,
    default_version: str,
    on_record: Callable[[int], None] | None = None,
) -> GapTally:
    """The gaps of a statements file; invalid and ignored statements are not counted."""
    tally = GapTally()
    for raw in records:
        if on_record is not None:
            on_record(len(raw) + 1)
        count(tally, raw, catalog, vocabulary, secret, default_version)
    return tally


def count(
    tally: GapTally,
    raw: bytes,
    catalog: Catalog,
    vocabulary: Vocabulary,
    secret: bytes,
    default_version: str,
    header_version: str | None = None,
    fallback_time: datetime | None = None,
) -> None:
    """Validate and normalise one record as ingest does, and count it in ``tally``."""
    statement, _, problems = parse_statement(raw, header_version, default_version)
    if problems or statement is None:
        return
    try:
        outcome = normalize(statement, catalog, vocabulary, secret, fallback_time)
    except Exception:  # noqa: BLE001 - ingest dead-letters such a record: it credits nothing
        return
    if isinstance(outcome, tuple):
        tally.add(statement, outcome, catalog)


async def tally_topic(
    settings: Settings,
    since_ms: int | None,
    catalog: Catalog | None,
    vocabulary: Vocabulary,
    on_total: Callable[[int], None] | None = None,
    on_record: Callable[[int], None] | None = None,
) -> tuple[GapTally, Catalog]:
    """The gaps of what LMSs published to the statements topic since ``since_ms`` (all it
    holds, if None), against ``catalog`` or else the live catalog on the catalog topic."""
    if catalog is None:
        catalog = Catalog()
        async for record in read_to_end(settings.kafka, settings.topics.catalog):
            apply_catalog_record(catalog, record.key, record.value)
    tally = GapTally()
    secret = settings.learner_secret_bytes
    records = read_range(settings.kafka, settings.topics.statements, since_ms, on_total)
    try:
        async for record in records:
            if on_record is not None:
                on_record(1)
            count(
                tally,
                record.value if record.value is not None else b"",
                catalog,
                vocabulary,
                secret,
                settings.xapi_version,
                header_version(record.headers),
                datetime.fromtimestamp(record.timestamp / 1000, UTC),
            )
    finally:
        await records.aclose()
    return tally, catalog


def first_text(texts: dict[str, str]) -> str:
    """The text in English if present, else in the first language by tag."""
    for language in ("en", "en-US", "en-GB", *sorted(texts)):
        if language in texts:
            return texts[language]
    return ""


def by_count(counts: Counter[str]) -> list[str]:
    """The keys, most counted first, ties in text order: the same whatever the arrival order."""
    return [key for key, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def explain(suggestions: list[Suggestion]) -> str:
    return "; ".join(f"{s.skill}: {' '.join(s.matched)} ({s.by})" for s in suggestions)


def _row(gap: Gap, suggestions: list[Suggestion]) -> dict[str, str]:
    learners = f"{gap.learner_count}+" if gap.learners_saturated else str(gap.learner_count)
    return {
        "activity_id": gap.activity_id,
        "skills": "",
        "suggested": " ".join(s.skill for s in suggestions),
        "matched": explain(suggestions),
        "learners": learners,
        "statements": str(gap.statements),
        "type": " ".join(by_count(gap.types)),
        "name": " | ".join(f"{lang}: {gap.names[lang]}" for lang in sorted(gap.names)),
        "description": " | ".join(
            f"{lang}: {gap.descriptions[lang]}" for lang in sorted(gap.descriptions)
        ),
        "verbs": " ".join(by_count(gap.verbs)),
        "example_statement": gap.example,
    }


def write_template(path: Path, gaps: list[Gap], suggest: Suggester) -> None:
    """The gaps as a file to fill in: ``.csv``, or ``.yaml``/``.yml`` in the catalog's shape;
    ``skills`` is left empty for a person to fill, the suggestions stand beside it."""
    rows = [_row(gap, suggest(gap)) for gap in gaps]
    if path.suffix == ".csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=TEMPLATE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
        return
    lines = [
        "# Activities your learners use that credit no skill, most learners first.",
        "# For each, list the catalog skill ids it trains or assesses under `skills`",
        "# (the suggestions come from the catalog's skill names and labels: check them).",
        "# Entries left empty are skipped. Load the file with your catalog:",
        "#   skillstream catalog load CATALOG.yaml --add THIS_FILE",
        "schema_version: 1",
        "activities:",
    ]
    for row in rows:
        about = [f"{row['learners']} learners, {row['statements']} statements"]
        about += [f"{key}: {row[key]}" for key in ("name", "type", "verbs") if row[key]]
        if row["matched"]:
            about.append(f"suggested: {row['matched']}")
        lines += [f"  # {line}" for line in about]
        entry = {"activity_id": row["activity_id"], "skills": []}
        dumped = yaml.safe_dump([entry], allow_unicode=True, default_flow_style=None, width=1000)
        lines += [f"  {line}" for line in dumped.splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def as_json(tally: GapTally, gaps: list[Gap], suggest: Suggester) -> bytes:
    """The report as JSON (``--json``): the share and every gap with its suggestions."""
    return orjson.dumps(
        {
            "credited": tally.credited,
            "uncredited": tally.uncredited,
            "credited_share": tally.credited_share,
            "untracked": tally.untracked,
            "gaps": [_row(gap, suggest(gap)) for gap in gaps],
        },
        option=orjson.OPT_INDENT_2,
    )


def read_filled(path: Path) -> list[ActivityMapping]:
    """The mappings of a filled template (CSV or YAML): one per activity whose ``skills``
    were filled in; the rest are skipped. A malformed file raises ``ValueError`` naming
    the row or entry."""
    text = path.read_text(encoding="utf-8")
    entries: list[tuple[str, object, object]] = []
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"activity_id", "skills"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: the header lacks {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            skills = (row.get("skills") or "").replace(",", " ").split()
            entries.append((f"line {number}", row.get("activity_id"), skills))
    else:
        data = yaml.safe_load(text) or {}
        listed = data.get("activities") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise ValueError(f"{path}: expected an `activities:` list")
        for index, entry in enumerate(listed):
            if not isinstance(entry, dict):
                raise ValueError(f"{path}: activities[{index}] is not a mapping")  # noqa: TRY004
            entries.append((f"activities[{index}]", entry.get("activity_id"), entry.get("skills")))
    mappings: list[ActivityMapping] = []
    for where, activity, skills in entries:
        if not skills:
            continue
        try:
            mappings.append(
                ActivityMapping.model_validate_json(
                    orjson.dumps({"activity_id": activity, "skills": skills})
                )
            )
        except ValidationError as exc:
            reasons = "; ".join(e["msg"] for e in exc.errors())
            raise ValueError(f"{path} {where}: {reasons}") from None
    return mappings


MAX_ITEM_BYTES = 1_000_000
"""A catalog item is one record; Kafka's default record limit is about 1 MB."""


def with_additions(path: Path, added: list[Path]) -> CatalogFile:
    """The catalog file with the mappings of filled gap templates added; validated as one
    catalog, so a mapping that names an unknown skill is refused with its activity, and
    each item checked to fit in one Kafka record."""
    catalog = _merged(path, added)
    for item in catalog.items():
        size = len(item.model_dump_json())
        if size > MAX_ITEM_BYTES:
            raise ConfigError(
                f"catalog item {item.key} is {size:,} bytes as JSON, past the {MAX_ITEM_BYTES:,} "
                "a Kafka topic takes by default: split the ladder or trim its requirements"
            )
    return catalog


def _merged(path: Path, added: list[Path]) -> CatalogFile:
    catalog = load_catalog_file(path)
    if not added:
        return catalog
    mappings = {m.activity_id: m for m in catalog.activities}
    for extra in added:
        input_file(extra, "--add file")
        try:
            filled = read_filled(extra)
        except (ValueError, OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"filled template refused: {exc}") from None
        mappings.update((m.activity_id, m) for m in filled)
    try:
        activities = [m.model_dump(mode="json") for m in mappings.values()]
        merged = {**catalog.model_dump(mode="json"), "activities": activities}
        return CatalogFile.model_validate_json(orjson.dumps(merged))
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors())
        raise ConfigError(
            f"catalog {path} with {', '.join(map(str, added))} refused: {reasons}"
        ) from None
