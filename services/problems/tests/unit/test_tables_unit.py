"""The problems service's table declarations render the indexes its access patterns query."""

from __future__ import annotations

from algoitny_problems.adapters.tables import PROBLEMS, TABLES


def test_problems_table_serves_its_access_patterns() -> None:
    request = PROBLEMS.create_request("ns")
    assert request["TableName"] == "ns-problems-Problems"
    assert {g["IndexName"] for g in request["GlobalSecondaryIndexes"]} == {
        "IdIndex",
        "PlatformIndex",
        "CompletionIndex",
        "LanguageIndex",
    }
    assert {t.owner for t in TABLES} == {"problems"}
