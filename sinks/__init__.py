"""Sinks: where career milestones and profile snapshots leave Kafka.

Each sink is one module behind one interface (``sinks.base.Sink``); the
runner (``sinks.runner``) is the only code that touches Kafka offsets:

    sinks/base.py        the interface and the records a sink is handed
    sinks/runner.py      consume in batches, write, dead-letter, commit (in that order)
    sinks/deadletters.py the two kinds of record on the milestones dead-letter topic
    sinks/sql.py         SQLite / PostgreSQL: milestones, learner_profiles, erasures
    sinks/tables.py      the SQL tables (created by the Alembic migrations in sinks/migrations)
    sinks/webhook.py     signed CloudEvents POSTed to subscribers
    sinks/signing.py     the webhook signature, for skillstream and for receivers
    sinks/retry.py       backoff with full jitter, Retry-After
    sinks/database.py    engines, schema migrations (sinks/migrations), database errors

docs/sinks.md is the operator's and the receiver's guide.
"""
