"""The registry of the local processes: one spec per part (Kafka, OpenSearch, moto, PostgreSQL, Kafka
Connect) and per service, read by every launcher (``make run``/``make up``, ``make test``, the test
fixtures' private parts, the fault suite's private broker).

A spec says how to start a part (command, working directory, environment), when it counts as up
(``ready``), whether something already answers on its port (``answering``: then it is left alone),
how to stop it and where its data lives.

Local data lifetime (one rule for every part): **each start is a clean start**. moto keeps its state
in memory, so a restarted moto has none; every other part the stack starts therefore starts empty
too (``fresh``: Kafka's log dirs and KRaft metadata, OpenSearch's indices, PostgreSQL's cluster).
A restart can thus never leave the parts disagreeing (a search index that still holds problems the
restarted moto no longer has, topics whose events point at items that are gone). Parts the stack
finds already running, that it did not start, are never touched; ``make run`` seeds the demo data
again on every start. Formatting a Kafka log dir and initdb-ing PostgreSQL are done once into a
template under ``templates/`` and copied on each start, so a clean start is not slower.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "deploy" / "local"
PG_VERSION = 15
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
PG_ROLE = "algoitny"
PG_DB = "algoitny_legacy"


@dataclass(frozen=True)
class Config:
    """Ports, directories and tuning of one local stack (``from_env`` reads the documented variables)."""

    local_dir: Path  # data, logs, pid records (and, by default, the jars)
    lib_dir: Path  # where ``install`` put the jars (kafka/lib, opensearch/lib, connect/lib, ...)
    python: str = sys.executable
    java_home: str | None = None
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    opensearch_port: int = 9200
    moto_port: int = 5005
    pg_port: int = 5432
    connect_port: int = 8083
    pg_password: str = "algoitny"
    connect_group: str = "algoitny-connect"
    opensearch_heap: str = "1g"
    kafka_heap: str = "-Xms512m -Xmx1g"
    connect_heap: str = "-Xms256m -Xmx768m"
    timeout_s: float = 180.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Config:
        local = Path(env.get("ALGOITNY_LOCAL_DIR") or REPO / ".local")
        local.mkdir(parents=True, exist_ok=True)
        local = local.resolve()  # absolute: it is written into configs and command lines
        return cls(
            local_dir=local,
            lib_dir=Path(env["ALGOITNY_LIB_DIR"]).resolve() if env.get("ALGOITNY_LIB_DIR") else local,
            python=env.get("ALGOITNY_PYTHON") or sys.executable,
            java_home=env.get("JAVA_HOME") or None,
            kafka_port=int(env.get("KAFKA_PORT") or 9092),
            kafka_controller_port=int(env.get("KAFKA_CONTROLLER_PORT") or 9093),
            opensearch_port=int(env.get("OPENSEARCH_PORT") or 9200),
            moto_port=int(env.get("MOTO_PORT") or 5005),
            pg_port=int(env.get("LEGACY_PG_PORT") or 5432),
            connect_port=int(env.get("LEGACY_CONNECT_PORT") or 8083),
            pg_password=env.get("LEGACY_PG_PASSWORD") or "algoitny",
            connect_group=env.get("CONNECT_GROUP") or "algoitny-connect",
            opensearch_heap=env.get("OPENSEARCH_HEAP") or "1g",
            kafka_heap=env.get("KAFKA_HEAP_OPTS") or "-Xms512m -Xmx1g",
            connect_heap=env.get("CONNECT_HEAP_OPTS") or "-Xms256m -Xmx768m",
            timeout_s=float(env.get("INFRA_TIMEOUT") or 180),
        )

    @property
    def java(self) -> str:
        return str(Path(self.java_home) / "bin" / "java") if self.java_home else "java"

    @property
    def javac(self) -> str:
        return str(Path(self.java_home) / "bin" / "javac") if self.java_home else "javac"

    @property
    def data_dir(self) -> Path:
        return self.local_dir / "data"

    @property
    def log_dir(self) -> Path:
        return self.local_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.local_dir / "run"

    @property
    def pg_socket_dir(self) -> Path:
        return self.run_dir / "postgres-socket"


@dataclass(frozen=True)
class PartSpec:
    """One local part of the stack."""

    name: str
    group: str  # "infra" (infra.sh) or "legacy" (legacy.sh)
    port: Callable[[Config], int]
    command: Callable[[Config], list[str]]
    cwd: Callable[[Config], Path]
    ready: Callable[[Config], bool]
    endpoint: Callable[[Config], str]
    # Before each start: config files, and the part's data made empty (the clean-start rule).
    fresh: Callable[[Config], None] = lambda cfg: None
    after_start: Callable[[Config], None] = lambda cfg: None
    stateful: bool = True  # holds data a restart must not keep apart from the others
    stop_signal: int = signal.SIGTERM
    stop_timeout_s: float = 20.0
    requires: tuple[str, ...] = ()  # parts that must answer before this one starts
    ready_line: str | None = None  # a line of this start's log that must be there too

    def answering(self, cfg: Config) -> bool:
        return port_open(self.port(cfg))


# ---------------------------------------------------------------- probes


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _empty(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def _stamp(*parts: str) -> str:
    return sha256("\0".join(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- Kafka (KRaft, one node)


def kafka_properties(cfg: Config, data: Path) -> str:
    return f"""# Generated by algoitny_devtools.registry; edits are overwritten.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:{cfg.kafka_port},CONTROLLER://127.0.0.1:{cfg.kafka_controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{cfg.kafka_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:{cfg.kafka_controller_port}
