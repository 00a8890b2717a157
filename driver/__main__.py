"""`python -m zero_downtime.driver ...` runs the release CLI (the same as `zdd-release`)."""

import sys

from .cli import main

sys.exit(main())
