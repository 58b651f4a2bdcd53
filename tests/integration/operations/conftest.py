"""Operator-command tests against the real broker: the pipeline helpers are shared.

``tests/integration`` (``pipeline_support``) and this folder (``ops_support``)
are put on the import path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
