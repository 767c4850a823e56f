"""HTTP app of the hints service: operational endpoints until its feature issue lands."""

from __future__ import annotations

from fastapi import FastAPI

from algoitny_hints.settings import HintsSettings
from algoitny_shared.http import create_app


def make_app(settings: HintsSettings | None = None) -> FastAPI:
    settings = settings or HintsSettings()
    return create_app(settings, title="AlgoItny hints service")
