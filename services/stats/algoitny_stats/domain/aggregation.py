"""The aggregation rules: how each event changes the statistics (pure, no I/O).

Two kinds of items:

* **counter items** only ever receive ``ADD`` deltas (user summary, problem summary, run-time
  histogram, per-day platform summary, per-day per-user counters, platform totals); deltas of
  several events on one item are summed, so a batch of events becomes one update per item;
* **state items** decide distinct counts and ordering-sensitive facts (a user's tried/solved
  marker per problem, a user's active days, a user's plan and active flag, a problem's
  lifecycle). They are read first, changed here, and written back whole with a condition on the
  version read (optimistic concurrency); a concurrent change makes the transaction fail and the
  batch is folded again from fresh state.

Every rule depends only on the event (its own timestamps, never the wall clock) and the state
items, and the counters are sums, so replaying the same events in any interleaving of topics
(partitions keep their order) gives the same items: the rebuild reproduces the live tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    HintRequested,
    ProblemCreated,
    ProblemDeleted,
    ProblemSnapshot,
    UsageConsumed,
    UsageRefunded,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
    UserRoleChanged,
)
from algoitny_shared.languages import UnknownLanguage, normalise

ACCEPTED = "AC"
HINT_ACTION = "hint"
EXECUTION_ACTION = "execution"

# (pk, sk) without the generation prefix.
Key = tuple[str, str]

PLATFORM_TOTALS: Key = ("PLATFORM", "TOTALS")
DAYS_PK = "DAYS"
INBOX_SK = "INBOX"

# The event types the stats consumer applies (others on its topics are skipped).
STATS_EVENT_TYPES = (
    "executions.ExecutionCompleted",
    "hints.HintRequested",
    "ratelimit.UsageConsumed",
    "ratelimit.UsageRefunded",
    "accounts.UserRegistered",
    "accounts.UserPlanChanged",
    "accounts.UserRoleChanged",
    "accounts.UserDeactivated",
    "accounts.UserReactivated",
    "problems.ProblemCreated",
    "problems.ProblemUpdated",
    "problems.ProblemCompleted",
    "problems.TestSetReplaced",
    "problems.ProblemDeleted",
)


def user_summary(user_id: str) -> Key:
    return (f"USER#{user_id}", "SUMMARY")


def user_days(user_id: str) -> Key:
    return (f"USER#{user_id}", "DAYS")


def user_profile(user_id: str) -> Key:
    return (f"USER#{user_id}", "PROFILE")


def user_problem(user_id: str, platform: str, problem_id: str) -> Key:
    return (f"USER#{user_id}", f"PROB#{platform}#{problem_id}")


def problem_pk(platform: str, problem_id: str) -> str:
    return f"PROBLEM#{platform}#{problem_id}"


def problem_summary(platform: str, problem_id: str) -> Key:
    return (problem_pk(platform, problem_id), "SUMMARY")


def problem_runtime(platform: str, problem_id: str) -> Key:
    return (problem_pk(platform, problem_id), "RUNTIME")


def problem_meta(platform: str, problem_id: str) -> Key:
    return (problem_pk(platform, problem_id), "META")


def day_summary(day: str) -> Key:
    return (DAYS_PK, day)


def day_users_pk(day: str) -> str:
    return f"DAY#{day}"


def day_user(day: str, user_id: str) -> Key:
    return (day_users_pk(day), f"USER#{user_id}")


def inbox_key(envelope: EventEnvelope) -> Key:
    """The inbox item recording an event: one per second of event time (``occurred_at``, which a
    republished envelope keeps), holding the ids of the events applied from that second."""
    return (f"INBOX#{iso(envelope.occurred_at)[:19]}", INBOX_SK)


def utc_day(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date().isoformat()


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def language_id(name: str) -> str:
    """One language counted once: older names (``python``, from the legacy history or old events)
    count as their judge id (``python3``); an unknown name is counted as it is, lower-cased."""
    try:
        return normalise(name)
    except UnknownLanguage:
        return name.strip().lower()


# -- what an event touches --------------------------------------------------------------------


def state_keys(envelope: EventEnvelope, payload: Any) -> list[Key]:
    """The state items an event's effect depends on (read before folding)."""
    if isinstance(payload, ExecutionCompleted):
        if payload.user_id:
            return [user_days(payload.user_id), user_problem(payload.user_id, payload.platform, payload.problem_id)]
        return []
    if isinstance(payload, (UserRegistered, UserPlanChanged, UserRoleChanged, UserDeactivated, UserReactivated)):
        return [user_profile(payload.user_id)]
    if isinstance(payload, ProblemSnapshot):
        return [problem_meta(payload.platform, payload.problem_id)]
    return []


