"""HTTP app of the executions service: operational endpoints until its feature issue lands."""

from __future__ import annotations

from fastapi import FastAPI

from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.http import create_app


def make_app(settings: ExecutionsSettings | None = None) -> FastAPI:
    settings = settings or ExecutionsSettings()
    return create_app(settings, title="AlgoItny executions service")
