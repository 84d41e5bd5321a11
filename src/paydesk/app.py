"""`create_app(settings)`: the FastAPI application. Building it does no I/O; the lifespan starts jobs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from paydesk import __version__
from paydesk.config import Settings
from paydesk.container import Container, build
from paydesk.core.clock import Clock
from paydesk.core.heap import HeapKeeper
from paydesk.core.logs import configure_logging
from paydesk.core.pubsub import RedisPubSub
from paydesk.fees import admin_pages as fees_admin_pages
from paydesk.fees import api as fees_api
from paydesk.fees import pages as fees_pages
from paydesk.fx import api as fx_api
from paydesk.helpcenter import api as help_api
from paydesk.helpcenter import pages as help_pages
from paydesk.identity import api as identity_api
from paydesk.identity import pages as identity_pages
from paydesk.identity import security_pages
from paydesk.notify import pages as notify_pages
from paydesk.support import api as support_api
from paydesk.support import pages as support_pages
from paydesk.support import ws as support_ws
from paydesk.support.events import Event
from paydesk.wallet import api as wallet_api
from paydesk.wallet import pages as wallet_pages
from paydesk.web import api, pages
from paydesk.web.errors import document_problems, install_error_handlers
from paydesk.web.headers import SecurityHeaders
from paydesk.web.unicode import RefuseLoneSurrogates


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, run_jobs: bool = True,
               keep_heap: bool = False) -> FastAPI:
    """`keep_heap`: a serving process's garbage-collector policy (core/heap.py); not for tests sharing a process."""
    configure_logging()
    settings = settings or Settings()
    container = build(settings, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def announce(events: list[Event]) -> None:  # the jobs' live events (a snooze ending), from their thread
            loop.call_soon_threadsafe(support_ws.announce, container, events)

        container.support.announce = announce
        if run_jobs:
            container.jobs.start()
        keeper: asyncio.Task[None] | None = None
        heap = HeapKeeper() if keep_heap else None
        if heap is not None:
            heap.settle()
            keeper = asyncio.create_task(heap.run())
        try:
            yield
        finally:
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            if heap is not None:
                heap.release()
            container.jobs.stop()
            container.support.announce = None
            await support_ws.drain_posts()
            await container.pubsub.close()
            container.close()

    app = FastAPI(
        title="Paydesk", version=__version__, lifespan=lifespan,
        openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None,
        description="A multi-currency wallet with the customer-support desk built in.",
    )
    app.state.container = container
    install_error_handlers(app)
    document_problems(app)
    _install_metrics(app, container)
    app.add_middleware(RefuseLoneSurrogates)
    app.add_middleware(SecurityHeaders)  # outermost: the 413/422 it answers carry the headers too
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "web" / "static")), name="static")
    app.include_router(api.router)
    app.include_router(identity_api.router)
    app.include_router(wallet_api.router)
    app.include_router(fees_api.router)
    app.include_router(fx_api.router)
    app.include_router(support_api.router)
    app.include_router(support_ws.router)
    app.include_router(support_pages.router)
    app.include_router(help_api.router)
    app.include_router(help_pages.router)
    app.include_router(pages.router)
    app.include_router(identity_pages.router)
    app.include_router(security_pages.router)
    app.include_router(wallet_pages.router)
    app.include_router(notify_pages.router)
    app.include_router(fees_pages.router)
    app.include_router(fees_admin_pages.router)
    return app


class _GroupCommitCollector(Collector):
    """Reads the group committer's own counts at scrape time."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def collect(self) -> Iterator[CounterMetricFamily]:
        committer = self._container.group_commit
        yield CounterMetricFamily("paydesk_ledger_group_commits", "Group-committed ledger batches",
                                  value=committer.batches)
        yield CounterMetricFamily("paydesk_ledger_group_committed_transfers", "Transfers posted by group commit",
                                  value=committer.transfers)
        sends = self._container.wallet.sends
        yield CounterMetricFamily("paydesk_wallet_send_batches", "Group-committed batches of payments",
                                  value=sends.batches)
        yield CounterMetricFamily("paydesk_wallet_sends", "Payments processed in batches", value=sends.items)


def _install_metrics(app: FastAPI, container: Container) -> None:
    registry = CollectorRegistry()
    requests = Counter("paydesk_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("paydesk_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry)
    registry.register(_GroupCommitCollector(container))

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        latency.labels(request.method, path).observe(time.perf_counter() - started)
        requests.labels(request.method, path, str(response.status_code)).inc()
        return response

    def database_answers() -> None:
        with container.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> JSONResponse:
        """Liveness and readiness: the database (and Redis, when configured) answer."""
        body: dict[str, str] = {"status": "ok", "database": container.db.dialect, "version": __version__,
                                "pubsub": "redis" if isinstance(container.pubsub, RedisPubSub) else "memory"}
        try:
            await run_in_threadpool(database_answers)
            if isinstance(container.pubsub, RedisPubSub):
                await container.pubsub.ping()
        except Exception as exc:  # reported, not raised: a health check answers either way
            body.update(status="unavailable", error=type(exc).__name__)
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def app_from_environment() -> FastAPI:
    """For `uvicorn --factory` with several workers: settings from the environment, jobs in every worker
    unless PAYDESK_RUN_JOBS=0 (the jobs are safe to run concurrently)."""
    return create_app(Settings(), run_jobs=os.environ.get("PAYDESK_RUN_JOBS", "1") != "0", keep_heap=True)
