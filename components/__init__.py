"""Reusable Pulumi components for zero-downtime releases on AWS and Kubernetes."""
