"""skillstream's HTTP front door: the xAPI Statement API into Kafka, and learner queries.

LMS platforms that speak xAPI over HTTP rather than Kafka POST or PUT
statements here; each accepted statement is produced to ``xapi.statements``
and acknowledged by every in-sync replica before the LMS gets its answer, so
the worker sees HTTP statements exactly as it sees those published to Kafka.
Profiles and milestones are read back from the SQL sink's database.

Modules, one job each: ``statements`` (the Statement API's rules, pure),
``multipart`` (attachment parts), ``signatures`` (signed statements),
``publisher`` (Kafka), ``queries`` (the SQL sink's tables), ``auth`` (Basic),
``access`` (log line, metrics, version header), ``problems`` (error bodies),
and ``app`` (the FastAPI wiring). ``skillstream serve`` runs it; the guide is
``docs/frontdoor.md``.
"""

from skillstream.frontdoor.app import create_app

__all__ = ["create_app"]
