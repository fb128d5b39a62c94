"""Evidence images and their privacy: :class:`shared.settings.Settings` inherits these fields
(``CAMWATCH_EVIDENCE_*``, ``CAMWATCH_URL_SIGNER``, ``CAMWATCH_*_RETENTION_DAYS``, ...),
documented with the rest in ``docs/reference/settings.md`` (docs/design/evidence.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_SIGNED_URL_S = 7 * 24 * 3600  # the longest a V4 signed URL may live


class EvidenceSettings(BaseSettings):
    """What is stored of a frame, for how long, and how people open it."""

    model_config = SettingsConfigDict(env_prefix="CAMWATCH_", extra="ignore", frozen=True)

    # Evidence and privacy (docs/design/evidence.md)
    evidence_url_expiry_s: int = Field(
        3 * 24 * 3600,
        ge=60,
        le=MAX_SIGNED_URL_S,
        description="Lifetime of the signed evidence URL in alerts (V4: at most 7 days).",
    )
    url_signer: Literal["auto", "iam", "key"] = Field(
        "auto",
        description="How evidence URLs are signed: iam (the IAM signBlob API with the "
        "function's service account, no key file), key (a throw-away key made at start: "
        "local only); auto: key when CAMWATCH_STORAGE_EMULATOR_HOST is set, else iam.",
    )
    signer_service_account: str | None = Field(
        None,
        description="Service account email that signs evidence URLs (iam); Terraform sets the "
        "functions' own.",
    )
    iam_endpoint: str = Field(
        "https://iamcredentials.googleapis.com",
        description="IAM Service Account Credentials API root (signBlob); tests point it at "
        "a local fake.",
    )
    store_original_frames: bool = Field(
        False,
        description="Also store the unblurred original frame of each violation "
        "(originals/...); off: only the annotated, blurred evidence is kept.",
    )
    evidence_retention_days: int = Field(
        30, ge=1, description="Days annotated evidence images are kept (bucket lifecycle)."
    )
    original_retention_days: int = Field(
        7, ge=1, description="Days original frames are kept, when stored (bucket lifecycle)."
    )
    latest_retention_days: int = Field(
        2,
        ge=1,
        description="Days a camera's latest annotated frame is kept after its last update "
        "(bucket lifecycle; a live camera overwrites it every sweep).",
    )
