"""``python -m algoitny_devtools <group> <command>``: the local stack's command line.

Groups: ``infra`` (Kafka, OpenSearch, moto; deploy/local/infra.sh) and ``legacy`` (PostgreSQL, Kafka
Connect; deploy/local/legacy.sh). Commands:

  install       the jars (Maven, only if missing or stale), the OpenSearch launcher, PostgreSQL 15
  up [PART..]   install if needed, start every part not already answering (each start is a clean
                start: see algoitny_devtools.registry), wait until all are ready; stops what it
                started again if one fails (INFRA_KEEP_ON_FAILURE=1 keeps them)
  down          stop the group's parts this stack started (anything else is left alone)
  stop PART..   stop the named parts if this stack started them
  started       the parts the group's last ``up`` started
  status        each part up/down (exit 0 only if all are up)
  wait          wait until every part of the group is ready
  reset-data    delete the group's data directories (refused while a part we started runs)

Settings (environment): KAFKA_PORT, KAFKA_CONTROLLER_PORT, OPENSEARCH_PORT, MOTO_PORT, LEGACY_PG_PORT,
LEGACY_CONNECT_PORT, ALGOITNY_LOCAL_DIR (state: data, logs, records), ALGOITNY_LIB_DIR (jars; default
the local dir), ALGOITNY_PYTHON, JAVA_HOME, OPENSEARCH_HEAP, KAFKA_HEAP_OPTS, CONNECT_HEAP_OPTS,
CONNECT_GROUP, LEGACY_PG_PASSWORD, INFRA_TIMEOUT.
"""

from __future__ import annotations

import argparse
import sys

from algoitny_devtools.install import INSTALLERS, InstallFailed
from algoitny_devtools.launcher import PartFailed, Stack, log
from algoitny_devtools.registry import GROUPS, PARTS, Config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m algoitny_devtools", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("group", choices=sorted(GROUPS))
    parser.add_argument("command", choices=["install", "up", "down", "stop", "started", "status", "wait", "reset-data"])
    parser.add_argument("parts", nargs="*")
    args = parser.parse_args(argv)
    cfg = Config.from_env()
    stack = Stack(cfg)
    group_parts = GROUPS[args.group]
    unknown = [p for p in args.parts if p not in group_parts]
    if unknown:
        parser.error(f"not a part of {args.group}: {', '.join(unknown)} (parts: {', '.join(group_parts)})")
    parts = args.parts or list(group_parts)
    try:
        if args.command == "install":
            INSTALLERS[args.group](cfg)
        elif args.command == "up":
            INSTALLERS[args.group](cfg)
            stack.up(parts, group=args.group)
            print(f"Local {args.group} parts are up:")
            for name in parts:
                print(f"  {name:<11} {PARTS[name].endpoint(cfg)}")
            print(f"  logs:       {cfg.log_dir}")
        elif args.command == "down":
            stack.down(args.group)
            log(f"down: stopped what this stack had started of {args.group} (anything else is left alone)")
        elif args.command == "stop":
            stack.stop(args.parts)
        elif args.command == "started":
            print("\n".join(stack.started(args.group)))
        elif args.command == "status":
            all_up, lines = stack.status(parts)
            print("\n".join(lines))
            return 0 if all_up else 1
        elif args.command == "wait":
            for name in parts:
                stack._wait_ready(PARTS[name])
            log("all parts ready")
        elif args.command == "reset-data":
            stack.reset_data(parts)
    except (PartFailed, InstallFailed) as exc:
        log(f"ERROR: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
