"""Realistic legacy data, in the legacy application's own formats (no I/O: rows only).

The generator builds what the Django application at ``a6d797b`` would have stored after a
while in production, row by row, deterministically from a seed and a reference time:

- ``subscription_plans``: Free 5/50, Pro 50/500, Admin -1/-1 (``-1`` = unlimited, as
  ``create_default_plans.py`` seeds them) and a retired, inactive "Beta" plan.
- ``users``: mostly Google-only accounts (unusable password ``!`` + 40 characters, a Google
  id), some with real Django ``pbkdf2_sha256`` hashes (see :data:`DEMO_USERS` and
  :func:`password_of`), staff/superusers, inactive accounts, users without a plan (NULL),
  and e-mail addresses that differ only in case from an earlier user's.
- ``problems``: Korean, English and mixed titles, tags as JSON lists, ``solution_code`` in
  base64, drafts (``is_completed`` false), soft-deleted problems, NULLs the model allows.
- ``test_cases``: from a few bytes to over 100 KB.
- ``search_history``: plain-text code, ``result_summary`` as the JSON strings "Passed" or
  "Failed" (Passed exactly when ``failed_count`` is 0), ``test_results`` lists, ``hints``
  lists, anonymous runs (``user_id`` NULL), public and private code.
- ``usage_logs``: ``hint`` and ``execution`` actions with the application's metadata,
  including today's usage for some users (so today's quota is partly spent).
- ``script_generation_jobs`` in every status, ``task_results`` (unused by the application).
- Oddities of a real database: orphans (a row whose foreign key names a row that is gone;
  written with triggers off, see :attr:`LegacyDataset.orphans`) and JSON columns whose
  shape is wrong (a tags string instead of a list).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from algoitny_shared.legacy.rows import ROW_MODELS

# ---------------------------------------------------------------- scales


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    problems: int
    test_cases_per_problem: int  # average; big ones are few
    big_test_cases: int  # test cases over 100 KB
    search_history: int
    usage_logs: int
    script_generation_jobs: int
    task_results: int
    hashed_users: int  # users with a real pbkdf2 hash (costly to compute: ~0.1-0.5 s each)


SCALES: dict[str, Scale] = {
    # For tests and `make legacy`: seeds in about 2 s, snapshots in seconds.
    "small": Scale("small", 60, 80, 4, 3, 600, 800, 20, 5, 8),
    # For the benchmark: the production counts (users 1k-10k, problems 10k-100k, test
    # cases 100k-1M, history and usage 1M+) divided by about 10-30 to run on a 2-core machine.
    "medium": Scale("medium", 1_000, 3_000, 6, 30, 50_000, 50_000, 300, 100, 24),
}

# ---------------------------------------------------------------- Django password hashes

_SALT_CHARS = string.ascii_letters + string.digits
UNUSABLE_PASSWORD_PREFIX = "!"
# The default iteration count of the Django release that hashed the password; older
# accounts keep the count of the release they last signed in with.
DJANGO_ITERATIONS = {"3.2": 260_000, "4.2": 600_000, "5.0": 720_000, "5.2": 1_000_000}


@functools.lru_cache(maxsize=4096)  # the same seed asks again for the same hashes (costly by design)
def django_pbkdf2_sha256(password: str, salt: str, iterations: int) -> str:
    """Exactly Django's ``PBKDF2PasswordHasher.encode``."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode().strip()}"


def django_unusable_password(rng: random.Random) -> str:
    """Django's ``make_password(None)``: ``!`` and 40 random characters."""
    return UNUSABLE_PASSWORD_PREFIX + "".join(rng.choice(_SALT_CHARS) for _ in range(40))


@dataclass(frozen=True)
class DemoUser:
    id: int
    email: str
    name: str
    password: str | None  # None: Google-only
    staff: bool = False
    plan: str | None = "Free"


