"""The judge's language registry is exactly the shared vocabulary; old names are accepted on input."""

from __future__ import annotations

from algoitny_shared.languages import LANGUAGE_IDS


def test_the_judge_registry_is_the_vocabulary() -> None:
    from algoitny_executions.domain.history import NewExecution
    from algoitny_executions.domain.languages import LANGUAGES

    assert set(LANGUAGES) == set(LANGUAGE_IDS)
    body = NewExecution(platform="cf", problem_id="1", language="cpp", code="int main(){}")
    assert body.language == "cpp17"
