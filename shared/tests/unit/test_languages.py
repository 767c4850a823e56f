"""One language vocabulary: ids, aliases of the old problem names, and the pydantic field type."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from algoitny_shared.languages import LANGUAGE_IDS, JudgeLanguage, UnknownLanguage, normalise, normalise_or_none


class _M(BaseModel):
    language: JudgeLanguage


def test_ids_and_aliases_normalise_to_one_id() -> None:
    assert [normalise(x) for x in ("python", "cpp", "java", "javascript", "c")] == [
        "python3",
        "cpp17",
        "java17",
        "javascript",
        "c",
    ]
    assert all(normalise(i) == i for i in LANGUAGE_IDS)
    assert normalise(" C++ ") == "cpp17" and normalise_or_none(None) is None
    with pytest.raises(UnknownLanguage):
        normalise("cobol")


def test_field_type_accepts_aliases_and_refuses_the_rest() -> None:
    assert _M(language="Python").language == "python3"
    with pytest.raises(ValidationError):
        _M(language="cobol")
