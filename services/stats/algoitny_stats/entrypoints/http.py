"""HTTP app of the stats service: operational endpoints until its feature issue lands."""

from __future__ import annotations

from fastapi import FastAPI

from algoitny_shared.http import create_app
from algoitny_stats.settings import StatsSettings


def make_app(settings: StatsSettings | None = None) -> FastAPI:
    settings = settings or StatsSettings()
    return create_app(settings, title="AlgoItny stats service")
