"""The one create-only Put: a transaction item whose condition refuses a key already taken."""

from algoitny_shared.dynamo import put_if_absent


def test_the_put_is_conditioned_on_the_tables_own_key_attribute_and_drops_absent_values() -> None:
    item = put_if_absent("t-jobs", "job_id", {"job_id": "j1", "attempts": 2, "note": None, "score": 0.5})

    put = item["Put"]
    assert put["TableName"] == "t-jobs"
    assert put["ConditionExpression"] == "attribute_not_exists(job_id)"
    # In wire form, None left out (DynamoDB has no null attribute worth storing), floats as numbers.
    assert put["Item"] == {"job_id": {"S": "j1"}, "attempts": {"N": "2"}, "score": {"N": "0.5"}}
