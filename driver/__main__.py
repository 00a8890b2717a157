"""`python -m driver ...` runs the release CLI."""

import sys

from driver.cli import main

sys.exit(main())
