"""What the front door answers when it refuses a request: every problem, in one body.

An LMS developer must be able to fix a whole batch in one round, so a 400
lists every problem found, not the first. The body is always::

    {"error": "<one line>", "problems": [{"index": 0, "path": "$.actor",
                                         "message": "...", "code": "..."}]}

``index`` is the statement's position in the batch (0 for a single
statement) and ``path`` a JSON path inside it; both are null for a problem of
the request itself (a header, the multipart framing). ``code`` is stable and
short (the validator's problem codes plus the request-level ones below), so
clients can branch on it.

Request-level codes: ``version_header``, ``content_type``, ``json``,
``multipart``, ``statement_id``, ``duplicate_id``, ``signature``,
``attachment``, ``too_large``; for learner queries by ``agent``: ``agent`` (missing),
``form``, ``type``, ``group`` and the validator's actor codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a request or of the statement at ``index``."""

    index: int | None
    path: str | None
    message: str
    code: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "path": self.path, "message": self.message, "code": self.code}


class Rejected(Exception):
    """The request is refused with ``status`` (400 unless said); ``problems`` say why."""

    def __init__(
        self, error: str, problems: list[Problem], status: int = 400, received: int = 0
    ) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems
        self.status = status
        self.received = received
        """How many statements the request held (0 when it could not be read)."""

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "problems": [p.as_json() for p in self.problems]}


def request_problem(message: str, code: str, status: int = 400) -> Rejected:
    """A refusal for one problem of the request itself (no statement index, no path)."""
    return Rejected(message, [Problem(None, None, message, code)], status)
