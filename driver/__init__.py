"""Release driver: plan, analysis, controller, journal, stack operations and CLI."""
