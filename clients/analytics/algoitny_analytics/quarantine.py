"""Messages the sink cannot store, kept with the reason instead of stalling or vanishing.

An undecodable message, an unknown type, an invalid payload or a version newer than this
client goes to ``<root>/quarantine/<UTC day>.jsonl`` (the raw bytes in base64, the error and
the time), so that the stream goes on and nothing is lost: after an upgrade of the client the
records can be decoded again."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from algoitny_events import DecodeError


class Quarantine:
    def __init__(self, root: str | Path) -> None:
        self.directory = Path(root) / "quarantine"

    async def record(self, raw: bytes, error: DecodeError) -> None:
        await asyncio.to_thread(self.record_sync, raw, error)

    def record_sync(self, raw: bytes, error: DecodeError) -> None:
        now = datetime.now(UTC)
        line = {
            "at": now.isoformat(),
            "reason": type(error).__name__,
            "error": str(error)[:2000],
            "value_b64": base64.b64encode(raw).decode("ascii"),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / f"{now.date().isoformat()}.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def records(self) -> list[dict[str, str]]:
        return [
            json.loads(line)
            for path in sorted(self.directory.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]
