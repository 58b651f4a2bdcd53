"""Simulated LMS traffic: xAPI statements for demos, tests and benchmarks.

``generate(learners, days, seed)`` yields one JSON Lines record (bytes, no
newline) per statement, the same bytes for the same arguments on any machine:
everything is drawn from ``random.Random`` seeded by ``seed``, nothing reads
the wall clock, and the days start on 2026-01-05 unless told otherwise.

What the traffic holds, so that every path of the pipeline is exercised:

* learners with a ``Persona`` (a deep specialist on one track, a networker at
  many workshops and conferences, a soft-and-leadership-skills learner, a
  follower of emerging skills, a steady weekly learner, a dropout, and
  ordinary learners), each with a way of being identified: ``mbox``,
  ``mbox_sha1sum``, both (the same learner sends the address one day and its
  SHA-1 the next), ``account`` or ``openid``; each has a display name (drawn
  from name pools of many regions, unique per roster up to about 25,000
  learners), which a third of the learners' LMS sends as the Agent's ``name``;
* the verbs and activity types an LMS sends: cmi5-style session lifecycle
  (launched, initialized, terminated: skipped by the pipeline), courses
  completed, assessments passed or failed with scores that improve with
  practice for the learners who practise, workshops and conferences attended,
  mentoring (an Agent object), sharing, videos, credentials earned;
* competency context activities and the skills extension; team workshops with
  a Group actor; xAPI 1.0.3 and 2.0.0 statements, some declaring ``version``
  and some not, a few without an ``id``;
* the faults a real feed has: duplicates (a statement re-sent with the same
  id), late arrivals (emitted days after their timestamp), voiding statements
  both after and before their target in file order, and a share of invalid
  records of several kinds (malformed JSON, wrong types, no actor, a bad mbox,
  a bad score, an unknown property).

Activities come from the sample catalog (``skillstream/samples/catalog.yaml``),
classified by the path of their IRI (``/courses/``, ``/workshops/``,
``/events/``, ``/assessments/``, ``/certifications/``). Records are ordered by
time within each day, late arrivals aside.

``Simulation`` is the same generator with its roster and counters in reach:
``Simulation.stats`` (a ``SimulationStats``) is complete once the records have
been consumed; ``Simulation.personas(secret)`` and ``Simulation.names(secret)``
map each learner key (as the pipeline derives it) to the learner's persona and
display name, for demo summaries: the pipeline itself keeps no names.

From a checkout, ``skillstream simulate`` runs it, and so does ``python -m
tools.simulate`` (the same command and options) from the repository root.
"""

from __future__ import annotations

import hashlib
import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, NamedTuple

import orjson

from schemas.catalog import CatalogFile
from schemas.identity import learner_keys
from schemas.normalize import SKILLS_EXTENSION
from skillstream import config

SAMPLE_CATALOG: Final = config.SAMPLE_CATALOG  # skillstream/samples/catalog.yaml, shipped
DEFAULT_START: Final = date(2026, 1, 5)
LMS_HOME: Final = "https://lms.example.com"
COMPETENCY_BASE: Final = "https://skills.example.com/competencies/"

_ADL: Final = "http://adlnet.gov/expapi/verbs/"
_ACT: Final = "http://adlnet.gov/expapi/activities/"
VOIDED: Final = _ADL + "voided"
_COMPETENCY_TYPES: Final = (
    "https://w3id.org/xapi/tla/activity-types/competency",
    "https://w3id.org/xapi/tla/activity-types/competency",
    "http://adlnet.gov/expapi/activities/objective",
)
_CMI5_CATEGORY: Final = {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}
_TYPES: Final = {
    "courses": _ACT + "course",
    "workshops": _ACT + "meeting",
    "events": "http://id.tincanapi.com/activitytype/conference",
    "assessments": _ACT + "assessment",
    "certifications": "http://id.tincanapi.com/activitytype/certificate",
}
_VIDEO_TYPE: Final = "https://w3id.org/xapi/video/activity-type/video"
_DOCUMENT_TYPE: Final = "http://id.tincanapi.com/activitytype/document"

DUPLICATE_SHARE: Final = 0.006
VOID_SHARE: Final = 0.004
LATE_SHARE: Final = 0.015
ID_LESS_SHARE: Final = 0.01


class Persona(StrEnum):
    """How a simulated learner learns."""

    SPECIALIST = "specialist"
    """Deep in one track (software, data or cloud): courses and rising assessment scores."""
    NETWORKER = "networker"
    """Workshops, conferences, mentoring and sharing, week after week."""
    SOFT_SKILLS = "soft_skills"
    """Communication, feedback, negotiation and leadership courses and assessments."""
    TREND_FOLLOWER = "trend_follower"
    """Generative AI, agents, platform engineering: the catalog's emerging skills."""
    GENERALIST = "generalist"
    """T-shaped: deep in one technical skill, assessed across soft, leadership and domain skills."""
    STEADY = "steady"
    """One learning session every week, on the same weekday."""
    DROPOUT = "dropout"
    """Busy for two to four weeks, then never again."""
    ORDINARY = "ordinary"
    """Now and then, a bit of everything."""


class InvalidKind(StrEnum):
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPE = "wrong_type"
    MISSING_ACTOR = "missing_actor"
    BAD_MBOX = "bad_mbox"
    BAD_SCORE = "bad_score"
    UNKNOWN_PROPERTY = "unknown_property"


