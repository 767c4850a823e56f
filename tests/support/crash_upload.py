"""Run one test-set upload in its own process (the crash test kills it midway via a fault point).

python tests/support/crash_upload.py <platform> <problem_id> <idempotency key> <cases>
"""

from __future__ import annotations

import asyncio
import sys

from algoitny_problems.bootstrap import build
from algoitny_problems.domain.models import TestCaseIn, TestSetIn
from algoitny_problems.settings import ProblemsSettings


def cases(n: int, tag: str) -> TestSetIn:
    return TestSetIn(test_cases=[TestCaseIn(input=f"{i} {tag}\n", output=f"{i}{tag}\n") for i in range(1, n + 1)])


async def main(platform: str, problem_id: str, key: str, n: int) -> None:
    container = build(ProblemsSettings(consumers_enabled=False))
    result = await container.test_sets.write(platform, problem_id, cases(n, "new"), "replace", key)
    print(result.model_dump_json())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
