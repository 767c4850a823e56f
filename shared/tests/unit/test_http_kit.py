"""The HTTP kit: problem+json for every kind of bad input, request ids, ops endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from algoitny_shared.errors import PROBLEM_JSON, AppError, ErrorCode
from algoitny_shared.http import create_app
from algoitny_shared.settings import ServiceSettings


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def _client(ready: bool = True) -> TestClient:
    async def check() -> None:
        if not ready:
            raise ConnectionError("db down")

    app = create_app(ServiceSettings(service_name="t", max_body_bytes=2048), title="t", readiness=[check])

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        if body.name == "taken":
            raise AppError(ErrorCode.ALREADY_EXISTS, "taken")
        if body.name == "boom":
            raise RuntimeError("bug")
        return {"name": body.name}

    return TestClient(app, raise_server_exceptions=False)


def _is_problem(resp, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    body = resp.json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


def test_malformed_json_is_400() -> None:
    resp = _client().post("/things", content=b'{"name": ', headers={"content-type": "application/json"})
    _is_problem(resp, 400, "MALFORMED_JSON")


def test_unknown_field_and_missing_field_are_422_with_locations() -> None:
    body = _is_problem(_client().post("/things", json={"name": "a", "extra": 1}), 422, "VALIDATION_FAILED")
    assert body["errors"][0]["loc"] == ["body", "extra"]
    _is_problem(_client().post("/things", json={}), 422, "VALIDATION_FAILED")


def test_oversized_body_is_413_by_header_and_by_stream() -> None:
    client = _client()
    _is_problem(
        client.post("/things", content=b"x" * 5000, headers={"content-type": "application/json"}),
        413,
        "PAYLOAD_TOO_LARGE",
    )

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 1000

    resp = client.post("/things", content=chunks(), headers={"content-type": "application/json"})
    _is_problem(resp, 413, "PAYLOAD_TOO_LARGE")


def test_app_errors_unknown_routes_and_bugs_are_problem_json() -> None:
    client = _client()
    _is_problem(client.post("/things", json={"name": "taken"}), 409, "ALREADY_EXISTS")
    _is_problem(client.get("/nope"), 404, "NOT_FOUND")
    _is_problem(client.delete("/things"), 405, "METHOD_NOT_ALLOWED")
    _is_problem(client.post("/things", json={"name": "boom"}), 500, "INTERNAL")


def test_request_id_is_propagated() -> None:
    resp = _client().post("/things", json={"name": "ok"}, headers={"x-request-id": "abc123"})
    assert resp.status_code == 200
    assert resp.headers["x-request-id"] == "abc123"


def test_ops_endpoints() -> None:
    assert _client().get("/healthz").json()["status"] == "ok"
    assert _client().get("/readyz").status_code == 200
    body = _is_problem(_client(ready=False).get("/readyz"), 503, "UPSTREAM_UNAVAILABLE")
    assert "db down" in body["checks"]["check"]
    client = _client()
    client.post("/things", json={"name": "ok"})
    metrics = client.get("/metrics")
    assert 'algoitny_http_requests_total{method="POST",route="/things",service="t",status="200"}' in metrics.text


def test_a_per_route_body_limit_can_raise_the_default() -> None:
    app = create_app(
        ServiceSettings(service_name="t", max_body_bytes=2048),
        title="t",
        body_limit=lambda method, path: 100_000 if path == "/upload" else 2048,
    )

    @app.post("/upload")
    async def upload(body: dict[str, str]) -> dict[str, int]:
        return {"size": len(body["data"])}

    @app.post("/other")
    async def other(body: dict[str, str]) -> dict[str, int]:
        return {"size": len(body["data"])}

    client = TestClient(app)
    big = {"data": "x" * 50_000}
    assert client.post("/upload", json=big).json() == {"size": 50_000}
    _is_problem(client.post("/other", json=big), 413, "PAYLOAD_TOO_LARGE")
    _is_problem(client.post("/upload", json={"data": "x" * 200_000}), 413, "PAYLOAD_TOO_LARGE")


def test_a_public_app_tells_only_the_operator_why_it_is_not_ready() -> None:
    """Issue 23 (gateway's public /readyz): failure texts name internal hosts and ports."""

    async def upstream() -> None:
        raise ConnectionError("http://10.1.2.3:8003 refused")

    def client(metrics_token: str | None) -> TestClient:
        settings = ServiceSettings(service_name="t")
        return TestClient(create_app(settings, title="t", readiness=[upstream], metrics_token=metrics_token))

    public = client("op-token")
    anonymous = _is_problem(public.get("/readyz"), 503, "UPSTREAM_UNAVAILABLE")
    assert anonymous["checks"] == {"upstream": "failing"} and "10.1.2.3" not in str(anonymous)
    operator = public.get("/readyz", headers={"authorization": "Bearer op-token"}).json()
    assert "10.1.2.3:8003" in operator["checks"]["upstream"]
    # An internal service (no operator token: never exposed) keeps the detail for its probes.
    internal = client(None).get("/readyz").json()
    assert "10.1.2.3:8003" in internal["checks"]["upstream"]
