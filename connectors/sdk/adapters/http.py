"""A source adapter over an agency's HTTP/JSON API, such as a GP system's integration endpoint.

Outages (connection failures, timeouts, 429 and 5xx) are retried a few times with a short backoff and
then raised as :class:`~jigsaw.errors.TransientError`, leaving longer waits to the connector runtime.
Any other non-2xx answer means the configuration is wrong (path, token) and is a ConfigError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from jigsaw.errors import ConfigError, TransientError
from jigsaw.lifecycle import require

from .base import HINT_KEYS, SourceAdapter, only_requested, with_source_id

if TYPE_CHECKING:
    from .config import HttpSourceConfig

# httpx logs each request URL at INFO, and the persons query string holds names and dates of birth.
logging.getLogger("httpx").setLevel(logging.WARNING)

_BACKOFF_S = 0.1
# Per-person category paths are fetched concurrently, but politely.
_CONCURRENCY = 8


class HttpAdapter(SourceAdapter):
    def __init__(self, config: HttpSourceConfig) -> None:
        super().__init__()
        self._config = config
        self._client: httpx.AsyncClient | None = None

    async def _start(self) -> None:
        headers = {"Accept": "application/json"}
        if self._config.token is not None:
            headers["Authorization"] = f"Bearer {self._config.token.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=self._config.base_url,
            headers=headers,
            timeout=self._config.timeout_s,
            verify=self._config.verify_tls,
        )

    async def _stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        path = self._config.persons_path
        params = {key: _param(hint[key]) for key in HINT_KEYS if hint.get(key) is not None}
        if not params:
            return []  # an API given no filter may well answer with everyone it holds
        body = await self._get(path, path, params)
        if not isinstance(body, list):
            raise ConfigError(f"GET {path} must return a JSON list of people")
        return self._people(_objects(body, path), self._config.fields, f"GET {path}")

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        template = self._config.category_paths.get(category)
        if template is None:
            raise ConfigError(
                f"no path for category {category!r}; configured: {sorted(self._config.category_paths)}"
            )
        ids = list(dict.fromkeys(source_ids))
        if not ids:
            return []
        if "{source_id}" in template:
            return await self._per_person(template, ids)
        rows = _objects(await self._get(template, template, {"ids": ids}), template)
        id_column = self._config.fields.get("source_id", "source_id")
        where = f"GET {template}"
        return only_requested([with_source_id(row, id_column, where) for row in rows], ids, where)

    async def _per_person(self, template: str, ids: list[str]) -> list[dict[str, Any]]:
        limit = asyncio.Semaphore(_CONCURRENCY)

        async def fetch(sid: str) -> list[dict[str, Any]]:
            async with limit:
                # Quoted whole, so an id can never walk to another path.
                body = await self._get(template, template.format(source_id=quote(sid, safe="")), {})
            return [{**row, "source_id": sid} for row in _objects(body, template)]

        tasks = [asyncio.ensure_future(fetch(sid)) for sid in ids]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return [row for rows in results for row in rows]

    async def _get(self, label: str, url: str, params: Mapping[str, Any]) -> Any:
        """The JSON body of ``GET url``. ``label`` is the configured path: messages never show the
        query string, which holds personal data."""
        attempts = self._config.retries + 1
        failure: str = ""
        cause: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_BACKOFF_S * 2 ** (attempt - 1))
            client = require(self._client, "the HTTP client")
            try:
                response = await client.get(url, params=params)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
                raise ConfigError(f"GET {label}: {e}") from None
            except httpx.TransportError as e:
                failure, cause = type(e).__name__, e
                continue
            if response.status_code == 429 or response.status_code >= 500:
                failure, cause = f"HTTP {response.status_code}", None
                continue
            return _json(response, label)
        raise TransientError(f"GET {label} failed {attempts} times, last with {failure}") from cause


def _json(response: httpx.Response, label: str) -> Any:
    if not response.is_success:
        raise ConfigError(f"GET {label} returned HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ConfigError(f"GET {label} did not return JSON") from None


def _objects(body: Any, label: str) -> list[dict[str, Any]]:
    rows = body if isinstance(body, list) else [body]
    if not all(isinstance(row, dict) for row in rows):
        raise ConfigError(f"GET {label} must return a JSON object or a list of objects")
    return rows


def _param(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
