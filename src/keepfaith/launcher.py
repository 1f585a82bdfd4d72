"""The ``keepfaith`` console script.

Importing FastAPI, SQLAlchemy, pydantic and keepfaith's own models allocates hundreds of
thousands of long-lived objects, and the cyclic garbage collector keeps scanning them while it
happens: a fifth of start-up time, for nothing to collect. So collection is paused for the
imports (and, in `serve`, for building the app; see `cli.run_server`) and those objects are
then frozen out of future collections.
"""

from __future__ import annotations

import gc


def run() -> None:
    gc.disable()
    try:
        from keepfaith.cli import main
    finally:
        gc.enable()
    main()
