"""Logs a machine can read: `jigsaw --log-format json` writes one JSON object a line with a fixed field set,
and never an exception's text, which may quote the input (a name, a date of birth). Text stays the default.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click
import pytest
from click.testing import CliRunner

from apps.cli import cli
from jigsaw import logs

NAME = "Zoë Nowak-Łukasik"


@pytest.fixture(autouse=True)
def _unbound(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test's ``bind`` outlives it: the names are the process's."""
    monkeypatch.setattr(logs, "_bound", {"service": None, "participant": None})


def _line(fmt: logs.Format, emit: Any) -> str:
    """What ``emit(logger)`` writes through ``fmt``'s formatter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter(fmt))
    logger = logging.getLogger("jigsaw.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def _json(emit: Any) -> dict[str, Any]:
    (line,) = _line("json", emit).splitlines()
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_a_json_line_parses_and_has_exactly_the_field_set_in_order() -> None:
    logs.bind("hub-csc-mash", "hub.devon")
    doc = _json(lambda log: log.info("consumed %d records", 3))
    assert list(doc) == ["time", "level", "service", "participant", "event", "logger"]
    assert doc["level"] == "INFO"
    assert doc["service"] == "hub-csc-mash"
    assert doc["participant"] == "hub.devon"
    assert doc["event"] == "consumed 3 records"
    assert doc["logger"] == "jigsaw.test_logs"
    when = datetime.fromisoformat(doc["time"])
    assert when.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 60


def test_an_unbound_process_still_writes_every_field() -> None:
    doc = _json(lambda log: log.warning("no service named"))
    assert list(doc) == list(logs.JSON_FIELDS)
    assert doc["service"] is None
    assert doc["participant"] is None


def test_referral_id_appears_only_when_the_call_passes_it_and_no_other_extra_does() -> None:
    without = _json(lambda log: log.info("opened"))
    assert "referral_id" not in without
    given = _json(lambda log: log.info("opened", extra={"referral_id": "R-01J", "subject_name": NAME}))
    assert list(given) == [*logs.JSON_FIELDS, "referral_id"]
    assert given["referral_id"] == "R-01J"
    assert NAME not in json.dumps(given, ensure_ascii=False)


def test_an_exception_is_written_as_its_type_only() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError(f"no match for {NAME}, born 2014-03-02")
        except ValueError:
            log.exception("lookup failed")

    raw = _line("json", emit)
    doc = json.loads(raw)
    assert list(doc) == [*logs.JSON_FIELDS, "exc_type"]
    assert doc["exc_type"] == "ValueError"
    assert doc["event"] == "lookup failed"
    for quoted in ("Nowak", "2014-03-02", "Traceback", json.dumps(NAME)[1:-1]):
        assert quoted not in raw


def test_text_stays_as_it_was() -> None:
    line = _line("text", lambda log: log.warning("fetch failed (%s); backing off", "KafkaError"))
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING jigsaw.test_logs"
        r" fetch failed \(KafkaError\); backing off\n",
        line,
    )


@contextlib.contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a fresh process has it (no handlers), then as it was. Pytest's capture puts
    handlers on it for each test's call, and ``configure``, like ``basicConfig``, leaves those alone."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quieted = {n: logging.getLogger(n).level for n in ("httpx", "kafka")}
    root.handlers.clear()
    try:
        yield root
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for n, level in quieted.items():
            logging.getLogger(n).setLevel(level)


def test_configure_installs_the_format_and_keeps_the_chatty_clients_quiet() -> None:
    out = io.StringIO()
    with bare_root() as root:
        logs.configure("json", logging.DEBUG, stream=out)
        assert root.level == logging.DEBUG
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("kafka").level == logging.WARNING
        logging.getLogger("httpx").info("GET /persons?name=Nowak")
        logging.getLogger("jigsaw.probe").debug("started")
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["event"] == "started"


@click.command("probe-logs")
def _probe() -> None:
    logging.getLogger("jigsaw.probe").warning("probed")


@pytest.fixture
def probe() -> Iterator[None]:
    """A command that logs one line, on the real CLI, for as long as the test runs."""
    cli.add_command(_probe)
    yield
    cli.commands.pop("probe-logs")


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("args", "env", "json_lines"),
    [
        ([], {}, False),
        (["--log-format", "json"], {}, True),
        ([], {"JIGSAW_LOG_FORMAT": "json"}, True),
        (["--log-format", "text"], {"JIGSAW_LOG_FORMAT": "json"}, False),
    ],
)
def test_the_option_or_the_environment_chooses_the_format(
    args: list[str], env: dict[str, str], json_lines: bool
) -> None:
    with bare_root():
        result = CliRunner(env=env).invoke(cli, [*args, "probe-logs"])
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    if json_lines:
        doc = json.loads(line)
        assert doc["event"] == "probed"
        assert doc["level"] == "WARNING"
    else:
        assert line.endswith(" WARNING jigsaw.probe probed")


def test_an_unknown_format_is_refused() -> None:
    result = CliRunner(env={"JIGSAW_LOG_FORMAT": "yaml"}).invoke(cli, ["policy", "--help"])
    assert result.exit_code == 2
    assert "yaml" in result.output