log.dirs={data}
num.partitions=3
auto.create.topics.enable=false
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
"""


def _kafka_log4j() -> str:
    return f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}"


def kafka_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64). One in 64 of those starts with "-",
    which kafka-storage's argument parser takes for an option ("--cluster-id: expected one
    argument"); such ids are drawn again, as Kafka's own ``random-uuid`` does."""
    while True:
        cluster_id = urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _kafka_fresh(cfg: Config) -> None:
    """An empty, formatted log dir: copied from a template formatted once per controller port."""
    home, data = cfg.local_dir / "kafka", cfg.data_dir / "kafka"
    home.mkdir(parents=True, exist_ok=True)
    template = cfg.local_dir / "templates" / f"kafka-{_stamp(str(cfg.kafka_controller_port), str(cfg.lib_dir))}"
    if not (template / "meta.properties").exists():
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        props = template.parent / f"{template.name}.properties"
        props.write_text(kafka_properties(cfg, template))
        cluster_id = kafka_cluster_id()
        out = subprocess.run(
            [
                cfg.java,
                _kafka_log4j(),
                "-cp",
                f"{cfg.lib_dir}/kafka/lib/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--standalone",
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            shutil.rmtree(template, ignore_errors=True)
            raise RuntimeError(f"Kafka storage format failed: {out.stdout}{out.stderr}")
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    (home / "server.properties").write_text(kafka_properties(cfg, data))


KAFKA = PartSpec(
    name="kafka",
    group="infra",
    port=lambda cfg: cfg.kafka_port,
    command=lambda cfg: [
        cfg.java,
        *cfg.kafka_heap.split(),
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        _kafka_log4j(),
        "-cp",
        f"{cfg.lib_dir}/kafka/lib/*",
        "kafka.Kafka",
        str(cfg.local_dir / "kafka" / "server.properties"),
    ],
    cwd=lambda cfg: cfg.local_dir / "kafka",
    ready=lambda cfg: port_open(cfg.kafka_port),
    ready_line="Kafka Server started",
    endpoint=lambda cfg: f"127.0.0.1:{cfg.kafka_port} (bootstrap servers)",
    fresh=_kafka_fresh,
)

# ---------------------------------------------------------------- OpenSearch (embedded node, Launcher.java)


def _opensearch_fresh(cfg: Config) -> None:
    root = cfg.data_dir / "opensearch"
    for sub in ("data", "logs"):
        _empty(root / sub)
    (root / "home" / "config").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "opensearch" / "log4j2.properties", root / "home" / "config" / "log4j2.properties")


OPENSEARCH = PartSpec(
    name="opensearch",
    group="infra",
    port=lambda cfg: cfg.opensearch_port,
    command=lambda cfg: [
        cfg.java,
        f"-Xms{cfg.opensearch_heap}",
        f"-Xmx{cfg.opensearch_heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        "-Dfile.encoding=UTF-8",
        "-Dlog4j.shutdownHookEnabled=false",  # the node logs its own shutdown from Launcher's hook
        "-Dlog4j2.disable.jmx=true",
        "-cp",
        f"{cfg.lib_dir}/opensearch/lib/*:{cfg.lib_dir}/opensearch/classes",
        "Launcher",
        str(cfg.data_dir / "opensearch"),
        str(cfg.opensearch_port),
    ],
    cwd=lambda cfg: cfg.data_dir / "opensearch",
    ready=lambda cfg: http_ok(
        f"http://127.0.0.1:{cfg.opensearch_port}/_cluster/health?wait_for_status=yellow&timeout=1s"
    ),
    endpoint=lambda cfg: f"http://127.0.0.1:{cfg.opensearch_port}",
    fresh=_opensearch_fresh,
)

# ---------------------------------------------------------------- moto (DynamoDB, S3, ...: state in memory)


def _moto_fresh(cfg: Config) -> None:
    (cfg.local_dir / "moto").mkdir(parents=True, exist_ok=True)  # its working directory; state is in memory


MOTO = PartSpec(
    name="moto",
    group="infra",
    port=lambda cfg: cfg.moto_port,
    # The repository's wrapper of moto's server (DynamoDB requests serialised, see moto_server.py).
    command=lambda cfg: [cfg.python, str(HERE / "moto_server.py"), "-H", "127.0.0.1", "-p", str(cfg.moto_port)],
    cwd=lambda cfg: cfg.local_dir / "moto",
    ready=lambda cfg: http_ok(f"http://127.0.0.1:{cfg.moto_port}/moto-api/"),
    endpoint=lambda cfg: f"http://127.0.0.1:{cfg.moto_port} (AWS endpoint_url: DynamoDB, S3, ...)",
    fresh=_moto_fresh,
)

# ---------------------------------------------------------------- PostgreSQL 15 (the legacy database)


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, its programs run as the ``postgres`` OS user."""
    if os.getuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd]
    return cmd


def _chown_postgres(path: Path) -> None:
    if os.getuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _postgres_fresh(cfg: Config) -> None:
    """An empty cluster, copied from a template initdb-ed once (roles and schema: ``after_start``)."""
    template = cfg.local_dir / "templates" / f"postgres-{PG_VERSION}"
    cfg.log_dir.mkdir(parents=True, exist_ok=True)
    if not (template / "PG_VERSION").exists():
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        _chown_postgres(template)
        template.chmod(0o700)
        # Local (socket) connections: the OS user `postgres` only (peer); TCP: passwords (scram).
        out = subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(template),
                    "-U",
                    "postgres",
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            shutil.rmtree(template, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {out.stdout}{out.stderr}")
        with open(template / "pg_hba.conf", "a") as hba:
            hba.write(
                "# Added by algoitny_devtools: Debezium's replication connection over TCP.\n"
                f"host    replication     {PG_ROLE}        127.0.0.1/32            scram-sha-256\n"
            )
    data = cfg.data_dir / "postgres"
    shutil.rmtree(data, ignore_errors=True)
    data.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(template), str(data)], check=True)  # -a keeps the owner and modes
    cfg.pg_socket_dir.mkdir(parents=True, exist_ok=True)
    _chown_postgres(cfg.pg_socket_dir)


def _psql_admin(cfg: Config, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [
            *as_postgres([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(cfg.pg_socket_dir)]),
            "-p",
            str(cfg.pg_port),
            "-U",
            "postgres",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        cwd="/",
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr}")
    return out.stdout


def _postgres_prepare_database(cfg: Config) -> None:
    """The application role, its database and the legacy schema (the role owns the tables, as Django's would)."""
    _psql_admin(
        cfg,
        "-d",
        "postgres",
        stdin=f"""DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_ROLE}') THEN
    CREATE ROLE {PG_ROLE} LOGIN REPLICATION PASSWORD '{cfg.pg_password}';
  END IF;
END $$;
-- The seeder writes orphans (rows whose parent is gone) with FK triggers off (PostgreSQL 15+).
GRANT SET ON PARAMETER session_replication_role TO {PG_ROLE};
-- Tests give each run its own legacy database (CREATE DATABASE algoitny_legacy_<namespace>).
ALTER ROLE {PG_ROLE} CREATEDB;
""",
    )
    if not _psql_admin(cfg, "-d", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'").strip():
        _psql_admin(
            cfg, "-d", "postgres", "-c", f"CREATE DATABASE {PG_DB} OWNER {PG_ROLE} ENCODING 'UTF8' TEMPLATE template0"
        )
    schema = REPO / "services" / "migration" / "algoitny_migration" / "adapters" / "legacy_schema.sql"
    out = subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(cfg.pg_port),
            "-U",
            PG_ROLE,
            "-d",
            PG_DB,
            "-f",
            str(schema),
        ],
        env={**os.environ, "PGPASSWORD": cfg.pg_password, "PGOPTIONS": "-c client_min_messages=warning"},
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"legacy schema failed: {out.stderr}")


POSTGRES = PartSpec(
    name="postgres",
    group="legacy",
    port=lambda cfg: cfg.pg_port,
    # Settings on the command line so port changes apply.
    command=lambda cfg: as_postgres(
        [
            str(PG_BIN / "postgres"),
            "-D",
            str(cfg.data_dir / "postgres"),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={cfg.pg_port}",
            "-c",
            f"unix_socket_directories={cfg.pg_socket_dir}",
            "-c",
            "wal_level=logical",
            "-c",
            "max_replication_slots=64",
            "-c",
            "max_wal_senders=64",
            "-c",
            "max_slot_wal_keep_size=2GB",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "fsync=on",
            "-c",
            "synchronous_commit=on",
            "-c",
            "wal_sender_timeout=60s",
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_messages=warning",
        ]
    ),
    cwd=lambda cfg: cfg.data_dir / "postgres",
    ready=lambda cfg: (
        subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(cfg.pg_port), "-t", "2"], check=False
        ).returncode
        == 0
    ),
    endpoint=lambda cfg: f"postgresql://{PG_ROLE}:{cfg.pg_password}@127.0.0.1:{cfg.pg_port}/{PG_DB}",
    fresh=_postgres_fresh,
    after_start=_postgres_prepare_database,
    stop_signal=signal.SIGINT,  # PostgreSQL's "fast" shutdown (SIGTERM waits for every client to leave)
    stop_timeout_s=30.0,
)

