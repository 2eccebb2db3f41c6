"""The Prefect block that holds a ModelsLab API key and where to send it."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx
from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr, field_validator

from prefect_modelslab.client.api import DEFAULT_BASE_URL, AsyncModelsLabClient, ModelsLabClient
from prefect_modelslab.client.retries import RetryPolicy

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "CredentialsLike",
    "ModelsLabCredentials",
    "aload_credentials",
    "load_credentials",
]

#: Environment variable holding the API key, for command-line use.
API_KEY_ENV = "MODELSLAB_API_KEY"
#: Environment variable overriding the API root (an emulator, a proxy).
BASE_URL_ENV = "MODELSLAB_BASE_URL"


class ModelsLabCredentials(CredentialsBlock):
    """Credentials for the ModelsLab API: the key, the API root and request timeouts.

    The key is kept as a secret; it is sent only in request bodies to the
    origin of `base_url`, never to the hosts that serve the videos.

    Example:
        Load stored ModelsLab credentials:
        ```python
        from prefect_modelslab import ModelsLabCredentials

        modelslab_credentials = ModelsLabCredentials.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "ModelsLab Credentials"
    # The catalog shows this as is: one line, not the hard-wrapped docstring.
    _description = (
        "Credentials for the ModelsLab API: the key (kept secret, sent only in request bodies "
        "to the base URL, never to the hosts that serve the videos), the API root and "
        "request timeouts."
    )
    _logo_url = HttpUrl("https://modelslab.com/favicon.ico")
    _documentation_url = HttpUrl("https://github.com/prefect-modelslab/prefect-modelslab#readme")

    api_key: SecretStr = Field(
        default=...,
        title="API Key",
        description="The ModelsLab API key; sent only in request bodies to the base URL.",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description="The API root, e.g. an emulator or a proxy; must be http(s).",
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for each read or write of a request.",
    )
    connect_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for a connection to open.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value.strip())
        except httpx.InvalidURL as exc:
            raise ValueError(f"is not a valid URL: {exc}") from None
        if url.scheme not in {"http", "https"} or not url.host:
            raise ValueError(f"must be an http(s) URL with a host (got {value!r})")
        return str(url).rstrip("/")

    def _timeouts(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def get_client(self, retry: RetryPolicy | None = None) -> ModelsLabClient:
        """A synchronous client with these credentials; close it when done.

        Args:
            retry: How to retry; the client's default policy when None.

        Example:
            ```python
            from prefect_modelslab import ModelsLabCredentials

            with ModelsLabCredentials.load("modelslab").get_client() as client:
                client.fetch(job.generation_id)
            ```
        """
        return ModelsLabClient(
            self.api_key, base_url=self.base_url, timeout=self._timeouts(), retry=retry
        )

    def get_async_client(self, retry: RetryPolicy | None = None) -> AsyncModelsLabClient:
        """An asynchronous client with these credentials; close it when done.

        Args:
            retry: How to retry; the client's default policy when None.

        Example:
            ```python
            from prefect_modelslab import ModelsLabCredentials

            credentials = await ModelsLabCredentials.aload("modelslab")
            async with credentials.get_async_client() as client:
                await client.fetch(job.generation_id)
            ```
        """
        return AsyncModelsLabClient(
            self.api_key, base_url=self.base_url, timeout=self._timeouts(), retry=retry
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ModelsLabCredentials:
        """Credentials from `MODELSLAB_API_KEY` and, optionally, `MODELSLAB_BASE_URL`.

        Args:
            environ: Where to read the variables; `os.environ` when None.

        Raises:
            ValueError: `MODELSLAB_API_KEY` is not set or is empty.

        Example:
            ```python
            from prefect_modelslab import ModelsLabCredentials

            credentials = ModelsLabCredentials.from_env()
            ```
        """
        env = os.environ if environ is None else environ
        key = env.get(API_KEY_ENV, "").strip()
        if not key:
            raise ValueError(
                f"{API_KEY_ENV} is not set: export your ModelsLab API key as {API_KEY_ENV}, "
                "or load a saved ModelsLabCredentials block"
            )
        base_url = env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
        return cls(api_key=SecretStr(key), base_url=base_url)


#: What every task and flow takes as credentials: a block, the name of a saved
#: one, or None for the environment (`MODELSLAB_API_KEY`, `MODELSLAB_BASE_URL`).
CredentialsLike = ModelsLabCredentials | str | None


def _checked(block: object, name: str) -> ModelsLabCredentials:
    if not isinstance(block, ModelsLabCredentials):
        raise ValueError(f"block {name!r} is a {type(block).__name__}, not ModelsLabCredentials")
    return block


async def aload_credentials(credentials: CredentialsLike = None) -> ModelsLabCredentials:
    """The credentials a task or flow was given: a block, a saved block's name, or the environment.

    Raises:
        ValueError: None was given and `MODELSLAB_API_KEY` is not set (the
            message names both ways to give a key), or the named block is not
            `ModelsLabCredentials`.

    Example:
        ```python
        from prefect_modelslab.blocks import aload_credentials

        credentials = await aload_credentials("modelslab")  # a saved block
        credentials = await aload_credentials()             # MODELSLAB_API_KEY
        ```
    """
    if isinstance(credentials, ModelsLabCredentials):
        return credentials
    if credentials is None:
        return ModelsLabCredentials.from_env()
    return _checked(await ModelsLabCredentials.aload(credentials), credentials)


def load_credentials(credentials: CredentialsLike = None) -> ModelsLabCredentials:
    """`aload_credentials` for synchronous code.

    Example:
        ```python
        from prefect_modelslab.blocks import load_credentials

        credentials = load_credentials("modelslab")
        ```
    """
    if isinstance(credentials, ModelsLabCredentials):
        return credentials
    if credentials is None:
        return ModelsLabCredentials.from_env()
    block = ModelsLabCredentials.load(credentials, _sync=True)  # type: ignore[call-arg]
    return _checked(block, credentials)
