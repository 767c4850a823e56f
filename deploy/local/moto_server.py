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
gives a table Query the items of its partition only, and of those only what moto would keep
for the page: after the exclusive start key, within the range-key condition, and (with a Limit)
the Limit + 1 first in the query's order, found without sorting the partition (paging through a
50k-item partition sorted it once per page). An index Query gets the items unsorted (moto sorts
the candidates by the index's and the table's keys afterwards, a total order, so the first sort
changes nothing). Same results, order and pages; it relies on the lock above (no request runs
while another queries).

Every UpdateItem (one per counter or state update in a transaction) deep-copies its parsed
update expression before validating it; copy.deepcopy of that tree took about 40 % of the time
of the importers' transactions. `install_cheap_expression_copy` makes the same copy by pickling
(about 3x faster); also under the lock.

moto turns every answer into JSON by walking botocore's model of the operation, and does so
for every attribute of every item too (a shape lookup, alias checks and a copy per value): in
the medium migration's verify, that was over half of the server's time.
`install_plain_item_serializer` hands an item map over as it is when every value in it is
already in the wire form (strings, numbers, booleans, null, sets of strings or numbers, lists
and maps of those); binary values still take moto's own path. The JSON is the same.

Two costs of moto's server that tell nothing: every request's access-log line (a fifth of
the server's CPU in an import, and a lock every request thread contends for) is written only
for 5xx answers (`QuietRequestHandler`; DynamoDB refusals are 400s, routine here), and the
list of moto's service modules, read from the disk for every request, is read once.

    python deploy/local/moto_server.py -H 127.0.0.1 -p 5005
"""

from __future__ import annotations

import argparse
import copy
import heapq
import operator
import os
import pickle
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


_QUERY_ARGS = (
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
)


def _page_candidates(table: Table, hash_key: Any, items: list[Any], query: dict[str, Any]) -> list[Any]:
    """The items of one partition moto's table Query can return, narrowed as moto would: after
    the exclusive start key, within the key condition on the range key, and, given a Limit, the
    Limit + 1 first in the query's order (one more than a page tells moto there is a next page).
    moto then applies its own checks (each a no-op on these) and sorts them."""
    known = {"hash_key_conditions", "range_key_conditions", *_QUERY_ARGS}
    conditions = query.get("range_key_conditions") or []
    if not table.range_key_attr or set(query) - known or len(conditions) > 1:
        return items  # no range key, the legacy KeyConditions API, multi-attribute keys: as moto does
    forward = query.get("scan_index_forward") is not False
    comparison = query.get("range_comparison")
    if comparison:
        objs = query.get("range_objs") or []
        items = [i for i in items if i.range_key.compare(comparison, objs)]
    # DynamoType compares by cast_value (str, Decimal, ...): computed once per item here, not
    # once per comparison, so the comparisons below are the same ones, made in C.
    pairs = [(i.range_key.cast_value, i) for i in items]
    start = query.get("exclusive_start_key")
    if start:
        if table.range_key_attr not in start or DynamoType(start.get(table.hash_key_attr)) != hash_key:
            return items
        after = DynamoType(start[table.range_key_attr]).cast_value
        pairs = [p for p in pairs if (p[0] > after if forward else p[0] < after)]
    limit = query.get("limit")
    if limit:
        pick = heapq.nsmallest if forward else heapq.nlargest
        pairs = pick(int(limit) + 1, pairs, key=operator.itemgetter(0))
    return [i for _, i in pairs]


def install_keyed_query() -> None:
    if getattr(Table, "_algoitny_keyed_query", False):
        return
    original = Table.query

    def unsorted_items(table: Table) -> list[Any]:
        if table.range_key_attr:
            return [item for bucket in table.items.values() for item in bucket.values()]
        return list(table.items.values())

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        bound = {**dict(zip(_QUERY_ARGS, args, strict=False)), **kwargs}
        if bound.get("index_name"):
            self.all_items = lambda: unsorted_items(self)  # type: ignore[method-assign]
        elif hash_key is not None:
            bucket = self.items.get(hash_key)  # .get: the table's defaultdict gains no key
            if bucket is None:
                partition: list[Any] = []
            elif self.range_key_attr:
                partition = _page_candidates(self, hash_key, list(bucket.values()), bound)
            else:
                partition = [bucket]
            self.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            self.__dict__.pop("all_items", None)

    Table.query = query  # type: ignore[method-assign]
    Table._algoitny_unkeyed_query = original  # type: ignore[attr-defined]  # for the test comparing both
    Table._algoitny_keyed_query = True  # type: ignore[attr-defined]


def _tree_copy(tree: Any) -> Any:
    """A deep copy of a parsed expression by pickling: the same objects as copy.deepcopy makes
    (state copied, shared references kept), about 3x faster on these trees."""
    try:
        return pickle.loads(pickle.dumps(tree, pickle.HIGHEST_PROTOCOL))  # our own bytes
    except Exception:
        return copy.deepcopy(tree)


def install_cheap_expression_copy() -> None:
    from moto.dynamodb.parsing import validators

    if getattr(validators.Validator, "_algoitny_cheap_copy", False):
        return
    original = validators.Validator.__init__

    def __init__(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        validators.deepcopy = _tree_copy  # type: ignore[attr-defined]  # the one copy __init__ makes
        try:
            original(self, expression, *args, **kwargs)
        finally:
            validators.deepcopy = copy.deepcopy  # type: ignore[attr-defined]

    validators.Validator.__init__ = __init__  # type: ignore[method-assign]
    validators.Validator._algoitny_cheap_copy = True  # type: ignore[attr-defined]


_SCALARS = frozenset(("S", "N"))
_FLAGS = frozenset(("BOOL", "NULL"))
_SETS = frozenset(("SS", "NS"))


def _wire_ready(value: Any) -> bool:
    """An AttributeValue that moto's serializer would copy unchanged (no binary inside)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _SCALARS:
        return isinstance(inner, str)
    if kind in _FLAGS:
        return isinstance(inner, bool)
    if kind in _SETS:
        return isinstance(inner, list) and all(isinstance(x, str) for x in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(isinstance(k, str) and _wire_ready(v) for k, v in inner.items())
    if kind == "L":
        return isinstance(inner, list) and all(_wire_ready(v) for v in inner)
    return False


def install_plain_item_serializer() -> None:
    """Item maps (map shapes of ``AttributeValue``) whose values are all wire-ready go out as
    they are; anything else (binary, a shape moto would transform) takes moto's own path."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_map
    if getattr(original, "_algoitny_plain_items", False):
        return

    def _serialize_type_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            getattr(shape.value, "name", None) == "AttributeValue"
            and isinstance(value, dict)
            and all(_wire_ready(v) for v in value.values())
        ):
            self._default_serialize(serialized, value, shape, key)
            return
        original(self, serialized, value, shape, key)

    _serialize_type_map._algoitny_plain_items = True  # type: ignore[attr-defined]
    _serialize_type_map._algoitny_original = original  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_map = _serialize_type_map  # type: ignore[method-assign]


class QuietRequestHandler(MotoRequestHandler):
    """Logs a request only when the server failed it (5xx)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(getattr(code, "value", code)).startswith("5"):
            super().log_request(code, size)


def install_module_list_cache() -> None:
    """moto's dispatcher lists its service packages (a directory listing and a stat each) for
    every request; the list never changes while the server runs."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5005)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    install_item_level_rollback()
    install_keyed_query()
    install_cheap_expression_copy()
    install_module_list_cache()
    install_plain_item_serializer()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialisedDynamoDB(app), threaded=True, request_handler=QuietRequestHandler)


if __name__ == "__main__":
    main()
