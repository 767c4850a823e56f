"""deploy/docker-compose.yml and deploy/Dockerfile agree with the code.

* every service folder under services/ has a compose service running its module;
* our containers set only ALGOITNY_* variables their settings classes read;
* the gateway's upstream URLs name compose services on the ports those services listen on;
* the Dockerfile installs requirements.lock, shared/ and every service folder.

The checks are plain functions over the parsed compose dict, so the last tests can feed
them mutated in-memory copies and prove that they do reject mistakes.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from algoitny_shared.settings import SECRET_MARK, ServiceSettings, env_var_names

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"

# Command-line tools under services/ (same layout, no long-running process, no compose service):
# installed in the image, run with `docker compose run`/`kubectl exec` when needed.
TOOL_DIRS = ("migration",)
SERVICE_DIRS = sorted(
    p.parent.name for p in (REPO / "services").glob("*/pyproject.toml") if p.parent.name not in TOOL_DIRS
)
# Gateway setting -> the service folder it must point at.
GATEWAY_UPSTREAMS = {
    "ALGOITNY_PROBLEMS_URL": "problems",
    "ALGOITNY_SEARCH_URL": "search-indexer",
    "ALGOITNY_ACCOUNTS_URL": "accounts",
    "ALGOITNY_RATELIMIT_URL": "ratelimit",
    "ALGOITNY_EXECUTIONS_URL": "executions",
    "ALGOITNY_HINTS_URL": "hints",
    "ALGOITNY_STATS_URL": "stats",
}
PROVISION_MODULES = ("algoitny_shared.provision", "algoitny_ratelimit", "algoitny_accounts")
# The one-shot job runs the seeding commands of these services, so it may set their variables.
PROVISION_SEEDERS = ("ratelimit", "accounts")


def module_of(service_dir: str) -> str:
    return "algoitny_" + service_dir.replace("-", "_")


def settings_class(service_dir: str) -> type[ServiceSettings]:
    mod = importlib.import_module(f"{module_of(service_dir)}.settings")
    found = [
        obj
        for obj in vars(mod).values()
        if inspect.isclass(obj)
        and issubclass(obj, ServiceSettings)
        and obj is not ServiceSettings
        and obj.__module__ == mod.__name__
    ]
    assert len(found) == 1, f"{mod.__name__}: expected one ServiceSettings subclass, found {found}"
    return found[0]


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def command_argv(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def services_by_module(compose: dict[str, Any]) -> dict[str, str]:
    """Module -> compose service name, for services started as ``python -m <module> [serve]``."""
    found: dict[str, str] = {}
    for name, svc in (compose.get("services") or {}).items():
        argv = command_argv(svc)
        if len(argv) >= 3 and argv[0] == "python" and argv[1] == "-m" and argv[3:] in ([], ["serve"]):
            found[argv[2]] = name
    return found


def provision_service(compose: dict[str, Any]) -> str | None:
    """The compose service whose command runs provision and both seeders."""
    for name, svc in (compose.get("services") or {}).items():
        text = " ".join(command_argv(svc))
        if all(f"-m {m}" in text for m in PROVISION_MODULES):
            return name
    return None


def allowed_env(compose: dict[str, Any]) -> dict[str, set[str]]:
    """Compose service -> the environment variables it may set (ours only; infra is not checked)."""
    allowed: dict[str, set[str]] = {}
    by_module = services_by_module(compose)
    for service_dir in SERVICE_DIRS:
        name = by_module.get(module_of(service_dir))
        if name is not None:
            allowed[name] = env_var_names(settings_class(service_dir))
    job = provision_service(compose)
    if job is not None:
        names = env_var_names(ServiceSettings)
        for seeder in PROVISION_SEEDERS:
            names |= env_var_names(settings_class(seeder))
        allowed[job] = names
    return allowed


def unknown_env_vars(compose: dict[str, Any]) -> dict[str, set[str]]:
    """Compose service -> variables it sets that its settings class does not read."""
    problems: dict[str, set[str]] = {}
    for name, names in allowed_env(compose).items():
        extra = set(environment(compose["services"][name])) - names
        if extra:
            problems[name] = extra
    return problems


def listening_port(compose: dict[str, Any], name: str, service_dir: str) -> int:
    env = environment(compose["services"][name])
    if "ALGOITNY_PORT" in env:
        return int(env["ALGOITNY_PORT"])
    return int(settings_class(service_dir).model_fields["port"].default)


def upstream_errors(compose: dict[str, Any]) -> list[str]:
    """What is wrong with the gateway's upstream URLs (empty when all is well)."""
    by_module = services_by_module(compose)
    gateway = by_module.get(module_of("gateway"))
    if gateway is None:
        return ["no compose service runs algoitny_gateway"]
    env = environment(compose["services"][gateway])
    errors = []
    for var, target_dir in GATEWAY_UPSTREAMS.items():
        if var not in env:
            errors.append(f"{gateway}: {var} is not set (the default points at 127.0.0.1)")
            continue
        url = urlsplit(env[var])
        target = by_module.get(module_of(target_dir))
        if target is None:
            errors.append(f"{gateway}: {var}: no compose service runs {module_of(target_dir)}")
            continue
        if url.hostname != target:
            errors.append(f"{gateway}: {var}={env[var]} should name compose service {target!r}")
            continue
        expected_port = listening_port(compose, target, target_dir)
        if url.port != expected_port:
            errors.append(f"{gateway}: {var}={env[var]} but {target} listens on {expected_port}")
        target_env = environment(compose["services"][target])
        if target_env.get("ALGOITNY_HOST") != "0.0.0.0":
            errors.append(f"{target}: ALGOITNY_HOST must be 0.0.0.0 for {gateway} to reach it")
    return errors


