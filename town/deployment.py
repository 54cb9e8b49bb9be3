"""The deployment the town is built for: its agencies and subscribers, as its policy file names them.

The town writes one system per agency with a connector, and the scenarios' expectations name the
deployment's subscribers, so both read the roster rather than keep a list of their own that could drift
from the agreement the broker enforces.
"""

from __future__ import annotations

from pathlib import Path

from jigsaw.roster import Roster, load_roster

POLICY = Path(__file__).resolve().parents[1] / "deploy" / "policy" / "devon-mash.yaml"
ROSTER: Roster = load_roster(POLICY)
# In the order the policy file lists the connectors (not sorted): the manifest lists agencies in this
# order, so reordering would change the generated town's bytes.
AGENCIES: tuple[str, ...] = tuple(ROSTER.connectors())
SUBSCRIBERS: tuple[str, ...] = ROSTER.subscriber_ids