# Fixed accounts for demos and tests (documented in docs/migration.md). Every other user with a
# usable password has the password from :func:`password_of`.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(1, "admin@legacy.algoitny.example", "관리자", "legacy-admin-pass", staff=True, plan="Admin"),
    DemoUser(2, "kim.minjun@legacy.algoitny.example", "김민준", "legacy-pass-2", plan="Pro"),
    DemoUser(3, "alice@legacy.algoitny.example", "Alice Park", "legacy-pass-3", plan="Free"),
    DemoUser(4, "google.only@legacy.algoitny.example", "Google 사용자", None, plan="Free"),
)


def password_of(user_id: int) -> str:
    """The demo password of a seeded user with a usable hash (the fixed ones excepted)."""
    for demo in DEMO_USERS:
        if demo.id == user_id and demo.password:
            return demo.password
    return f"legacy-pass-{user_id}"


# ---------------------------------------------------------------- vocabulary

KOREAN_TITLES = [
    "두 수의 합",
    "수 정렬하기",
    "최단경로",
    "미로 탐색",
    "숨바꼭질",
    "괄호",
    "피보나치 수",
    "계단 오르기",
    "연구소",
    "토마토",
    "알파벳",
    "전깃줄",
    "회의실 배정",
    "동전 0",
    "로또",
    "단어 공부",
    "별 찍기",
    "하노이 탑 이동 순서",
    "소수 구하기",
    "좋은 수열",
    "가장 긴 증가하는 부분 수열",
    "평범한 배낭",
    "섬의 개수",
    "치킨 배달",
    "스타트와 링크",
    "나무 자르기",
    "공유기 설치",
    "이친수",
]
ENGLISH_TITLES = [
    "Watermelon",
    "Theatre Square",
    "Two Sum",
    "Way Too Long Words",
    "Domino Piling",
    "Bit++",
    "Team",
    "Petya and Strings",
    "Beautiful Matrix",
    "Helpful Maths",
    "Word Capitalization",
    "Stones on the Table",
    "Bear and Big Brother",
    "Soldier and Bananas",
    "Longest Path in a Tree",
    "Shortest Paths",
    "Range Minimum Query",
    "Knapsack",
    "Edit Distance",
    "Counting Rooms",
]
MIXED_TITLES = [
    "A+B",
    "A-B",
    "A+B - 2",
    "DFS와 BFS",
    "N-Queen",
    "LCS 2",
    "N과 M (1)",
    "RGB거리",
    "1로 만들기",
    "ACM Craft",
    "Z",
    "BFS 스페셜 저지",
    "LIS 3",
    "2×n 타일링",
    "DSLR",
    "K번째 수",
    "MST 구하기",
]
TAGS = [
    "구현",
    "그래프",
    "dp",
    "greedy",
    "brute force",
    "bfs",
    "dfs",
    "수학",
    "정렬",
    "이분 탐색",
    "math",
    "strings",
    "implementation",
    "shortest path",
    "트리",
    "자료 구조",
    "bitmasks",
    "number theory",
]
PLATFORMS = [
    ("baekjoon", "https://www.acmicpc.net/problem/{}"),
    ("codeforces", "https://codeforces.com/problemset/problem/{}"),
]
LANGUAGES = ["python", "cpp", "java", "javascript"]
HINT_TEXTS = [
    "입력 크기를 보면 O(N log N) 이하의 풀이가 필요합니다.",
    "정렬한 뒤 두 포인터로 접근해 보세요.",
    "Think about which states repeat: memoise them.",
    "BFS로 최단 거리를 구할 수 있습니다. 방문 배열을 잊지 마세요.",
    "Watch out for integer overflow: use 64-bit sums.",
    "경계 조건(N=1)을 확인하세요.",
]
KOREAN_NAMES = ["김민준", "이서연", "박지호", "최수아", "정도윤", "강하은", "조예준", "윤지우", "장서준", "임하린"]
ENGLISH_NAMES = ["Alex Kim", "Jordan Lee", "Sam Park", "Chris Choi", "Taylor Jung", "Morgan Kang", "Jamie Cho"]

