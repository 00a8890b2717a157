"""The starlette application: business endpoint, health endpoints, flags, version header."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import TextIO

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .downstream import Downstream, DownstreamResult
from .flag_metrics import FlagVariantMetrics
from .flag_providers import open_flags
from .lifecycle import Lifecycle
from .metrics import METRICS_PATH, EmfWriter, Identity, MetricsMiddleware, RequestMetrics, metrics_endpoint
from .people import people_routes, store_from
from .settings import Settings

VERSION_HEADER = "x-app-version"
INSTANCE_HEADER = "x-app-instance"
# On a 500 the app made on purpose: "injected" (the version's fault) or "noise" (background errors),
# so the rehearsal can tell failures beyond the background from the background itself.
FAULT_HEADER = "x-app-fault"
PROBE_PATHS = frozenset({"/ready", "/live"})
BREAKER_HEADER = "x-app-breaker"  # on /work with a downstream: closed, open or half-open
FLAGS_HEADER = "x-app-flags"  # on /work: `flag=on,other=off`, what this request got (also on its faults)


class VersionHeader:
    """Adds the version and instance headers to every response, and counts ordinary requests."""

    def __init__(self, app: ASGIApp, settings: Settings, lifecycle: Lifecycle) -> None:
        self.app = app
        self.headers = [
            (VERSION_HEADER.encode(), settings.version.encode()),
            (INSTANCE_HEADER.encode(), settings.instance.encode()),
        ]
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in PROBE_PATHS and scope["path"] != METRICS_PATH:  # a metrics poll is no user
            self.lifecycle.request_seen()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    settings: Settings,
    lifecycle: Lifecycle | None = None,
    rng: random.Random | None = None,
    metrics_out: TextIO | None = None,
) -> Starlette:
    """Build the app. `lifecycle` is shared with the server that handles SIGTERM. With
    `settings.emf_metrics`, one EMF line per second goes to `metrics_out` (default stdout)."""
    life = lifecycle or Lifecycle(
        lb_fall=settings.lb_fall,
        lb_interval_seconds=settings.lb_interval_seconds,
        quiet_seconds=settings.drain_quiet_seconds,
        timeout_seconds=settings.drain_timeout_seconds,
    )
    downstream = Downstream(settings.downstream_url, settings.breaker_fail_max, settings.breaker_reset_seconds)
    chance = rng or random.Random()
    flag_client = open_flags(settings.flags, settings.flags_file, settings.flags_agent_url)

    def dependency_checks() -> dict[str, bool]:
        checks = {
            "warm": time.monotonic() - life.started_at >= settings.warmup_seconds,
            "flags_loaded": settings.flags is not None,
        }
        if settings.downstream_required:
            checks["downstream_breaker_closed"] = downstream.state != "open"
        return checks

    async def ready(_: Request) -> Response:
        checks = dependency_checks()
        if life.draining:
            life.probe_failed()
            return JSONResponse({"status": "draining", "checks": checks}, status_code=503)
        if not all(checks.values()):
            return JSONResponse({"status": "not-ready", "checks": checks}, status_code=503)
        return JSONResponse({"status": "ready", "checks": checks})

    async def live(_: Request) -> Response:
        # Liveness never looks at dependencies: a restart would not fix them.
        return JSONResponse({"status": "alive"})

    async def version(_: Request) -> Response:
        return JSONResponse({"version": settings.version, "instance": settings.instance})

    async def work(request: Request) -> Response:
        user = request.query_params.get("user", "anonymous")
        # Per request, through OpenFeature: the user id is the targeting key, `segment` an attribute.
        segment = request.query_params.get("segment")
        flags = flag_client.evaluate_all(user, {"segment": segment} if segment else None)
        started = time.perf_counter()
        response = await serve_work(user, flags)
        if variants is not None:
            variants.record(flags, response.status_code, (time.perf_counter() - started) * 1000)
        return response

    async def serve_work(user: str, flags: dict[str, bool]) -> Response:
        flag_header = {FLAGS_HEADER: ",".join(f"{k}={'on' if v else 'off'}" for k, v in flags.items())} if flags else {}
        flagged_fault = any(flags.get(k) and chance.random() < rate for k, rate in settings.flag_faults.items())
        if flagged_fault:
            return JSONResponse(
                {"error": "flagged path fault"}, status_code=500, headers={FAULT_HEADER: "injected", **flag_header}
            )
        delay_ms = settings.added_latency_ms
        if settings.noise_jitter_ms:
            delay_ms += chance.uniform(0, settings.noise_jitter_ms)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if settings.error_rate and chance.random() < settings.error_rate:
            return JSONResponse({"error": "injected fault"}, status_code=500, headers={FAULT_HEADER: "injected"})
        if settings.noise_error_rate and chance.random() < settings.noise_error_rate:
            return JSONResponse({"error": "background noise"}, status_code=500, headers={FAULT_HEADER: "noise"})
        # The breaker is synchronous (pybreaker): only a configured call goes to a worker thread.
        result = await run_in_threadpool(downstream.call) if downstream.url else DownstreamResult("none")
        # The breaker's state after the call, for the rehearsal's chaos report (only with a downstream).
        headers = {**flag_header, **({BREAKER_HEADER: downstream.state} if downstream.url else {})}
        return JSONResponse(
            {"version": settings.version, "user": user, "flags": flags, "downstream": result.source}, headers=headers
        )

    async def flag(request: Request) -> Response:
        name = request.path_params["name"]
        user = request.query_params.get("user", "anonymous")
        if not flag_client.known(name):
            return JSONResponse({"error": f"unknown flag {name!r}"}, status_code=404)
        segment = request.query_params.get("segment")
        details = flag_client.details(name, user, {"segment": segment} if segment else None)
        return JSONResponse(
            {"flag": name, "user": user, "enabled": details.value, "variant": details.variant, "reason": details.reason}
        )

    people = store_from(settings.database_url, settings.schema_version)  # None without APP_DATABASE_URL
    metrics = RequestMetrics()
    who = Identity(settings.emf_namespace, settings.service, settings.color, settings.version)
    emf = EmfWriter(metrics, who, metrics_out) if settings.emf_metrics else None
    # Requests by flag variant, as EMF for the driver's flag releases (app/flag_metrics.py).
    variants = (
        FlagVariantMetrics(settings.flag_set, metrics_out) if settings.emf_metrics and settings.flag_set else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if emf is not None:
            emf.start()
        if variants is not None:
            variants.start()
        if people is not None:  # connections open before the first request, not during it
            await run_in_threadpool(people.warm)
        yield
        if emf is not None:
            await emf.stop()
        if variants is not None:
            await variants.stop()
        downstream.close()
        if people is not None:
            people.close()

    app = Starlette(
        routes=[
            Route("/ready", ready),
            Route("/live", live),
            Route("/version", version),
            Route("/work", work),
            Route("/flags/{name}", flag),
            *people_routes(people),
            Route(METRICS_PATH, metrics_endpoint(metrics, who)),
        ],
        middleware=[
            Middleware(VersionHeader, settings=settings, lifecycle=life),
            Middleware(MetricsMiddleware, metrics=metrics, skip=PROBE_PATHS),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.lifecycle = life
    app.state.downstream = downstream
    return app
