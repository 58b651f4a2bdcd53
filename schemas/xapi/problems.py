"""The two result types of statement validation (the rule set and the problem), and the
limits both validators share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

MAX_NESTING: Final = 48
"""How deep a statement may nest, counting objects and arrays from the statement itself.

The one limit everywhere: the validator refuses a deeper statement (code ``too_deep``), so
nothing downstream — id derivation, the front door's re-serialisation, the normalizer —
ever meets one. The xAPI structure itself nests at most 9 levels; the rest is for
extension values. JSON parsers and writers have limits of their own (orjson: 1024 to
read, 254 to write) well above it."""


STATEMENT_KEYS: Final = frozenset(
    {
        "id",
        "actor",
        "verb",
        "object",
        "result",
        "context",
        "timestamp",
        "stored",
        "authority",
        "version",
        "attachments",
    }
)

# The property sets and constants both validators check against: the every-error one
# (validator.py) and the fast path (fast.py) must never disagree on them.
VOIDED_VERB: Final = "http://adlnet.gov/expapi/verbs/voided"
VERSIONS_1_0: Final = frozenset({"1.0", "1.0.0", "1.0.1", "1.0.2", "1.0.3"})
VERSIONS_2_0: Final = frozenset({"2.0", "2.0.0"})
AGENT_KEYS: Final = frozenset({"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"})
ACCOUNT_KEYS: Final = frozenset({"homePage", "name"})
VERB_KEYS: Final = frozenset({"id", "display"})
ACTIVITY_KEYS: Final = frozenset({"objectType", "id", "definition"})
RESULT_KEYS: Final = frozenset(
    {"score", "success", "completion", "response", "duration", "extensions"}
)
SCORE_KEYS: Final = frozenset({"scaled", "raw", "min", "max"})
CONTEXT_ACTIVITY_KEYS: Final = frozenset({"parent", "grouping", "category", "other"})
"""The properties a statement may have (both rule sets)."""


class XapiVersion(StrEnum):
    """The rule set a statement is validated with (not the patch level it declares)."""

    V1_0_3 = "1.0.3"
    V2_0 = "2.0"


@dataclass(frozen=True, slots=True)
class StatementProblem:
    """One thing wrong with a statement, worded for the LMS developer who must fix it.

    ``path`` is a JSON path into the statement (``$`` is the whole record,
    ``$.actor.member[0].mbox`` a nested property, ``$.verb.display["en US"]``
    a key that is not a plain name). ``code`` is a short stable kind used to
    group dead letters; ``message`` says what is wrong and what is expected.
    """

    path: str
    message: str
    code: str
