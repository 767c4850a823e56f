from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from algoitny_shared.settings import ServiceSettings, secret_field


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    problems_url: str = "http://127.0.0.1:8002"
    search_url: str = "http://127.0.0.1:8005"
    accounts_url: str = "http://127.0.0.1:8001"
    ratelimit_url: str = "http://127.0.0.1:8004"
    executions_url: str = "http://127.0.0.1:8003"
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Body limit of test-set uploads (other bodies: max_body_bytes)"
    )
    hints_url: str = "http://127.0.0.1:8006"
    stats_url: str = "http://127.0.0.1:8007"
    rate_general_per_min: int = Field(default=100, ge=1, description="Raw requests per client per minute")
    rate_execution_per_min: int = Field(default=30, ge=1)
    rate_signin_per_min: int = Field(default=10, ge=1)
    rate_suggest_per_min: int = Field(
        default=600, ge=1, description="Suggestions as you type (one per keystroke) per client per minute"
    )
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Proxies in front of the gateway that append to X-Forwarded-For; 0 uses the socket peer "
        "as the client address (sign-in throttling counts per address).",
    )
    web_dist_dir: Path = Field(
        default=Path(__file__).resolve().parents[3] / "web" / "dist",
        description="The built web app (`npm run build` in web/), served at / with Swagger UI's assets for /docs",
    )
    admin_token: SecretStr = secret_field(
        "local-admin-token",
        "Operators' bearer token with the admin role (for scripts and CI); people sign in for a token. "
        "Empty: no operator token.",
        optional=True,
    )
    jwks_refresh_s: float = Field(
        default=300.0,
        gt=0,
        description="How often the gateway re-reads accounts' JWKS (the token verification keys); a token "
        "naming an unknown key id also triggers a re-read (at most every few seconds).",
    )
