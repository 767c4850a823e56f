"""deploy/local/moto_server.py serves with HTTP/1.1 keep-alive: many calls on one connection.

Werkzeug's development server (moto's own) closed the connection after every answer, so each
boto3 call opened a TCP connection and the server started a thread for it.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from support.moto_process import private_moto

pytestmark = pytest.mark.integration

HEADERS = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def test_one_connection_carries_many_requests_including_one_with_an_unread_body() -> None:
    with private_moto() as url:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
        try:
            local_ports = set()
            for body in ({}, {"Limit": 5}, {}):
                conn.request("POST", "/", body=json.dumps(body), headers=HEADERS)
                local_ports.add(conn.sock.getsockname()[1])
                resp = conn.getresponse()
                assert resp.status == 200 and "TableNames" in json.loads(resp.read())
                assert not resp.will_close, resp.getheaders()
            # A request whose body the application never reads (moto's index page) leaves nothing
            # behind on the connection for the next request to trip over.
            conn.request("POST", "/moto-api/", body=b"x" * 70_000, headers={"Content-Type": "text/plain"})
            conn.getresponse().read()
            conn.request("POST", "/", body="{}", headers=HEADERS)
            local_ports.add(conn.sock.getsockname()[1])
            resp = conn.getresponse()
            assert resp.status == 200 and "TableNames" in json.loads(resp.read())
            assert len(local_ports) == 1  # the same TCP connection throughout
        finally:
            conn.close()
