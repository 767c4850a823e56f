"""The gateway serves the built web app at / (client routes get index.html) and keeps its API paths."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from algoitny_gateway.entrypoints.http import make_app
from algoitny_gateway.settings import GatewaySettings

INDEX = '<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc.js"></script>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc.js").write_text("console.log('app')")
    (tmp_path / "assets" / "index-abc.js.gz").write_bytes(gzip.compress(b"console.log('app')"))
    (tmp_path / "swagger-ui").mkdir()
    (tmp_path / "swagger-ui" / "swagger-ui-bundle.js").write_text("/* swagger */")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


def client(dist: Path) -> TestClient:
    return TestClient(make_app(GatewaySettings(web_dist_dir=dist)))  # no lifespan: nothing connects


def test_index_client_routes_and_hashed_assets(dist: Path) -> None:
    c = client(dist)
    for path in ("/", "/problems/codeforces/1A", "/history", "/admin/users"):
        resp = c.get(path)
        assert resp.status_code == 200 and resp.text == INDEX and resp.headers["cache-control"] == "no-cache"
    asset = c.get("/assets/index-abc.js")
    assert asset.text == "console.log('app')" and asset.headers["content-encoding"] == "gzip"
    assert "immutable" in asset.headers["cache-control"] and asset.headers["vary"] == "accept-encoding"
    plain = c.get("/assets/index-abc.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == "console.log('app')"
    # files outside the build and the gzip copies themselves are never sent as files
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/index-abc.js.gz"):
        assert c.get(path).text == INDEX


def test_api_paths_stay_the_apis(dist: Path) -> None:
    c = client(dist)
    missing = c.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    wrong_method = c.get("/api/v1/runs")  # POST only
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
    for path in ("/healthz/x", "/openapi.json/x", "/docs/x", "/api"):
        assert c.get(path).status_code == 404
    assert c.get("/healthz").json()["status"] == "ok"


def test_docs_load_swagger_ui_from_the_platform(dist: Path) -> None:
    c = client(dist)
    html = c.get("/docs").text
    assert "/swagger-ui/swagger-ui-bundle.js" in html and "/swagger-ui/swagger-ui.css" in html
    assert "cdn" not in html.lower() and "https://" not in html.split("<body>")[1]
    assert c.get("/swagger-ui/swagger-ui-bundle.js").text == "/* swagger */"


def test_unbuilt_app_says_how_to_build_it(tmp_path: Path) -> None:
    resp = client(tmp_path / "nothing").get("/")
    assert resp.status_code == 503 and "make run" in resp.text
