"""The logic behind the operator commands ``replay``, ``dlq``, ``status`` and ``forget``.

The CLI modules (``skillstream/cli/*_cmd.py``) only parse options, call in
here and render what comes back; everything that talks to Kafka or the
database, and every decision an operator relies on, lives in this package so
it can be tested without a terminal.

| module | job |
| --- | --- |
| ``cluster`` | one connection to Kafka for an operation: partitions, offsets, consumer groups, committing a stopped group's offsets, recreating a topic |
| ``groups`` | which consumer groups the workers and sinks use, and refusing while workers run |
| ``when`` | reading ``--from`` values (``earliest``, ISO 8601, ``2h``) |
| ``replay`` | rewinding the ingest group, rebuilding profile state, following a replay |
| ``local_state`` | finding and deleting a worker's local profile state safely |
| ``dlq`` | reading, summarising and re-publishing dead letters, with a ledger of what was re-published |
| ``status`` | positions, lag and rates per group and partition, with the previous reading kept on disk |
| ``forget`` | erasing a learner: the ERASE control record, ``learner.erased``, the SQL rows |
| ``display`` | the tables and texts the commands print |

Errors are ``skillstream.errors`` exceptions: ``UsageError`` (exit 2) for a
misuse, ``ServiceUnavailable`` (exit 3) when Kafka or the database cannot be
reached; each message names what failed and what to do.
"""
