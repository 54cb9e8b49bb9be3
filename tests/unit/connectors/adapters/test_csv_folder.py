from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.sdk.adapters import (
    CsvFolderAdapter,
    CsvFolderConfig,
    SkippedRow,
    SourceMisconfigured,
    SourceUnavailable,
    build_adapter,
)
from jigsaw.errors import ConfigError, FatalError, TransientError
from jigsaw.lifecycle import ClosedError

PUPILS = """pupil_id,forename,surname,dob,postcode,upn
P1,Jamie,Smith,01/03/2014,LS1 4AB,A123456789012
P2,Alex,Smith,20/07/2011,LS1 4AB,B123456789012
P9,Sam,Jones,31/02/2014,BD1 1AA,C123456789012
P3,Kai,O'Brien,05/11/2015,LS6 2QQ,
"""
ATTENDANCE_SEPT = "pupil_id,attendance_pct,period\nP1,91.2,2026-09\nP2,97.0,2026-09\n"
ATTENDANCE_OCT = "pupil_id,attendance_pct,period\nP1,84.5,2026-10\nP3,99.0,2026-10\n"


def write(path: Path, content: str, *, after: Path | None = None) -> None:
    """Write an export; ``after`` makes it a second newer than that file, as a later export would be."""
    later = after.stat().st_mtime_ns + 1_000_000_000 if after is not None else None
    # utf-8-sig writes the byte-order mark Excel puts at the start of its CSV exports.
    path.write_text(content, encoding="utf-8-sig", newline="")
    if later is not None:
        os.utime(path, ns=(later, later))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    exports = tmp_path / "mis-exports"
    exports.mkdir()
    write(exports / "pupils_2026-09.csv", PUPILS)
    write(exports / "attendance_2026-09.csv", ATTENDANCE_SEPT)
    return exports


def adapter_for(folder: Path, **overrides: Any) -> CsvFolderAdapter:
    doc: dict[str, Any] = {
        "kind": "csv",
        "folder": folder,
        "persons_file": "pupils*.csv",
        "category_files": {"attendance": "attendance*.csv"},
        "fields": {"given_names": "forename", "family_name": "surname"},
        "id_column": "pupil_id",
        "date_format": "%d/%m/%Y",
        "poll_interval_s": 60,
    }
    adapter = build_adapter(CsvFolderConfig.model_validate({**doc, **overrides}))
    assert isinstance(adapter, CsvFolderAdapter)
    return adapter


async def attendance(adapter: CsvFolderAdapter) -> dict[str, str]:
    rows = await adapter.records("attendance", ["P1", "P2", "P3"])
    return {row["source_id"]: row["attendance_pct"] for row in rows}


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await check():
        assert loop.time() < deadline, f"not seen within {within_s}s"
        await asyncio.sleep(0.01)


async def test_a_bom_prefixed_export_is_read_through_the_field_mapping(folder: Path) -> None:
    async with adapter_for(folder) as adapter:
        (jamie,) = await adapter.candidates({"dob": date(2014, 3, 1)})
    assert jamie == {
        "source_id": "P1",
        "given_names": "Jamie",
        "family_name": "Smith",
        "dob": date(2014, 3, 1),
        "postcode": "LS1 4AB",
        "nhs": None,
        "upn": "A123456789012",
        "pnc": None,
        "ni": None,
        "local_id": None,
    }


async def test_candidates_share_any_one_key_with_the_hint(folder: Path) -> None:
    async with adapter_for(folder) as adapter:

        async def ids(**hint: Any) -> list[str]:
            return sorted(p["source_id"] for p in await adapter.candidates(hint))

        assert await ids(family_name="smith") == ["P1", "P2"]
        assert await ids(family_name="OBRIEN") == ["P3"]
        assert await ids(postcode="ls14ab", dob=date(2015, 11, 5)) == ["P1", "P2", "P3"]
        assert await ids(upn="b123456789012") == ["P2"]
        assert await ids(given_names="Jamie") == []
        assert await ids() == []


async def test_a_bad_row_is_skipped_and_reported_without_its_values(folder: Path) -> None:
    async with adapter_for(folder) as adapter:
        assert await adapter.candidates({"family_name": "Jones"}) == []
        assert adapter.problem_count == 1
        assert adapter.problems == [
            SkippedRow("pupils_2026-09.csv", 4, "dob", "not a date in the format %d/%m/%Y")
        ]
        assert not any(value in repr(adapter.problems) for value in ("P9", "Sam", "Jones", "31/02/2014"))

        # The school re-exports with the date fixed: the problem goes with the old file.
        pupils = folder / "pupils_2026-09.csv"
        write(pupils, PUPILS.replace("31/02/2014", "28/02/2014"), after=pupils)
        assert await adapter.refresh()
        assert [p["source_id"] for p in await adapter.candidates({"family_name": "Jones"})] == ["P9"]
        assert adapter.problems == []


