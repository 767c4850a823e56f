"""What the API fuzzing (make fuzz) found, kept as regression tests:

* path parameters that no URL may carry once decoded (control characters, DEL, '%') reach the
  services percent-encoded: the caller gets the service's 4xx problem+json, never a 500;
* a user whose name is only white space can register (its empty name key broke a GSI: 500);
* a problem with a float tolerance is stored (floats were refused by the DynamoDB serializer: 500),
  and a tolerance below what DynamoDB numbers hold is a 422."""

from __future__ import annotations

import uuid

import httpx
import pytest

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e


def test_control_characters_and_percent_in_path_parameters_are_4xx(gateway: httpx.Client) -> None:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=f"odd{uuid.uuid4().hex[:8]}", role="user", plan="free", ttl_s=600)
    user = {"authorization": f"Bearer {token}"}
    for raw in ("%7F%0Dx", "%C3%86%60%0D%1C", "a%2541", "%00"):
        for path in (f"/api/v1/executions/{raw}", f"/api/v1/problems/{raw}/{raw}"):
            resp = gateway.get(path, headers=user)
            assert 400 <= resp.status_code < 500, (path, resp.status_code, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json"), (path, resp.headers)


def test_float_tolerance_is_stored_and_absurd_ones_are_422(
    gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    pid = f"ft{uuid.uuid4().hex[:8]}"
    body = {"platform": "fuzz", "problem_id": pid, "title": "Floats", "checker": "float", "float_tolerance": 1e-6}
    resp = gateway.post("/api/v1/problems", json=body, headers=admin_headers)
    assert resp.status_code == 201, resp.text
    got = gateway.get(f"/api/v1/problems/fuzz/{pid}", headers=admin_headers).json()
    assert got["float_tolerance"] == 1e-6
    tiny = {**body, "problem_id": f"{pid}x", "float_tolerance": 5e-324}
    resp = gateway.post("/api/v1/problems", json=tiny, headers=admin_headers)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")


def test_blank_name_registers(gateway: httpx.Client) -> None:
    email = f"blank{uuid.uuid4().hex[:8]}@fuzz-mail.dev"
    body = {"email": email, "password": "a long enough password 123", "name": "\r"}
    resp = gateway.post("/api/v1/auth/register", json=body, headers={"x-forwarded-for": "10.9.9.9"})
    assert resp.status_code == 201, resp.text