def dockerfile_instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


# ---------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_layout_has_the_eight_services() -> None:
    expected = ["gateway", "accounts", "problems", "executions", "ratelimit", "search-indexer", "hints", "stats"]
    assert set(SERVICE_DIRS) == set(expected), f"services/ holds {SERVICE_DIRS}"


@pytest.mark.parametrize("service_dir", SERVICE_DIRS)
def test_every_service_runs_in_compose(compose: dict[str, Any], service_dir: str) -> None:
    by_module = services_by_module(compose)
    assert module_of(service_dir) in by_module, (
        f"services/{service_dir}: no compose service runs `python -m {module_of(service_dir)}`"
    )
    svc = compose["services"][by_module[module_of(service_dir)]]
    assert "provision" in (svc.get("depends_on") or {}), f"{service_dir}: must depend on the provision job"
    assert svc["depends_on"]["provision"].get("condition") == "service_completed_successfully", service_dir
    assert "/readyz" in " ".join(map(str, svc.get("healthcheck", {}).get("test", []))), (
        f"{service_dir}: healthcheck must probe /readyz"
    )


def test_provision_job_runs_provision_and_seeds(compose: dict[str, Any]) -> None:
    job = provision_service(compose)
    assert job is not None, f"no compose service runs all of {PROVISION_MODULES}"
    text = " ".join(command_argv(compose["services"][job]))
    positions = [text.index(f"-m {m}") for m in PROVISION_MODULES]
    assert positions == sorted(positions), "provision must run before the seeders"
    assert re.search(r"-m algoitny_ratelimit seed(\s|$)", text), f"{job}: ratelimit must run `seed`"
    assert re.search(r"-m algoitny_accounts seed-admin(\s|$)", text), f"{job}: accounts must run `seed-admin`"
    deps = compose["services"][job].get("depends_on") or {}
    for infra in ("kafka", "opensearch", "moto"):
        assert deps.get(infra, {}).get("condition") == "service_healthy", f"{job}: must wait for {infra} healthy"


def test_env_vars_are_known_to_settings(compose: dict[str, Any]) -> None:
    allowed = allowed_env(compose)
    assert len(allowed) == len(SERVICE_DIRS) + 1, f"checked only {sorted(allowed)}"
    unknown = unknown_env_vars(compose)
    assert not unknown, "variables no settings class reads: " + "; ".join(
        f"{svc}: {', '.join(sorted(names))}" for svc, names in sorted(unknown.items())
    )


def test_services_bind_all_interfaces(compose: dict[str, Any]) -> None:
    for module, name in services_by_module(compose).items():
        assert environment(compose["services"][name]).get("ALGOITNY_HOST") == "0.0.0.0", (
            f"{name} ({module}): ALGOITNY_HOST must be 0.0.0.0"
        )


def test_gateway_upstreams_point_at_compose_services(compose: dict[str, Any]) -> None:
    errors = upstream_errors(compose)
    assert not errors, "\n".join(errors)


def test_gateway_is_published_on_8000(compose: dict[str, Any]) -> None:
    gateway = services_by_module(compose)[module_of("gateway")]
    ports = [str(p) for p in compose["services"][gateway].get("ports", [])]
    port = listening_port(compose, gateway, "gateway")
    assert any(p.split(":")[-2:] == ["8000", str(port)] for p in ports), f"{gateway}: ports {ports}"


def test_dockerfile_installs_lock_and_every_package() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    installs = [i for i in instructions if i.startswith("RUN ") and "pip install" in i]
    assert any(re.search(r"-r\s+\S*requirements\.lock\b", i) for i in installs), "Dockerfile: no pip install -r lock"
    assert any(i.startswith("COPY ") and "requirements.lock" in i for i in instructions), "lock is not copied"
    local = " ".join(i for i in installs if "--no-deps" in i).split()
    for folder in ["shared", *(f"services/{d}" for d in (*SERVICE_DIRS, *TOOL_DIRS))]:
        assert f"./{folder}" in local or folder in local, f"Dockerfile: {folder} is not pip-installed (--no-deps)"
    users = [i for i in instructions if i.startswith("USER ")]
    assert users and not users[-1].split()[1].startswith(("root", "0")), "Dockerfile: image must run as non-root"


