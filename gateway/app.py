"""The Flask application factory: all wiring happens here, nothing at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request

from gateway import fhir_api, ingest_api, ledger_api, mpi_api
from gateway.anchoring import TaskRequests
from gateway.http import install_error_handlers
from records.access import AccessPolicy, AllowAll
from records.settings import Settings
from records.storage import SQLStore, make_engine, upgrade_schema
from workers.app import make_celery
from workers.runtime import Runtime, runtime_from_settings
from workers.tasks import ANCHOR, INGEST

__all__ = ["Accord", "accord", "create_app"]

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass(slots=True)
class Accord:
    """The services one gateway process holds, shared by all requests."""

    settings: Settings
    store: SQLStore
    policy: AccessPolicy
    anchoring: TaskRequests
    ingesting: TaskRequests
    runtime: Runtime


def accord() -> Accord:
    ext: Accord = current_app.extensions["accord"]
    return ext


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a gateway. ``config`` overrides the environment (see :class:`Settings`)."""
    settings = Settings.from_mapping(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = make_engine(settings.database_url)
    if settings.auto_migrate:
        upgrade_schema(engine)
    store = SQLStore(engine)
    celery = make_celery(settings.redis_url)
    runtime = runtime_from_settings(settings, store)
    celery.accord_runtime = runtime
    anchoring = TaskRequests(celery, task=ANCHOR)
    ingesting = TaskRequests(celery, task=INGEST)
    app.extensions["accord"] = Accord(settings, store, AllowAll(), anchoring, ingesting, runtime)
    app.extensions["celery"] = celery
    app.register_blueprint(fhir_api.blueprint, url_prefix="/fhir")
    app.register_blueprint(ledger_api.blueprint, url_prefix="/ledger")
    app.register_blueprint(ingest_api.blueprint, url_prefix="/ingest")
    app.register_blueprint(mpi_api.blueprint, url_prefix="/mpi")
    install_error_handlers(app)

    @app.after_request
    def _anchor_writes(response: Response) -> Response:
        if request.method in WRITE_METHODS and response.status_code < 300:
            if request.path.startswith("/ingest/"):
                ingesting.after_write()  # converts, stores, then anchors
            else:
                anchoring.after_write()
        return response

    @app.get("/")
    def _home() -> dict[str, str]:
        return {
            "name": "Accord",
            "fhir": "/fhir",
            "metadata": "/fhir/metadata",
            "ledger": "/ledger/checkpoint",
        }

    return app
