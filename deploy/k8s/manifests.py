"""The Kubernetes base (kustomize) of every service, generated from the code's single definitions.

    python deploy/k8s/manifests.py write   # make k8s        (writes deploy/k8s/base/)
    python deploy/k8s/manifests.py check   # part of make k8s-check: fails when base/ is stale

What comes from the code, never restated here: consumer groups and the topics each reads
(``WORKLOADS[*].groups`` is checked against the services' bootstraps by
tests/unit/test_k8s_manifests.py), each topic's planned partitions (``TopicSpec.partitions``: the
replica ceiling of every group reading it), the listening ports, which settings are secrets
(``secret_field``), and the judge's seccomp profile (moby's default, flattened for the judge's
capabilities, plus what bubblewrap needs). What is decided here: how the services are split into
Deployments, their resources and replica ranges, and who may talk to whom.

Layout of a service with consumers: ``<svc>`` serves HTTP with its consumers off (HPA on CPU)
and runs the outbox relay (leases, docs/capacity.md); ``<svc>-consumer`` runs the same command
with its consumer groups on and no relay, scaled by KEDA on its groups' lag. The judge workers
(``judge``) run the executions service with the judge on, in the judge-workers group only; the
executions API runs the judge too (custom runs, POST /runs), so both are judge pods;
``executions-consumer`` (no judge) attaches hints to history items. ``problems-generation`` runs
test-case generation with its consumer group and the relay of its own outbox.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from algoitny_shared.topics import (
    ACCOUNT_EVENTS,
    ACCOUNTS_GROUP,
    EXECUTION_EVENTS,
    EXECUTION_JOBS,
    EXECUTIONS_GROUP,
    HINT_EVENTS,
    HINTS_GROUP,
    JUDGE_WORKER_GROUP,
    PROBLEM_EVENTS,
    PROBLEMS_GENERATION_GROUP,
    PROBLEMS_GROUP,
    RATELIMIT_EVENTS,
    RATELIMIT_GROUP,
    SEARCH_INDEXER_GROUP,
    STATS_GROUP,
    TopicSpec,
)

HERE = Path(__file__).resolve().parent
BASE = HERE / "base"
SECCOMP_BASE = HERE / "seccomp" / "moby-default.json"
SECCOMP_JUDGE = HERE / "seccomp" / "algoitny-judge.json"

NAMESPACE = "algoitny"  # the Kubernetes namespace and ALGOITNY_NAMESPACE
IMAGE = "algoitny"  # deploy/Dockerfile, default target (runtime)
JUDGE_IMAGE = "algoitny-judge"  # deploy/Dockerfile --target judge
SECRET = "algoitny-secrets"  # created by the operator (or an external secrets controller), never here
CONFIG = "algoitny-config"
MONITORING_NAMESPACE = "monitoring"  # where Prometheus runs (it scrapes /metrics)
INGRESS_NAMESPACE = "ingress"  # where the ingress controller / load balancer pods run
# Where Kafka (MSK), the AWS VPC endpoints (DynamoDB, S3) and OpenSearch answer: the VPC's private
# range. Overlays replace it with the real one; nothing leaves for the internet but the LLM calls.
VPC_CIDR = "10.0.0.0/16"
JUDGE_RUNTIME_CLASS = "algoitny-judge"
JUDGE_NODE_LABEL = {"algoitny.dev/judge": "true"}
JUDGE_WORK_ROOT = "/var/tmp/algoitny-judge"
# Capabilities of the judge's container (inside its own user namespace, hostUsers: false):
# SETUID/SETGID: the runner drops to the slot's uid; CHOWN/FOWNER: boxes are created owned by the
# slot uid and removed after; DAC_OVERRIDE: the host side copies compile artifacts out of a box that
# is 0700 to the slot uid; KILL: leftovers of a slot uid are killed after each run.
JUDGE_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID")
# Syscalls bubblewrap needs to build a box without privileges (user, mount, pid, net, ipc, uts and
# cgroup namespaces; its own /proc and tmpfs mounts; pivot_root into the box; the box's hostname).
BWRAP_SYSCALLS = ("clone", "mount", "pivot_root", "sethostname", "umount2", "unshare")
# Allowed by moby's default on kernels >= 4.8, needed by nothing the judge runs: refused here.
JUDGE_DENIED_SYSCALLS = ("process_vm_readv", "process_vm_writev", "ptrace")

# Secret settings -> key of the Kubernetes Secret; optional ones may be absent (empty means off).
SECRET_KEYS = {
    "ALGOITNY_CURSOR_SECRET": ("cursor-secret", False),
    "ALGOITNY_INTERNAL_SECRET": ("internal-secret", False),
    "ALGOITNY_ADMIN_TOKEN": ("admin-token", False),
    "ALGOITNY_TOKEN_SIGNING_KEY": ("token-signing-key", False),
    "ALGOITNY_TOKEN_PREVIOUS_SIGNING_KEYS": ("token-previous-signing-keys", True),
    "ALGOITNY_DEMO_ADMIN_PASSWORD": ("demo-admin-password", False),
    "ALGOITNY_GEMINI_API_KEY": ("gemini-api-key", True),
}
# Every process of the platform: from the ConfigMap. Empty AWS keys mean the default credential
# chain (the pod's IAM role through its service account), never a key in the manifests.
COMMON_CONFIG = {
    "ALGOITNY_NAMESPACE": NAMESPACE,
    "ALGOITNY_ENVIRONMENT": "production",
    "ALGOITNY_HOST": "0.0.0.0",
    "ALGOITNY_LOG_LEVEL": "INFO",
    "ALGOITNY_AWS_REGION": "us-east-1",
    "ALGOITNY_AWS_ENDPOINT_URL": "",
    "ALGOITNY_AWS_ACCESS_KEY_ID": "",
    "ALGOITNY_AWS_SECRET_ACCESS_KEY": "",
    "ALGOITNY_KAFKA_BOOTSTRAP_SERVERS": "kafka.example.internal:9092",
    "ALGOITNY_KAFKA_REPLICATION_FACTOR": "3",
}
COMMON_SECRETS = ("ALGOITNY_CURSOR_SECRET", "ALGOITNY_INTERNAL_SECRET")

PORTS = {
    "gateway": 8000,
    "accounts": 8001,
    "problems": 8002,
    "executions": 8003,
    "ratelimit": 8004,
    "search-indexer": 8005,
    "hints": 8006,
    "stats": 8007,
}


def url(service: str) -> str:
    return f"http://{service}:{PORTS[service]}"


@dataclass(frozen=True)
class Group:
    """A consumer group a workload runs, and the topics it reads (checked against the bootstraps)."""

    name: str
    topics: tuple[TopicSpec, ...]
    lag_threshold: int  # KEDA's target lag per replica

    @property
    def ceiling(self) -> int:
        """More members than the fewest partitions of its topics would idle: the replica ceiling."""
        return min(t.partitions for t in self.topics)


@dataclass(frozen=True)
class Workload:
    name: str
    service: str  # folder under services/ (module algoitny_<service>)
    env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()  # consumer groups: scaled by KEDA on their lag
    http: bool = True  # serves the API behind a Service (HPA on CPU); else health and metrics only
    judge: bool = False  # runs the bubblewrap judge: judge image, node pool and privileges
    calls: tuple[str, ...] = ()  # services it calls over HTTP (egress; their ingress)
    internet: bool = False  # calls the LLM (Gemini) on the internet
    min_replicas: int = 2
    max_replicas: int = 10
    cpu: tuple[str, str] = ("500m", "1")
    memory: tuple[str, str] = ("512Mi", "1Gi")
    command: str = "serve"  # the service CLI's subcommand the container runs

    @property
    def module(self) -> str:
        return "algoitny_" + self.service.replace("-", "_")

    @property
    def port(self) -> int:
        return PORTS[self.service]


OFF = {"ALGOITNY_CONSUMERS_ENABLED": "false"}
CONSUMER = {"ALGOITNY_OUTBOX_RELAY_ENABLED": "false"}
JUDGE_ENV = {
    "ALGOITNY_JUDGE_WORK_ROOT": JUDGE_WORK_ROOT,
    "ALGOITNY_JUDGE_USE_CGROUPS": "true",
    "ALGOITNY_JUDGE_SLOTS": "2",
}

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "gateway",
        "gateway",
        env={
            "ALGOITNY_PUBLIC_URL": "https://algoitny.example.com",
            "ALGOITNY_TRUSTED_PROXY_HOPS": "1",
            **{
                f"ALGOITNY_{v}_URL": url(s)
                for s, v in (
                    ("problems", "PROBLEMS"),
                    ("search-indexer", "SEARCH"),
                    ("accounts", "ACCOUNTS"),
                    ("ratelimit", "RATELIMIT"),
                    ("executions", "EXECUTIONS"),
                    ("hints", "HINTS"),
                    ("stats", "STATS"),
                )
            },
        },
        secrets=("ALGOITNY_ADMIN_TOKEN",),
        calls=("accounts", "problems", "executions", "ratelimit", "search-indexer", "hints", "stats"),
        min_replicas=3,
        max_replicas=60,
        cpu=("1", "1"),
    ),
    Workload(
        "accounts",
        "accounts",
        env={**OFF, "ALGOITNY_DEMO_ADMIN_PASSWORD": ""},
        secrets=("ALGOITNY_TOKEN_SIGNING_KEY", "ALGOITNY_TOKEN_PREVIOUS_SIGNING_KEYS"),
        max_replicas=60,
        cpu=("1", "1"),  # argon2id sign-ins are CPU-bound
    ),
    Workload(
        "accounts-consumer",
        "accounts",
        env={**CONSUMER, "ALGOITNY_DEMO_ADMIN_PASSWORD": ""},
        secrets=("ALGOITNY_TOKEN_SIGNING_KEY", "ALGOITNY_TOKEN_PREVIOUS_SIGNING_KEYS"),
        groups=(Group(ACCOUNTS_GROUP, (RATELIMIT_EVENTS,), 100),),
        http=False,
        cpu=("250m", "1"),
    ),
    Workload(
        "problems",
        "problems",
        env={**OFF, "ALGOITNY_RATELIMIT_URL": url("ratelimit")},
        secrets=("ALGOITNY_GEMINI_API_KEY",),
        calls=("ratelimit",),
        internet=True,
        max_replicas=60,
    ),
    Workload(
        "problems-consumer",
        "problems",
        env=CONSUMER,
        secrets=("ALGOITNY_GEMINI_API_KEY",),
        groups=(Group(PROBLEMS_GROUP, (EXECUTION_EVENTS,), 200),),
        http=False,
        max_replicas=24,
        cpu=("250m", "1"),
    ),
    Workload(
        # Test-case generation (python -m algoitny_problems generation): works on the jobs as their
        # events come (sandbox answers, created and retried jobs); Gemini writes programs on request.
        # It relays its own outbox (GenerationOutbox), so its sandbox requests go out at once.
        "problems-generation",
        "problems",
        secrets=("ALGOITNY_GEMINI_API_KEY",),
        groups=(Group(PROBLEMS_GENERATION_GROUP, (EXECUTION_EVENTS, PROBLEM_EVENTS), 100),),
        http=False,
        internet=True,
        min_replicas=1,
        max_replicas=12,
        cpu=("250m", "1"),
        command="generation",
    ),
    Workload(
        "executions",
        "executions",
        env={
            **OFF,
            **JUDGE_ENV,
            "ALGOITNY_WORKER_ENABLED": "false",
            "ALGOITNY_JUDGE_QUEUE": "4",
            "ALGOITNY_PROBLEMS_URL": url("problems"),
            "ALGOITNY_ACCOUNTS_URL": url("accounts"),
        },
        judge=True,
        calls=("problems", "accounts"),
        max_replicas=60,
        cpu=("2", "4"),
        memory=("2Gi", "4Gi"),
    ),
    Workload(
        "judge",
        "executions",
        env={
            **CONSUMER,
            **JUDGE_ENV,
            # A worker judges one job at a time (max_poll_records=1, handled in order): one slot.
            "ALGOITNY_JUDGE_SLOTS": "1",
            "ALGOITNY_WORKER_ENABLED": "true",
            "ALGOITNY_ATTACH_HINTS_ENABLED": "false",  # executions-consumer does that
            "ALGOITNY_PROBLEMS_URL": url("problems"),  # test sets; display names are the API's
        },
        judge=True,
        groups=(Group(JUDGE_WORKER_GROUP, (EXECUTION_JOBS,), 2),),  # a job takes about a second
        http=False,
        calls=("problems",),
        max_replicas=512,
        cpu=("2", "3"),  # the box's cpu.max is 2 CPUs; the service beside it
        memory=("2Gi", "3Gi"),
    ),
    Workload(
        "executions-consumer",
        "executions",
        env={
            **CONSUMER,
            "ALGOITNY_WORKER_ENABLED": "false",
            "ALGOITNY_JUDGE_ENABLED": "false",
        },
        groups=(Group(EXECUTIONS_GROUP, (HINT_EVENTS,), 200),),
        http=False,
        cpu=("250m", "1"),
    ),
    Workload("ratelimit", "ratelimit", env=OFF, max_replicas=60),
    Workload(
        "ratelimit-consumer",
        "ratelimit",
        env=CONSUMER,
        groups=(Group(RATELIMIT_GROUP, (ACCOUNT_EVENTS, EXECUTION_EVENTS), 200),),
        http=False,
        max_replicas=24,
        cpu=("250m", "1"),
    ),
    Workload(
        "search-indexer",
        "search-indexer",
        env={
            **OFF,
            "ALGOITNY_OPENSEARCH_URL": "https://search.example.internal:443",
            "ALGOITNY_PROBLEMS_URL": url("problems"),
        },
        calls=("problems",),
        max_replicas=20,
    ),
    Workload(
        "search-indexer-consumer",
        "search-indexer",
        env={**CONSUMER, "ALGOITNY_OPENSEARCH_URL": "https://search.example.internal:443"},
        groups=(Group(SEARCH_INDEXER_GROUP, (PROBLEM_EVENTS,), 100),),
        http=False,
        max_replicas=12,
        cpu=("250m", "1"),
    ),
    Workload(
        "hints",
        "hints",
        env={
            **OFF,
            "ALGOITNY_EXECUTIONS_URL": url("executions"),
            "ALGOITNY_PROBLEMS_URL": url("problems"),
            "ALGOITNY_RATELIMIT_URL": url("ratelimit"),
        },
        secrets=("ALGOITNY_GEMINI_API_KEY",),
        calls=("executions", "problems", "ratelimit"),
        max_replicas=10,
    ),
    Workload(
        "hints-consumer",
        "hints",
        env={
            **CONSUMER,
            "ALGOITNY_EXECUTIONS_URL": url("executions"),
            "ALGOITNY_PROBLEMS_URL": url("problems"),
            "ALGOITNY_RATELIMIT_URL": url("ratelimit"),
        },
        secrets=("ALGOITNY_GEMINI_API_KEY",),
        groups=(Group(HINTS_GROUP, (HINT_EVENTS,), 10),),  # an LLM call takes seconds
        calls=("executions", "problems", "ratelimit"),
        internet=True,
        http=False,
        max_replicas=24,
    ),
    Workload("stats", "stats", env=OFF, max_replicas=20),
    Workload(
        "stats-consumer",
        "stats",
        env=CONSUMER,
        groups=(
            Group(STATS_GROUP, (EXECUTION_EVENTS, HINT_EVENTS, RATELIMIT_EVENTS, ACCOUNT_EVENTS, PROBLEM_EVENTS), 500),
        ),
        http=False,
        max_replicas=24,
        cpu=("250m", "1"),
    ),
)


def workload_max(w: Workload) -> int:
    """The replica ceiling: never more members of a group than its topics' partitions."""
    return min([w.max_replicas, *(g.ceiling for g in w.groups)])


