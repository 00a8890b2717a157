"""The load balancer settings the components give an ALB by default, written once.

The components (`components/routing.py`, `components/shared_edge.py`) default a target group's
health check, deregistration delay and the ALB's idle timeout to these values, and the local
rehearsal's HAProxy takes the same thresholds and (time-scaled) intervals, so the rehearsal drains
and marks instances down the way the stack's load balancer would.
"""

from __future__ import annotations

DEFAULT_INTERVAL_SECONDS = 10
"""Seconds between target health checks (ALB's default)."""
DEFAULT_TIMEOUT_SECONDS = 5
"""Seconds before a health check fails."""
DEFAULT_HEALTHY_THRESHOLD = 2
"""Consecutive successes before a target is healthy (HAProxy's `rise`)."""
DEFAULT_UNHEALTHY_THRESHOLD = 2
"""Consecutive failures before a target is unhealthy (HAProxy's `fall`)."""
DEFAULT_DEREGISTRATION_DELAY_SECONDS = 30
"""Seconds a draining target keeps its in-flight requests (services and fleets)."""
DEFAULT_IDLE_TIMEOUT_SECONDS = 60
"""Seconds the load balancer keeps an idle connection open; the app's keep-alive must be longer."""
