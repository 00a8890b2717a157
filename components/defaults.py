"""Defaults that more than one component uses, each written once."""

DEFAULT_CONTAINER_PORT = 8080
"""Port the application container listens on (BlueGreenService tasks, RollingDeployment pods)."""
DEFAULT_HEALTH_CHECK_PATH = "/health"
"""Readiness path: ALB target group health checks, Kubernetes probes and Flagger's acceptance test."""