# ---------------------------------------------------------------- objects


def labels(w: Workload) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": w.name,
        "app.kubernetes.io/part-of": "algoitny",
        "app.kubernetes.io/component": "judge" if w.judge else ("api" if w.http else "consumer"),
        "algoitny.dev/service": w.service,
    }


def selector(w: Workload) -> dict[str, str]:
    return {"app.kubernetes.io/name": w.name}


def env_of(w: Workload) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "ALGOITNY_PORT", "value": str(w.port)}]
    env += [{"name": k, "value": v} for k, v in sorted(w.env.items())]
    for var in (*COMMON_SECRETS, *w.secrets):
        key, optional = SECRET_KEYS[var]
        env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key, "optional": optional}}})
    return env


def probe(path: str, port: int, **extra: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "timeoutSeconds": 3, **extra}


def security_context(w: Workload) -> dict[str, Any]:
    if not w.judge:
        return {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    # Root of the pod's own user namespace only (hostUsers: false): uid 0 here is an unprivileged uid
    # on the node. See docs/judge-on-kubernetes.md for each line.
    return {
        "runAsUser": 0,
        "runAsGroup": 0,
        "runAsNonRoot": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], "add": list(JUDGE_CAPABILITIES)},
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/algoitny-judge.json"},
        "appArmorProfile": {"type": "Localhost", "localhostProfile": "algoitny-judge"},
        "procMount": "Unmasked",
    }