SOLUTIONS = {
    "python": "import sys\na, b = map(int, sys.stdin.readline().split())\nprint(a + b)\n",
    "cpp": '#include <bits/stdc++.h>\nusing namespace std;\nint main(){long long a,b;cin>>a>>b;cout<<a+b<<"\\n";}\n',
    "java": (
        "import java.util.*;\npublic class Main{public static void main(String[] x){Scanner s=new Scanner(System.in);"
        "long a=s.nextLong(),b=s.nextLong();System.out.println(a+b);}}\n"
    ),
    "javascript": (
        "const [a,b]=require('fs').readFileSync(0,'utf8').trim().split(/\\s+/).map(Number);console.log(a+b);\n"
    ),
}

TABLE_ORDER = (
    "subscription_plans",
    "users",
    "problems",
    "test_cases",
    "search_history",
    "usage_logs",
    "script_generation_jobs",
    "task_results",
)
# Column order of each table: the legacy schema's, as the shared typed rows declare it.
COLUMNS: dict[str, tuple[str, ...]] = {table: tuple(ROW_MODELS[table].model_fields) for table in TABLE_ORDER}


def jdump(value: Any) -> str:
    """JSON text as Django's JSONField stores it in jsonb."""
    return json.dumps(value, ensure_ascii=False)


Row = dict[str, Any]


@dataclass
class LegacyDataset:
    """Rows per table (JSON columns as JSON text), and the orphans (written with FK checks off)."""

    now: datetime
    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLE_ORDER})
    orphans: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in TABLE_ORDER})
    passwords: dict[int, str] = field(default_factory=dict)  # user id -> demo password

    def count(self, table: str) -> int:
        return len(self.rows[table]) + len(self.orphans[table])

    def counts(self) -> dict[str, int]:
        return {t: self.count(t) for t in TABLE_ORDER}

    def tuples(self, table: str, *, orphans: bool = False) -> Iterator[tuple[Any, ...]]:
        cols = COLUMNS[table]
        for row in (self.orphans if orphans else self.rows)[table]:
            yield tuple(row[c] for c in cols)


# ---------------------------------------------------------------- the generator


