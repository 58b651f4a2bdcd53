"""How the stages' consumers belong to their groups: how soon a crashed worker is replaced.

When a worker is killed (SIGKILL, OOM, a lost machine) its group keeps its partitions until
the broker stops hearing its heartbeats — the session timeout. Until then nobody processes
them; a restarted worker joins as a new member and waits for the old one to time out. The
stages use a short session (``SESSION_TIMEOUT_MS``, 6 s; aiokafka's default is 10 s and
faust's 60 s) with a heartbeat every 1.5 s, so a killed worker's partitions move on within
seconds (measured: 58 s from SIGKILL to caught up again before, about 6 s now — the worker
no longer waits for faust's own group either, see ``skillstream.worker.WorkerApp``).

The trade-off: a member that cannot send a heartbeat for 6 s is taken out of the group and
its partitions move; it rejoins at its next poll and re-reads what it had not committed, so
nothing is lost or doubled (every stage commits only what is durable and the core skips
what it applied). The hot stages' consumers (``streams.kafka.consumer.RdConsumer``) send
heartbeats from librdkafka's own thread, so a busy event loop does not stop them; the
aiokafka consumers elsewhere send them from the event loop, which a machine starved for
6 s can delay.

Static membership (``group.instance.id``) would hand partitions back faster still, but a
static member does not leave its group when stopped, so every graceful stop would hold its
partitions for a session and ``skillstream replay`` would see it as running.
"""

from __future__ import annotations

from typing import Final

SESSION_TIMEOUT_MS: Final = 6_000
HEARTBEAT_INTERVAL_MS: Final = 1_500
