"""Reading cases: a filtered list, one case's view, its timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from jigsaw.wire.framing import micros, now_micros
from services.hub import query
from services.hub.api.deps import Db, Hub, scoped
from services.hub.api.models import CaseSummary, Outcome, Rag, ReferralPath
from services.hub.view import iso, render

# Every read needs the read scope; a path id is checked against the id pattern before the store sees it.
router = APIRouter(dependencies=[Depends(scoped("read"))])
_ISO = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)


def _since(text: str) -> int:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"updated_since: {text!r} is not an ISO 8601 date or time") from None
    return micros(when if when.tzinfo else when.replace(tzinfo=UTC))


def _view(hub: Hub, referral_id: str) -> dict[str, Any]:
    doc = render(hub.db, referral_id, now_micros(), hub.clock)
    if doc is None:
        raise HTTPException(404, f"no case {referral_id} for {hub.subscriber}")
    return doc


@router.get("/cases", response_model=list[CaseSummary])
async def list_cases(
    db: Db,
    rag: Rag | None = None,
    outcome: Outcome | None = None,
    breached: bool | None = None,
    updated_since: Annotated[str | None, Query(pattern=_ISO, description="ISO 8601 date or time")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    since = _since(updated_since) if updated_since is not None else None
    rows = query.cases(
        db, now_micros(), rag=rag, outcome=outcome, breached=breached, updated_since_us=since, limit=limit
    )
    return [
        CaseSummary(
            referral_id=r.referral_id,
            rag=r.rag,
            outcome=r.outcome,
            updated_at=iso(r.updated_at),
            breached=r.breached,
        )
        for r in rows
    ]


@router.get("/cases/{referral_id}")
async def get_case(hub: Hub, referral_id: ReferralPath) -> dict[str, Any]:
    return _view(hub, referral_id)


@router.get("/cases/{referral_id}/timeline")
async def get_timeline(hub: Hub, referral_id: ReferralPath) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = _view(hub, referral_id)["timeline"]
    return timeline
