"""Cutover's legacy-side steps at --scale medium (issue 16), no platform needed: seeding, the
freeze, the quiet window, the capture marker, unfreezing, and the legacy side of `shadow`.

    .venv/bin/python bench/migration/cutover_legacy_side.py
"""

import time
import uuid

from support.legacy_cdc import create_database, drop_database

from algoitny_migration.adapters.legacy_control import LegacyControl
from algoitny_migration.adapters.legacy_db import LegacyDatabase
from algoitny_migration.domain.legacy_data import generate

name = f"cutbench_{uuid.uuid4().hex[:8]}"
dsn = create_database(name)
try:
    db = LegacyDatabase(dsn)
    db.apply_schema()
    t = time.monotonic()
    ds = generate("medium")
    gen = time.monotonic() - t
    t = time.monotonic()
    counts = db.load(ds)
    load = time.monotonic() - t
    print("rows", sum(counts.values()), counts, f"generate {gen:.1f}s load {load:.1f}s")
    c = LegacyControl(dsn, "algoitny")
    t = time.monotonic()
    ended = c.freeze()
    frozen = c.frozen()
    f = time.monotonic() - t
    t = time.monotonic()
    a = c.activity("none")
    time.sleep(2.0)
    b = c.activity("none")
    q = time.monotonic() - t
    t = time.monotonic()
    m = c.write_marker()
    mk = time.monotonic() - t
    t = time.monotonic()
    c.unfreeze()
    u = time.monotonic() - t
    print(f"freeze {f * 1000:.0f} ms (sessions ended {ended}, frozen {frozen}); unfreeze {u * 1000:.0f} ms")
    print(f"quiet window {q:.2f} s (changes {a.changes} -> {b.changes}); marker {mk * 1000:.0f} ms {m}")
    t = time.monotonic()
    for uid in range(2, 52):
        db.query("SELECT * FROM search_history WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT 20", (uid,))
        db.query(
            db.query(
                "SELECT * FROM search_history WHERE user_id = %s OR is_code_public"
                " ORDER BY created_at DESC, id DESC LIMIT 20",
                (uid,),
            )(
                uid,
            ),
        )
    print(f"legacy side of shadow (history + feed) for 50 users: {time.monotonic() - t:.2f} s")
finally:
    drop_database(name)