async def test_a_new_export_is_picked_up_by_refresh_and_later_files_win(folder: Path) -> None:
    async with adapter_for(folder) as adapter:
        assert await attendance(adapter) == {"P1": "91.2", "P2": "97.0"}

        write(folder / "attendance_2026-10.csv", ATTENDANCE_OCT, after=folder / "attendance_2026-09.csv")
        assert await adapter.refresh()
        assert not await adapter.refresh()

        # P1 is replaced by the later export; P2, absent from it, keeps September's row.
        assert await attendance(adapter) == {"P1": "84.5", "P2": "97.0", "P3": "99.0"}
        (row,) = await adapter.records("attendance", ["P3"])
        assert row == {"pupil_id": "P3", "attendance_pct": "99.0", "period": "2026-10", "source_id": "P3"}


async def test_a_new_export_is_picked_up_by_the_background_poll(folder: Path) -> None:
    async with adapter_for(folder, poll_interval_s=0.02) as adapter:
        write(folder / "attendance_2026-10.csv", ATTENDANCE_OCT, after=folder / "attendance_2026-09.csv")

        async def october_seen() -> bool:
            return (await attendance(adapter)).get("P3") == "99.0"

        await eventually(october_seen)
        assert (await attendance(adapter))["P1"] == "84.5"


async def test_an_unreadable_file_is_set_aside_and_the_rest_still_served(folder: Path) -> None:
    (folder / "attendance_2026-10.csv").write_bytes(b"pupil_id,attendance_pct\nP3,\xff\xfe99\n")
    (folder / "pupils_2026-10.csv").write_text("id,surname\nP7,Khan\n")
    async with adapter_for(folder) as adapter:
        assert await attendance(adapter) == {"P1": "91.2", "P2": "97.0"}
        assert sorted(adapter.problems) == [
            SkippedRow("attendance_2026-10.csv", 2, "", "file not read: UnicodeDecodeError"),
            SkippedRow("pupils_2026-09.csv", 4, "dob", "not a date in the format %d/%m/%Y"),
            SkippedRow("pupils_2026-10.csv", 1, "pupil_id", "no such column in the header"),
        ]


async def test_an_unknown_category_is_a_config_error(folder: Path) -> None:
    async with adapter_for(folder) as adapter:
        with pytest.raises(ConfigError, match="'exclusions'"):
            await adapter.records("exclusions", ["P1"])


async def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CSV folder not found"):
        await adapter_for(tmp_path / "nowhere").start()


async def test_a_vanished_folder_is_transient_and_its_data_comes_back(folder: Path) -> None:
    away = folder.with_name("unmounted")
    async with adapter_for(folder) as adapter:
        await asyncio.to_thread(folder.rename, away)
        assert not await adapter.refresh()
        with pytest.raises(TransientError):
            await adapter.candidates({"family_name": "Smith"})
        await asyncio.to_thread(away.rename, folder)
        await adapter.refresh()
        assert len(await adapter.candidates({"family_name": "Smith"})) == 2


async def test_lifecycle_stop_ends_the_poll_and_is_idempotent(folder: Path) -> None:
    adapter = adapter_for(folder, poll_interval_s=0.01)
    async with adapter:
        poller = adapter._poller
        assert poller is not None
        assert not poller.done()
    assert poller.done()
    await adapter.stop()
    with pytest.raises(ClosedError):
        await adapter.refresh()
    with pytest.raises(ClosedError):
        await adapter.start()


async def test_lookups_that_fail_say_whether_to_answer_retry_or_stop(folder: Path) -> None:
    away = folder.with_name("unmounted")
    async with adapter_for(folder) as adapter:
        assert await adapter.records("attendance", ["P7"]) == [], "nobody in the files: nothing held"
        with pytest.raises(SourceMisconfigured, match=f"CSV folder {folder}: no files for category") as fatal:
            await adapter.records("exclusions", ["P1"])
        assert isinstance(fatal.value, FatalError)
        await asyncio.to_thread(folder.rename, away)
        await adapter.refresh()
        with pytest.raises(SourceUnavailable) as later:
            await adapter.records("attendance", ["P1"])
        assert later.value.retriable
        assert not isinstance(later.value, FatalError)
