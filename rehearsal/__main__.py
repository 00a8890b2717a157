"""Entry point: `python -m zero_downtime.rehearsal` (the same as `zdd-rehearse`; see rehearsal/cli.py)."""

import sys

from .cli import main

sys.exit(main())