_TRACKS: Final = {
    "software": ("python", "software-testing", "system-design", "api-design"),
    "data": ("sql", "python", "data-engineering", "machine-learning"),
    "cloud": ("cloud-architecture", "kubernetes", "observability", "platform-engineering"),
}
_PERSONA_SKILLS: Final = {
    Persona.TREND_FOLLOWER: (
        "generative-ai",
        "ai-agents",
        "platform-engineering",
        "responsible-ai",
    ),
    Persona.GENERALIST: (
        "python",
        "communication",
        "decision-making",
        "product-discovery",
        "system-design",
    ),
    Persona.SOFT_SKILLS: (
        "communication",
        "giving-feedback",
        "mentoring",
        "people-management",
        "public-speaking",
        "strategic-planning",
        "decision-making",
        "negotiation",
        "critical-thinking",
    ),
}
_PERSONA_WEIGHTS: Final = (
    (Persona.ORDINARY, 30),
    (Persona.SPECIALIST, 15),
    (Persona.NETWORKER, 12),
    (Persona.SOFT_SKILLS, 12),
    (Persona.TREND_FOLLOWER, 12),
    (Persona.GENERALIST, 8),
    (Persona.STEADY, 12),
    (Persona.DROPOUT, 7),
)
_IDENTITY_WEIGHTS: Final = (
    ("mbox", 45),
    ("mixed", 15),
    ("sha1", 10),
    ("account", 25),
    ("openid", 5),
)
_SESSION_MIX: Final[dict[Persona, tuple[tuple[str, int], ...]]] = {
    Persona.SPECIALIST: (("course", 40), ("assessment", 50), ("video", 5), ("share", 5)),
    Persona.NETWORKER: (
        ("workshop", 45),
        ("conference", 15),
        ("mentoring", 20),
        ("share", 10),
        ("course", 10),
    ),
    Persona.SOFT_SKILLS: (("course", 30), ("assessment", 40), ("workshop", 20), ("mentoring", 10)),
    Persona.TREND_FOLLOWER: (
        ("course", 35),
        ("assessment", 40),
        ("workshop", 10),
        ("video", 10),
        ("conference", 5),
    ),
    Persona.GENERALIST: (("course", 35), ("assessment", 45), ("workshop", 15), ("share", 5)),
    Persona.STEADY: (("course", 50), ("assessment", 30), ("workshop", 20)),
    Persona.DROPOUT: (("course", 60), ("assessment", 25), ("video", 15)),
    Persona.ORDINARY: (
        ("course", 40),
        ("assessment", 20),
        ("workshop", 15),
        ("video", 15),
        ("conference", 5),
        ("share", 5),
    ),
}
_FOCUS_WEIGHTS: Final = {n: tuple(range(n + 1, 1, -1)) for n in range(1, 16)}
_DAILY_CHANCE: Final = {
    Persona.SPECIALIST: 0.6,
    Persona.NETWORKER: 0.45,
    Persona.SOFT_SKILLS: 0.45,
    Persona.TREND_FOLLOWER: 0.45,
    Persona.GENERALIST: 0.5,
    Persona.DROPOUT: 0.6,
    Persona.ORDINARY: 0.12,
}
_ABILITY: Final = {
    Persona.SPECIALIST: (0.6, 0.06),
    Persona.TREND_FOLLOWER: (0.55, 0.06),
    Persona.SOFT_SKILLS: (0.55, 0.07),
    Persona.GENERALIST: (0.6, 0.06),
    Persona.STEADY: (0.5, 0.05),
    Persona.NETWORKER: (0.5, 0.03),
    Persona.ORDINARY: (0.5, 0.03),
    Persona.DROPOUT: (0.45, 0.03),
}

