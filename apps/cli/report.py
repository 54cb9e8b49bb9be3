"""``jigsaw report``: the measures a MASH is judged by, for a period, from a hub's case store.

The store is found as ``jigsaw case show`` finds it: ``--store FILE``, else ``--state-dir``, else the
subscriber's default from ``HubSettings`` (the shared PostgreSQL store when ``JIGSAW_HUB__STORE__URL``
is set, or its SQLite file under the state directory). docs/measures.md defines each figure.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from apps.cli.casestore import case_store, store_options
from jigsaw.wire.framing import now_micros

if TYPE_CHECKING:
    from services.hub.measures import Measures

_ROUTE_NAMES = {
    "childrens_social_care": "children's social care (s17, s47, protection)",
    "early_help": "early help / early response",
    "no_further_action": "no further action, information and advice",
    "single_agency": "police or another single agency",
    "transfer_out": "transfer to another local authority",
    "other": "other",
}


@click.command()
@click.option("--subscriber", required=True, help="Whose hub store to read, e.g. csc-mash.")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day.")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the measures as JSON.")
def report(
    subscriber: str,
    first: datetime,
    last: datetime,
    state_dir: Path | None,
    store: Path | None,
    as_json: bool,
) -> None:
    """The measures a MASH is judged by, for contacts received and enquiries sent from --from to --to
    (whole days in the working-hours time zone, both included), as they stand now.

    The store is --store, else hub-SUBSCRIBER.sqlite under --state-dir, else the hub's own settings: the
    shared PostgreSQL store when JIGSAW_HUB__STORE__URL is set, or the SQLite file under
    JIGSAW_HUB__STATE_DIR."""
    from services.hub.measures import measures

    if last.date() < first.date():
        raise click.BadParameter("--to is before --from", param_hint="--to")
    with case_store(subscriber, state_dir, store) as opened:
        settings = opened.settings
        try:
            found = measures(
                opened.conn,
                subscriber,
                first.date(),
                last.date(),
                now_micros(),
                clock=settings.working_hours,
                responses_in_working_hours=settings.deadline_clock() is not None,
            )
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"{opened.where} is not a hub case store") from exc
    if as_json:
        click.echo(json.dumps(_as_json(found), indent=2))
    else:
        _print(found)


def _as_json(m: Measures) -> dict[str, Any]:
    from services.hub.measures import DEVON, share

    out: dict[str, Any] = asdict(m)
    out["first"], out["last"] = m.first.isoformat(), m.last.isoformat()
    c = m.contacts
    out["contacts"]["within_one_working_day_share"] = share(c.within_one_working_day, c.received)
    out["split"]["shares"] = {r: share(n, m.split.decided) for r, n in m.split.by_route.items()}
    out["split"]["devon_evaluation"] = DEVON
    for r in out["responses"]:
        r["on_time_share"] = share(r["on_time"], r["on_time"] + r["late"])
    rr = m.referrals
    out["referrals"]["re_referral_rate"] = (
        None if rr.re_referrals is None else share(rr.re_referrals, rr.received)
    )
    return out


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else f"{part}/{whole} (-)"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _print(m: Measures) -> None:
    from services.hub.measures import DEVON

    console = Console(width=max(Console().width, 100))
    period = f"{m.first.isoformat()} to {m.last.isoformat()}"
    console.print(f"[bold]{m.subscriber}[/bold]: measures for contacts received {period}")
    c = m.contacts
    if c.received == 0:
        console.print("no contacts in this period")
    else:
        console.print(f"contacts received: {c.received}")
        console.print(
            f"decided: {_pct(c.decided, c.received)} ({c.awaiting} awaiting a decision, not yet due)"
        )
        console.print(f"decided within one working day: {_pct(c.within_one_working_day, c.received)}")
        split = Table(title="Outcome split (each decided contact's latest outcome)")
        for name in ("route", "contacts", "share", "Devon's evaluation"):
            split.add_column(name, justify="left" if name == "route" else "right")
        for route, n in m.split.by_route.items():
            devon = f"{100 * DEVON[route]:.0f}%" if route in DEVON else "-"
            split.add_row(_ROUTE_NAMES.get(route, route), str(n), _pct(n, m.split.decided), devon)
        console.print(split)
        rr = m.referrals
        if rr.re_referrals is None:
            console.print(
                "re-referral rate: not known (this store keeps no person index; the front door's does)"
            )
        else:
            console.print(f"re-referral rate: {_pct(rr.re_referrals, rr.received)}")
    _print_responses(console, m)


def _print_responses(console: Console, m: Measures) -> None:
    if not m.responses:
        console.print("no enquiries sent in this period")
        return
    table = Table(title="Partner responses to enquiries sent in the period")
    for name in ("agency", "sent", "answered", "on time", "pending", f"median ({m.unit})", f"p90 ({m.unit})"):
        table.add_column(name, justify="left" if name == "agency" else "right")
    for r in m.responses:
        table.add_row(
            r.agency,
            str(r.sent),
            str(r.answered),
            _pct(r.on_time, r.on_time + r.late),
            str(r.pending),
            _hours(r.median),
            _hours(r.p90),
        )
    console.print(table)
    console.print("on time: first answer by the enquiry's deadline, of those answered or past it")