# ---------------------------------------------------------------- Kafka Connect + Debezium (state in Kafka topics)


def _connect_fresh(cfg: Config) -> None:
    home = cfg.local_dir / "connect"
    home.mkdir(parents=True, exist_ok=True)
    (home / "worker.properties").write_text(f"""# Generated by algoitny_devtools.registry; edits are overwritten.
bootstrap.servers=127.0.0.1:{cfg.kafka_port}
group.id={cfg.connect_group}
config.storage.topic={cfg.connect_group}.configs
offset.storage.topic={cfg.connect_group}.offsets
status.storage.topic={cfg.connect_group}.status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=5
status.storage.partitions=3
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
# Source offsets are flushed every second: after a crash at most that much is sent again.
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:{cfg.connect_port}
rest.advertised.host.name=127.0.0.1
rest.advertised.port={cfg.connect_port}
topic.creation.enable=true
plugin.discovery=only_scan
scheduled.rebalance.max.delay.ms=5000
# Idempotent producers for the source records (no duplicates from producer retries).
producer.enable.idempotence=true
producer.acks=all
producer.linger.ms=5
""")


CONNECT = PartSpec(
    name="connect",
    group="legacy",
    port=lambda cfg: cfg.connect_port,
    command=lambda cfg: [
        cfg.java,
        *cfg.connect_heap.split(),
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:TieredStopAtLevel=1",
        "-Xshare:auto",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={HERE / 'connect' / 'log4j2.properties'}",
        "-cp",
        f"{cfg.lib_dir}/connect/lib/*",
        "org.apache.kafka.connect.cli.ConnectDistributed",
        str(cfg.local_dir / "connect" / "worker.properties"),
    ],
    cwd=lambda cfg: cfg.local_dir / "connect",
    # The REST API answers once the worker joined its group and read the config topic.
    ready=lambda cfg: http_ok(f"http://127.0.0.1:{cfg.connect_port}/connectors"),
    endpoint=lambda cfg: f"http://127.0.0.1:{cfg.connect_port} (Kafka Connect REST, group {cfg.connect_group})",
    fresh=_connect_fresh,
    stateful=False,  # its state lives in Kafka's topics <group>.configs/offsets/status
    requires=("kafka",),
)