# Display names: (given names, family names) per region; a name pairs a given and
# a family name of the same region. Only the demo report shows them.
_NAME_POOLS: Final = (
    (  # West Africa
        ("Amara", "Chinedu", "Ngozi", "Kwame", "Abena", "Tunde", "Efua", "Kofi", "Adaeze", "Yaw"),
        (
            "Okafor",
            "Mensah",
            "Adeyemi",
            "Boateng",
            "Nwosu",
            "Owusu",
            "Eze",
            "Asante",
            "Balogun",
            "Danso",
        ),
    ),
    (  # East and Southern Africa
        (
            "Wanjiru",
            "Baraka",
            "Amani",
            "Zawadi",
            "Juma",
            "Nia",
            "Kamau",
            "Achieng",
            "Tendai",
            "Thandiwe",
        ),
        (
            "Otieno",
            "Mwangi",
            "Njoroge",
            "Kiprono",
            "Odhiambo",
            "Mutua",
            "Chebet",
            "Moyo",
            "Dlamini",
            "Ndlovu",
        ),
    ),
    (  # South Asia
        (
            "Priya",
            "Arjun",
            "Ananya",
            "Rohan",
            "Kavya",
            "Vikram",
            "Meera",
            "Sanjay",
            "Deepa",
            "Rahul",
        ),
        (
            "Sharma",
            "Iyer",
            "Patel",
            "Reddy",
            "Banerjee",
            "Nair",
            "Chowdhury",
            "Gupta",
            "Menon",
            "Kapoor",
        ),
    ),
    (  # China
        ("Wei", "Mei", "Jun", "Xiu", "Hao", "Lan", "Yu", "Ling", "Tao", "Jing"),
        ("Chen", "Wang", "Li", "Zhang", "Liu", "Zhao", "Huang", "Zhou", "Wu", "Lin"),
    ),
    (  # Japan
        ("Yuki", "Haruto", "Sakura", "Kenji", "Aiko", "Ren", "Hana", "Daichi", "Emi", "Sora"),
        (
            "Tanaka",
            "Sato",
            "Suzuki",
            "Takahashi",
            "Watanabe",
            "Ito",
            "Nakamura",
            "Kobayashi",
            "Yamamoto",
            "Mori",
        ),
    ),
    (  # Korea
        (
            "Min-jun",
            "Seo-yeon",
            "Ji-ho",
            "Ha-eun",
            "Do-yun",
            "Soo-ah",
            "Jae-won",
            "Yuna",
            "Hyun-woo",
            "Eun-ji",
        ),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim"),
    ),
    (  # Vietnam
        ("Linh", "Minh", "Thao", "Duc", "Lan", "Quang", "Hoa", "Tuan", "Mai", "Khanh"),
        ("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui", "Do", "Ngo"),
    ),
    (  # the Philippines
        ("Maria", "Jose", "Angelica", "Mark", "Kristine", "Paolo", "Joy", "Carlo", "Bea", "Miguel"),
        (
            "Reyes",
            "Cruz",
            "Bautista",
            "Ocampo",
            "Mendoza",
            "Dela Cruz",
            "Villanueva",
            "Aquino",
            "Santos",
            "Garcia",
        ),
    ),
    (  # Spanish-speaking Latin America and Spain
        (
            "Sofía",
            "Mateo",
            "Valentina",
            "Santiago",
            "Camila",
            "Diego",
            "Lucía",
            "Joaquín",
            "Isabela",
            "Tomás",
        ),
        (
            "García",
            "Rodríguez",
            "Martínez",
            "Hernández",
            "López",
            "González",
            "Pérez",
            "Sánchez",
            "Ramírez",
            "Torres",
        ),
    ),
    (  # Brazil and Portugal
        (
            "Beatriz",
            "João",
            "Mariana",
            "Gabriel",
            "Larissa",
            "Rafael",
            "Ana",
            "Thiago",
            "Fernanda",
            "Lucas",
        ),
        (
            "Silva",
            "Santos",
            "Oliveira",
            "Souza",
            "Costa",
            "Pereira",
            "Almeida",
            "Ferreira",
            "Carvalho",
            "Ribeiro",
        ),
    ),
    (  # the Middle East and North Africa
        (
            "Layla",
            "Omar",
            "Yasmin",
            "Karim",
            "Nour",
            "Hassan",
            "Salma",
            "Tariq",
            "Rania",
            "Youssef",
        ),
        (
            "Haddad",
            "Khalil",
            "Mansour",
            "Nasser",
            "Aziz",
            "Hamdan",
            "Saleh",
            "Farouk",
            "Bakr",
            "Darwish",
        ),
    ),
    (  # Northern and Western Europe
        ("Emma", "Lars", "Freya", "Sven", "Ingrid", "Jonas", "Astrid", "Mathis", "Clara", "Finn"),
        (
            "Andersen",
            "Jensen",
            "Johansson",
            "Müller",
            "Schmidt",
            "Dubois",
            "Janssen",
            "de Vries",
            "Lindqvist",
            "Berg",
        ),
    ),
    (  # Central and Eastern Europe
        (
            "Anna",
            "Piotr",
            "Katarzyna",
            "Tomasz",
            "Olena",
            "Dmytro",
            "Ivana",
            "Marek",
            "Zofia",
            "Andrei",
        ),
        (
            "Nowak",
            "Horvat",
            "Novak",
            "Popescu",
            "Kovač",
            "Shevchenko",
            "Bondarenko",
            "Dvořák",
            "Petrović",
            "Marković",
        ),
    ),
    (  # English-speaking countries
        ("Olivia", "James", "Grace", "Liam", "Chloe", "Noah", "Ruby", "Ethan", "Zoe", "Jack"),
        (
            "Smith",
            "Johnson",
            "Brown",
            "Taylor",
            "Wilson",
            "Walker",
            "O'Brien",
            "Murphy",
            "Campbell",
            "Thompson",
        ),
    ),
)
_MIDDLE_INITIALS: Final = "ABCDEFGHJKLMNPRSTW"


@dataclass(frozen=True)
class SimulatedLearner:
    """One learner of the roster. ``actor()`` is the form their LMS usually sends."""

    number: int
    name: str
    """Display name: the Agent's ``name`` when the LMS sends one, and the demo report's."""
    persona: Persona
    identity: str
    skills: tuple[str, ...]
    weekday: int
    active_days: int
    utc_offset_hours: int
    team: int

    @property
    def email(self) -> str:
        return f"learner{self.number:05d}@example.com"

    def actor(self, use_sha1: bool = False) -> dict[str, Any]:
        """The Agent object; a "mixed" learner sends the SHA-1 form when ``use_sha1``."""
        form = self.identity
        if form == "mixed":
            form = "sha1" if use_sha1 else "mbox"
        agent: dict[str, Any] = {"objectType": "Agent"}
        if form == "mbox":
            agent["mbox"] = "mailto:" + self.email
        elif form == "sha1":
            agent["mbox_sha1sum"] = hashlib.sha1(  # noqa: S324 - the xAPI IFI
                ("mailto:" + self.email).encode()
            ).hexdigest()
        elif form == "account":
            agent["account"] = {"homePage": LMS_HOME, "name": f"u{self.number:05d}"}
        else:
            agent["openid"] = f"https://id.example.com/learners/{self.number:05d}"
        if self.number % 3 == 0:
            agent["name"] = self.name
        return agent


