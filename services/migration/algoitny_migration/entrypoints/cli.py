"""``python -m algoitny_migration <command>``: the operator's commands of the legacy migration.

    seed-legacy --scale small|medium [--seed N] [--if-empty | --replace]
    schema                          apply the legacy schema (idempotent)
    connector register|delete|show  the Debezium connector in Kafka Connect
    status                          per table: legacy rows, imported, quarantined, lag
    verify [--checks rows,aggregates,search,history] [--services accounts,...]
    pause|resume [--only connector|importers]
    phase                           the migration's phase (and each cutover/rollback step's record)
    start                           enter migration mode: the platform refuses writes to legacy-owned data
    cutover [--skip-verify]         gates (legacy frozen, WAL quiet, change lag zero, verify), then writes open
    rollback                        gates (reverse lag zero, reverse verify), then the legacy side owns the data again
    finish                          end of the migration (from cut_over): the phase is open for good
    reverse-writer                  the rollback path: platform events written back into the legacy schema
    shadow --users N                legacy queries vs the platform's answers for a sample of users

Progress bars and tables for people; ``--json`` prints one JSON object for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from algoitny_migration.bootstrap import IMPORTING_SERVICES, Migration, build
from algoitny_migration.domain.legacy_data import SCALES
from algoitny_migration.service_layer.seeding import seed_legacy
from algoitny_migration.service_layer.status import collect_status
from algoitny_migration.service_layer.verify import Verifier


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, default=str, ensure_ascii=False, indent=None))


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], None]]:
    """A rich progress bar per task name (nothing with --json or when stderr is no terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _name, _n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        tasks: dict[str, Any] = {}

        def advance(name: str, n: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=None)
            bar.advance(tasks[name], n)

        yield advance


def cmd_seed(m: Migration, args: argparse.Namespace) -> int:
    now = datetime.fromisoformat(args.now) if args.now else None
    with _progress(not args.json) as progress:
        report = seed_legacy(
            m.legacy,
            scale=args.scale,
            seed=args.seed,
            now=now,
            if_empty=args.if_empty,
            replace=args.replace,
            progress=progress,
        )
    if args.json:
        _print_json(report.__dict__)
    elif report.seeded:
        total = sum(report.counts.values())
        print(
            f"seeded {total} legacy rows (scale {report.scale}, seed {report.seed})"
            f" in {report.generate_s + report.load_s:.1f} s"
        )
        for table, n in report.counts.items():
            print(f"  {table:<24} {n:>8}")
        print("demo sign-ins (e-mail / password):")
        for email, pw in report.demo_passwords.items():
            print(f"  {email} / {pw}")
    else:
        print(f"not seeded: {report.reason}")
    return 0


def cmd_schema(m: Migration, args: argparse.Namespace) -> int:
    m.legacy.apply_schema()
    _print_json({"ok": True}) if args.json else print("legacy schema applied")
    return 0


def cmd_connector(m: Migration, args: argparse.Namespace) -> int:
    if args.action == "register":
        out: Any = m.register_connector()
        out = {
            "name": out.get("name"),
            "config": {k: ("***" if "password" in k else v) for k, v in out["config"].items()},
        }
    elif args.action == "delete":
        m.delete_connector(drop_slot=not args.keep_slot)
        out = {"deleted": m.settings.connector_name()}
    else:
        out = m.connector_status()
    if args.json or args.action == "show":
        _print_json(out)
    else:
        print(f"connector {m.settings.connector_name()}: {args.action} done")
    return 0


async def cmd_status(m: Migration, args: argparse.Namespace) -> int:
    report = await collect_status(m)
    if args.json:
        _print_json(report.as_dict())
        return 0
    from rich.console import Console
    from rich.table import Table

    c = report.connector or {}
    state = c.get("connector", {}).get("state", "absent")
    tasks = ", ".join(t.get("state", "?") for t in c.get("tasks", []))
    table = Table(
        title=f"Legacy migration: connector {state} (tasks: {tasks or '-'}), slot lag {report.slot_lag_bytes} B"
    )
    for col in ("table", "legacy rows", "service", "imported", "deleted", "quarantined", "lag", "note"):
        table.add_column(col)
    for t in report.tables:
        if not t.importers:
            table.add_row(t.table, str(t.legacy_rows), "-", "-", "-", "-", "-", t.note[:50])
        for i in t.importers:
            note = i.error[:60] if i.error else ("paused" if i.paused else "")
            table.add_row(
                t.table,
                str(t.legacy_rows),
                i.service,
                str(i.imported),
                str(i.deleted),
                str(i.quarantined),
                str(i.lag),
                note,
            )
    Console().print(table)
    for e in report.errors:
        print(f"error: {e}")
    return 0


async def cmd_verify(m: Migration, args: argparse.Namespace) -> int:
    services = args.services.split(",") if args.services else None
    with _progress(not args.json) as progress:
        from algoitny_migration.adapters.reverse_store import ReverseStore

        # After a rollback: rows written back from the platform are the platform's already.
        originated = await asyncio.to_thread(ReverseStore(m.settings.legacy_dsn.get_secret_value()).platform_originated)
        verifier = Verifier(m.legacy, m.platform, services=services, progress=progress, platform_originated=originated)
        report = await verifier.run(args.checks.split(","))
    if args.json:
        _print_json(report.as_dict())
    else:
        for t in report.tables:
            print(
                f"  {t.table:<24} {t.service:<11} legacy {t.legacy:>7}  matching {t.matching:>7}"
                f"  quarantined {t.quarantined:>5}"
                f"  missing {t.missing:>5}  different {t.different:>5}  unexpected {t.unexpected:>5}"
            )
        for name, n in sorted(report.checked.items()):
            if not name.startswith("rows:"):
                print(f"  checked {name}: {n}")
        if report.ok:
            print("PASS: every legacy row is on the new platform or quarantined with a reason")
        else:
            print(f"FAIL: {report.mismatch_count} mismatches; the first {len(report.mismatches)}:")
            for mm in report.mismatches:
                print(f"  [{mm.check}] {mm.table} {mm.key} ({mm.service}): {mm.detail}")
    return 0 if report.ok else 1


async def cmd_pause_resume(m: Migration, args: argparse.Namespace) -> int:
    pause = args.command == "pause"
    out: dict[str, Any] = {"ok": True, "connector": None, "importers": {}}
    if args.only in (None, "connector"):
        try:
            (m.connect.pause if pause else m.connect.resume)(m.settings.connector_name())
            out["connector"] = "paused" if pause else "resumed"
        except Exception as exc:
            out["ok"] = False
            out["connector"] = f"error: {exc}"
    if args.only in (None, "importers"):
        for service in IMPORTING_SERVICES:
            try:
                await (m.platform.pause if pause else m.platform.resume)(service)
                out["importers"][service] = "paused" if pause else "resumed"
            except Exception as exc:
                out["ok"] = False
                out["importers"][service] = f"error: {exc}"
    if args.json:
        _print_json(out)
    else:
        print(f"connector: {out['connector']}")
        for service, state in out["importers"].items():
            print(f"{service}: {state}")
    return 0 if out["ok"] else 1


async def cmd_phase(m: Migration, args: argparse.Namespace) -> int:
    from algoitny_migration.adapters.phase_store import PhaseConflict
    from algoitny_migration.bootstrap import build_cutover

    store, _ = build_cutover(m)
    try:
        await store.publish_pending()  # a move whose publish was interrupted goes out now
        current = await store.get()
        if args.command == "phase":
            out: dict[str, Any] = {"ok": True, **current.as_dict(), "steps": await store.steps()}
            if args.json:
                _print_json(out)
            else:
                state = "open" if current.writes_open else "refused"
                print(f"phase {current.phase} (version {current.version}, since {current.since}): writes {state}")
                for step in out["steps"]:
                    print(f"  {step['at']}  {step['command']:<9} {step['previous']} -> {step['phase']}")
            return 0
        target = {"start": "migrating", "finish": "open", "abandon": "open"}[args.command]
        try:
            moved = await store.move(current, target, args.command, by=None, note=args.note, record={})
        except PhaseConflict as exc:
            _print_json({"ok": False, "error": str(exc)}) if args.json else print(f"refused: {exc}")
            return 1
        out = {"ok": True, "phase_before": current.phase, **moved.as_dict()}
        _print_json(out) if args.json else print(f"phase {current.phase} -> {moved.phase} at {moved.since}")
        return 0
    finally:
        await store.close()


async def cmd_cutover_rollback(m: Migration, args: argparse.Namespace) -> int:
    from algoitny_migration.bootstrap import build_cutover

    store, runner = build_cutover(m)
    try:
        if args.command == "cutover":
            report = await runner.cutover(checks_verify=not args.skip_verify)
        else:
            report = await runner.rollback()
    finally:
        await store.close()
    if args.json:
        _print_json(report.as_dict())
    else:
        print(f"{report.command}: {'GO' if report.ok else 'NO-GO'}  {report.phase_before} -> {report.phase_after}")
        print(f"  started {report.started_at}, finished {report.finished_at}")
        for g in report.gates:
            print(f"  gate {g.name:<17} {'pass' if g.ok else 'FAIL'} ({g.seconds:.1f} s): {g.detail}")
        for a in report.actions:
            print(f"  {a['at']}  {a['what']}")
        if report.write_window_s is not None:
            print(f"  writes refused on both sides for {report.write_window_s:.1f} s")
        if report.error:
            print(f"  error: {report.error}")
    return 0 if report.ok else 1


async def cmd_shadow(m: Migration, args: argparse.Namespace) -> int:
    from algoitny_migration.adapters.reverse_store import ReverseStore
    from algoitny_migration.service_layer.shadow import Shadow

    originated = await asyncio.to_thread(ReverseStore(m.settings.legacy_dsn.get_secret_value()).platform_originated)
    skip = {int(k) for k in originated.get("users", set())}
    report = await Shadow(m.legacy, m.platform).run(args.users, args.seed, skip)
    if args.json:
        _print_json(report.as_dict())
    else:
        print(f"shadow comparison of {len(report.users)} users: {'SAME' if report.ok else 'DIFFERENT'}")
        for pattern, figures in report.as_dict()["patterns"].items():
            print(f"  {pattern:<25} compared {figures['compared']:>5}  matching {figures['matching']:>5}")
        for d in report.differences[:50]:
            print(f"  [{d.pattern}] {d.subject} {d.field}: legacy {d.legacy!r:.80} != platform {d.platform!r:.80}")
        for e in report.errors[:20]:
            print(f"  error: {e}")
    return 0 if report.ok else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="algoitny-migration", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, **kw: Any) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, **kw)
        sp.add_argument("--json", action="store_true", help="one JSON object on stdout, no progress bars")
        return sp

    sp = add("seed-legacy", help="fill the legacy database with generated legacy data")
    sp.add_argument("--scale", choices=sorted(SCALES), default="small")
    sp.add_argument("--seed", type=int, default=15)
    sp.add_argument("--now", help="reference time (ISO 8601) instead of the clock: 'today' is its day")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--if-empty", action="store_true", help="do nothing when the database already holds data")
    g.add_argument("--replace", action="store_true", help="empty the legacy tables first")
    add("schema", help="apply the legacy schema (idempotent)")
    sp = add("connector", help="the Debezium connector in Kafka Connect")
    sp.add_argument("action", choices=["register", "delete", "show"])
    sp.add_argument("--keep-slot", action="store_true", help="delete: keep the replication slot and publication")
    add("status", help="per table: legacy rows, imported, quarantined, lag")
    sp = add("verify", help="compare every legacy row with the new platform")
    sp.add_argument("--checks", default="rows,aggregates,search,history")
    sp.add_argument("--services", default="", help="only these importing services (comma-separated)")
    for name in ("pause", "resume"):
        sp = add(name, help=f"{name} the connector and/or the importers")
        sp.add_argument("--only", choices=["connector", "importers"])
    add("phase", help="the migration's phase and the record of each step")
    for name in ("start", "finish", "abandon"):
        sp = add(name, help=f"{name} the migration (phase change)")
        sp.add_argument("--note", default=None)
    sp = add("cutover", help="freeze the legacy side, check the gates, open the platform's writes")
    sp.add_argument("--skip-verify", action="store_true", help="leave out the verify gate (drills only)")
    add("rollback", help="drain the reverse writer, check the gates, give the data back to the legacy side")
    sp = add("shadow", help="legacy queries vs the platform's answers for a sample of users, field by field")
    sp.add_argument("--users", type=int, default=20)
    sp.add_argument("--seed", type=int, default=16, help="the sample is deterministic for a seed")
    add("reverse-writer", help="run the reverse writer (platform events -> legacy rows), /metrics on its port")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "reverse-writer":
        from algoitny_migration.entrypoints.reverse_writer import run
        from algoitny_shared.logging import configure_logging

        configure_logging("migration-reverse")
        run()
        return
    m = build()
    commands: dict[str, Any] = {
        "status": cmd_status,
        "verify": cmd_verify,
        "pause": cmd_pause_resume,
        "resume": cmd_pause_resume,
        "phase": cmd_phase,
        "start": cmd_phase,
        "finish": cmd_phase,
        "abandon": cmd_phase,
        "cutover": cmd_cutover_rollback,
        "rollback": cmd_cutover_rollback,
        "shadow": cmd_shadow,
    }

    async def run_async() -> int:
        try:
            return await commands[args.command](m, args)
        finally:
            await m.close()  # in the loop its HTTP client was used in

    if args.command in commands:
        sys.exit(asyncio.run(run_async()))
    try:
        if args.command == "seed-legacy":
            rc = cmd_seed(m, args)
        elif args.command == "schema":
            rc = cmd_schema(m, args)
        else:
            rc = cmd_connector(m, args)
    finally:
        asyncio.run(m.close())
    sys.exit(rc)


def seed_main() -> None:
    """The ``seed-legacy`` console script."""
    main(["seed-legacy", *sys.argv[1:]])


if __name__ == "__main__":
    main()
