"""Drive the scenarios through the running stack and show the case views as they fill in.

The referrals are opened through the children's social care hub's API, as a MASH worker's case system
would, and assigned to the front door's own desk; once the front door's view shows the referral, to the
scenario's other desks (or, where a desk joins later, to those it starts with). Once every agency has
answered, the MASH's steps are posted in order (a decision, a strategy
discussion, the family's answers, a desk brought in, a subject added); a step that must come after the
decision waits until the front door's view shows the outcome, so that what it brings is late information.
Each subscriber's hub is polled over its own API with its own token, so what is shown is exactly what each
hub system would see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from apps.demo import expect
from apps.demo.stack import Stack, token
from jigsaw.errors import JigsawError
from town.scenarios import CSC, Scenario

POLL_S = 0.5
# Below this many columns the tables drop what does not fit and stack what would be side by side.
WIDE = 120


class DemoFailed(JigsawError):
    """The hub refused a step of a scenario: the demo cannot go on."""


@dataclass
class Progress:
    scenario: Scenario
    referral_id: str = ""
    views: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    taken: int = 0  # how many of the scenario's steps have been posted
    # The desks still to assign once the front door has the referral (see Driver.open_referrals).
    desks: tuple[str, ...] = ()
    # The desks assigned at the start, whose views must show the referral before any step is taken.
    assigned: tuple[str, ...] = ()

    @property
    def stepped(self) -> bool:
        return self.taken == len(self.scenario.steps)

    def ready(self) -> bool:
        """Whether the next step may be posted: every desk assigned at the start has the referral (so the
        broker applied its assignment before any decision: a desk assigned after a decision would be
        given nothing of the returns from before it), the referral's enquiries are answered, and for a
        step that must come after the decision, the front door's view shows the outcome."""
        front = self.views.get(CSC)
        if self.stepped or self.desks or not expect.answered(front):
            return False
        if not all((self.views.get(d) or {}).get("received_at") for d in self.assigned):
            return False
        step = self.scenario.steps[self.taken]
        return not step.after_decision or expect.decided(front, self.scenario.outcome)

    def problems(self) -> dict[str, list[str]]:
        subs = [*self.scenario.expect, *self.scenario.unassigned]
        return {
            s: ([self.errors[s]] if s in self.errors else [])
            + expect.problems(self.scenario, s, self.views.get(s))
            for s in subs
        }

    @property
    def done(self) -> bool:
        return self.stepped and not any(self.problems().values())