def counter_keys(envelope: EventEnvelope, payload: Any) -> list[Key]:
    """Every counter item an event may change (a superset: used to size transactions)."""
    if isinstance(payload, ExecutionCompleted):
        day = utc_day(payload.completed_at)
        keys = [
            problem_summary(payload.platform, payload.problem_id),
            problem_runtime(payload.platform, payload.problem_id),
            day_summary(day),
            PLATFORM_TOTALS,
        ]
        if payload.user_id:
            keys += [user_summary(payload.user_id), day_user(day, payload.user_id)]
        return keys
    if isinstance(payload, (UsageConsumed, UsageRefunded)):
        return [user_summary(payload.user_id), day_summary(payload.day), PLATFORM_TOTALS]
    if isinstance(payload, HintRequested):
        keys = [day_summary(utc_day(payload.requested_at)), PLATFORM_TOTALS]
        return keys + ([user_summary(payload.user_id)] if payload.user_id else [])
    if isinstance(payload, (UserRegistered, UserPlanChanged, UserDeactivated, UserReactivated)):
        return [PLATFORM_TOTALS, day_summary(_account_day(payload))]
    if isinstance(payload, ProblemSnapshot):
        return [PLATFORM_TOTALS]
    return []


def _account_day(payload: Any) -> str:
    fields: dict[type, str] = {
        UserRegistered: "registered_at",
        UserPlanChanged: "changed_at",
        UserDeactivated: "deactivated_at",
        UserReactivated: "reactivated_at",
        UserRoleChanged: "changed_at",
    }
    moment = fields[type(payload)]
    return utc_day(getattr(payload, moment))


def keys_of(envelope: EventEnvelope, payload: Any) -> set[Key]:
    return {inbox_key(envelope), *state_keys(envelope, payload), *counter_keys(envelope, payload)}


# -- streaks ----------------------------------------------------------------------------------


def best_streak(days: list[str]) -> int:
    """The longest run of consecutive UTC days in a sorted list of ISO days."""
    best = run = 0
    previous: date | None = None
    for text in days:
        current = date.fromisoformat(text)
        run = run + 1 if previous is not None and current - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = current
    return best


def current_streak(days: list[str], today: date) -> int:
    """The run of consecutive active days ending today, or yesterday (today may still come)."""
    if not days:
        return 0
    last = date.fromisoformat(days[-1])
    if (today - last).days > 1:
        return 0
    run = 1
    for text in reversed(days[:-1]):
        current = date.fromisoformat(text)
        if last - current != timedelta(days=1):
            break
        run += 1
        last = current
    return run


def median_from_histogram(histogram: dict[int, int]) -> float | None:
    """The exact median of the values a histogram counts (mean of the two middle ones if even)."""
    total = sum(c for c in histogram.values() if c > 0)
    if total == 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    seen = 0
    lower: int | None = None
    for value in sorted(histogram):
        count = histogram[value]
        if count <= 0:
            continue
        if lower is None and seen + count > lower_rank:
            lower = value
        if seen + count > upper_rank:
            assert lower is not None
            return (lower + value) / 2
        seen += count
    return None


def rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