def deployment(w: Workload) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": w.name,
        "image": JUDGE_IMAGE if w.judge else IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", w.module, w.command],
        "ports": [{"name": "http", "containerPort": w.port}],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env_of(w),
        "resources": {
            "requests": {"cpu": w.cpu[0], "memory": w.memory[0]},
            "limits": {"cpu": w.cpu[1], "memory": w.memory[1]},
        },
        "startupProbe": probe("/healthz", w.port, periodSeconds=2, failureThreshold=60),
        "livenessProbe": probe("/healthz", w.port, periodSeconds=10, failureThreshold=3),
        "readinessProbe": probe("/readyz", w.port, periodSeconds=5, failureThreshold=2),
        "securityContext": security_context(w),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if w.judge:
        container["volumeMounts"].append({"name": "judge-work", "mountPath": JUDGE_WORK_ROOT})
        volumes.append({"name": "judge-work", "emptyDir": {"sizeLimit": "8Gi"}})
    pod: dict[str, Any] = {
        "serviceAccountName": w.service,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 60 if w.judge else 30,
        "containers": [container],
        "volumes": volumes,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(w)},
            }
        ],
    }
    if w.judge:
        pod["hostUsers"] = False
        pod["runtimeClassName"] = JUDGE_RUNTIME_CLASS
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {
            "replicas": w.min_replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(w)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {
                    "labels": labels(w),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(w.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod,
            },
        },
    }


