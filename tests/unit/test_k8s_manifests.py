"""deploy/k8s agrees with the code, and its checks reject the mistakes they exist for.

* the consumer groups and topics of the manifests are the ones the services' bootstraps register
  (each service's container is built offline and its consumers recorded);
* the rendered production overlay passes the policies of deploy/k8s/check.py: every consumer
  group has a scaler whose ceiling stays within its topics' partitions, every Deployment probes
  and limits, no judge pod has egress beyond the VPC and the services it calls (that the base is
  current and every overlay validates against the Kubernetes strict schemas and KEDA's CRD is
  `make lint`'s k8s-check, the same ``check_all``: not repeated here);
* every ALGOITNY_* variable set is read by that workload's settings class, and every secret setting
  a workload needs comes from the Secret;
* mutated copies show that each policy fails when broken.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from support.scripts import load_script

from algoitny_shared import kafka
from algoitny_shared.settings import SECRET_MARK, ServiceSettings, env_var_names
from algoitny_shared.topics import CONSUMER_GROUPS

REPO = Path(__file__).resolve().parents[2]
manifests = load_script("deploy/k8s/manifests.py")
check = load_script("deploy/k8s/check.py")


def settings_class(service: str) -> type[ServiceSettings]:
    mod = importlib.import_module(f"algoitny_{service.replace('-', '_')}.settings")
    found = [
        obj
        for obj in vars(mod).values()
        if inspect.isclass(obj) and issubclass(obj, ServiceSettings) and obj.__module__ == mod.__name__
    ]
    assert len(found) == 1, mod.__name__
    return found[0]


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return check.render("overlays/production")


def code_consumers(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Consumer group -> topic names, as the services' composition roots register them."""
    seen: dict[str, set[str]] = {}
    original = kafka.EventConsumer.__init__

    def record(self: kafka.EventConsumer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen.setdefault(kwargs["group"], set()).update(t.name for t in kwargs["topics"])

    monkeypatch.setattr(kafka.EventConsumer, "__init__", record)
    monkeypatch.setenv("ALGOITNY_ENVIRONMENT", "test")
    for service in (
        "accounts",
        "problems",
        "problems.generation",
        "executions",
        "ratelimit",
        "search_indexer",
        "hints",
    ):
        importlib.import_module(f"algoitny_{service}.bootstrap").build()
    stats = importlib.import_module("algoitny_stats.bootstrap")
    seen[stats.STATS_GROUP] = {t.name for t in stats.STATS_TOPICS}
    return seen


def test_manifest_groups_are_the_code_consumer_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    code = code_consumers(monkeypatch)
    assert set(code) == set(CONSUMER_GROUPS), "topics.CONSUMER_GROUPS and the bootstraps differ"
    declared: dict[str, set[str]] = {}
    for w in manifests.WORKLOADS:
        for g in w.groups:
            assert g.name not in declared, f"group {g.name} scaled by two workloads"
            declared[g.name] = {t.name for t in g.topics}
    assert declared == code


def test_env_is_read_by_each_workloads_settings_and_secrets_come_from_the_secret() -> None:
    common = set(manifests.COMMON_CONFIG)
    for w in manifests.WORKLOADS:
        cls = settings_class(w.service)
        known = env_var_names(cls)
        container = manifests.deployment(w)["spec"]["template"]["spec"]["containers"][0]
        names = {e["name"] for e in container["env"]} | common
        assert names <= known, f"{w.name}: not read by {cls.__name__}: {sorted(names - known)}"
        for name, fld in cls.model_fields.items():
            extra = fld.json_schema_extra if isinstance(fld.json_schema_extra, dict) else {}
            var = f"ALGOITNY_{name}".upper()
            if SECRET_MARK not in extra or var == "ALGOITNY_DEMO_ADMIN_PASSWORD":
                continue  # the demo admin's password is the seed job's (below); empty on the services
            env = next((e for e in container["env"] if e["name"] == var), None)
            assert env and env["valueFrom"]["secretKeyRef"]["name"] == manifests.SECRET, f"{w.name}: {var}"
            if not extra.get("optional"):  # a secret the code demands is demanded from the Secret too
                assert env["valueFrom"]["secretKeyRef"]["optional"] is False, f"{w.name}: {var}"
    seed = next(o for o in manifests.platform_objects() if o["kind"] == "Job")
    env = {e["name"]: e for e in seed["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ALGOITNY_DEMO_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["optional"] is False


def test_judge_seccomp_profile_adds_only_what_bubblewrap_needs() -> None:
    profile = manifests.judge_seccomp_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = {
        n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and "args" not in r for n in r["names"]
    }
    base = manifests.json.loads(manifests.SECCOMP_BASE.read_text())
    unconditional = {
        n
        for r in base["syscalls"]
        if not r.get("includes") and not r.get("excludes") and "args" not in r
        for n in r["names"]
    }
    arch_only = {"sync_file_range2", "arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls"}
    arch_only |= {"arch_prctl", "modify_ldt"}
    assert set(manifests.BWRAP_SYSCALLS) <= allowed
    assert allowed - unconditional <= set(manifests.BWRAP_SYSCALLS) | arch_only
    for never in ("bpf", "perf_event_open", "setns", "open_by_handle_at", "kexec_load", "init_module", "ptrace"):
        assert never not in allowed, never


# ---------------------------------------------------------------- the checks catch mistakes


def _mutate(docs: list[dict[str, Any]], kind: str, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    copied = copy.deepcopy(docs)
    return copied, next(d for d in copied if d["kind"] == kind and d["metadata"]["name"] == name)


def _errors(docs: list[dict[str, Any]]) -> str:
    return "\n".join(check.policy_errors(docs, check.vpc_cidr_of(docs)))


def test_real_production_passes(production: list[dict[str, Any]]) -> None:
    assert _errors(production) == ""


def test_missing_scaler_is_caught(production: list[dict[str, Any]]) -> None:
    docs = [d for d in production if not (d["kind"] == "ScaledObject" and d["metadata"]["name"] == "stats-consumer")]
    assert "consumer group stats: no KEDA scaler" in _errors(docs)


def test_ceiling_above_partitions_is_caught(production: list[dict[str, Any]]) -> None:
    docs, so = _mutate(production, "ScaledObject", "search-indexer-consumer")
    so["spec"]["maxReplicaCount"] = 25
    assert "exceeds the 24 partitions of algoitny.problems.events" in _errors(docs)


def test_missing_probe_and_limit_are_caught(production: list[dict[str, Any]]) -> None:
    docs, dep = _mutate(production, "Deployment", "stats")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"]
    del container["resources"]["limits"]["memory"]
    errors = _errors(docs)
    assert "readinessProbe must GET /readyz" in errors and "no limits.memory" in errors


@pytest.mark.parametrize(
    "peer",
    [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "8.8.8.8/32"}}, {"namespaceSelector": {}}],
)
def test_judge_egress_outside_is_caught(production: list[dict[str, Any]], peer: dict[str, Any]) -> None:
    docs, policy = _mutate(production, "NetworkPolicy", "judge")
    policy["spec"]["egress"].append({"to": [peer], "ports": [{"port": 443, "protocol": "TCP"}]})
    assert "judge egress" in _errors(docs)


def test_judge_privileges_beyond_the_documented_are_caught(production: list[dict[str, Any]]) -> None:
    docs, dep = _mutate(production, "Deployment", "judge")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
    dep["spec"]["template"]["spec"]["hostUsers"] = True
    errors = _errors(docs)
    assert "capabilities beyond" in errors and "hostUsers: false" in errors


def test_literal_secret_and_outside_ingress_are_caught(production: list[dict[str, Any]]) -> None:
    docs, dep = _mutate(production, "Deployment", "accounts")
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    env[:] = [e for e in env if e["name"] != "ALGOITNY_INTERNAL_SECRET"] + [
        {"name": "ALGOITNY_INTERNAL_SECRET", "value": "x" * 40}
    ]
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "problems")
    policy["spec"]["ingress"].append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    errors = _errors(docs)
    assert "ALGOITNY_INTERNAL_SECRET is a literal" in errors
    assert "NetworkPolicy/problems: ingress from" in errors


def test_schema_validation_rejects_unknown_fields(production: list[dict[str, Any]]) -> None:
    _, dep = _mutate(production, "Deployment", "gateway")
    dep["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pth"] = "/healthz"
    assert check.schema_errors(dep)
    _, so = _mutate(production, "ScaledObject", "judge")
    so["spec"]["maxReplicaCount"] = "many"
    assert check.schema_errors(so)


def test_dedicated_judge_workers_stay_out_of_the_executions_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/k8s's judge pods set ALGOITNY_ATTACH_HINTS_ENABLED=false: they join judge-workers only, so
    their replica count is bounded by executions.jobs alone (executions-consumer attaches hints)."""
    registered: list[str] = []
    monkeypatch.setattr(kafka.EventConsumer, "register", lambda self: registered.append(self.group))
    monkeypatch.setenv("ALGOITNY_ENVIRONMENT", "test")
    from algoitny_executions.bootstrap import build
    from algoitny_executions.settings import ExecutionsSettings

    build(ExecutionsSettings(attach_hints_enabled=False)).join_workers()
    assert "executions" not in registered
    build(ExecutionsSettings()).join_workers()
    assert "executions" in registered
    judge = next(w for w in manifests.WORKLOADS if w.name == "judge")
    assert judge.env["ALGOITNY_ATTACH_HINTS_ENABLED"] == "false"
    assert [g.name for g in judge.groups] == ["judge-workers"]


def test_upstream_urls_name_reachable_services(production: list[dict[str, Any]]) -> None:
    docs, dep = _mutate(production, "Deployment", "hints")
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    next(e for e in env if e["name"] == "ALGOITNY_RATELIMIT_URL")["value"] = "http://ratelimit:9999"
    assert "ALGOITNY_RATELIMIT_URL=http://ratelimit:9999 names no Service port" in _errors(docs)
    docs, policy = _mutate(production, "NetworkPolicy", "problems")
    policy["spec"]["ingress"] = [r for r in policy["spec"]["ingress"] if "podSelector" not in r["from"][0]]
    errors = _errors(docs)
    assert "Deployment/gateway: ALGOITNY_PROBLEMS_URL=http://problems:8002 is not allowed" in errors


def test_duplicate_env_is_caught(production: list[dict[str, Any]]) -> None:
    docs, dep = _mutate(production, "Deployment", "search-indexer")
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "ALGOITNY_OPENSEARCH_URL", "value": "https://elsewhere:443"})
    assert "ALGOITNY_OPENSEARCH_URL is set twice" in _errors(docs)
