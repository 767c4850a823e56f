"""cutover / rollback gates against fakes: what happens on GO and on each NO-GO."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from algoitny_migration.adapters.legacy_control import WriteActivity
from algoitny_migration.adapters.phase_store import PhaseConflict, PhaseRecord
from algoitny_migration.service_layer.cutover import Cutover, GateSettings
from algoitny_shared.migration_phase import may_move


class FakePhase:
    def __init__(self, phase: str = "migrating") -> None:
        self.record = PhaseRecord(phase=phase, version=1)
        self.moves: list[str] = []

    async def get(self) -> PhaseRecord:
        return self.record

    async def move(self, current: PhaseRecord, target: str, command: str, **_: Any) -> PhaseRecord:
        if current.version != self.record.version or not may_move(current.phase, target):
            raise PhaseConflict(f"{current.phase} -> {target}")
        self.record = replace(current, phase=target, version=current.version + 1)
        self.moves.append(target)
        return self.record


@dataclass
class FakeLegacy:
    writable: bool = True
    changes: int = 100
    writing: bool = False  # a writer that ignores the freeze (keeps changing rows)
    sent_lsn: str | None = "0/10"
    slot_in_use: bool = True
    advanced: list[str] = field(default_factory=list)
    markers: int = 0

    def freeze(self) -> int:
        self.writable = False
        return 2

    def unfreeze(self) -> None:
        self.writable = True

    def frozen(self) -> bool:
        return not self.writable

    def activity(self, slot: str) -> WriteActivity:
        if self.writing:
            self.changes += 1
        return WriteActivity(self.changes, 0, "0/10", self.sent_lsn, self.slot_in_use)

    def write_marker(self) -> tuple[str, int, int] | None:
        self.markers += 1
        return ("subscription_plans", 1, 100)

    def lsn_reached(self, lsn: str, target: str) -> bool:
        return int(lsn.split("/")[1], 16) >= int(target.split("/")[1], 16)

    def advance_slot(self, slot: str) -> int | None:
        self.advanced.append(slot)
        return 32

    def slot_active(self, slot: str) -> bool:
        return self.slot_in_use


@dataclass
class FakeConnector:
    running: bool = True
    offsets: list[int] = field(default_factory=list)

    def move_offsets(self, name: str, lsn: int) -> None:
        assert not self.running, "offsets move only while the connector is stopped"
        self.offsets.append(lsn)

    def stop(self, name: str) -> None:
        self.running = False

    def resume(self, name: str) -> None:
        self.running = True


@dataclass
class FakeSources:
    lag: int | None = 0
    views: int | None = 0
    verify: bool = True
    reverse: int | None = 0
    reverse_ok: bool = True
    gateway: str | None = None
    seen: bool = True

    async def captured(self, table: str, key: int, after_lsn: int) -> bool:
        return self.seen and (table, key, after_lsn) == ("subscription_plans", 1, 100)

    async def change_lag(self) -> dict[str, int | None]:
        return {"accounts:users": self.lag, "executions:search_history": 0}

    async def views_lag(self) -> dict[str, int | None]:
        return {"stats": self.views, "search-indexer": 0}

    async def verify_ok(self) -> tuple[bool, int, list[str]]:
        return (True, 0, []) if self.verify else (False, 3, ["[rows] users 5 (accounts): missing"])

    async def reverse_lag(self) -> int | None:
        return self.reverse

    async def reverse_verify(self) -> tuple[bool, int, list[str]]:
        return (True, 7, []) if self.reverse_ok else (False, 1, ["search_history of e1 missing"])

    async def gateway_phase(self) -> str | None:
        return self.gateway


async def _no_sleep(_: float) -> None:
    return None


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.5
        return self.t


def _runner(phase: FakePhase, legacy: FakeLegacy, connector: FakeConnector, sources: FakeSources) -> Cutover:
    settings = GateSettings(slot="s", connector="c", window_s=1.0, timeout_s=5.0)
    return Cutover(phase, legacy, connector, sources, settings, sleep=_no_sleep, clock=Clock())


async def test_cutover_goes_when_every_gate_passes() -> None:
    phase, legacy, connector, sources = FakePhase(), FakeLegacy(), FakeConnector(), FakeSources(gateway="cut_over")
    report = await _runner(phase, legacy, connector, sources).cutover()
    assert report.ok and report.phase_after == "cut_over" and phase.moves == ["cut_over"]
    assert [g.name for g in report.gates] == [
        "legacy_frozen",
        "wal_quiet",
        "changes_captured",
        "change_lag_zero",
        "views_caught_up",
        "verify",
    ]
    assert legacy.markers == 1  # written once, however often the gate looks for it
    assert legacy.frozen() and not connector.running  # the legacy side stays read-only
    assert report.write_window_s is not None and report.write_window_s > 0
    assert any("gateway applies phase cut_over" in a["what"] for a in report.actions)


@pytest.mark.parametrize(
    ("legacy", "sources", "failed"),
    [
        (FakeLegacy(writing=True), FakeSources(), "wal_quiet"),
        (FakeLegacy(slot_in_use=False), FakeSources(), "wal_quiet"),  # the connector is not running
        (FakeLegacy(), FakeSources(seen=False), "changes_captured"),  # Debezium has not captured the marker
        (FakeLegacy(), FakeSources(lag=4), "change_lag_zero"),
        (FakeLegacy(), FakeSources(lag=None), "change_lag_zero"),  # an importer never consumed
        # stats still reading what the import published: verify would fail on its aggregates
        (FakeLegacy(), FakeSources(views=30_454), "views_caught_up"),
        (FakeLegacy(), FakeSources(views=None), "views_caught_up"),  # a view never consumed
        (FakeLegacy(), FakeSources(verify=False), "verify"),
    ],
)
async def test_a_failed_cutover_gate_gives_the_legacy_side_its_writes_back(
    legacy: FakeLegacy, sources: FakeSources, failed: str
) -> None:
    phase, connector = FakePhase(), FakeConnector()
    report = await _runner(phase, legacy, connector, sources).cutover()
    assert not report.ok and report.gates[-1].name == failed and not report.gates[-1].ok
    assert legacy.writable and connector.running and phase.moves == []
    assert report.phase_after == "migrating"


async def test_cutover_only_from_migration_mode() -> None:
    for start in ("open", "cut_over", "rolling_back"):
        legacy = FakeLegacy()
        report = await _runner(FakePhase(start), legacy, FakeConnector(), FakeSources()).cutover()
        assert not report.ok and "needs phase" in report.error and legacy.writable


async def test_rollback_then_cutover_again() -> None:
    phase, legacy, connector, sources = FakePhase(), FakeLegacy(), FakeConnector(), FakeSources()
    runner = _runner(phase, legacy, connector, sources)
    assert (await runner.cutover()).ok
    legacy.slot_in_use = False  # the stopped connector released the slot
    report = await runner.rollback()
    assert report.ok and phase.moves == ["cut_over", "rolling_back", "rolled_back"]
    assert legacy.writable and connector.running and legacy.advanced == ["s"] and connector.offsets == [32]
    assert [g.name for g in report.gates] == ["reverse_lag_zero", "reverse_verify"]
    legacy.slot_in_use = True
    again = await runner.cutover()
    assert again.ok and phase.record.phase == "cut_over"


@pytest.mark.parametrize(
    ("sources", "slot_in_use", "failed"),
    [
        (FakeSources(reverse=3), False, "reverse_lag_zero"),
        (FakeSources(reverse=None), False, "reverse_lag_zero"),  # the reverse writer is not running
        (FakeSources(reverse_ok=False), False, "reverse_verify"),
        (FakeSources(), True, "slot_released"),
    ],
)
async def test_a_failed_rollback_gate_leaves_the_platform_the_owner(
    sources: FakeSources, slot_in_use: bool, failed: str
) -> None:
    phase, legacy, connector = FakePhase("cut_over"), FakeLegacy(writable=False), FakeConnector(running=False)
    legacy.slot_in_use = slot_in_use
    report = await _runner(phase, legacy, connector, sources).rollback()
    assert not report.ok and report.gates[-1].name == failed
    assert phase.moves == ["rolling_back", "cut_over"] and report.phase_after == "cut_over"
    assert not legacy.writable and not connector.running and legacy.advanced == []


async def test_a_phase_moved_meanwhile_undoes_the_freeze() -> None:
    class Raced(FakePhase):
        async def move(self, current: PhaseRecord, target: str, command: str, **_: Any) -> PhaseRecord:
            raise PhaseConflict("the phase changed meanwhile")

    phase, legacy, connector = Raced(), FakeLegacy(), FakeConnector()
    report = await _runner(phase, legacy, connector, FakeSources()).cutover()
    assert not report.ok and "did not move" in report.error
    assert legacy.writable and connector.running