# -- the fold ---------------------------------------------------------------------------------


@dataclass
class Fold:
    """The combined effect of a batch of events: counter deltas and new state items."""

    states: dict[Key, dict[str, Any] | None]  # as read (None: absent); updated in place
    versions: dict[Key, int | None] = field(default_factory=dict)  # the version each state item was read at
    counters: dict[Key, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    changed: set[Key] = field(default_factory=set)
    applied: list[str] = field(default_factory=list)  # event ids, in order

    def __post_init__(self) -> None:
        for key, item in self.states.items():
            self.versions.setdefault(key, None if item is None else int(item.get("ver", 0)))

    def add(self, key: Key, attribute: str, delta: int = 1) -> None:
        if delta:
            self.counters[key][attribute] += delta

    def state(self, key: Key) -> dict[str, Any] | None:
        if key not in self.states:
            raise KeyError(f"state item {key} was not read")
        return self.states[key]

    def put_state(self, key: Key, item: dict[str, Any]) -> None:
        self.states[key] = item
        self.changed.add(key)

    def counter_updates(self) -> dict[Key, dict[str, int]]:
        """Non-zero deltas per item (an item whose deltas cancel out is not written)."""
        out: dict[Key, dict[str, int]] = {}
        for key, deltas in self.counters.items():
            nonzero = {a: d for a, d in deltas.items() if d}
            if nonzero:
                out[key] = nonzero
        return out

    def state_writes(self) -> dict[Key, tuple[dict[str, Any], int | None]]:
        """Changed state items with the version they were read at (None: must not exist yet)."""
        return {k: (self.states[k] or {}, self.versions.get(k)) for k in self.changed}

    # -- rules ------------------------------------------------------------------------------

    def apply(self, envelope: EventEnvelope, payload: Any) -> None:
        handler = _RULES.get(type(payload))
        if handler is not None:
            handler(self, envelope, payload)
        self.applied.append(str(envelope.event_id))

    def _execution(self, envelope: EventEnvelope, e: ExecutionCompleted) -> None:
        day = utc_day(e.completed_at)
        accepted = e.verdict == ACCEPTED
        by = {
            "executions": 1,
            f"verdict#{e.verdict}": 1,
            f"lang#{language_id(e.language)}": 1,
            "accepted": int(accepted),
        }
        for key in (problem_summary(e.platform, e.problem_id), day_summary(day), PLATFORM_TOTALS):
            for attribute, delta in by.items():
                self.add(key, attribute, delta)
        if accepted:
            self.add(problem_runtime(e.platform, e.problem_id), f"ms#{max(0, e.max_time_ms)}")
        if not e.user_id:
            return
        user = e.user_id
        summary = user_summary(user)
        for attribute, delta in by.items():
            self.add(summary, attribute, delta)
        self.add(summary, f"platform#{e.platform}")
        self.add(day_user(day, user), "executions")
        self.add(day_user(day, user), "accepted", int(accepted))

        # Distinct problems: the user's marker for this problem, rewritten only when it changes
        # (first attempt, first solve, an earlier time), so most runs add counters only.
        marker_key = user_problem(user, e.platform, e.problem_id)
        before = self.state(marker_key)
        marker = dict(before or {})
        completed = iso(e.completed_at)
        if not marker:
            marker = {"platform": e.platform, "problem_id": e.problem_id, "first_attempt_at": completed}
            self.add(summary, "problems_attempted")
            self.add(problem_summary(e.platform, e.problem_id), "users")
        marker["first_attempt_at"] = min(str(marker["first_attempt_at"]), completed)
        if accepted:
            first = marker.get("first_solve_at")
            if first is None:
                self.add(summary, "problems_solved")
                self.add(problem_summary(e.platform, e.problem_id), "solves")
            # The earliest accepted run (ties: the smaller execution id), whatever the order.
            if first is None or (completed, e.execution_id) < (str(first), str(marker.get("first_solve_execution"))):
                marker["first_solve_at"] = completed
                marker["first_solve_execution"] = e.execution_id
        if marker != before:
            self.put_state(marker_key, marker)

        # Active days: a new day counts the user once among that day's active users.
        days_key = user_days(user)
        state = dict(self.state(days_key) or {})
        days = sorted(state.get("days", []))
        if day not in days:
            days = sorted([*days, day])
            self.add(day_summary(day), "active_users")
            self.put_state(days_key, {"days": days, "best_streak": best_streak(days), "last_day": days[-1]})

    def _usage(self, envelope: EventEnvelope, u: UsageConsumed | UsageRefunded) -> None:
        sign = 1 if isinstance(u, UsageConsumed) else -1
        if u.action == HINT_ACTION:
            self.add(user_summary(u.user_id), "hints_used", sign)
            self.add(day_summary(u.day), "hints", sign)
            self.add(PLATFORM_TOTALS, "hints", sign)
        elif u.action == EXECUTION_ACTION:
            self.add(day_summary(u.day), "charged_executions", sign)
            self.add(PLATFORM_TOTALS, "charged_executions", sign)

    def _hint_requested(self, envelope: EventEnvelope, h: HintRequested) -> None:
        self.add(day_summary(utc_day(h.requested_at)), "hint_requests")
        self.add(PLATFORM_TOTALS, "hint_requests")
        if h.user_id:
            self.add(user_summary(h.user_id), "hint_requests")

    # Users per plan: totals (all users and active users) on PLATFORM/TOTALS; each day's change of
    # active users per plan on its DAYS item, so the series is rebuilt from the current totals.
    def _plan_move(self, day: str, plan: str | None, delta: int, active: bool) -> None:
        if not plan:
            return
        self.add(PLATFORM_TOTALS, f"plan_all#{plan}", delta)
        if active:
            self.add(PLATFORM_TOTALS, f"plan#{plan}", delta)
            self.add(day_summary(day), f"plan#{plan}", delta)

    def _registered(self, envelope: EventEnvelope, r: UserRegistered) -> None:
        key = user_profile(r.user_id)
        if self.state(key):
            return  # already known (cannot happen with the inbox; harmless)
        day = utc_day(r.registered_at)
        self.put_state(
            key,
            {
                "plan_id": r.plan_id,
                "role": r.role,
                "active": True,
                "registered_at": iso(r.registered_at),
                "version": envelope.aggregate_version,
            },
        )
        self.add(PLATFORM_TOTALS, "users")
        self.add(PLATFORM_TOTALS, "active_users")
        self.add(day_summary(day), "signups")
        self._plan_move(day, r.plan_id, 1, True)

    def _profile(self, user_id: str, envelope: EventEnvelope) -> dict[str, Any] | None:
        """The user's profile, or None when the event is older than what the profile reflects
        (a user's events carry the user's version: the newest state wins in any order)."""
        profile = dict(self.state(user_profile(user_id)) or {"active": True, "plan_id": None})
        if envelope.aggregate_version <= int(profile.get("version", 0)):
            return None
        profile["version"] = envelope.aggregate_version
        return profile

    def _plan_changed(self, envelope: EventEnvelope, p: UserPlanChanged) -> None:
        profile = self._profile(p.user_id, envelope)
        if profile is None:
            return
        old = profile.get("plan_id") or p.previous_plan_id
        if old == p.plan_id:
            self.put_state(user_profile(p.user_id), profile)
            return
        day = utc_day(p.changed_at)
        active = bool(profile.get("active", True))
        self._plan_move(day, old, -1, active)
        self._plan_move(day, p.plan_id, 1, active)
        profile["plan_id"] = p.plan_id
        self.put_state(user_profile(p.user_id), profile)

    def _role_changed(self, envelope: EventEnvelope, r: UserRoleChanged) -> None:
        profile = self._profile(r.user_id, envelope)
        if profile is None:
            return
        profile["role"] = r.role
        self.put_state(user_profile(r.user_id), profile)

    def _active(self, envelope: EventEnvelope, user_id: str, active: bool, day: str) -> None:
        profile = self._profile(user_id, envelope)
        if profile is None:
            return
        if bool(profile.get("active", True)) == active:
            self.put_state(user_profile(user_id), profile)
            return
        delta = 1 if active else -1
        self.add(PLATFORM_TOTALS, "active_users", delta)
        plan = profile.get("plan_id")
        if plan:
            self.add(PLATFORM_TOTALS, f"plan#{plan}", delta)
            self.add(day_summary(day), f"plan#{plan}", delta)
        profile["active"] = active
        self.put_state(user_profile(user_id), profile)

    def _deactivated(self, envelope: EventEnvelope, d: UserDeactivated) -> None:
        self._active(envelope, d.user_id, False, utc_day(d.deactivated_at))

    def _reactivated(self, envelope: EventEnvelope, r: UserReactivated) -> None:
        self._active(envelope, r.user_id, True, utc_day(r.reactivated_at))

    # Problems: not-deleted problems in total and per platform (AG-09, AG-18).
    def _problem(self, envelope: EventEnvelope, p: ProblemSnapshot) -> None:
        key = problem_meta(p.platform, p.problem_id)
        meta = dict(self.state(key) or {})
        version = envelope.aggregate_version
        created = isinstance(p, ProblemCreated)
        if meta and not created and version <= int(meta.get("version", 0)):
            return  # stale
        was_live = bool(meta) and not meta.get("deleted", False)
        live = not isinstance(p, ProblemDeleted)
        if live and not was_live:
            self.add(PLATFORM_TOTALS, "problems")
            self.add(PLATFORM_TOTALS, f"problems#{p.platform}")
        elif was_live and not live:
            self.add(PLATFORM_TOTALS, "problems", -1)
            self.add(PLATFORM_TOTALS, f"problems#{p.platform}", -1)
        self.put_state(
            key,
            {
                "platform": p.platform,
                "problem_id": p.problem_id,
                "status": "deleted" if not live else p.status,
                "deleted": not live,
                "version": max(version, int(meta.get("version", 0))),
            },
        )


_RULES: dict[type, Any] = {
    ExecutionCompleted: Fold._execution,
    UsageConsumed: Fold._usage,
    UsageRefunded: Fold._usage,
    HintRequested: Fold._hint_requested,
    UserRegistered: Fold._registered,
    UserPlanChanged: Fold._plan_changed,
    UserRoleChanged: Fold._role_changed,
    UserDeactivated: Fold._deactivated,
    UserReactivated: Fold._reactivated,
}
for _cls in ProblemSnapshot.__subclasses__():
    _RULES[_cls] = Fold._problem


def chunk_events(
    events: list[tuple[EventEnvelope, Any]], max_items: int, max_events: int = 100
) -> list[list[tuple[EventEnvelope, Any]]]:
    """Split a batch into groups whose items (inbox + states + counters) fit one transaction."""
    chunks: list[list[tuple[EventEnvelope, Any]]] = []
    current: list[tuple[EventEnvelope, Any]] = []
    keys: set[Key] = set()
    for envelope, payload in events:
        mine = keys_of(envelope, payload)
        if current and (len(keys | mine) > max_items or len(current) >= max_events):
            chunks.append(current)
            current, keys = [], set()
        current.append((envelope, payload))
        keys |= mine
    if current:
        chunks.append(current)
    return chunks


def total_of(item: dict[str, Any], prefix: str) -> dict[str, int]:
    """The ``<prefix>#<name>`` counters of an item as {name: count} (zeros dropped)."""
    out: dict[str, int] = {}
    for attribute, value in item.items():
        if attribute.startswith(prefix + "#") and isinstance(value, (int, float)) and value:
            out[attribute[len(prefix) + 1 :]] = int(value)
    return dict(sorted(out.items()))
