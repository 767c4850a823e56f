"""moto's server with DynamoDB requests serialised.

moto applies a TransactWriteItems (and a conditional write) as several unlocked steps and
deep-copies the tables it touches for rollback; concurrent requests in its threaded server
can interleave those steps (a condition checked against a stale item) or crash the copy
("dictionary changed size during iteration", HTTP 500). DynamoDB itself makes each request
atomic. One lock around every DynamoDB request restores that guarantee locally; other
services (S3) keep running concurrently. moto is CPU-bound under the GIL, so little
throughput is lost.

moto also snapshots every table a TransactWriteItems touches (a deep copy of the whole
table) so it can roll back; a transaction therefore costs time proportional to the table's
size, and local figures degrade as tables grow. `install_item_level_rollback` replaces that
with a snapshot of just the items the transaction names, which is all a rollback needs.

moto answers every Query, on the table or on an index, from `Table.all_items()`: a list of
every item of the table, sorted, built anew for each request, then filtered. A Query of one
partition of a 100k-item table therefore costs a sort of 100k items. `install_keyed_query`
gives a table Query the items of its partition only (the items moto would keep after its
filter) and an index Query the items unsorted (moto sorts the candidates by the index's and
the table's keys afterwards, a total order, so the first sort changes nothing). Same results,
same order, same pages; it relies on the lock above (no request runs while another queries).

    python deploy/local/moto_server.py -H 127.0.0.1 -p 5005
"""

from __future__ import annotations

import argparse
import copy
import os
import threading
from collections.abc import Iterable
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

_dynamodb_lock = threading.Lock()


class SerialisedDynamoDB:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb_lock:
                # Materialise the body inside the lock: the work happens while it is produced.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)  # type: ignore[no-any-return]


_Snapshot = list[tuple[Table, DynamoType, DynamoType | None, Any]]


def _snapshot_items(backend: Any, transact_items: list[dict[str, Any]]) -> _Snapshot:
    """Deep copies of the items a transaction names (None where an item does not exist yet)."""
    snapshot: _Snapshot = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        attrs = op.get("Item") if "Item" in op else op.get("Key")
        if table is None or not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
            continue  # moto rejects it before changing anything
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in attrs:
                continue
            range_value = DynamoType(attrs[table.range_key_attr])
        snapshot.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    return snapshot


def _restore_items(snapshot: _Snapshot) -> None:
    # Reverse order: when a key appears twice, the first (pre-transaction) copy wins.
    for table, hash_value, range_value, item in reversed(snapshot):
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not copied."""

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install_item_level_rollback() -> None:
    backend_class = dynamodb_models.DynamoDBBackend
    if getattr(backend_class, "_algoitny_item_rollback", False):
        return
    original = backend_class.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshot = _snapshot_items(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            _restore_items(snapshot)
            raise

    dynamodb_models.copy = _TablesNotCopied()  # type: ignore[assignment]
    backend_class.transact_write_items = transact_write_items  # type: ignore[method-assign]
    backend_class._algoitny_item_rollback = True  # type: ignore[attr-defined]


def install_keyed_query() -> None:
    if getattr(Table, "_algoitny_keyed_query", False):
        return
    original = Table.query

    def unsorted_items(table: Table) -> list[Any]:
        if table.range_key_attr:
            return [item for bucket in table.items.values() for item in bucket.values()]
        return list(table.items.values())

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name:
            self.all_items = lambda: unsorted_items(self)  # type: ignore[method-assign]
        elif hash_key is not None:
            bucket = self.items.get(hash_key)  # .get: the table's defaultdict gains no key
            if bucket is None:
                partition: list[Any] = []
            else:
                partition = list(bucket.values()) if self.range_key_attr else [bucket]
            self.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            self.__dict__.pop("all_items", None)

    Table.query = query  # type: ignore[method-assign]
    Table._algoitny_unkeyed_query = original  # type: ignore[attr-defined]  # for the test comparing both
    Table._algoitny_keyed_query = True  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5005)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    install_item_level_rollback()
    install_keyed_query()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialisedDynamoDB(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
