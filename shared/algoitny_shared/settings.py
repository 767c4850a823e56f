"""Settings read from the environment (prefix ``ALGOITNY_``) with working local defaults.

Every service subclasses :class:`ServiceSettings`; the union of all settings classes is
the platform's environment-variable contract (the compose file is checked against it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ALGOITNY_"


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

    cursor_secret: SecretStr = SecretStr("local-cursor-secret-change-me")
    token_secret: SecretStr = Field(
        default=SecretStr("local-token-secret-change-me-32bytes"),
        description="HMAC key of access tokens: accounts signs them, the gateway verifies them.",
    )
    token_previous_secrets: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated earlier token keys that still verify (not sign) during a key rotation: "
        "keep one for an access-token lifetime after moving it out of token_secret.",
    )
    internal_secret: SecretStr = Field(
        default=SecretStr("local-internal-secret-change-me-32bytes"),
        description="HMAC key of the identity assertions the gateway sends to services; services verify them.",
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

    fault_points: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated fault-injection points (tests only), e.g. crash_after_commit.",
    )

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
