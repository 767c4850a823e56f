"""``cutover`` and ``rollback``: go/no-go gates the command checks itself, then the phase moves.

cutover (from ``migrating`` or ``rolled_back``):
  1. legacy_frozen   the legacy application's role is made read-only and its open sessions ended;
                     a new session of the role is read-only.
  2. wal_quiet       no change reaches the legacy tables over a window (statistics counters equal,
                     no open write transaction) and the connector's slot is in use.
  3. changes_captured a marker written after the freeze (a no-op update of one plan row) is on its
                     legacy topic: Debezium keeps commit order, so every legacy change is captured.
  4. change_lag_zero every importer's consumer group has consumed every legacy topic, twice a window apart.
  5. views_caught_up the derived views verify reads (stats, search) have consumed every domain event,
                     twice a window apart: until then their aggregates and documents lag the rows.
  6. verify          ``verify`` passes (every row, aggregates, search, history pages).
  then: the connector is stopped (nothing more can come; its slot is released), the phase moves to
  ``cut_over`` (the gateway opens writes) and the reverse writer starts writing back.
  A failed gate: the legacy side is made writable again, the phase does not move (exit 1).

rollback (from ``cut_over``):
  1. the phase moves to ``rolling_back`` (the gateway refuses writes again, so the reverse writer can drain);
  2. reverse_lag_zero  the reverse writer has consumed every domain event, twice a window apart;
  3. reverse_verify    the legacy database holds every post-cutover change the reverse writer mapped;
  then: the slot is advanced past what the reverse writer wrote (the platform has it already), the
  legacy role made writable, the connector resumed, and the phase moves to ``rolled_back``.
  A failed gate: the phase moves back to ``cut_over`` (the platform keeps the data; exit 1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from algoitny_shared.migration_phase import writes_open

log = logging.getLogger(__name__)


class PhasePort(Protocol):
    async def get(self) -> Any: ...
    async def move(
        self, current: Any, target: str, command: str, *, by: str | None, note: str | None, record: dict[str, Any]
    ) -> Any: ...


class LegacyPort(Protocol):
    def freeze(self) -> int: ...
    def unfreeze(self) -> None: ...
    def frozen(self) -> bool: ...
    def activity(self, slot: str) -> Any: ...
    def lsn_reached(self, lsn: str, target: str) -> bool: ...
    def write_marker(self) -> tuple[str, int, int] | None: ...
    def advance_slot(self, slot: str) -> int | None: ...
    def slot_active(self, slot: str) -> bool: ...


class ConnectorPort(Protocol):
    def stop(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def move_offsets(self, name: str, lsn: int) -> Any: ...


class CutoverSources(Protocol):
    """What the gates read beyond the legacy database (bootstrap.Migration implements it)."""

    async def change_lag(self) -> dict[str, int | None]: ...
    async def views_lag(self) -> dict[str, int | None]: ...
    async def verify_ok(self) -> tuple[bool, int, list[str]]: ...
    async def reverse_lag(self) -> int | None: ...
    async def reverse_verify(self) -> tuple[bool, int, list[str]]: ...
    async def gateway_phase(self) -> str | None: ...
    async def captured(self, table: str, key: int, after_lsn: int) -> bool: ...


@dataclass
class Gate:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class StepReport:
    command: str
    ok: bool
    phase_before: str
    phase_after: str
    started_at: str
    finished_at: str = ""
    gates: list[Gate] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)
    # Seconds during which neither side took writes (legacy frozen/phase refusing .. platform open).
    write_window_s: float | None = None
    error: str = ""

    def act(self, what: str) -> None:
        self.actions.append({"at": _now(), "what": what})

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "ok": self.ok,
            "phase_before": self.phase_before,
            "phase_after": self.phase_after,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "write_window_s": self.write_window_s,
            "gates": [g.__dict__ for g in self.gates],
            "actions": self.actions,
            "error": self.error,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class GateSettings:
    slot: str
    connector: str
    window_s: float = 2.0  # two samples this far apart must agree
    timeout_s: float = 120.0  # a gate not met by then fails
    operator: str | None = None


class Cutover:
    def __init__(
        self,
        phase: PhasePort,
        legacy: LegacyPort,
        connector: ConnectorPort,
        sources: CutoverSources,
        settings: GateSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.phase = phase
        self.legacy = legacy
        self.connector = connector
        self.sources = sources
        self.s = settings
        self._sleep = sleep
        self._clock = clock

    async def _gate(self, report: StepReport, name: str, check: Callable[[], Awaitable[tuple[bool, str]]]) -> bool:
        """Run ``check`` until it passes or the timeout; record the gate."""
        start = self._clock()
        ok, detail = False, ""
        while True:
            try:
                ok, detail = await check()
            except Exception as exc:  # a dependency down is a failed gate, reported, never a crash
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            if ok or self._clock() - start >= self.s.timeout_s:
                break
            log.info("gate %s not met yet after %.1f s: %s", name, self._clock() - start, detail[:500])
            await self._sleep(min(1.0, self.s.window_s))
        report.gates.append(Gate(name, ok, detail, round(self._clock() - start, 3)))
        return ok

    # ---- the gates
    async def _legacy_frozen(self) -> tuple[bool, str]:
        frozen = await asyncio.to_thread(self.legacy.frozen)
        return frozen, "new sessions of the legacy role are read-only" if frozen else "legacy role still writable"

    async def _wal_quiet(self) -> tuple[bool, str]:
        a = await asyncio.to_thread(self.legacy.activity, self.s.slot)
        await self._sleep(self.s.window_s)
        b = await asyncio.to_thread(self.legacy.activity, self.s.slot)
        if b.open_writers:
            return False, f"{b.open_writers} open write transaction(s) in the legacy database"
        if a.changes != b.changes:
            return False, f"legacy tables still changing ({b.changes - a.changes} changes in {self.s.window_s} s)"
        if not b.slot_active:
            return False, f"slot {self.s.slot} is not in use (is the connector running?)"
        return True, f"no change to the legacy tables over {self.s.window_s} s (WAL at {b.wal_lsn}); slot in use"

    async def _captured(self, marker: tuple[str, int, int] | None) -> tuple[bool, str]:
        if marker is None:
            return False, "no marker row (subscription_plans is empty)"
        table, key, lsn = marker
        if await self.sources.captured(table, key, lsn):
            return True, f"the marker ({table} {key}, after WAL {lsn}) is on its legacy topic"
        return False, f"the marker ({table} {key}, after WAL {lsn}) is not on its legacy topic yet"

    async def _zero_twice(
        self, read: Callable[[], Awaitable[dict[str, int | None]]], behind: str, again: str, done: str
    ) -> tuple[bool, str]:
        """Every lag ``read`` names is 0, sampled twice a window apart."""
        first = await read()
        await self._sleep(self.s.window_s)
        second = await read()
        late = {k: v for k, v in second.items() if v != 0}
        if late:
            return False, f"{behind}: " + ", ".join(f"{k}={v}" for k, v in sorted(late.items()))
        if any(v != 0 for v in first.values()):
            return False, again
        return True, f"{done.format(n=len(second), names=', '.join(sorted(second)))}, twice {self.s.window_s} s apart"

    async def _lag_zero(self) -> tuple[bool, str]:
        return await self._zero_twice(
            self.sources.change_lag,
            "importers behind (messages; None = no consumer group)",
            "lag reached zero only now; sampling again",
            "{n} importer topics consumed to the end",
        )

    async def _views_caught_up(self) -> tuple[bool, str]:
        """The derived views (stats, search) have read every domain event the import published:
        verify compares their aggregates and documents, which lag the rows until then."""
        return await self._zero_twice(
            self.sources.views_lag,
            "derived views behind (events; None = no consumer group)",
            "views' lag reached zero only now; sampling again",
            "{names} consumed every domain event",
        )

    async def _verify(self) -> tuple[bool, str]:
        ok, count, first = await self.sources.verify_ok()
        return ok, "verify passed" if ok else f"verify: {count} mismatches, first: {'; '.join(first[:5])}"

    async def _reverse_lag_zero(self) -> tuple[bool, str]:
        async def read() -> dict[str, int | None]:
            return {"reverse writer": await self.sources.reverse_lag()}

        return await self._zero_twice(
            read,
            "reverse writer behind (events; None = not running)",
            "reverse lag reached zero only now; sampling again",
            "the {names} consumed every domain event",
        )

    async def _reverse_verify(self) -> tuple[bool, str]:
        ok, count, first = await self.sources.reverse_verify()
        return ok, (
            f"the legacy database holds all {count} post-cutover changes"
            if ok
            else f"reverse verify: {count} missing/different, first: {'; '.join(first[:5])}"
        )

    async def _gateway_shows(self, report: StepReport, phase: str, timeout_s: float = 30.0) -> None:
        start = self._clock()
        seen = None
        while self._clock() - start < timeout_s:
            try:
                seen = await self.sources.gateway_phase()
            except Exception:
                seen = None
            if seen == phase:
                report.act(f"the gateway applies phase {phase} (writes {'open' if writes_open(phase) else 'refused'})")
                return
            await self._sleep(0.2)
        report.act(f"the gateway did not show phase {phase} within {timeout_s} s (last seen: {seen})")

    # ---- the commands
    async def cutover(self, *, checks_verify: bool = True) -> StepReport:
        current = await self.phase.get()
        report = StepReport("cutover", False, current.phase, current.phase, _now())
        if current.phase not in ("migrating", "rolled_back"):
            report.error = f"cutover needs phase migrating or rolled_back, not {current.phase}"
            report.finished_at = _now()
            return report
        t_freeze = self._clock()
        ended = await asyncio.to_thread(self.legacy.freeze)
        report.act(f"legacy role made read-only; {ended} open legacy session(s) ended")
        marker: list[tuple[str, int, int] | None] = []

        async def captured() -> tuple[bool, str]:
            if not marker:
                marker.append(await asyncio.to_thread(self.legacy.write_marker))
                report.act(f"marker written after the freeze: {marker[0]}")
            return await self._captured(marker[0])

        go = (
            await self._gate(report, "legacy_frozen", self._legacy_frozen)
            and await self._gate(report, "wal_quiet", self._wal_quiet)
            and await self._gate(report, "changes_captured", captured)
            and await self._gate(report, "change_lag_zero", self._lag_zero)
            and (
                not checks_verify
                or (
                    await self._gate(report, "views_caught_up", self._views_caught_up)
                    and await self._gate(report, "verify", self._verify)
                )
            )
        )
        if not go:
            await asyncio.to_thread(self.legacy.unfreeze)
            report.act("NO-GO: legacy role writable again; the phase did not move")
            report.finished_at = _now()
            return report
        await asyncio.to_thread(self.connector.stop, self.s.connector)
        report.act(f"connector {self.s.connector} stopped (legacy frozen: nothing more to capture)")
        try:
            moved = await self.phase.move(
                current, "cut_over", "cutover", by=self.s.operator, note="gates passed", record=report.as_dict()
            )
        except Exception as exc:  # e.g. another operator moved the phase meanwhile: undo, report
            await asyncio.to_thread(self.connector.resume, self.s.connector)
            await asyncio.to_thread(self.legacy.unfreeze)
            report.error = f"the phase did not move ({exc}); connector resumed, legacy role writable again"
            report.finished_at = _now()
            return report
        report.write_window_s = round(self._clock() - t_freeze, 3)
        report.act(f"phase cut_over (version {moved.version}): the platform takes writes")
        await self._gateway_shows(report, "cut_over")
        report.ok, report.phase_after, report.finished_at = True, "cut_over", _now()
        return report

    async def rollback(self) -> StepReport:
        current = await self.phase.get()
        report = StepReport("rollback", False, current.phase, current.phase, _now())
        if current.phase not in ("cut_over", "rolling_back"):
            report.error = f"rollback needs phase cut_over, not {current.phase}"
            report.finished_at = _now()
            return report
        t_closed = self._clock()
        if current.phase == "cut_over":
            current = await self.phase.move(
                current, "rolling_back", "rollback", by=self.s.operator, note="draining", record={}
            )
            report.act(f"phase rolling_back (version {current.version}): the platform refuses writes")
            await self._gateway_shows(report, "rolling_back")
        go = await self._gate(report, "reverse_lag_zero", self._reverse_lag_zero) and await self._gate(
            report, "reverse_verify", self._reverse_verify
        )
        if go and await asyncio.to_thread(self.legacy.slot_active, self.s.slot):
            report.gates.append(Gate("slot_released", False, f"slot {self.s.slot} is in use", 0.0))
            go = False
        if not go:
            moved = await self.phase.move(
                current,
                "cut_over",
                "rollback",
                by=self.s.operator,
                note="rollback gate failed",
                record=report.as_dict(),
            )
            report.act(f"NO-GO: phase back to cut_over (version {moved.version}); the platform keeps the data")
            report.phase_after, report.finished_at = "cut_over", _now()
            return report
        lsn = await asyncio.to_thread(self.legacy.advance_slot, self.s.slot)
        report.act(f"slot {self.s.slot} advanced to {lsn}: what the reverse writer wrote is not captured again")
        if lsn is not None:
            await asyncio.to_thread(self.connector.move_offsets, self.s.connector, lsn)
            report.act(f"connector {self.s.connector}'s source offset moved to {lsn} (it starts where the slot is)")
        # Writable first: Debezium's task runs statements at start that a read-only session refuses.
        await asyncio.to_thread(self.legacy.unfreeze)
        report.act("legacy role writable again: the legacy application owns the data")
        await asyncio.to_thread(self.connector.resume, self.s.connector)
        report.act(f"connector {self.s.connector} resumed (capturing the legacy changes again)")
        moved = await self.phase.move(
            current, "rolled_back", "rollback", by=self.s.operator, note="gates passed", record=report.as_dict()
        )
        report.write_window_s = round(self._clock() - t_closed, 3)
        report.act(f"phase rolled_back (version {moved.version}): the platform is read-only again")
        await self._gateway_shows(report, "rolled_back")
        report.ok, report.phase_after, report.finished_at = True, "rolled_back", _now()
        return report