class Driver:
    def __init__(self, stack: Stack, scenarios: list[Scenario], console: Console) -> None:
        self.stack = stack
        self.console = console
        self.progress = [Progress(s) for s in scenarios]
        self.clients = {
            sub: httpx.Client(
                base_url=stack.hub_url(sub), headers={"Authorization": f"Bearer {token(sub)}"}, timeout=10
            )
            for sub in stack.subscribers
        }

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.clients[CSC].request(method, path, json=body)
        if response.status_code >= 400:
            raise DemoFailed(f"{method} {path}: {response.status_code} {response.text}")
        data: dict[str, Any] = response.json()
        return data

    def open_referrals(self) -> None:
        """Open each referral and assign it to the front door's desk; the other desks follow once the
        front door's view shows the referral (``_assign_desks``): the broker then holds the referral's
        own facts (its confidential-address markers among them) before any desk can be released a return,
        as a MASH screens a contact before it brings in the desks."""
        for p in self.progress:
            opened = self._call("POST", "/referrals", p.scenario.referral())
            p.referral_id = opened["referral_id"]
            first = p.scenario.initial_assign or p.scenario.assign
            p.desks = tuple(s for s in first if s != CSC)
            p.assigned = p.desks
            self._assign(p, [CSC])

    def _assign(self, p: Progress, subscribers: list[str]) -> None:
        self._call(
            "POST",
            f"/cases/{p.referral_id}/assignments",
            {"subscribers": subscribers, "assigned_by": "MASH team manager"},
        )

    def _assign_desks(self, p: Progress) -> None:
        front = p.views.get(CSC)
        if p.desks and front is not None and front.get("received_at") is not None:
            self._assign(p, list(p.desks))
            p.desks = ()

    def _poll(self) -> None:
        for p in self.progress:
            for sub in self.stack.subscribers:
                try:
                    response = self.clients[sub].get(f"/cases/{p.referral_id}")
                except httpx.HTTPError as exc:
                    p.errors[sub] = f"its hub did not answer ({type(exc).__name__})"
                    continue
                # Only a 404 means "no view": a hub that fails must not pass for one that withholds.
                if response.status_code in (200, 404):
                    p.errors.pop(sub, None)
                else:
                    p.errors[sub] = f"its hub answered {response.status_code}"
                p.views[sub] = response.json() if response.status_code == 200 else None
            self._assign_desks(p)
            while p.ready():
                step = p.scenario.steps[p.taken]
                self._call("POST", f"/cases/{p.referral_id}/{step.path}", step.body)
                p.taken += 1

    def run(self, timeout_s: float) -> bool:
        """Poll until every scenario shows its expected views or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        with Live(self.board(), console=self.console, refresh_per_second=2) as screen:
            while True:
                self._poll()
                screen.update(self.board())
                if all(p.done for p in self.progress) or time.monotonic() > deadline:
                    break
                time.sleep(POLL_S)
        return all(p.done for p in self.progress)

    # -- display ----------------------------------------------------------------------------------------
    @property
    def wide(self) -> bool:
        return self.console.width >= WIDE

    def board(self) -> Table:
        table = Table(title="Case views filling in (released / withheld sections, enquiries answered)")
        table.add_column("scenario")
        table.add_column("RAG")
        for sub in self.stack.subscribers:
            table.add_column(sub if self.wide else sub.replace("-", "\n"))
        table.add_column("")
        for p in self.progress:
            cells = []
            for sub in self.stack.subscribers:
                view = p.views.get(sub)
                if view is None:
                    cells.append(
                        "[dim]not assigned[/]" if sub in p.scenario.unassigned else "[dim]waiting[/]"
                    )
                    continue
                c = view["completeness"]
                # Narrow, the flags are left to the details below, which print each in full.
                flags = ", ".join(sorted(expect.flags(view))) if self.wide else ""
                cells.append(
                    f"{c['sections_released']} / {c['sections_withheld']}"
                    f"  {c['enquiries_answered']}/{c['enquiries_total']}"
                    + (f"\n[yellow]{flags}[/]" if flags else "")
                )
            mark = "[green]done[/]" if p.done else ("[cyan]deciding[/]" if p.stepped else "…")
            table.add_row(p.scenario.title, p.scenario.rag, *cells, mark)
        return table

    def details(self) -> Group:
        """Per scenario, what each subscriber sees (late information marked), what is withheld from it and
        why, and the rule the scenario gives for it. Narrow, the four columns are stacked in one."""
        tables = []
        for p in self.progress:
            t = Table(title=f"{p.scenario.title}  {p.referral_id}", title_justify="left", show_lines=True)
            t.add_column("subscriber")
            if self.wide:
                t.add_column("sees (* late)")
                t.add_column("withheld, and why")
                t.add_column("flags")
            else:
                t.add_column("sees (* late); withheld, and why; flags")
            for sub in self.stack.subscribers:
                view = p.views.get(sub)
                if view is None:
                    nothing = "[dim]nothing: not assigned (need to know)[/]"
                    t.add_row(sub, nothing, *(["", ""] if self.wide else []))
                    continue
                reasons = {
                    (w["category"], w["rule_id"] or w["status"]): w["reason"] for w in view["withheld"]
                }
                late = expect.late(view)
                why = p.scenario.expect[sub].why if sub in p.scenario.expect else ""
                sees = ", ".join(c + ("*" if c in late else "") for c in sorted(expect.released(view)))
                withheld = "\n".join(f"{c}: {r} ({why})" for (c, r), why in sorted(reasons.items()))
                flags = "\n".join(f["flag"] for f in view["flags"])
                if self.wide:
                    t.add_row(sub + (f"\n[dim]{why}[/]" if why else ""), sees, withheld, flags)
                    continue
                parts = [f"[dim]{why}[/]"] if why else []
                parts += [f"[bold]sees[/] {sees}"]
                parts += [f"[bold]withheld[/]\n{withheld}"] if withheld else []
                parts += [f"[bold]flags[/] {flags.replace(chr(10), ', ')}"] if flags else []
                t.add_row(sub, "\n".join(parts))
            tables.append(t)
        return Group(*tables)

    def summary(self) -> Table:
        table = Table(title="Scenarios")
        table.add_column("scenario")
        table.add_column("result")
        table.add_column("what differs")
        for p in self.progress:
            wrong = {s: ps for s, ps in p.problems().items() if ps}
            if not p.stepped and p.scenario.steps:
                wrong.setdefault("mash", []).append(
                    "steps not taken: an agency did not answer, or no decision showed"
                )
            text = "\n".join(f"{s}: {'; '.join(ps)}" for s, ps in wrong.items())
            table.add_row(p.scenario.title, "[red]FAILED[/]" if wrong else "[green]as expected[/]", text)
        return table


def curl_example(stack: Stack, referral_id: str, sub: str = CSC) -> str:
    return f"curl -s -H 'Authorization: Bearer {token(sub)}' {stack.hub_url(sub)}/cases/{referral_id}"
