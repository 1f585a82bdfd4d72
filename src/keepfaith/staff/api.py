"""``GET /api/v1/whoami``: lets an integrator check a key before building on it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from keepfaith.staff.access import Principal, require_api

router = APIRouter(prefix="/api/v1", tags=["authentication"])


class WhoAmI(BaseModel):
    kind: Literal["staff", "api_key"] = Field(
        description="`api_key` for a bearer key, `staff` for a signed-in console session."
    )
    name: str = Field(description="The key's name, or the member of staff's display name.")
    role: str = Field(description="The role, as named in the policy (`owner` is built in).")
    capabilities: list[str] = Field(description="What the role may do, e.g. `subjects.view`.")
    categories: list[str] = Field(
        description="Data categories the role may see (for owners: all those the policy names)."
    )
    all_categories: bool = Field(description="True for owners: every data category.")


@router.get(
    "/whoami",
    summary="Who the credential belongs to and what it may do",
    responses={
        401: {"description": "No key, or a key that is unknown, revoked or expired."},
    },
)
def whoami(principal: Annotated[Principal, Depends(require_api())]) -> WhoAmI:
    """Answers for any valid credential, so it is the first call to make with a new key.
    The role is read from the policy in force at each request."""
    return WhoAmI(
        kind=principal.kind,
        name=principal.name,
        role=principal.role,
        capabilities=sorted(principal.capabilities),
        categories=sorted(principal.categories),
        all_categories=principal.all_categories,
    )