def service(w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {"selector": selector(w), "ports": [{"name": "http", "port": w.port, "targetPort": "http"}]},
    }


def pdb(w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(w)}},
    }


def hpa(w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name},
            "minReplicas": w.min_replicas,
            "maxReplicas": w.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def scaled_object(w: Workload) -> dict[str, Any]:
    triggers = []
    for group in w.groups:
        for topic in group.topics:
            triggers.append(
                {
                    "type": "kafka",
                    "name": f"{group.name}-{topic.name}".replace(".", "-"),
                    "metadata": {
                        "bootstrapServersFromEnv": "ALGOITNY_KAFKA_BOOTSTRAP_SERVERS",
                        # The services' group ids and topics carry the namespace (topics.py, kafka.py).
                        "consumerGroup": f"{NAMESPACE}.{group.name}",
                        "topic": topic.physical(NAMESPACE),
                        "lagThreshold": str(group.lag_threshold),
                        "offsetResetPolicy": "earliest",
                        "allowIdleConsumers": "false",
                    },
                }
            )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {
            "scaleTargetRef": {"name": w.name},
            "minReplicaCount": w.min_replicas,
            "maxReplicaCount": workload_max(w),
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "advanced": {
                "horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}
            },
            "triggers": triggers,
        },
    }


def _pods(*names: str) -> list[dict[str, Any]]:
    return [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": n}}} for n in names]


def callers_of(service: str) -> list[str]:
    return sorted({w.name for w in WORKLOADS if service in w.calls})


def network_policy(w: Workload) -> dict[str, Any]:
    metrics_from = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}]
    ingress: list[dict[str, Any]] = [{"from": metrics_from, "ports": [{"port": w.port, "protocol": "TCP"}]}]
    if w.name == "gateway":
        # The only workload that takes outside traffic (from the load balancer / ingress controller).
        ingress.append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": w.port, "protocol": "TCP"}]})
    elif w.http and callers_of(w.service):
        ingress.append({"from": _pods(*callers_of(w.service)), "ports": [{"port": w.port, "protocol": "TCP"}]})
    egress: list[dict[str, Any]] = [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        },
        # Kafka (MSK), DynamoDB/S3 through VPC endpoints, OpenSearch: all inside the VPC.
        {
            "to": [{"ipBlock": {"cidr": VPC_CIDR}}],
            "ports": [{"port": 9092, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}],
        },
    ]
    for target in w.calls:
        egress.append({"to": _pods(target), "ports": [{"port": PORTS[target], "protocol": "TCP"}]})
    if w.internet:
        egress.append(
            {
                "to": [
                    {
                        "ipBlock": {
                            "cidr": "0.0.0.0/0",
                            "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
                        }
                    }
                ],
                "ports": [{"port": 443, "protocol": "TCP"}],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {
            "podSelector": {"matchLabels": selector(w)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def platform_objects() -> list[dict[str, Any]]:
    services = sorted({w.service for w in WORKLOADS})
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIG},
            "data": dict(COMMON_CONFIG),
        },
        # Nothing moves unless a policy below lets it (every pod of the namespace).
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        # Judge pods run under a runtime handler whose nodes delegate the pod's cgroup v2 subtree
        # (containerd: cgroup_writable = true) and allow user namespaces; only judge nodes have it.
        {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": JUDGE_RUNTIME_CLASS},
            "handler": "runc-judge",
            "scheduling": {
                "nodeSelector": dict(JUDGE_NODE_LABEL),
                "tolerations": [
                    {"key": "algoitny.dev/judge", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
                ],
            },
        },
    ]
    # The seed job's role: describe every table, topic and bucket (provision adds only what is missing),
    # write the plans (ratelimit) and the first admin (accounts).
    for svc in [*services, "seed"]:
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": svc,
                    # The pod's IAM role (DynamoDB tables and buckets of this service only): overlays set it.
                    "annotations": {"eks.amazonaws.com/role-arn": f"arn:aws:iam::000000000000:role/algoitny-{svc}"},
                },
                "automountServiceAccountToken": False,
            }
        )
    # Plans and the first admin (idempotent): tables, buckets and topics come from deploy/infra.
    seed_env = [
        {"name": "ALGOITNY_DEMO_ADMIN_EMAIL", "value": "admin@algoitny.dev"},
        *(
            {
                "name": var,
                "valueFrom": {
                    "secretKeyRef": {"name": SECRET, "key": SECRET_KEYS[var][0], "optional": SECRET_KEYS[var][1]}
                },
            }
            for var in (
                *COMMON_SECRETS,
                "ALGOITNY_TOKEN_SIGNING_KEY",
                "ALGOITNY_TOKEN_PREVIOUS_SIGNING_KEYS",
                "ALGOITNY_DEMO_ADMIN_PASSWORD",
            )
        ),
    ]
    objs.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "seed",
                "labels": {"app.kubernetes.io/name": "seed", "app.kubernetes.io/part-of": "algoitny"},
            },
            "spec": {
                "backoffLimit": 6,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "seed", "app.kubernetes.io/part-of": "algoitny"}},
                    "spec": {
                        "serviceAccountName": "seed",
                        "automountServiceAccountToken": False,
                        "restartPolicy": "OnFailure",
                        "containers": [
                            {
                                "name": "seed",
                                "image": IMAGE,
                                "command": [
                                    "sh",
                                    "-c",
                                    "python -m algoitny_shared.provision && python -m algoitny_ratelimit seed "
                                    "&& python -m algoitny_accounts seed-admin",
                                ],
                                "envFrom": [{"configMapRef": {"name": CONFIG}}],
                                "env": seed_env,
                                "resources": {
                                    "requests": {"cpu": "250m", "memory": "256Mi"},
                                    "limits": {"cpu": "1", "memory": "512Mi"},
                                },
                                "securityContext": security_context(WORKLOADS[1]),
                            }
                        ],
                    },
                },
            },
        }
    )
    objs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "seed"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "seed"}},
                "policyTypes": ["Ingress", "Egress"],
                "egress": network_policy(WORKLOADS[1])["spec"]["egress"][:2],
            },
        }
    )
    return objs


