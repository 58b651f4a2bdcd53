"""``make demo``: the whole pipeline end to end (being assembled)."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    print(
        "make demo: the broker is up, but the demo pipeline is not assembled yet: "
        "missing the worker, the SQL sink and the simulator wiring.",
        file=sys.stderr,
    )
    sys.exit(1)