@dataclass
class SimulationStats:
    """What one pass over the records produced."""

    learners: int = 0
    days: int = 0
    records: int = 0
    statements: int = 0
    """Records that are valid xAPI statements, duplicates and voids included."""
    duplicates: int = 0
    late_arrivals: int = 0
    voids_after_target: int = 0
    voids_before_target: int = 0
    group_statements: int = 0
    statements_without_id: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    verbs: dict[str, int] = field(default_factory=dict)
    learners_by_persona: dict[str, int] = field(default_factory=dict)

    @property
    def invalid_records(self) -> int:
        return sum(self.invalid.values())

    @property
    def voids(self) -> int:
        return self.voids_after_target + self.voids_before_target


@dataclass(frozen=True)
class _Activities:
    by_kind: dict[str, tuple[str, ...]]
    by_kind_and_skill: dict[tuple[str, str], tuple[str, ...]]
    skills_of: dict[str, tuple[str, ...]]
    all_skills: tuple[str, ...]


@lru_cache(maxsize=4)
def _activities(path: Path) -> _Activities:
    catalog = CatalogFile.load(path)
    by_kind: dict[str, list[str]] = {}
    by_kind_and_skill: dict[tuple[str, str], list[str]] = {}
    skills_of: dict[str, tuple[str, ...]] = {}
    for mapping in catalog.activities:
        iri = mapping.activity_id
        if not iri.startswith(LMS_HOME + "/"):
            continue
        kind = iri[len(LMS_HOME) + 1 :].split("/", 1)[0]
        if kind not in _TYPES:
            continue
        by_kind.setdefault(kind, []).append(iri)
        skills_of[iri] = mapping.skills
        for skill in mapping.skills:
            by_kind_and_skill.setdefault((kind, skill), []).append(iri)
    return _Activities(
        by_kind={k: tuple(v) for k, v in by_kind.items()},
        by_kind_and_skill={k: tuple(v) for k, v in by_kind_and_skill.items()},
        skills_of=skills_of,
        all_skills=tuple(s.id for s in catalog.skills),
    )


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def display_names(count: int, seed: int) -> list[str]:
    """``count`` display names for a roster, the same for the same seed.

    Given and family names are paired within a region's pool, so every name is
    a plausible one; the pairs are shuffled with their own generator (the rest
    of the roster draws from another, so names do not move anything else).
    Names are unique up to ``len(pairs) * (1 + len(_MIDDLE_INITIALS))``
    learners (a middle initial tells apart a second lap over the pairs); past
    that they repeat.
    """
    rng = random.Random(f"skillstream-names:{seed}")
    pairs = list(
        dict.fromkeys(
            f"{given} {family}"
            for given_names, family_names in _NAME_POOLS
            for given in given_names
            for family in family_names
        )
    )
    rng.shuffle(pairs)
    names = []
    for number in range(count):
        lap, index = divmod(number, len(pairs))
        name = pairs[index]
        if lap:
            given, family = name.split(" ", 1)
            name = f"{given} {_MIDDLE_INITIALS[(lap - 1) % len(_MIDDLE_INITIALS)]}. {family}"
        names.append(name)
    return names


