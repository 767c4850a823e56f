"""Each service declares its own tables (algoitny_<service>/adapters/tables.py) and publishes them
through the ``algoitny.tables`` entry point; the tools that need every table (provisioning, backup,
the capacity recorder, the infrastructure code) collect them there, and shared declares none."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import algoitny_shared
from algoitny_shared import tables as shared_tables
from algoitny_shared.tables import TableSpec, all_tables, tables_of

REPO = Path(__file__).resolve().parents[2]


def service_table_modules() -> dict[str, Any]:
    """owner -> the module algoitny_<service>.adapters.tables of every service that has one."""
    found = {}
    for path in sorted(REPO.glob("services/*/algoitny_*/adapters/tables.py")):
        module = importlib.import_module(f"{path.parents[1].name}.adapters.tables")
        found[path.parents[2].name] = module
    return found


def test_every_service_table_module_is_registered_and_nothing_else() -> None:
    modules = service_table_modules()
    assert set(modules) >= {"accounts", "executions", "hints", "migration", "problems", "ratelimit", "stats"}
    expected = tuple(spec for owner in sorted(modules) for spec in modules[owner].TABLES)
    assert all_tables() == expected
    for owner, module in modules.items():
        assert tables_of(owner) == module.TABLES
        assert {spec.owner for spec in module.TABLES} <= {owner}


def test_a_service_without_tables_is_registered_with_none() -> None:
    """search-indexer keeps no table (external versions make it idempotent): its entry point
    publishes an empty tuple, and the registry, provisioning and backup take it as such."""
    from importlib.metadata import entry_points

    names = {e.name for e in entry_points(group=shared_tables.TABLES_ENTRY_POINTS)}
    assert "search-indexer" in names
    assert tables_of("search-indexer") == ()
    assert all(spec.owner != "search-indexer" for spec in all_tables())


def test_table_declarations_are_unique_and_well_formed() -> None:
    names = [t.physical("ns") for t in all_tables()]
    assert len(names) == len(set(names))
    for spec in all_tables():
        request = spec.create_request("ns")
        declared = {a["AttributeName"] for a in request["AttributeDefinitions"]}
        used = {k["AttributeName"] for k in request["KeySchema"]} | {
            k["AttributeName"] for g in request.get("GlobalSecondaryIndexes", []) for k in g["KeySchema"]
        }
        assert declared == used, spec.name  # DynamoDB rejects unused attribute definitions


def test_shared_declares_no_table() -> None:
    for info in pkgutil.walk_packages(algoitny_shared.__path__, "algoitny_shared."):
        module = importlib.import_module(info.name)
        owned = [n for n, v in vars(module).items() if isinstance(v, TableSpec)]
        assert owned == [], f"{info.name} declares {owned}: a table belongs in its service"


def test_registry_refuses_a_table_of_another_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    intruder = TableSpec(owner="problems", name="Problems", hash_key="pk", attributes={"pk": "S"})
    entry = SimpleNamespace(name="stats", value="evil:TABLES", load=lambda: (intruder,))
    monkeypatch.setattr(shared_tables, "entry_points", lambda group: [entry])
    shared_tables.all_tables.cache_clear()
    try:
        with pytest.raises(ValueError, match="not a table owned by stats"):
            shared_tables.all_tables()
    finally:
        monkeypatch.undo()
        shared_tables.all_tables.cache_clear()


def test_buckets_come_from_their_owners_and_the_shared_contract() -> None:
    from algoitny_problems.adapters.buckets import TEST_CASE_PAYLOADS
    from algoitny_shared.buckets import SANDBOX_IO, all_buckets

    assert all_buckets() == (TEST_CASE_PAYLOADS, SANDBOX_IO)
    assert [b.name for b in all_buckets() if b.backed_up] == ["testcases"]