PARTS: dict[str, PartSpec] = {spec.name: spec for spec in (KAFKA, OPENSEARCH, MOTO, POSTGRES, CONNECT)}
GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, spec in PARTS.items() if spec.group == group) for group in ("infra", "legacy")
}

# ---------------------------------------------------------------- the services


@dataclass(frozen=True)
class ServiceDef:
    """A service process: ``python -m <module>`` on base port + ``port_offset``, ready when ``/readyz`` is 200."""

    name: str
    module: str
    port_offset: int
    readiness_path: str = "/readyz"
    env: Mapping[str, str] = field(default_factory=dict)


# Port = base port + offset; the gateway is the base port (8000 by default).
SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef("gateway", "algoitny_gateway", 0),
    ServiceDef("accounts", "algoitny_accounts", 1),
    ServiceDef("problems", "algoitny_problems", 2),
    ServiceDef("executions", "algoitny_executions", 3),
    ServiceDef("ratelimit", "algoitny_ratelimit", 4),
    ServiceDef("search-indexer", "algoitny_search_indexer", 5),
    ServiceDef("hints", "algoitny_hints", 6),
    ServiceDef("stats", "algoitny_stats", 7),
    # The problems service's test-case generation process (health and metrics only on its port).
    ServiceDef("problems-generation", "algoitny_problems.generation", 8),
)