def _roster(learners: int, seed: int, activities: _Activities) -> tuple[SimulatedLearner, ...]:
    names = display_names(learners, seed)
    rng = random.Random(f"skillstream-roster:{seed}")
    personas = list(Persona)
    order = list(range(learners))
    rng.shuffle(order)
    teams = {number: position // 6 for position, number in enumerate(order)}
    roster = []
    for number in range(learners):
        persona = personas[number] if number < len(personas) else _weighted(rng, _PERSONA_WEIGHTS)
        skills: tuple[str, ...]
        if persona is Persona.SPECIALIST:
            skills = _TRACKS[rng.choice(sorted(_TRACKS))]
        elif persona in _PERSONA_SKILLS:
            skills = _PERSONA_SKILLS[persona]
        else:
            skills = tuple(rng.sample(activities.all_skills, 6))
        roster.append(
            SimulatedLearner(
                number=number,
                name=names[number],
                persona=persona,
                identity=_weighted(rng, _IDENTITY_WEIGHTS),
                skills=skills,
                weekday=rng.randrange(5),
                active_days=rng.randint(14, 28),
                utc_offset_hours=_weighted(rng, ((0, 70), (1, 20), (-5, 10))),
                team=teams[number],
            )
        )
    return tuple(roster)


class SimulatedRecord(NamedTuple):
    """One record and, for the tests and the demo's expectations, whether it is invalid."""

    line: bytes
    invalid: InvalidKind | None = None


@dataclass
class _Pending:
    """A record held back to be emitted on a later day."""

    day: int
    line: bytes


class Simulation:
    """A seeded simulation: iterate it for the records; read ``stats`` afterwards."""

    def __init__(
        self,
        learners: int,
        days: int,
        seed: int,
        start: date | None = None,
        invalid_share: float = 0.01,
        *,
        catalog_path: Path = SAMPLE_CATALOG,
    ) -> None:
        if learners < 1 or days < 1:
            raise ValueError("a simulation needs at least one learner and one day")
        if not 0.0 <= invalid_share < 0.5:
            raise ValueError("invalid_share must be in [0, 0.5)")
        self.learners_count = learners
        self.days = days
        self.seed = seed
        self.start = start or DEFAULT_START
        self.invalid_share = invalid_share
        self._activities = _activities(catalog_path)
        self.learners = _roster(learners, seed, self._activities)
        self.stats = SimulationStats()

    def by_key(self, secret: bytes) -> dict[str, SimulatedLearner]:
        """Each learner's key (as the pipeline derives it with ``secret``) and roster entry."""
        return {learner_keys(one.actor(), secret)[0]: one for one in self.learners}

    def personas(self, secret: bytes) -> dict[str, Persona]:
        """Each learner's key (as the pipeline derives it with ``secret``) and persona."""
        return {key: one.persona for key, one in self.by_key(secret).items()}

    def names(self, secret: bytes) -> dict[str, str]:
        """Each learner's key (as the pipeline derives it with ``secret``) and display name."""
        return {key: one.name for key, one in self.by_key(secret).items()}

    def persona_of(self, learner_key: str, secret: bytes) -> Persona | None:
        return self.personas(secret).get(learner_key)

    def __iter__(self) -> Iterator[bytes]:
        return (record.line for record in _Run(self).records())

    def labelled(self) -> Iterator[SimulatedRecord]:
        """The same records as iteration yields, each with its ``InvalidKind`` or ``None``."""
        return _Run(self).records()


def generate(
    learners: int,
    days: int,
    seed: int,
    start: date | None = None,
    invalid_share: float = 0.01,
) -> Iterator[bytes]:
    """JSON Lines records (bytes, no newline) of a seeded simulation; see the module docstring."""
    return iter(Simulation(learners, days, seed, start, invalid_share))


class _Run:
    """One pass of a simulation: the random stream, the counters, the held-back records."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.rng = random.Random(f"skillstream-traffic:{sim.seed}")
        self.stats = SimulationStats(
            learners=sim.learners_count,
            days=sim.days,
            learners_by_persona=dict(Counter(str(one.persona) for one in sim.learners)),
        )
        sim.stats = self.stats
        self.pending: list[_Pending] = []
        self.attempts: dict[tuple[int, str], int] = {}
        self.certified: set[tuple[int, str]] = set()
        self.today: list[tuple[float, int, SimulatedRecord]] = []
        self.seq = 0
        self.origin = datetime(sim.start.year, sim.start.month, sim.start.day, tzinfo=UTC)
        self.need_void_before = True
        self.need_void_after = True
        self.invalid_chance = sim.invalid_share / (1.0 - sim.invalid_share)
        self.invalid_kinds = list(InvalidKind)

    def records(self) -> Iterator[SimulatedRecord]:
        for day in range(self.sim.days):
            self.today = []
            self._day(day)
            self.today.sort(key=lambda item: (item[0], item[1]))
            records = [record for _, _, record in self.today]
            held = [p for p in self.pending if p.day == day]
            self.pending = [p for p in self.pending if p.day != day]
            for item in held:
                records.insert(self.rng.randint(0, len(records)), SimulatedRecord(item.line))
            for record in records:
                self.stats.records += 1
                yield record
        for item in sorted(self.pending, key=lambda p: p.day):
            self.stats.records += 1
            yield SimulatedRecord(item.line)
        self.pending = []

    def _day(self, day: int) -> None:
        rng = self.rng
        when = self.origin + timedelta(days=day)
        weekend = when.weekday() >= 5
        for learner in self.sim.learners:
            persona = learner.persona
            if persona is Persona.STEADY:
                sessions = 1 if when.weekday() == learner.weekday else 0
            elif persona is Persona.DROPOUT and day >= learner.active_days:
                sessions = 0
            else:
                chance = _DAILY_CHANCE[persona] * (0.2 if weekend else 1.0)
                sessions = 1 if rng.random() < chance else 0
                if sessions and rng.random() < 0.15:
                    sessions = 2
            for _ in range(sessions):
                start = when + timedelta(
                    hours=rng.randint(7, 18), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
                )
                self._session(learner, day, start)
        if when.weekday() == 2:
            self._team_workshops(day, when)

    def _session(self, learner: SimulatedLearner, day: int, start: datetime) -> None:
        kind = _weighted(self.rng, _SESSION_MIX[learner.persona])
        if kind == "course":
            self._course(learner, day, start)
        elif kind == "assessment":
            self._assessment(learner, day, start)
        elif kind == "workshop":
            self._attend(learner, day, start, "workshops")
        elif kind == "conference":
            self._attend(learner, day, start, "events")
        elif kind == "mentoring":
            self._mentoring(learner, day, start)
        elif kind == "share":
            self._share(learner, day, start)
        else:
            self._video(learner, day, start)

    def _pick(self, kind: str, learner: SimulatedLearner) -> tuple[str, str]:
        """An activity of a kind on one of the learner's skills, and that skill."""
        acts = self.sim._activities
        skill = self._focus(learner)
        options = acts.by_kind_and_skill.get((kind, skill)) or acts.by_kind[kind]
        return self.rng.choice(options), skill

    def _focus(self, learner: SimulatedLearner) -> str:
        """One of the learner's skills, the first listed the most often."""
        skills = learner.skills
        return self.rng.choices(skills, _FOCUS_WEIGHTS[len(skills)])[0]

    def _course(self, learner: SimulatedLearner, day: int, start: datetime) -> None:
        rng = self.rng
        iri, skill = self._pick("courses", learner)
        if rng.random() < 0.1:
            iri = f"{LMS_HOME}/library/{skill}-reading-{rng.randint(1, 5)}"
        registration = self._uuid()
        t = start
        if rng.random() < 0.4:
            self._emit(
                learner,
                day,
                t,
                "launched",
                self._activity(iri, "courses"),
                cmi5=True,
                registration=registration,
            )
        t += timedelta(seconds=rng.randint(2, 20))
        if rng.random() < 0.6:
            self._emit(
                learner,
                day,
                t,
                "initialized",
                self._activity(iri, "courses"),
                cmi5=True,
                registration=registration,
            )
        if rng.random() < 0.3:
            t += timedelta(minutes=rng.randint(3, 15))
            self._emit(
                learner,
                day,
                t,
                "progressed",
                self._activity(iri, "courses"),
                registration=registration,
                result={
                    "extensions": {
                        "https://w3id.org/xapi/cmi5/result/extensions/progress": rng.randint(10, 90)
                    }
                },
            )
        minutes = rng.randint(15, 90)
        t += timedelta(minutes=minutes)
        if rng.random() < 0.65:
            self._emit(
                learner,
                day,
                t,
                "completed",
                self._activity(iri, "courses"),
                registration=registration,
                result={"completion": True, "duration": f"PT{minutes}M"},
                competency=skill if (rng.random() < 0.3 or "/library/" in iri) else None,
                skills_extension=[skill] if rng.random() < 0.15 else None,
                creditable=True,
            )
        if rng.random() < 0.4:
            self._emit(
                learner,
                day,
                t + timedelta(seconds=5),
                "terminated",
                self._activity(iri, "courses"),
                cmi5=True,
                registration=registration,
                result={"duration": f"PT{minutes}M{rng.randint(0, 59)}S"},
            )

    def _assessment(self, learner: SimulatedLearner, day: int, start: datetime) -> None:
        rng = self.rng
        iri, _ = self._pick("assessments", learner)
        skill = self.sim._activities.skills_of[iri][0]
        registration = self._uuid()
        if rng.random() < 0.5:
            self._emit(
                learner,
                day,
                start,
                "attempted",
                self._activity(iri, "assessments"),
                registration=registration,
            )
        scaled = self._ability(learner, skill)
        raw = round(scaled * 100)
        form = rng.random()
        score: dict[str, Any]
        if form < 0.5:
            score = {"scaled": raw / 100, "raw": raw, "min": 0, "max": 100}
        elif form < 0.8:
            score = {"raw": raw, "min": 0, "max": 100}
        else:
            score = {"scaled": raw / 100}
        passed = raw >= 60
        minutes = rng.randint(10, 45)
        verb = "passed" if passed else "failed"
        if rng.random() < 0.08:
            verb = "scored"
        self._emit(
            learner,
            day,
            start + timedelta(minutes=minutes),
            verb,
            self._activity(iri, "assessments"),
            registration=registration,
            result={
                "score": score,
                "success": passed,
                "completion": True,
                "duration": f"PT{minutes}M{rng.randint(0, 59)}S",
            },
            competency=skill if rng.random() < 0.5 else None,
            creditable=True,
        )
        if (
            passed
            and raw >= 80
            and learner.persona in (Persona.SPECIALIST, Persona.TREND_FOLLOWER)
            and rng.random() < 0.35
        ):
            certs = self.sim._activities.by_kind_and_skill.get(("certifications", skill))
            if certs and (learner.number, certs[0]) not in self.certified:
                self.certified.add((learner.number, certs[0]))
                verb = "http://id.tincanapi.com/verb/earned" if rng.random() < 0.5 else "completed"
                self._emit(
                    learner,
                    day,
                    start + timedelta(minutes=minutes + 1),
                    verb,
                    self._activity(certs[0], "certifications"),
                    creditable=True,
                )

    def _ability(self, learner: SimulatedLearner, skill: str) -> float:
        base, gain = _ABILITY[learner.persona]
        if skill not in learner.skills:
            gain /= 2
        key = (learner.number, skill)
        attempts = self.attempts.get(key, 0)
        self.attempts[key] = attempts + 1
        value = base + gain * attempts + self.rng.gauss(0.0, 0.05)
        return min(0.99, max(0.05, value))

    def _attend(self, learner: SimulatedLearner, day: int, start: datetime, kind: str) -> None:
        rng = self.rng
        iri, _ = self._pick(kind, learner)
        hours = rng.choice(("PT1H", "PT1H30M", "PT2H", "PT3H")) if kind == "workshops" else "PT8H"
        verb = "attended"
        if kind == "events" and rng.random() < 0.2:
            verb = "http://activitystrea.ms/schema/1.0/attend"
        extra = None
        if rng.random() < 0.4:
            extra = [*self.sim._activities.skills_of[iri], "knowledge-sharing"]
        self._emit(
            learner,
            day,
            start,
            verb,
            self._activity(iri, kind),
            result={"duration": hours},
            skills_extension=extra,
            creditable=True,
        )

    def _mentoring(self, learner: SimulatedLearner, day: int, start: datetime) -> None:
        others = self.sim.learners
        mentee = others[self.rng.randrange(len(others))]
        if mentee.number == learner.number:
            return
        self._emit(
            learner,
            day,
            start,
            "http://id.tincanapi.com/verb/mentored",
            mentee.actor(),
            competency="mentoring",
            result={"duration": "PT45M"},
            creditable=True,
        )

    def _share(self, learner: SimulatedLearner, day: int, start: datetime) -> None:
        skill = self.rng.choice(learner.skills)
        iri = f"{LMS_HOME}/library/{skill}-notes-{self.rng.randint(1, 20)}"
        activity = {
            "objectType": "Activity",
            "id": iri,
            "definition": {"type": _DOCUMENT_TYPE, "name": {"en-US": f"Notes on {skill}"}},
        }
        self._emit(
            learner,
            day,
            start,
            "shared",
            activity,
            skills_extension=[skill, "knowledge-sharing"],
            creditable=True,
        )

    def _video(self, learner: SimulatedLearner, day: int, start: datetime) -> None:
        skill = self.rng.choice(learner.skills)
        iri = f"{LMS_HOME}/videos/{skill}-intro"
        activity = {
            "objectType": "Activity",
            "id": iri,
            "definition": {"type": _VIDEO_TYPE, "name": {"en-US": f"{skill} in 10 minutes"}},
        }
        self._emit(learner, day, start, "https://w3id.org/xapi/video/verbs/played", activity)
        verb = "completed" if self.rng.random() < 0.6 else "experienced"
        self._emit(
            learner,
            day,
            start + timedelta(minutes=10),
            verb,
            activity,
            competency=skill if self.rng.random() < 0.3 else None,
            result={"completion": True, "duration": "PT10M"} if verb == "completed" else None,
        )

    def _team_workshops(self, day: int, when: datetime) -> None:
        rng = self.rng
        teams: dict[int, list[SimulatedLearner]] = {}
        for learner in self.sim.learners:
            if learner.persona is Persona.DROPOUT and day >= learner.active_days:
                continue
            teams.setdefault(learner.team, []).append(learner)
        for team in sorted(teams):
            members = teams[team]
            if len(members) < 2 or rng.random() >= 0.25:
                continue
            chosen = rng.sample(members, min(len(members), rng.randint(2, 5)))
            group = {
                "objectType": "Group",
                "name": f"Team {team + 1}",
                "member": [m.actor(use_sha1=rng.random() < 0.5) for m in chosen],
            }
            iri = rng.choice(
                (f"{LMS_HOME}/workshops/team-building", f"{LMS_HOME}/workshops/retro-facilitation")
            )
            start = when + timedelta(hours=rng.randint(9, 15), minutes=rng.choice((0, 30)))
            self.stats.group_statements += 1
            self._emit(
                chosen[0],
                day,
                start,
                "attended",
                self._activity(iri, "workshops"),
                actor=group,
                result={"duration": "PT2H"},
                creditable=True,
            )

    def _activity(self, iri: str, kind: str) -> dict[str, Any]:
        slug = iri.rsplit("/", 1)[-1].replace("-", " ")
        return {
            "objectType": "Activity",
            "id": iri,
            "definition": {"type": _TYPES[kind], "name": {"en-US": slug.capitalize()}},
        }

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _timestamp(self, learner: SimulatedLearner, t: datetime) -> str:
        ms = self.rng.randrange(1000)
        offset = learner.utc_offset_hours
        if offset == 0:
            return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"
        local = t + timedelta(hours=offset)
        sign = "+" if offset > 0 else "-"
        return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}{sign}{abs(offset):02d}:00"

    def _emit(
        self,
        learner: SimulatedLearner,
        day: int,
        t: datetime,
        verb: str,
        obj: dict[str, Any],
        *,
        actor: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        registration: str | None = None,
        competency: str | None = None,
        skills_extension: list[str] | None = None,
        cmi5: bool = False,
        creditable: bool = False,
    ) -> None:
        rng = self.rng
        verb_id = verb if ":" in verb else _ADL + verb
        statement: dict[str, Any] = {}
        with_id = not rng.random() < ID_LESS_SHARE
        if with_id:
            statement["id"] = self._uuid()
        statement["actor"] = actor or learner.actor(use_sha1=rng.random() < 0.5)
        statement["verb"] = {"id": verb_id, "display": {"en-US": verb_id.rsplit("/", 1)[-1]}}
        statement["object"] = obj
        if result:
            statement["result"] = result
        context: dict[str, Any] = {}
        if registration is not None:
            context["registration"] = registration
        if obj.get("objectType") == "Activity":
            context["platform"] = "Example LMS"
        context["language"] = "en-US"
        activities: dict[str, Any] = {}
        if cmi5 and rng.random() < 0.5:
            activities["category"] = [_CMI5_CATEGORY]
        if competency is not None:
            activities["other"] = [
                {
                    "objectType": "Activity",
                    "id": COMPETENCY_BASE + competency,
                    "definition": {"type": rng.choice(_COMPETENCY_TYPES)},
                }
            ]
        if activities:
            context["contextActivities"] = activities
        if skills_extension:
            context["extensions"] = {SKILLS_EXTENSION: skills_extension}
        statement["context"] = context
        statement["timestamp"] = self._timestamp(learner, t)
        version = rng.random()
        if version < 0.3:
            statement["version"] = "1.0.3"
        elif version < 0.5:
            statement["version"] = "2.0.0"
        line = orjson.dumps(statement)
        self.stats.verbs[verb_id] = self.stats.verbs.get(verb_id, 0) + 1
        if not with_id:
            self.stats.statements_without_id += 1
        epoch = t.timestamp()

        fate = rng.random()
        if with_id and creditable and (self.need_void_before or fate < VOID_SHARE / 2):
            self.need_void_before = False
            self.stats.voids_before_target += 1
            self._hold(day + rng.randint(1, 3), line)
            self._void(statement, t + timedelta(minutes=rng.randint(5, 120)), day, held=False)
        elif with_id and creditable and (self.need_void_after or fate < VOID_SHARE):
            self.need_void_after = False
            self.stats.voids_after_target += 1
            self._add(epoch, line)
            self._void(statement, t + timedelta(hours=rng.randint(2, 48)), day, held=True)
        elif with_id and fate < VOID_SHARE + DUPLICATE_SHARE:
            self.stats.duplicates += 1
            self._add(epoch, line)
            if rng.random() < 0.4:
                self._add(epoch, line)
            else:
                self._hold(day + rng.randint(1, 2), line)
        elif fate < VOID_SHARE + DUPLICATE_SHARE + LATE_SHARE:
            self.stats.late_arrivals += 1
            self._hold(day + rng.randint(1, 3), line)
        else:
            self._add(epoch, line)
        if rng.random() < self.invalid_chance:
            self._invalid(statement, epoch)

    def _add(self, epoch: float, line: bytes) -> None:
        self.seq += 1
        self.today.append((epoch, self.seq, SimulatedRecord(line)))
        self.stats.statements += 1

    def _hold(self, day: int, line: bytes) -> None:
        self.pending.append(_Pending(day, line))
        self.stats.statements += 1

    def _void(self, target: dict[str, Any], t: datetime, day: int, held: bool) -> None:
        void: dict[str, Any] = {
            "id": self._uuid(),
            "actor": target["actor"],
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target["id"]},
            "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        if "version" in target:
            void["version"] = target["version"]
        line = orjson.dumps(void)
        self.stats.verbs[VOIDED] = self.stats.verbs.get(VOIDED, 0) + 1
        if held:
            self._hold(day + self.rng.randint(1, 2), line)
        else:
            self._add(t.timestamp(), line)

    def _invalid(self, statement: dict[str, Any], epoch: float) -> None:
        rng = self.rng
        kind = rng.choice(self.invalid_kinds)
        bad: dict[str, Any] = orjson.loads(orjson.dumps(statement))
        bad["id"] = self._uuid()
        line: bytes | None = None
        if kind is InvalidKind.MALFORMED_JSON:
            whole = orjson.dumps(bad)
            line = whole[: rng.randint(10, len(whole) - 2)]
        elif kind is InvalidKind.WRONG_TYPE:
            variant = rng.randrange(3)
            if variant == 0:
                bad["verb"]["id"] = 42
            elif variant == 1:
                bad["timestamp"] = 1767600000
            else:
                bad["result"] = {"success": "yes", "completion": True}
        elif kind is InvalidKind.MISSING_ACTOR:
            del bad["actor"]
        elif kind is InvalidKind.BAD_MBOX:
            number = rng.randrange(self.sim.learners_count)
            bad["actor"] = {"objectType": "Agent", "mbox": f"learner{number:05d}@example.com"}
        elif kind is InvalidKind.BAD_SCORE:
            result = bad.setdefault("result", {})
            result["score"] = (
                {"scaled": 1.5} if rng.random() < 0.5 else {"raw": 120, "min": 0, "max": 100}
            )
        else:
            bad["learnerMood"] = "curious"
        self.stats.invalid[str(kind)] = self.stats.invalid.get(str(kind), 0) + 1
        self.seq += 1
        self.today.append((epoch, self.seq, SimulatedRecord(line or orjson.dumps(bad), kind)))


def main(argv: list[str] | None = None) -> None:
    """``python -m tools.simulate …`` from a checkout: the ``skillstream simulate`` command
    on its own (same options, messages and exit codes; ``--help`` lists them)."""
    import typer
    from typer.core import TyperGroup

    from skillstream.cli import publish_cmd, run

    commands = typer.Typer()
    publish_cmd.register(commands)
    command = typer.main.get_command(commands)
    assert isinstance(command, TyperGroup)
    run(
        command.commands["simulate"],
        sys.argv[1:] if argv is None else argv,
        prog_name="python -m tools.simulate",
    )


if __name__ == "__main__":
    main()
