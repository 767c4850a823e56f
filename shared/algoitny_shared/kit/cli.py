"""The command-line skeleton of a service: ``algoitny-<service> [serve | <command>] [options]``.

``serve`` (the default) serves the service's HTTP app; each further command runs with the
settings and the parsed arguments, and what it returns (awaited when it is a coroutine) is
printed as one JSON line unless it is None (a pydantic model as its JSON). Logging is configured before anything runs.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fastapi import FastAPI
from pydantic import BaseModel

from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve
from algoitny_shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Command(Generic[S]):
    """A command besides ``serve``: ``run(settings, args)``; its result (a coroutine is run) is printed as JSON."""

    run: Callable[[S, argparse.Namespace], Any]
    help: str = ""


class Main(Protocol):
    """A command line's ``main``: ``argv`` (default: the process's arguments)."""

    def __call__(self, argv: list[str] | None = None) -> None: ...


def service_cli(
    prog: str,
    settings: Callable[[], S],
    app: Callable[[Any], FastAPI] | None,
    *,
    build: Callable[[S], Any] | None = None,
    commands: Mapping[str, Command[S]] | None = None,
    arguments: Callable[[argparse.ArgumentParser], object] | None = None,
    description: str | None = None,
    log_name: Callable[[S], str] | None = None,
    serve_as: Callable[[S], ServiceSettings] | None = None,
    serve_command: str = "serve",
    default: str | None = None,
) -> Main:
    """The ``main(argv=None)`` of a service's command line.

    ``serve`` (named ``serve_command``) serves ``app(build(settings))`` (``app(settings)`` without
    ``build``; no ``serve`` without ``app``); ``default``: the command run when none is named
    (default: ``serve``); ``arguments``
    adds the commands' options; ``log_name``: the process's name in logs (default: the service's
    name); ``serve_as``: the settings ``serve`` binds with (default: the service's own, e.g. another
    port for a side process)."""
    table = dict(commands or {})

    def main(argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(prog=prog, description=description)
        names = [serve_command, *table] if app is not None else list(table)
        helps = [f"{serve_command}: serve the HTTP API"] if app is not None else []
        helps += [f"{n}: {c.help}" for n, c in table.items() if c.help]
        parser.add_argument("command", choices=names, nargs="?", default=default or names[0], help="; ".join(helps))
        if arguments is not None:
            arguments(parser)
        args = parser.parse_args(argv)
        loaded = settings()
        configure_logging(log_name(loaded) if log_name else loaded.service_name, loaded.log_level)
        if args.command == serve_command and app is not None:
            serve(app(build(loaded) if build else loaded), serve_as(loaded) if serve_as else loaded)
            return
        result = table[args.command].run(loaded, args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        if isinstance(result, BaseModel):
            print(result.model_dump_json())
        elif result is not None:
            print(json.dumps(result, default=str))

    return main
