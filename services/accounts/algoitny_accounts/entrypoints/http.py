"""HTTP app of the accounts service (reached through the gateway, which signs the caller's identity)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Response

from algoitny_accounts.bootstrap import Container, build
from algoitny_accounts.domain.users import (
    PLAN_PATTERN,
    USER_ID_PATTERN,
    AdminUpdateRequest,
    ConsentRequest,
    GoogleRequest,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    SearchField,
    TokenPair,
    UpdateMeRequest,
    UserPage,
    UserView,
)
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kit.app_factory import parts_app
from algoitny_shared.tokens import JWKS_PATH


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()

    app = parts_app(c, title="AlgoItny accounts service", table=c.users.table)

    @app.get(JWKS_PATH, tags=["auth"])
    async def jwks(response: Response) -> dict[str, Any]:
        """The public keys that verify access tokens (JWKS, Ed25519): the current key and those
        still valid after a rotation. Public by design; the private keys never leave accounts."""
        response.headers["cache-control"] = "public, max-age=60"
        return c.accounts.sessions.jwks()

    @app.post("/auth/register", status_code=201, response_model=TokenPair, tags=["auth"])
    async def register(body: RegisterRequest) -> TokenPair:
        """Create an account with e-mail and password; signs in at once."""
        return await c.accounts.sign_in.register(body.email, body.password, body.name)

    @app.post("/auth/login", response_model=TokenPair, tags=["auth"])
    async def login(body: LoginRequest, identity: CurrentIdentity) -> TokenPair:
        """Sign in with e-mail and password. Failed attempts are throttled per account and per address."""
        return await c.accounts.sign_in.login(body.email, body.password, identity.client_ip)

    @app.post("/auth/google", response_model=TokenPair, tags=["auth"])
    async def google(body: GoogleRequest) -> TokenPair:
        """Sign in with a Google ID token; the first sign-in creates the account."""
        return await c.accounts.sign_in.google(body.id_token)

    @app.post("/auth/refresh", response_model=TokenPair, tags=["auth"])
    async def refresh(body: RefreshRequest) -> TokenPair:
        """Exchange a refresh token for a new pair; each refresh token works once."""
        return await c.accounts.sessions.refresh(body.refresh_token)

    @app.post("/auth/logout", status_code=204, tags=["auth"])
    async def logout(body: RefreshRequest) -> Response:
        """Revoke the session (the refresh token's family)."""
        await c.accounts.sessions.logout(body.refresh_token)
        return Response(status_code=204)

    @app.get("/me", response_model=UserView, tags=["me"])
    async def me(identity: CurrentIdentity) -> UserView:
        return await c.accounts.profile.me(identity)

    @app.patch("/me", response_model=UserView, tags=["me"])
    async def update_me(body: UpdateMeRequest, identity: CurrentIdentity) -> UserView:
        return await c.accounts.profile.update_me(identity, body)

    @app.post("/me/consents", response_model=UserView, tags=["me"])
    async def consent(body: ConsentRequest, identity: CurrentIdentity) -> UserView:
        return await c.accounts.profile.consent(identity, body.kind, body.version)

    @app.get("/admin/users", response_model=UserPage, tags=["admin"])
    async def list_users(
        identity: CurrentIdentity,
        plan: Annotated[str | None, Query(pattern=PLAN_PATTERN)] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=254, description="e-mail or name prefix")] = None,
        field: Annotated[SearchField | None, Query(description="search only the e-mail or only the name")] = None,
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> UserPage:
        """Users newest first, optionally of one plan; or, with `q`, the users whose e-mail or name
        starts with `q` (case-insensitive prefix, not substring): e-mail matches first, then names."""
        identity.require_admin()
        if q is not None:
            if plan is not None:
                raise AppError(ErrorCode.BAD_REQUEST, "Use either q or plan, not both")
            if not q.strip():
                raise AppError(ErrorCode.BAD_REQUEST, "q must not be blank")
            return await c.accounts.admin.search_users(q, field, cursor, limit)
        if field is not None:
            raise AppError(ErrorCode.BAD_REQUEST, "field applies to a search (q) only")
        return await c.accounts.admin.list_users(plan, cursor, limit)

    @app.get("/admin/users/legacy/{legacy_id}", response_model=UserView, tags=["admin"])
    async def user_by_legacy_id(
        legacy_id: Annotated[int, Path(ge=1, le=2**63 - 1)], identity: CurrentIdentity
    ) -> UserView:
        """The user imported from the legacy application's user `legacy_id`."""
        identity.require_admin()
        return await c.accounts.admin.by_legacy_id(legacy_id)

    @app.get("/internal/legacy/export/users/{user_id}", include_in_schema=False)
    async def legacy_export(
        user_id: Annotated[str, Path(pattern=USER_ID_PATTERN)], identity: CurrentIdentity
    ) -> dict[str, Any]:
        """The user as a legacy users row, password hash in Django's format, for the migration's
        reverse writer (issue 16). Internal: the gateway routes no /internal path; admin identity only."""
        identity.require_admin()
        return await c.accounts.admin.legacy_export(user_id)

    @app.patch("/admin/users/{user_id}", response_model=UserView, tags=["admin"])
    async def admin_update(
        user_id: Annotated[str, Path(pattern=USER_ID_PATTERN)], body: AdminUpdateRequest, identity: CurrentIdentity
    ) -> UserView:
        """Change a user's plan, role or active flag."""
        identity.require_admin()
        return await c.accounts.admin.admin_update(identity, user_id, body)

    return app
