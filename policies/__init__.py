"""CrossGuard policy pack: zero-downtime and security guardrails, plus an offline runner.

Only `policies/__main__.py` builds the `PolicyPack` (constructing one starts a gRPC server and
blocks). Everything else here is importable by tests and by `policies.offline_check`.
"""
