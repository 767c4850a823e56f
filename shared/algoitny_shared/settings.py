"""Settings read from the environment (prefix ``ALGOITNY_``) with working local defaults.

Every service subclasses :class:`ServiceSettings`; the union of all settings classes is
the platform's environment-variable contract (the compose file is checked against it).
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ALGOITNY_"
# Where the public development defaults may be used: every other environment refuses them.
DEVELOPMENT_ENVIRONMENTS = frozenset({"local", "test"})
MIN_SECRET_CHARS = 32
SECRET_MARK = "algoitny_secret_min_chars"


def secret_field(default: str, description: str, *, min_chars: int = MIN_SECRET_CHARS, optional: bool = False) -> Any:
    """A secret setting: outside local/test the service refuses to start while it holds its public
    default or fewer than ``min_chars`` characters (``optional``: empty is allowed and means off)."""
    return Field(
        default=SecretStr(default),
        description=description,
        json_schema_extra={SECRET_MARK: min_chars, "optional": optional},
    )


def weak_secrets(settings: BaseSettings) -> list[str]:
    """What is wrong with the secrets of ``settings`` for a non-development environment."""
    problems = []
    for name, field in type(settings).model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        min_chars = extra.get(SECRET_MARK)
        if not isinstance(min_chars, int):
            continue
        value = getattr(settings, name)
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        default = field.default.get_secret_value() if isinstance(field.default, SecretStr) else field.default
        var = f"{ENV_PREFIX}{name}".upper()
        if not text and extra.get("optional"):
            continue
        if text == default:
            problems.append(f"{var} is the public development default: set a secret of your own")
        elif len(text) < min_chars:
            problems.append(f"{var} is shorter than {min_chars} characters: set a longer secret")
    return problems


class ServiceSettings(BaseSettings):
    """Settings every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    service_name: str = "service"
    namespace: str = Field(
        default="algoitny",
        pattern=r"^[a-z][a-z0-9-]{0,30}$",
        description="Prefix of every table, topic and index name; tests use their own.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    aws_endpoint_url: str | None = Field(
        default="http://127.0.0.1:5005",
        description="DynamoDB/S3 endpoint; empty means the real AWS endpoints.",
    )
    aws_region: str = "us-east-1"
    aws_access_key_id: SecretStr = SecretStr("local")
    aws_secret_access_key: SecretStr = SecretStr("local")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)

    environment: str = Field(
        default="production",
        pattern=r"^[a-z][a-z0-9-]{0,30}$",
        description="local or test allow the public development secrets; any other value (the default) "
        "makes every service refuse to start with a default or short secret.",
    )
    cursor_secret: SecretStr = secret_field(
        "local-cursor-secret-change-me", "HMAC key of pagination cursors (each service its own or shared)."
    )
    internal_secret: SecretStr = secret_field(
        "local-internal-secret-change-me-32bytes",
        "HMAC key of the identity assertions the gateway sends to services; services verify them.",
    )
    access_token_ttl_s: int = Field(
        default=900,
        ge=60,
        le=86_400,
        description="Access-token lifetime: a deactivated user's tokens stop working within it.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    outbox_relay_enabled: bool = True
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    consumers_enabled: bool = True
    consumer_max_attempts: int = Field(default=3, ge=1, le=20)
    consumer_retry_backoff_s: float = Field(default=0.2, ge=0)

    capacity_log: str = Field(
        default="",
        description="Directory where every DynamoDB call's consumed capacity is recorded as JSON lines "
        "(benchmarks only; empty: off). See algoitny_shared.capacity.",
    )

    upstream_eject_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How long a replica of another service that failed a request is left out of the rotation "
        "(passive health; see algoitny_shared.upstream). Address settings may list replicas comma-separated.",
    )
    tracing_otlp_endpoint: str = Field(
        default="",
        description="OTLP/HTTP traces endpoint (e.g. http://otel-collector:4318/v1/traces); empty: spans are "
        "exported nowhere (trace ids still travel and appear in logs).",
    )
    tracing_sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="Share of new traces recorded when an OTLP endpoint is set."
    )

    fault_points: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated fault-injection points (tests only), e.g. crash_after_commit.",
    )

    @model_validator(mode="after")
    def _no_default_secrets(self) -> Self:
        if self.environment in DEVELOPMENT_ENVIRONMENTS:
            return self
        problems = weak_secrets(self)
        if problems:
            raise ValueError(
                f"{self.service_name} refuses to start in environment {self.environment!r}: "
                + "; ".join(problems)
                + f" (or set {ENV_PREFIX}ENVIRONMENT=local for a development run)"
            )
        return self

    @field_validator("fault_points", mode="before")
    @classmethod
    def _split_faults(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("aws_endpoint_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


def env_var_names(settings_cls: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    prefix = settings_cls.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings_cls.model_fields}