class LegacyGenerator:
    def __init__(self, scale: Scale, seed: int = 15, now: datetime | None = None) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.today = self.now.replace(hour=0, minute=0, second=0)
        self.start = self.now - timedelta(days=400)

    # ---- helpers
    def _ts(self, after: datetime | None = None) -> datetime:
        """A time between ``after`` (default: the start of the legacy era) and yesterday, with microseconds."""
        lo = after or self.start
        hi = self.today - timedelta(seconds=1)
        if hi <= lo:
            return lo
        span = (hi - lo).total_seconds()
        return lo + timedelta(seconds=self.rng.random() * span, microseconds=self.rng.randrange(1_000_000))

    def _today_ts(self) -> datetime:
        """Earlier today (UTC), before the reference time."""
        span = max(1.0, (self.now - self.today).total_seconds() - 5)
        return self.today + timedelta(seconds=self.rng.random() * span, microseconds=self.rng.randrange(1_000_000))

    def _token(self, n: int) -> str:
        return "".join(self.rng.choice(_SALT_CHARS) for _ in range(n))

    # ---- tables
    def generate(self) -> LegacyDataset:
        ds = LegacyDataset(now=self.now)
        plan_ids = self._plans(ds)
        user_ids = self._users(ds, plan_ids)
        problems = self._problems(ds)
        tc_ids = self._test_cases(ds, problems)
        self._history(ds, user_ids, problems, tc_ids)
        self._usage(ds, user_ids, problems)
        self._jobs(ds)
        self._task_results(ds)
        self._orphans(ds, user_ids, problems)
        return ds

    def _plans(self, ds: LegacyDataset) -> dict[str, int]:
        created = self.start - timedelta(days=30)
        plans = [
            (1, "Free", "기본 무료 플랜", 5, 50, -1, True, False, True),
            (2, "Pro", "Pro plan: more hints and runs", 50, 500, -1, True, False, True),
            (3, "Admin", "", -1, -1, -1, True, True, True),
            (5, "Beta 2024", "종료된 베타 플랜 (retired)", 10, 100, 50, False, False, False),
        ]
        for pid, name, desc, hints, runs, probs, view, reg, active in plans:
            ds.rows["subscription_plans"].append(
                dict(
                    id=pid,
                    name=name,
                    description=desc,
                    max_hints_per_day=hints,
                    max_executions_per_day=runs,
                    max_problems=probs,
                    can_view_all_problems=view,
                    can_register_problems=reg,
                    is_active=active,
                    created_at=created,
                    updated_at=self._ts(created),
                )
            )
        return {p[1]: p[0] for p in plans}

    def _users(self, ds: LegacyDataset, plans: dict[str, int]) -> list[int]:
        n = self.scale.users
        hashed_left = self.scale.hashed_users
        versions = list(DJANGO_ITERATIONS.values())
        ids: list[int] = []
        next_id = 1
        emails_seen: list[str] = []
        for i in range(n):
            demo = DEMO_USERS[i] if i < len(DEMO_USERS) else None
            uid = demo.id if demo else next_id
            next_id = uid + 1 + (1 if self.rng.random() < 0.05 else 0)  # gaps: deleted accounts
            created = self._ts()
            if demo:
                email, name, staff = demo.email, demo.name, demo.staff
                plan = plans.get(demo.plan) if demo.plan else None
                usable = demo.password is not None
            else:
                korean = self.rng.random() < 0.6
                name = self.rng.choice(KOREAN_NAMES if korean else ENGLISH_NAMES)
                if self.rng.random() < 0.05:
                    name = ""  # blank allowed
                email = (
                    f"user{uid}.{self._token(4).lower()}@{self.rng.choice(['gmail.com', 'naver.com', 'example.com'])}"
                )
                # E-mails that differ only in case from an earlier user's (Django's unique is case-sensitive).
                if emails_seen and (i == 20 or self.rng.random() < 0.03):
                    twin = self.rng.choice(emails_seen)
                    if twin.upper() not in emails_seen:
                        email = twin.upper()
                staff = self.rng.random() < 0.02
                r = self.rng.random()
                plan = None if r < 0.08 else (plans["Pro"] if r < 0.25 else plans["Free"])
                if r > 0.98:
                    plan = plans["Beta 2024"]
                if i % 13 == 0:
                    plan = None  # no plan: the model's built-in defaults apply
                if staff:
                    plan = plans["Admin"]
                usable = hashed_left > 0 and self.rng.random() < 0.3
            if usable:
                hashed_left -= 1
                password = password_of(uid)
                iterations = DJANGO_ITERATIONS["5.2"] if demo else self.rng.choice(versions)
                hashed = django_pbkdf2_sha256(password, self._token(22), iterations)
                ds.passwords[uid] = password
            else:
                hashed = django_unusable_password(self.rng)
            google_id = None if usable and self.rng.random() < 0.7 else str(10**20 + self.rng.randrange(10**20))
            last_login = None if self.rng.random() < 0.15 else self._ts(created)
            ds.rows["users"].append(
                dict(
                    id=uid,
                    password=hashed,
                    last_login=last_login,
                    is_superuser=staff,
                    email=email,
                    name=name,
                    picture="" if self.rng.random() < 0.2 else f"https://lh3.googleusercontent.com/a/{self._token(20)}",
                    google_id=google_id,
                    is_active=self.rng.random() > 0.04 or bool(demo),
                    is_staff=staff,
                    created_at=created,
                    updated_at=self._ts(created),
                    subscription_plan_id=plan,
                )
            )
            emails_seen.append(email)
            ids.append(uid)
        return ids

    def _title(self, i: int) -> str:
        r = self.rng.random()
        pool = KOREAN_TITLES if r < 0.45 else (ENGLISH_TITLES if r < 0.8 else MIXED_TITLES)
        base = pool[i % len(pool)] if i < 60 else self.rng.choice(pool)
        cycle = i // 60
        return base if cycle == 0 else f"{base} {cycle + 1}"

    def _problems(self, ds: LegacyDataset) -> list[Row]:
        out: list[Row] = []
        pid = 1
        used: set[tuple[str, str]] = set()
        for i in range(self.scale.problems):
            platform, url = PLATFORMS[0] if self.rng.random() < 0.7 else PLATFORMS[1]
            while True:
                if platform == "baekjoon":
                    number = str(1000 + self.rng.randrange(30_000))
                else:
                    number = f"{1 + self.rng.randrange(2000)}{self.rng.choice('ABCDEF')}"
                if (platform, number) not in used:
                    used.add((platform, number))
                    break
            lang = self.rng.choice(LANGUAGES)
            created = self._ts()
            completed = self.rng.random() > 0.1
            deleted = self.rng.random() < 0.05
            tags: Any = self.rng.sample(TAGS, self.rng.randrange(0, 4))
            if i % 97 == 50:
                tags = ", ".join(tags) or "dp"  # a string where a list belongs (a real oddity)
            row = dict(
                id=pid,
                platform=platform,
                problem_id=number,
                title=self._title(i),
                problem_url=None
                if self.rng.random() < 0.1
                else ("" if self.rng.random() < 0.05 else url.format(number)),
                tags=jdump(tags),
                solution_code=(
                    None if self.rng.random() < 0.1 else base64.b64encode(SOLUTIONS[lang].encode()).decode()
                ),
                language=None if self.rng.random() < 0.05 else lang,
                constraints=None if self.rng.random() < 0.2 else "1 ≤ A, B ≤ 10^9\n시간 제한 1초, 메모리 256MB",
                is_completed=completed,
                is_deleted=deleted,
                deleted_at=self._ts(created) if deleted else None,
                deleted_reason=(self.rng.choice(["중복 문제", "Wrong test data", None])) if deleted else None,
                metadata=jdump({"execution_count": self.rng.randrange(0, 500)} if self.rng.random() < 0.8 else {}),
                created_at=created,
            )
            ds.rows["problems"].append(row)
            out.append(row)
            pid += 1 + (1 if self.rng.random() < 0.03 else 0)
        return out

    def _test_cases(self, ds: LegacyDataset, problems: list[Row]) -> dict[int, list[int]]:
        tc_id = 1
        big_left = self.scale.big_test_cases
        by_problem: dict[int, list[int]] = {}
        avg = self.scale.test_cases_per_problem
        for p in problems:
            k = self.rng.randrange(0, 2 * avg + 1)
            created = p["created_at"]
            for j in range(k):
                if big_left and j == 0 and p["id"] % 7 == 3:
                    big_left -= 1
                    n = 12_000 + self.rng.randrange(8_000)  # ~100-170 KB of numbers
                    nums = [self.rng.randrange(10**9) for _ in range(n)]
                    inp = f"{n}\n" + " ".join(map(str, nums)) + "\n"
                    out = f"{sum(nums)}\n"
                else:
                    a, b = self.rng.randrange(10**4), self.rng.randrange(10**4)
                    inp, out = f"{a} {b}\n", f"{a + b}\n"
                    if self.rng.random() < 0.05:
                        out = ""  # outputs not generated yet
                created = created + timedelta(seconds=self.rng.randrange(1, 60), microseconds=self.rng.randrange(10**6))
                ds.rows["test_cases"].append(
                    dict(id=tc_id, problem_id=p["id"], input=inp, output=out, created_at=created)
                )
                by_problem.setdefault(p["id"], []).append(tc_id)
                tc_id += 1
        return by_problem

    def _history(self, ds: LegacyDataset, users: list[int], problems: list[Row], tcs: dict[int, list[int]]) -> None:
        emails = {u["id"]: u["email"] for u in ds.rows["users"]}
        live = [p for p in problems if not p["is_deleted"]] or problems
        hid = 1
        # Users with history today: the demo users, and some others.
        today_users = [d.id for d in DEMO_USERS[1:3]] + self.rng.sample(users, min(5, len(users)))
        for i in range(self.scale.search_history):
            p = self.rng.choice(live)
            anonymous = self.rng.random() < 0.1
            uid = None if anonymous else (today_users[i % len(today_users)] if i < 20 else self.rng.choice(users))
            lang = self.rng.choice(LANGUAGES)
            case_ids = tcs.get(p["id"], [])
            total = len(case_ids) or self.rng.randrange(1, 5)
            failed = 0 if self.rng.random() < 0.55 else self.rng.randrange(1, total + 1)
            passed = total - failed
            results = None
            if self.rng.random() < 0.85:
                results = []
                for k in range(total):
                    ok = k >= failed
                    results.append(
                        {
                            "test_case_id": case_ids[k] if k < len(case_ids) else None,
                            "output": "" if not ok and self.rng.random() < 0.3 else str(self.rng.randrange(10**5)),
                            "passed": ok,
                            "error": None
                            if ok
                            else self.rng.choice(["Time Limit Exceeded", "", "Traceback: ZeroDivisionError"]),
                            "status": "success" if ok else self.rng.choice(["failed", "error", "timeout"]),
                        }
                    )
            hints = None
            if self.rng.random() < 0.15:
                hints = self.rng.sample(HINT_TEXTS, self.rng.randrange(1, 4))
            created = self._today_ts() if i < 20 else self._ts(p["created_at"])
            ds.rows["search_history"].append(
                dict(
                    id=hid,
                    user_id=uid,
                    user_identifier=emails[uid]
                    if uid
                    else (self.rng.choice(["anonymous", f"192.168.0.{self.rng.randrange(255)}"])),
                    problem_id=p["id"],
                    platform=p["platform"],
                    problem_number=p["problem_id"],
                    problem_title=p["title"],
                    language=lang,
                    code=SOLUTIONS[lang] if passed == total else SOLUTIONS[lang].replace("+", "-"),
                    result_summary=jdump("Passed" if failed == 0 else "Failed"),
                    passed_count=passed,
                    failed_count=failed,
                    total_count=total,
                    is_code_public=self.rng.random() < 0.3,
                    test_results=None if results is None else jdump(results),
                    hints=None if hints is None else jdump(hints),
                    metadata=jdump({}),
                    created_at=created,
                )
            )
            hid += 1

    def _usage(self, ds: LegacyDataset, users: list[int], problems: list[Row]) -> None:
        history = ds.rows["search_history"]
        uid_today = [d.id for d in DEMO_USERS[1:3]]
        lid = 1
        for i in range(self.scale.usage_logs):
            today = i < 12  # the demo users' usage today: quota partly spent
            uid = uid_today[i % len(uid_today)] if today else self.rng.choice(users)
            action = "hint" if (i % 4 == 3 if today else self.rng.random() < 0.3) else "execution"
            p = self.rng.choice(problems)
            task = f"{self._token(8).lower()}-{self._token(4).lower()}-{self._token(4).lower()}"
            if action == "execution":
                meta: dict[str, Any] = {"task_id": task, "language": self.rng.choice(LANGUAGES)}
            else:
                meta = {"history_id": self.rng.choice(history)["id"] if history else None, "task_id": task}
            ds.rows["usage_logs"].append(
                dict(
                    id=lid,
                    user_id=uid,
                    action=action,
                    problem_id=None if self.rng.random() < 0.05 else p["id"],
                    metadata=jdump(meta),
                    created_at=self._today_ts() if today else self._ts(p["created_at"]),
                )
            )
            lid += 1

    def _jobs(self, ds: LegacyDataset) -> None:
        statuses = ["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
        for jid in range(1, self.scale.script_generation_jobs + 1):
            status = statuses[jid % 4] if jid <= 4 else self.rng.choices(statuses, [1, 1, 8, 2])[0]
            lang = self.rng.choice(LANGUAGES)
            created = self._ts()
            number = str(1000 + self.rng.randrange(30_000))
            ds.rows["script_generation_jobs"].append(
                dict(
                    id=jid,
                    platform="baekjoon",
                    problem_id=number,
                    title=self._title(jid),
                    problem_url=None if jid % 5 == 0 else f"https://www.acmicpc.net/problem/{number}",
                    tags=jdump(self.rng.sample(TAGS, 2)),
                    solution_code=None if jid % 6 == 0 else base64.b64encode(SOLUTIONS[lang].encode()).decode(),
                    language=lang,
                    constraints="1 ≤ N ≤ 100,000",
                    job_type="problem_extraction" if jid % 3 == 0 else "script_generation",
                    status=status,
                    celery_task_id=None
                    if status == "PENDING"
                    else f"{self._token(8).lower()}-{self._token(12).lower()}",
                    generator_code=(
                        "import random\nprint(random.randint(1, 100), random.randint(1, 100))\n"
                        if status == "COMPLETED"
                        else None
                    ),
                    error_message="Gemini API error: 429 RESOURCE_EXHAUSTED" if status == "FAILED" else None,
                    created_at=created,
                    updated_at=self._ts(created),
                )
            )

    def _task_results(self, ds: LegacyDataset) -> None:
        for i in range(self.scale.task_results):
            created = self._ts()
            ok = i % 3 != 0
            ds.rows["task_results"].append(
                dict(
                    task_id=f"{self._token(8).lower()}-{self._token(4).lower()}-{self._token(12).lower()}",
                    status="SUCCESS" if ok else "FAILURE",
                    result=jdump({"count": i}) if ok else None,
                    traceback=None if ok else "Traceback (most recent call last):\n  ...\nTimeoutError",
                    created_at=created,
                    updated_at=created + timedelta(seconds=3),
                )
            )

    def _orphans(self, ds: LegacyDataset, users: list[int], problems: list[Row]) -> None:
        """Rows whose foreign key names a row that is gone (deleted with a raw SQL statement, or
        from before a constraint existed). The ids sit above every generated id."""
        gone_user = max(users) + 1000
        gone_problem = max(p["id"] for p in problems) + 1000
        base_tc = len(ds.rows["test_cases"]) + 1000
        base_h = len(ds.rows["search_history"]) + 1000
        base_u = len(ds.rows["usage_logs"]) + 1000
        p = problems[0]
        ds.orphans["test_cases"].append(
            dict(id=base_tc, problem_id=gone_problem, input="1 2\n", output="3\n", created_at=self._ts())
        )
        ds.orphans["search_history"].append(
            dict(
                id=base_h,
                user_id=gone_user,
                user_identifier="gone@example.com",
                problem_id=p["id"],
                platform=p["platform"],
                problem_number=p["problem_id"],
                problem_title=p["title"],
                language="python",
                code="print(1)\n",
                result_summary=jdump("Failed"),
                passed_count=0,
                failed_count=1,
                total_count=1,
                is_code_public=False,
                test_results=None,
                hints=None,
                metadata=jdump({}),
                created_at=self._ts(),
            )
        )
        ds.orphans["search_history"].append(
            dict(
                id=base_h + 1,
                user_id=users[-1],
                user_identifier="orphan-problem",
                problem_id=gone_problem,
                platform="baekjoon",
                problem_number="99999",
                problem_title="삭제된 문제",
                language="cpp",
                code="int main(){}\n",
                result_summary=jdump("Passed"),
                passed_count=1,
                failed_count=0,
                total_count=1,
                is_code_public=True,
                test_results=jdump([]),
                hints=None,
                metadata=jdump({}),
                created_at=self._ts(),
            )
        )
        ds.orphans["usage_logs"].append(
            dict(
                id=base_u,
                user_id=gone_user,
                action="execution",
                problem_id=p["id"],
                metadata=jdump({"task_id": "gone", "language": "python"}),
                created_at=self._ts(),
            )
        )
        ds.orphans["users"].append(
            dict(
                id=max(users) + 500,
                password=django_unusable_password(self.rng),
                last_login=None,
                is_superuser=False,
                email=f"orphan-plan-{self._token(5).lower()}@example.com",
                name="Plan Gone",
                picture="",
                google_id=None,
                is_active=True,
                is_staff=False,
                created_at=self._ts(),
                updated_at=self._ts(),
                subscription_plan_id=4,  # plan 4 was deleted with raw SQL
            )
        )


def generate(scale: str | Scale = "small", seed: int = 15, now: datetime | None = None) -> LegacyDataset:
    return LegacyGenerator(SCALES[scale] if isinstance(scale, str) else scale, seed, now).generate()
