"""The service kit (algoitny_shared.kit): the parts every composition root starts from, the app
factory's lifespan and readiness, and the command-line skeleton."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from algoitny_shared.kit import cli as kit_cli
from algoitny_shared.kit.app_factory import parts_app, service_app
from algoitny_shared.kit.cli import Command, service_cli
from algoitny_shared.kit.composition import EventParts, OutboxParts, outbox_parts
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import TableSpec
from algoitny_shared.topics import TopicSpec
from algoitny_shared.uow import DynamoUnitOfWork


class FakeBroker:
    def __init__(self, log: list[str], answers: bool = True) -> None:
        self.log = log
        self.answers = answers

    async def start(self) -> None:
        self.log.append("broker.start")

    async def stop(self) -> None:
        self.log.append("broker.stop")

    async def ping(self, timeout: float) -> bool:
        return self.answers


class FakeRelay:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        self.log.append("relay.run")
        await self._stopped.wait()

    def stop(self) -> None:
        self.log.append("relay.stop")
        self._stopped.set()


class FailingTable:
    def describe_table(self, **_: Any) -> None:
        raise ConnectionError("table away")


def _hook(log: list[str], name: str, fail: bool = False) -> Any:
    async def hook() -> None:
        log.append(name)
        if fail:
            raise RuntimeError(name)

    return hook


def _task(log: list[str], name: str) -> Any:
    async def run() -> None:
        log.append(name)
        await asyncio.Event().wait()

    return run


SETTINGS = ServiceSettings(service_name="kit-test")


def _event_app(log: list[str], **hooks: Any) -> FastAPI:
    """An app with a broker and a relay that record what happens to them."""
    return service_app(SETTINGS, title="t", broker=FakeBroker(log), relay=FakeRelay(log), **hooks)


def test_the_lifespan_starts_hooks_broker_relay_and_tasks_and_stops_them_in_reverse() -> None:
    log: list[str] = []
    app = _event_app(
        log,
        tasks={"worker": _task(log, "task")},
        on_start=[_hook(log, "start-1"), _hook(log, "start-2")],
        on_stop=[_hook(log, "stop-1"), _hook(log, "stop-2")],
    )
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        started = list(log)
    assert started[:3] == ["start-1", "start-2", "broker.start"]
    assert set(started[3:]) == {"relay.run", "task"}
    assert log[len(started) :] == ["relay.stop", "broker.stop", "stop-1", "stop-2"]


def test_stop_hooks_run_even_when_a_start_hook_fails_and_nothing_else_starts() -> None:
    log: list[str] = []
    app = _event_app(log, on_start=[_hook(log, "start", fail=True)], on_stop=[_hook(log, "stop")])
    with pytest.raises(RuntimeError, match="start"), TestClient(app):
        pass
    assert log == ["start", "stop"]


def test_without_a_broker_the_tasks_run_on_their_own_and_readiness_names_the_failing_parts() -> None:
    log: list[str] = []

    @dataclass
    class Stats:  # a container without broker or relay (like stats)
        settings: ServiceSettings
        dynamodb: Any

    app = parts_app(Stats(SETTINGS, FailingTable()), title="t", table="tbl", tasks={"consumer": _task(log, "task")})
    with TestClient(app) as client:
        resp = client.get("/readyz")
    assert log == ["task"]
    assert resp.status_code == 503 and set(resp.json()["checks"]) == {"dynamodb"}

    broker_down = service_app(SETTINGS, title="t", broker=FakeBroker([], answers=False))
    resp = TestClient(broker_down).get("/readyz")
    assert resp.status_code == 503 and set(resp.json()["checks"]) == {"kafka"}


def test_outbox_parts_wire_relay_unit_of_work_and_consumers_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[str] = []
    monkeypatch.setattr(
        "algoitny_shared.kit.composition.EventConsumer.register", lambda self: registered.append(self.group)
    )
    settings = ServiceSettings(service_name="kit-test", namespace="ns", fault_points=frozenset({"after-write"}))
    kit = outbox_parts(settings, TableSpec(owner="kit-test", name="outbox", hash_key="pk"))
    assert kit.outbox.table == "ns-kit-test-outbox"
    uow = kit.uow()
    assert isinstance(uow, DynamoUnitOfWork) and uow._faults == frozenset({"after-write"})
    assert kit.uow() is not uow  # a new unit of work each time

    topic = TopicSpec(name="kit.events", description="")
    kit.consume("group-on", [topic], {})
    kit.consume("group-off", [topic], {}, enabled=False)
    off = EventParts(settings.model_copy(update={"consumers_enabled": False}), None, KafkaBroker("localhost:1"))
    off.consume("group-disabled", [topic], {})
    assert registered == ["group-on"]

    @dataclass
    class Container(OutboxParts[ServiceSettings]):
        own: str

    c = Container(**kit.fields(), own="x")
    assert (c.settings, c.broker, c.relay, c.outbox, c.own) == (settings, kit.broker, kit.relay, kit.outbox, "x")


def test_the_cli_serves_the_built_app_or_runs_a_command_and_prints_its_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[tuple[Any, int]] = []
    monkeypatch.setattr(kit_cli, "serve", lambda app, settings: served.append((app, settings.port)))
    app = FastAPI()

    async def seed(settings: ServiceSettings, args: Any) -> dict[str, Any]:
        return {"service": settings.service_name, "n": args.n}

    main = service_cli(
        "algoitny-kit-test",
        lambda: SETTINGS,
        lambda built: app if built == ("built", "kit-test") else None,  # type: ignore[return-value]
        build=lambda settings: ("built", settings.service_name),
        commands={"seed": Command(seed, "seed"), "quiet": Command(lambda s, a: None)},
        arguments=lambda parser: parser.add_argument("--n", type=int, default=1),
        serve_as=lambda settings: settings.model_copy(update={"port": 9999}),
    )
    main([])
    assert served == [(app, 9999)]
    main(["seed", "--n", "3"])
    main(["quiet"])
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [{"service": "kit-test", "n": 3}]
    with pytest.raises(SystemExit):
        main(["drop-everything"])
    assert len(served) == 1


def test_a_side_process_serves_under_its_own_command_name_and_a_tool_without_app_has_no_serve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[str] = []
    monkeypatch.setattr(kit_cli, "serve", lambda app, settings: served.append(settings.service_name))
    importer = service_cli("importer", lambda: SETTINGS, lambda s: FastAPI(), serve_command="run")
    importer([])
    importer(["run"])
    assert served == ["kit-test", "kit-test"]
    with pytest.raises(SystemExit):
        importer(["serve"])

    class Status(BaseModel):
        paused: bool

    tool = service_cli(
        "tool",
        lambda: SETTINGS,
        None,
        commands={"status": Command(lambda s, a: Status(paused=True)), "other": Command(lambda s, a: None)},
    )
    tool([])  # the first command is the default
    assert capsys.readouterr().out == '{"paused":true}\n'
    with pytest.raises(SystemExit):
        tool(["serve"])
    assert len(served) == 2
