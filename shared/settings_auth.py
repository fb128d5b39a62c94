"""Who may call the integrator-facing HTTP functions (``process_camera``, ``predictions``), and
how often. :class:`shared.settings.Settings` inherits these fields (``CAMWATCH_API_KEYS``,
``CAMWATCH_ID_TOKEN_*``, ``CAMWATCH_RATE_PER_MINUTE``); docs/auth.md explains them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = "https://accounts.google.com accounts.google.com"


class AuthSettings(BaseSettings):
    """API keys, Google ID tokens and the per-caller rate limit."""

    model_config = SettingsConfigDict(env_prefix="CAMWATCH_", extra="ignore", frozen=True)

    api_keys: str | None = Field(
        None,
        description="The API keys' entries (schemas/api_keys.schema.json: name, sha256 of the "
        "key, scopes, per_minute): the JSON itself, or the path of a file holding it (the Secret "
        "Manager secret, mounted by Cloud Run as a variable or a file). Unset: no key is valid.",
    )
    id_token_audience: str | None = Field(
        None,
        description="The service URL(s) a Google ID token must be issued for (space-separated). "
        "Unset: ID tokens are refused.",
    )
    id_token_certs_url: str = Field(
        GOOGLE_CERTS_URL,
        description="Where Google's token-signing certificates are fetched (PEM map or JWKS); "
        "cached for a few minutes.",
    )
    id_token_issuers: str = Field(
        GOOGLE_ISSUERS, description="Accepted `iss` claims of ID tokens (space-separated)."
    )
    id_token_callers: str | None = Field(
        None,
        description='The service accounts let in with an ID token: JSON `{"callers": [{"email": '
        '..., "name": ..., "scopes": [...], "per_minute": N}]}` or a file path. A valid token '
        "of any other account is 403.",
    )
    rate_per_minute: int = Field(
        600,
        ge=1,
        description="Requests per minute per caller (a key's or account's `per_minute` "
        "overrides it); bursts of per_minute / 6 (10 s worth, at least 1).",
    )
