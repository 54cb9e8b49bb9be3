"""Finding and opening a hub's case store for the commands that read one (``case show``, ``report``).

The store is ``--store``, else ``hub-<subscriber>.sqlite`` under ``--state-dir``, else the hub's own
settings: the shared PostgreSQL store when ``JIGSAW_HUB__STORE__URL`` is set, or the SQLite file under
``JIGSAW_HUB__STATE_DIR``. Reading never creates or changes a store: SQLite is opened read only, and a
PostgreSQL schema must exist already.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from jigsaw.bus.store import Conn
    from services.hub.config import HubSettings

F = TypeVar("F", bound=Callable[..., Any])


def store_options(f: F) -> F:
    """``--state-dir`` and ``--store``, as every case-store reader takes them."""
    f = click.option(
        "--store",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="The case store file itself (instead of --state-dir).",
    )(f)
    return click.option(
        "--state-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="The hub's state directory, which holds hub-<subscriber>.sqlite (default:"
        " JIGSAW_HUB__STATE_DIR, else .jigsaw/state).",
    )(f)


@dataclass(frozen=True)
class Opened:
    conn: Conn
    where: str  # to name in a message
    settings: HubSettings


@contextmanager
def case_store(subscriber: str, state_dir: Path | None, store: Path | None) -> Iterator[Opened]:
    from jigsaw.bus.pgstore import PgStore
    from jigsaw.bus.stores import store_for
    from services.hub import store as hub_store
    from services.hub.config import HubSettings

    settings = HubSettings().model_copy(update={"subscriber": subscriber})
    if state_dir is not None:
        settings = settings.model_copy(update={"state_dir": state_dir})
    if store is None and state_dir is None and settings.store.url is not None:
        shared = store_for(settings.store, settings.store_path(), settings.store_owner(), hub_store.SCHEMA)
        if not isinstance(shared, PgStore):
            raise click.ClickException(f"{settings.store.url}: not a PostgreSQL store")
        reader = shared.existing_reader()
        try:
            yield Opened(reader, shared.where, settings)
        finally:
            reader.close()
        return
    path = store or settings.store_path()
    if not path.is_file():
        raise click.ClickException(
            f"no case store at {path.absolute()}: give the hub's --state-dir (its JIGSAW_HUB__STATE_DIR)"
            f" or the --store file itself; `jigsaw hub run --subscriber {subscriber}` creates it"
        )
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield Opened(conn, str(path), settings)
    finally:
        conn.close()
