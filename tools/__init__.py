"""Tooling that comes with the source tree, not with the ``skillstream`` package.

The LMS traffic simulator (``tools.simulate``), the benchmark (``tools.bench``,
``make bench``), the demo and its HTML report (``tools.demo``, ``tools.report``,
``make demo``), bad records for the fault tests (``tools.faults``), the choice of
broker for tests, demo and benchmark (``tools.broker``) and the child processes
they start (``tools.processes``).

None of it is shipped: ``pip install`` and the Docker image carry ``skillstream``,
``schemas``, ``streams`` and ``sinks`` only, and ``make lint`` (import-linter)
checks that those never import ``tools``. From a checkout, run a tool from the
repository root: ``.venv/bin/python -m tools.demo --help``.
"""
