from __future__ import annotations

from pydantic import Field, SecretStr

from algoitny_shared.settings import ServiceSettings


class AccountsSettings(ServiceSettings):
    service_name: str = "accounts"
    port: int = 8001
    demo_admin_email: str = "admin@algoitny.dev"
    demo_admin_password: SecretStr = Field(default=SecretStr("change-me-admin-1"), min_length=8)
