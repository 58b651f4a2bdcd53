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
``attachment``, ``too_large``, ``too_many_statements``, ``body_timeout``,
``truncated``; for learner queries by ``agent``: ``agent`` (missing), ``form``,
``type``, ``group`` and the validator's actor codes.

At most :data:`MAX_PROBLEMS` problems are listed. When there are more, the
list ends with one more problem of code ``truncated`` (``index`` and ``path``
null) whose message says how many were left out, and the ``error`` line says
it too; the whole count still reaches the metrics (:attr:`Rejected.codes`).
So a refusal's body stays small whatever the request held.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

MAX_PROBLEMS: Final = 100
"""Problems listed in one refusal; the rest are counted (code ``truncated``)."""


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
    """The request is refused with ``status`` (400 unless said); ``problems`` say why.

    ``problems`` beyond :data:`MAX_PROBLEMS` are dropped and counted in ``omitted``
    (which may also be given: problems a caller counted without keeping them);
    ``codes`` counts the code of every problem, listed or not.
    """

    def __init__(
        self,
        error: str,
        problems: list[Problem],
        status: int = 400,
        received: int = 0,
        *,
        omitted: int = 0,
        codes: Counter[str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.codes: Counter[str] = codes if codes is not None else Counter(p.code for p in problems)
        self.problems = problems[:MAX_PROBLEMS]
        self.omitted = omitted + max(len(problems) - MAX_PROBLEMS, 0)
        self.status = status
        self.received = received
        """How many statements the request held (0 when it could not be read)."""

    def body(self) -> dict[str, Any]:
        listed = [p.as_json() for p in self.problems]
        error = self.error
        if self.omitted:
            total = len(self.problems) + self.omitted
            error += f" (the first {len(self.problems)} of {total} problems are listed)"
            listed.append(
                Problem(
                    None,
                    None,
                    f"{self.omitted} more problem(s) not listed: fix those above and send the "
                    "request again to see the rest",
                    "truncated",
                ).as_json()
            )
        return {"error": error, "problems": listed}


def request_problem(message: str, code: str, status: int = 400) -> Rejected:
    """A refusal for one problem of the request itself (no statement index, no path)."""
    return Rejected(message, [Problem(None, None, message, code)], status)
