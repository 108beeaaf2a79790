"""The REST API's docs page (/api/docs) with Swagger UI served from an installed package.

FastAPI's own docs page loads Swagger UI from a CDN, so on a machine without internet (common for
self-hosted studios, and for every CI run here) the page stays blank. swagger-ui-py ships the same
Swagger UI files (5.x, which reads FastAPI's OpenAPI 3.1); we serve them beside the docs route.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_FILES = Path(swagger_ui.__file__).parent / "static"
ASSETS = "/docs-assets"


def add_offline_docs(app: FastAPI, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at docs_url (build the app with docs_url=None) with no request off this host."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_FILES), name="swagger-assets")

    @app.get(docs_url, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        # root_path is where the app is mounted (/api on the Gradio app), so links work behind it.
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
        )
