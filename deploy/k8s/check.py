"""``make k8s-check``: render the kustomize base and overlays, validate every manifest, check the policies.

1. deploy/k8s/base is what ``deploy/k8s/manifests.py`` generates from the code (else: run make k8s);
2. each of base, overlays/production, overlays/staging is rendered with kustomize (a ``kustomize``
   binary, ``kubectl kustomize``, or the one ``make k8s-tools`` builds from Go modules);
3. every object is validated against the Kubernetes OpenAPI schemas of ``K8S_VERSION`` in strict
   mode (no unknown fields; schemas shipped by the kubernetes-validate package), and KEDA
   ScaledObjects against KEDA's CRD schema (deploy/k8s/schemas/, vendored from KEDA v2.20.2);
4. ``policy_errors``: every Deployment probes /healthz and /readyz and has CPU and memory requests
   and limits; every consumer group of the code has a KEDA scaler on its lag whose replica ceiling
   never exceeds a topic's partitions; every HTTP service has an HPA and every Deployment a PDB;
   judge pods have no egress beyond the VPC and the services they call (no internet), their
   documented privileges and nothing more; only the gateway takes traffic from outside; secret
   settings come from the Secret, never a literal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import manifests  # noqa: E402

K8S_VERSION = "1.33.0"  # pod user namespaces (hostUsers: false) and procMount are on by default from 1.33
TARGETS = ("base", "overlays/production", "overlays/staging")
SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): HERE / "schemas" / "keda.sh_scaledobjects.json"}


def kustomize_command() -> list[str]:
    explicit = os.environ.get("KUSTOMIZE")
    if explicit:
        return [explicit, "build"]
    for candidate in (shutil.which("kustomize"), str(REPO / ".local" / "bin" / "kustomize")):
        if candidate and os.access(candidate, os.X_OK):
            return [candidate, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    raise SystemExit("no kustomize: run make k8s-tools (builds it from Go modules) or install kubectl")


def render(target: str) -> list[dict[str, Any]]:
    out = subprocess.run([*kustomize_command(), str(HERE / target)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"kustomize build {target} failed:\n{out.stderr}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def schema_errors(doc: dict[str, Any]) -> list[str]:
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in SCHEMAS:
        schema = json.loads(SCHEMAS[key].read_text())
        validator = jsonschema.Draft7Validator(schema)
        return [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'/'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {key} in Kubernetes {K8S_VERSION}"]
    return []


# ---------------------------------------------------------------- policies


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def _containers(dep: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dep["spec"]["template"]["spec"].get("containers", []))


def _is_judge(dep: dict[str, Any]) -> bool:
    return dep["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "judge"


def _selects(policy: dict[str, Any], dep: dict[str, Any]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    have = dep["spec"]["template"]["metadata"].get("labels", {})
    return all(have.get(k) == v for k, v in wanted.items())


def _in_cidr(inner: str, outer: str) -> bool:
    import ipaddress

    return ipaddress.ip_network(inner).subnet_of(ipaddress.ip_network(outer))  # type: ignore[arg-type]


def policy_errors(docs: list[dict[str, Any]], vpc_cidr: str) -> list[str]:
    from algoitny_shared.topics import CONSUMER_GROUPS, all_topics

    errors: list[str] = []
    deployments = _by_kind(docs, "Deployment")
    services = _by_kind(docs, "Service")
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"}
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d.get("kind") == "ScaledObject"}
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    partitions = {t.physical(manifests.NAMESPACE): t.partitions for t in all_topics()}
    secret_vars = set(manifests.SECRET_KEYS)

    if not any(
        p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in policies
    ):
        errors.append("no default-deny NetworkPolicy for ingress and egress")

    for name, dep in deployments.items():
        for c in _containers(dep):
            where = f"Deployment/{name} container {c['name']}"
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                if c.get(probe, {}).get("httpGet", {}).get("path") != path:
                    errors.append(f"{where}: {probe} must GET {path}")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(part, {}):
                        errors.append(f"{where}: no {part}.{r}")
            names = [e["name"] for e in c.get("env", [])]
            for dup in sorted({n for n in names if names.count(n) > 1}):
                errors.append(f"{where}: {dup} is set twice (an overlay patch went astray?)")
            for env in c.get("env", []):
                if env["name"] in secret_vars and "valueFrom" not in env and env.get("value"):
                    errors.append(f"{where}: {env['name']} is a literal; secrets come from Secret {manifests.SECRET}")
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if env["name"] in secret_vars and env.get("valueFrom") and (not ref or ref["name"] != manifests.SECRET):
                    errors.append(f"{where}: {env['name']} must come from Secret {manifests.SECRET}")
        if not any(
            p["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
            for p in pdbs.values()
        ):
            errors.append(f"Deployment/{name}: no PodDisruptionBudget")
        if not any(_selects(p, dep) and p["spec"]["podSelector"] for p in policies):
            errors.append(f"Deployment/{name}: no NetworkPolicy of its own")
        serves = any(
            s["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
            for s in services.values()
        )
        if serves and name not in hpas:
            errors.append(f"Deployment/{name}: serves HTTP but has no CPU HorizontalPodAutoscaler")
        if name in hpas and name in scaled:
            errors.append(f"Deployment/{name}: both an HPA and a ScaledObject")
        if name in hpas:
            metrics = hpas[name]["spec"].get("metrics", [])
            if not any(m.get("resource", {}).get("name") == "cpu" for m in metrics):
                errors.append(f"HorizontalPodAutoscaler/{name}: does not scale on CPU")
        if _is_judge(dep):
            errors += judge_errors(
                name, dep, [p for p in policies if _selects(p, dep) and p["spec"]["podSelector"]], vpc_cidr
            )

    groups_scaled: set[str] = set()
    for target, so in scaled.items():
        ceiling = so["spec"]["maxReplicaCount"]
        if so["spec"].get("minReplicaCount", 0) > ceiling:
            errors.append(f"ScaledObject/{target}: minReplicaCount above maxReplicaCount")
        for trig in so["spec"]["triggers"]:
            if trig["type"] != "kafka":
                continue
            meta = trig["metadata"]
            groups_scaled.add(meta["consumerGroup"])
            topic = meta.get("topic")
            if topic not in partitions:
                errors.append(f"ScaledObject/{target}: topic {topic!r} is not a topic of the code")
            elif ceiling > partitions[topic]:
                errors.append(
                    f"ScaledObject/{target}: maxReplicaCount {ceiling} exceeds "
                    f"the {partitions[topic]} partitions of {topic}"
                )
            if meta.get("allowIdleConsumers", "false") != "false":
                errors.append(f"ScaledObject/{target}: allowIdleConsumers must stay false")
    for group in CONSUMER_GROUPS:
        if f"{manifests.NAMESPACE}.{group}" not in groups_scaled:
            errors.append(f"consumer group {group}: no KEDA scaler on its lag")

    ports = {name: {pt["port"] for pt in svc["spec"]["ports"]} for name, svc in services.items()}
    for name, dep in deployments.items():
        for c in _containers(dep):
            for env in c.get("env", []):
                value = env.get("value") or ""
                if not (env["name"].endswith("_URL") and value.startswith("http://")):
                    continue
                host, _, port = value[len("http://") :].split("/")[0].partition(":")
                if host not in ports or int(port or 80) not in ports[host]:
                    errors.append(f"Deployment/{name}: {env['name']}={value} names no Service port of the namespace")
                elif not _may_reach(policies, dep, deployments.get(host), int(port)):
                    errors.append(f"Deployment/{name}: {env['name']}={value} is not allowed by the NetworkPolicies")

    for p in policies:
        for rule in p["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "ipBlock" in peer and p["metadata"]["name"] != "gateway":
                    errors.append(
                        f"NetworkPolicy/{p['metadata']['name']}: ingress from {peer['ipBlock']}: "
                        "only the gateway takes outside traffic"
                    )
            if not rule.get("from"):
                errors.append(f"NetworkPolicy/{p['metadata']['name']}: ingress from anywhere")
    return errors


def _peer_selects(peer: dict[str, Any], dep: dict[str, Any]) -> bool:
    if "ipBlock" in peer or "namespaceSelector" in peer:
        return False
    wanted = peer.get("podSelector", {}).get("matchLabels", {})
    have = dep["spec"]["template"]["metadata"].get("labels", {})
    return all(have.get(k) == v for k, v in wanted.items())


def _may_reach(policies: list[dict[str, Any]], src: dict[str, Any], dst: dict[str, Any] | None, port: int) -> bool:
    """Some egress rule of the caller and some ingress rule of the callee let caller -> callee:port."""
    if dst is None:
        return False

    def allows(rules: list[dict[str, Any]], peers_key: str, other: dict[str, Any]) -> bool:
        return any(
            any(pt.get("port") == port for pt in rule.get("ports", []))
            and any(_peer_selects(peer, other) for peer in rule.get(peers_key, []))
            for rule in rules
        )

    egress = [r for p in policies if _selects(p, src) and p["spec"]["podSelector"] for r in p["spec"].get("egress", [])]
    ingress = [
        r for p in policies if _selects(p, dst) and p["spec"]["podSelector"] for r in p["spec"].get("ingress", [])
    ]
    return allows(egress, "to", dst) and allows(ingress, "from", src)


def judge_errors(name: str, dep: dict[str, Any], policies: list[dict[str, Any]], vpc_cidr: str) -> list[str]:
    errors = []
    pod = dep["spec"]["template"]["spec"]
    if pod.get("hostUsers") is not False:
        errors.append(f"Deployment/{name}: a judge pod runs in its own user namespace (hostUsers: false)")
    if pod.get("runtimeClassName") != manifests.JUDGE_RUNTIME_CLASS:
        errors.append(f"Deployment/{name}: a judge pod runs under RuntimeClass {manifests.JUDGE_RUNTIME_CLASS}")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        errors.append(f"Deployment/{name}: a judge pod shares no host namespace")
    for c in _containers(dep):
        sc = c.get("securityContext", {})
        caps = sc.get("capabilities", {})
        if sc.get("privileged"):
            errors.append(f"Deployment/{name}: a judge container is never privileged")
        if caps.get("drop") != ["ALL"] or set(caps.get("add", [])) - set(manifests.JUDGE_CAPABILITIES):
            errors.append(f"Deployment/{name}: capabilities beyond {manifests.JUDGE_CAPABILITIES}: {caps}")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"Deployment/{name}: allowPrivilegeEscalation must be false")
        if sc.get("seccompProfile", {}).get("type") not in ("Localhost", "RuntimeDefault"):
            errors.append(f"Deployment/{name}: a judge container needs a seccomp profile")
        if any("hostPath" in v for v in pod.get("volumes", [])):
            errors.append(f"Deployment/{name}: a judge pod mounts no host path")
    if not policies:
        errors.append(f"Deployment/{name}: no NetworkPolicy")
    for p in policies:
        for rule in p["spec"].get("egress", []):
            if not rule.get("to") or not rule.get("ports"):
                errors.append(f"NetworkPolicy/{p['metadata']['name']}: judge egress to any destination or port")
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block and not _in_cidr(block["cidr"], vpc_cidr):
                    errors.append(
                        f"NetworkPolicy/{p['metadata']['name']}: judge egress to {block['cidr']} outside the VPC"
                    )
                if "namespaceSelector" in peer and peer["namespaceSelector"] == {}:
                    errors.append(f"NetworkPolicy/{p['metadata']['name']}: judge egress to every namespace")
    return errors


def vpc_cidr_of(docs: list[dict[str, Any]]) -> str:
    network = _by_kind(docs, "ConfigMap").get("algoitny-network")
    return network["data"]["vpc-cidr"] if network else manifests.VPC_CIDR


def check_all(targets: tuple[str, ...] = TARGETS) -> list[str]:
    errors: list[str] = []
    if manifests.main(["check"]) != 0:
        errors.append("deploy/k8s/base is stale: run make k8s")
    for target in targets:
        docs = render(target)
        for doc in docs:
            errors += [f"{target}: {e}" for e in schema_errors(doc)]
        errors += [f"{target}: {e}" for e in policy_errors(docs, vpc_cidr_of(docs))]
        print(f"k8s-check: {target}: {len(docs)} objects rendered and checked")
    return errors


def main() -> int:
    errors = check_all()
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
