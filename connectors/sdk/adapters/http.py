"""A source adapter over an agency's HTTP/JSON API, such as a GP system's integration endpoint.

What the API answers decides what the connector does:

- 404: the API holds nothing for this request (no such patient): :class:`NothingHeld`.
- connection failures, timeouts, 408, 429, 5xx, and 401/403 (an expired token, which a new one in
  ``token_file`` fixes): retried a few times with a short backoff, re-reading the token, then
  :class:`SourceUnavailable`, leaving longer waits to the consume loop.
- any other status (a 400 for a query the API does not understand, a redirect) or a body that is not the
  JSON expected: :class:`SourceMisconfigured`, which stops the connector.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from jigsaw.errors import ConfigError
from jigsaw.lifecycle import require

from .base import (
    HINT_KEYS,
    NothingHeld,
    SourceAdapter,
    SourceMisconfigured,
    SourceUnavailable,
    only_requested,
    with_source_id,
)

if TYPE_CHECKING:
    from .config import HttpSourceConfig

log = logging.getLogger(__name__)
# httpx logs each request URL at INFO, and the persons query string holds names and dates of birth.
logging.getLogger("httpx").setLevel(logging.WARNING)

_BACKOFF_S = 0.1
# Per-person category paths are fetched concurrently, but politely.
_CONCURRENCY = 8
# Worth asking again: the API is busy or down, or it refused a token that may have been renewed since.
_RETRY_STATUSES = frozenset({401, 403, 408, 429})


class HttpAdapter(SourceAdapter):
    def __init__(self, config: HttpSourceConfig) -> None:
        super().__init__()
        self._config = config
        self._client: httpx.AsyncClient | None = None
        url = httpx.URL(config.base_url)
        # Scheme, host and path only: a base URL may carry a user and password.
        self.name = f"HTTP source {url.scheme}://{url.netloc.decode().rpartition('@')[2]}{url.path}"

    async def _start(self) -> None:
        headers = {"Accept": "application/json"}
        token = self._token(starting=True)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=self._config.base_url,
            headers=headers,
            timeout=self._config.timeout_s,
            verify=self._config.verify_tls,
        )

    def _token(self, *, starting: bool = False) -> str | None:
        """The configured token, reading ``token_file`` again: whatever renews the token rewrites it."""
        if self._config.token_file is None:
            return None if self._config.token is None else self._config.token.get_secret_value()
        try:
            token = self._config.token_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            token, why = "", e.strerror
        else:
            why = "it is empty"
        if token:
            return token
        if starting:
            raise ConfigError(f"{self.name}: cannot use token_file: {why}")
        # Perhaps caught mid-rewrite: the last token is kept, and the next refusal reads the file again.
        log.warning("%s: cannot use token_file (%s); the last token is kept", self.name, why)
        return None

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
            raise SourceMisconfigured(f"{self.name}: GET {path} must return a JSON list of people")
        return self._people(self._objects(body, path), self._config.fields, f"GET {path}")

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        template = self._config.category_paths.get(category)
        if template is None:
            raise SourceMisconfigured(
                f"{self.name}: no path for category {category!r};"
                f" configured: {sorted(self._config.category_paths)}"
            )
        ids = list(dict.fromkeys(source_ids))
        if not ids:
            return []
        if "{source_id}" in template:
            return await self._per_person(template, ids)
        rows = self._objects(await self._get(template, template, {"ids": ids}), template)
        id_column = self._config.fields.get("source_id", "source_id")
        where = f"{self.name}: GET {template}"
        return only_requested([with_source_id(row, id_column, where) for row in rows], ids, where)

    async def _per_person(self, template: str, ids: list[str]) -> list[dict[str, Any]]:
        limit = asyncio.Semaphore(_CONCURRENCY)

        async def fetch(sid: str) -> list[dict[str, Any]]:
            async with limit:
                try:
                    # Quoted whole, so an id can never walk to another path.
                    body = await self._get(template, template.format(source_id=quote(sid, safe="")), {})
                except NothingHeld:
                    return []  # nothing on this person; the others' rows still count
            return [{**row, "source_id": sid} for row in self._objects(body, template)]

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
        path's ids or the query string, which hold personal data."""
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
                raise SourceMisconfigured(f"{self.name}: GET {label}: {type(e).__name__}") from None
            except httpx.TransportError as e:
                failure, cause = type(e).__name__, e
                continue
            status = response.status_code
            if status in _RETRY_STATUSES or status >= 500:
                failure, cause = f"HTTP {status}", None
                if status in (401, 403):
                    failure += " (the token was refused)"
                    self._token_refused(label, status)
                continue
            return self._json(response, label)
        raise SourceUnavailable(
            f"{self.name}: GET {label} failed {attempts} times, last with {failure}"
        ) from cause

    def _token_refused(self, label: str, status: int) -> None:
        if self._config.token is None and self._config.token_file is None:
            # Nothing to renew: no number of retries can make this work.
            raise SourceMisconfigured(f"{self.name}: GET {label} returned HTTP {status}, and no token is set")
        token = self._token()
        if token is not None:
            require(self._client, "the HTTP client").headers["Authorization"] = f"Bearer {token}"

    def _json(self, response: httpx.Response, label: str) -> Any:
        status = response.status_code
        if status == 404:
            log.info("%s: GET %s: HTTP 404, so nothing held", self.name, label)
            raise NothingHeld(f"{self.name}: GET {label} returned HTTP 404")
        if not response.is_success:
            raise SourceMisconfigured(
                f"{self.name}: GET {label} returned HTTP {status} {response.reason_phrase}"
            )
        try:
            return response.json()
        except ValueError:
            raise SourceMisconfigured(f"{self.name}: GET {label} did not return JSON") from None

    def _objects(self, body: Any, label: str) -> list[dict[str, Any]]:
        rows = body if isinstance(body, list) else [body]
        if not all(isinstance(row, dict) for row in rows):
            raise SourceMisconfigured(
                f"{self.name}: GET {label} must return a JSON object or a list of objects"
            )
        return rows


def _param(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