def workload_objects(w: Workload) -> list[dict[str, Any]]:
    objs = [deployment(w), pdb(w), network_policy(w)]
    if w.http:
        objs.insert(1, service(w))
    objs.append(scaled_object(w) if w.groups else hpa(w))
    return objs


# ---------------------------------------------------------------- seccomp profile of the judge


def judge_seccomp_profile() -> dict[str, Any]:
    """moby's default profile as it applies to a container with exactly ``JUDGE_CAPABILITIES`` on
    amd64/arm64 (conditions resolved, so any runtime reads it), plus ``BWRAP_SYSCALLS``, less
    ``JUDGE_DENIED_SYSCALLS``. clone3
    stays ENOSYS (glibc falls back to clone, whose flags this profile no longer restricts)."""
    base = json.loads(SECCOMP_BASE.read_text())
    caps = {f"CAP_{c}" for c in JUDGE_CAPABILITIES}
    arches = {"amd64", "arm64"}
    rules = []
    for rule in base["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("arches") and not set(inc["arches"]) & arches:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        names = [n for n in rule["names"] if n not in BWRAP_SYSCALLS and n not in JUDGE_DENIED_SYSCALLS]
        if not names:
            continue
        out = {"names": names, "action": rule["action"]}
        for key in ("args", "errnoRet"):
            if key in rule:
                out[key] = rule[key]
        rules.append(out)
    rules.append({"names": list(BWRAP_SYSCALLS), "action": "SCMP_ACT_ALLOW"})
    return {
        "defaultAction": base["defaultAction"],
        "defaultErrnoRet": base["defaultErrnoRet"],
        "archMap": [a for a in base["archMap"] if a["architecture"] in ("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64")],
        "syscalls": rules,
    }


# ---------------------------------------------------------------- files


HEADER = "# Generated by deploy/k8s/manifests.py from the code's definitions: do not edit, run make k8s.\n"


def dump(objs: list[dict[str, Any]]) -> str:
    return HEADER + "".join("---\n" + yaml.safe_dump(o, sort_keys=False, width=120) for o in objs)


def rendered() -> dict[Path, str]:
    files: dict[Path, str] = {BASE / "platform.yaml": dump(platform_objects())}
    for w in WORKLOADS:
        files[BASE / f"{w.name}.yaml"] = dump(workload_objects(w))
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "labels": [{"pairs": {"app.kubernetes.io/part-of": "algoitny"}}],
        "resources": sorted(p.name for p in files),
    }
    files[BASE / "kustomization.yaml"] = HEADER + yaml.safe_dump(kustomization, sort_keys=False)
    files[SECCOMP_JUDGE] = json.dumps(judge_seccomp_profile(), indent=1) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args(argv)
    files = rendered()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    extra = sorted(set(BASE.glob("*.yaml")) - set(files))
    if args.command == "write":
        BASE.mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.write_text(files[path])
            print(f"wrote {path.relative_to(HERE.parents[1])}")
        for path in extra:
            path.unlink()
            print(f"removed {path.relative_to(HERE.parents[1])}")
        return 0
    if stale or extra:
        names = ", ".join(str(p.relative_to(HERE.parents[1])) for p in [*stale, *extra])
        print(f"deploy/k8s is out of date with the code (run make k8s): {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