# ---------------------------------------------------------------- the checks catch mistakes


def test_checker_rejects_unknown_variable(compose: dict[str, Any]) -> None:
    mutated = copy.deepcopy(compose)
    problems = services_by_module(mutated)[module_of("problems")]
    mutated["services"][problems]["environment"]["ALGOITNY_FOO"] = "1"
    # A variable the gateway reads is not valid on another service either.
    stats = services_by_module(mutated)[module_of("stats")]
    mutated["services"][stats]["environment"]["ALGOITNY_PROBLEMS_URL"] = "http://problems:8002"
    assert unknown_env_vars(mutated) == {problems: {"ALGOITNY_FOO"}, stats: {"ALGOITNY_PROBLEMS_URL"}}
    assert unknown_env_vars(compose) == {}


def test_checker_rejects_unknown_variable_on_provision(compose: dict[str, Any]) -> None:
    mutated = copy.deepcopy(compose)
    job = provision_service(mutated)
    assert job is not None
    mutated["services"][job]["environment"]["ALGOITNY_OPENSEARCH_URL"] = "http://opensearch:9200"
    assert unknown_env_vars(mutated) == {job: {"ALGOITNY_OPENSEARCH_URL"}}


@pytest.mark.parametrize(
    ("var", "url", "expected"),
    [
        ("ALGOITNY_PROBLEMS_URL", "http://problems:9999", "listens on"),
        ("ALGOITNY_SEARCH_URL", "http://search:8005", "should name compose service"),
        ("ALGOITNY_ACCOUNTS_URL", "http://127.0.0.1:8001", "should name compose service"),
    ],
)
def test_checker_rejects_bad_upstream(compose: dict[str, Any], var: str, url: str, expected: str) -> None:
    mutated = copy.deepcopy(compose)
    gateway = services_by_module(mutated)[module_of("gateway")]
    mutated["services"][gateway]["environment"][var] = url
    errors = upstream_errors(mutated)
    assert len(errors) == 1 and var in errors[0] and expected in errors[0], errors


# ---------------------------------------------------------------- secrets (issue 23, item 5)

DEMANDED = re.compile(r"^\$\{(?P<var>[A-Z0-9_]+):\?.+\}$")


def secret_errors(compose: dict[str, Any]) -> list[str]:
    """Every secret a compose service's settings read must be demanded (``${VAR:?...}``): compose
    has no public default to fall back on. Optional secrets (empty = off) may default to empty."""
    errors = []
    by_module = services_by_module(compose)
    classes = {by_module[module_of(d)]: [settings_class(d)] for d in SERVICE_DIRS if module_of(d) in by_module}
    job = provision_service(compose)
    if job is not None:
        classes[job] = [ServiceSettings, *(settings_class(s) for s in PROVISION_SEEDERS)]
    for name, settings_classes in sorted(classes.items()):
        env = environment(compose["services"][name])
        for cls in settings_classes:
            for field_name, field in cls.model_fields.items():
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                if SECRET_MARK not in extra:
                    continue
                var = f"ALGOITNY_{field_name.upper()}"
                value = env.get(var)
                match = DEMANDED.match(value or "")
                if extra.get("optional") and value in ("", f"${{{var}:-}}"):
                    continue
                if value is None:
                    errors.append(f"{name}: {var} is not set (the code's default is public)")
                elif not match or match["var"] != var:
                    errors.append(f"{name}: {var}={value} must be demanded as ${{{var}:?...}}")
    return errors


def test_compose_demands_every_secret(compose: dict[str, Any]) -> None:
    errors = secret_errors(compose)
    assert not errors, "\n".join(errors)
    # The private token keys reach accounts and its seeding job only.
    holders = {n for n, svc in compose["services"].items() if "ALGOITNY_TOKEN_SIGNING_KEY" in environment(svc)}
    assert holders == {services_by_module(compose)[module_of("accounts")], provision_service(compose)}


def test_checker_rejects_a_public_default_secret(compose: dict[str, Any]) -> None:
    mutated = copy.deepcopy(compose)
    gateway = services_by_module(mutated)[module_of("gateway")]
    mutated["services"][gateway]["environment"]["ALGOITNY_INTERNAL_SECRET"] = "${ALGOITNY_INTERNAL_SECRET:-x}"
    del mutated["services"][gateway]["environment"]["ALGOITNY_ADMIN_TOKEN"]
    errors = secret_errors(mutated)
    assert any("ALGOITNY_INTERNAL_SECRET" in e and "demanded" in e for e in errors), errors
    assert any("ALGOITNY_ADMIN_TOKEN is not set" in e for e in errors), errors
    assert secret_errors(compose) == []
