from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from algoitny_shared import tokens
from algoitny_shared.settings import ServiceSettings, secret_field

# The public development key (refused outside ALGOITNY_ENVIRONMENT=local|test).
LOCAL_SIGNING_KEY = "kgA4IyTzltzvDp5gscWKkOC6r3Vqn6iVi2ULmStJP6Q"


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return value


class AccountsSettings(ServiceSettings):
    service_name: str = "accounts"
    port: int = 8001
    demo_admin_email: str = "admin@algoitny.dev"
    demo_admin_password: SecretStr = secret_field(
        "change-me-admin-1",
        "Password of the demo admin that `seed-admin` creates once (empty: no demo admin).",
        min_chars=12,
        optional=True,
    )
    token_signing_key: SecretStr = secret_field(
        LOCAL_SIGNING_KEY,
        "Ed25519 private key that signs access tokens (base64url of 32 random bytes, or PKCS#8 PEM); "
        "only accounts holds it. Make one with `python -m algoitny_shared.tokens`.",
        min_chars=43,
    )
    token_previous_signing_keys: SecretStr = secret_field(
        "",
        "Comma-separated earlier signing keys: no longer sign, but their public keys stay in the JWKS "
        "(so their tokens still verify) until dropped, one access-token lifetime after the rotation.",
        min_chars=43,
        optional=True,
    )
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=300, description="Refresh-token family lifetime")
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated e-mails that become admins on sign-in once the address is verified (Google).",
    )
    google_client_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated OAuth client ids accepted as the ID token audience; empty disables Google.",
    )
    google_jwks_url: str = Field(
        default="https://www.googleapis.com/oauth2/v3/certs", description="Where Google's signing keys are published"
    )
    google_issuers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["https://accounts.google.com", "accounts.google.com"]
    )
    signin_window_s: int = Field(default=900, ge=1, description="Window of the failed sign-in counters")
    signin_max_failures_per_account: int = Field(default=5, ge=1)
    signin_max_failures_per_address: int = Field(default=50, ge=1)

    def signing_keys(self) -> tokens.SigningKeys:
        return tokens.SigningKeys.parse(
            self.token_signing_key.get_secret_value(), self.token_previous_signing_keys.get_secret_value()
        )

    _split = field_validator("admin_emails", "google_client_ids", "google_issuers", mode="before")(_csv)
