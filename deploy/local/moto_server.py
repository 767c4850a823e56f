"""moto's server with DynamoDB requests serialised.

moto applies a TransactWriteItems (and a conditional write) as several unlocked steps and
deep-copies the tables it touches for rollback; concurrent requests in its threaded server
can interleave those steps (a condition checked against a stale item) or crash the copy
("dictionary changed size during iteration", HTTP 500). DynamoDB itself makes each request
atomic. One lock around every DynamoDB request restores that guarantee locally; other
services (S3) keep running concurrently. moto is CPU-bound under the GIL, so little
throughput is lost.

moto's TransactWriteItems also deep-copies a whole table for every item of the transaction
(its rollback), so a transaction costs (items x table size): a 50-item transaction on a table
of a few thousand items takes seconds. ``transact_write_items`` below keeps the semantics
(conditions are evaluated against the state before the transaction; all or nothing; one
operation per item) but snapshots only the items the transaction targets.

    python deploy/local/moto_server.py -H 127.0.0.1 -p 5005
"""

from __future__ import annotations

import argparse
import copy
import os
import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

_dynamodb_lock = threading.Lock()


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """DynamoDB's TransactWriteItems on moto's backend, with item-level rollback."""
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import get_filter_expression

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    targets: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        if op_type == "Put":
            table = self.get_table(table_name)
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        marker = (str(table_name), str(dict(sorted(key.items()))))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        targets.append((op_type, table_name, key, op))
    # Every condition against the state before the transaction (as DynamoDB evaluates them).
    errors: list[tuple[str | None, str | None, Any]] = []
    for _op_type, table_name, key, op in targets:
        condition = op.get("ConditionExpression")
        if condition is None:
            errors.append((None, None, None))
            continue
        current = self.get_item(table_name, key)
        check = get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        )
        if check.expr(current):
            errors.append((None, None, None))
        else:
            old = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    # Apply, remembering each target's previous version; undo them all if one fails.
    undo: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    try:
        for op_type, table_name, key, op in targets:
            if op_type == "ConditionCheck":
                continue
            current = self.get_item(table_name, key)
            undo.append((table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(
                    table_name, op["Item"], expression_attribute_names=names, expression_attribute_values=values
                )
            elif op_type == "Delete":
                self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
            else:
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table_name, key, previous in reversed(undo):
            if previous is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, previous)
        raise


def _patch_moto() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    setattr(DynamoDBBackend, "transact_write_items", _transact_write_items)  # noqa: B010


class SerialisedDynamoDB:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb_lock:
                # Materialise the body inside the lock: the work happens while it is produced.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5005)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    _patch_moto()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialisedDynamoDB(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
