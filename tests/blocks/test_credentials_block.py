"""ModelsLabCredentials: Prefect's block standards, save/load, env, registration."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from importlib.metadata import entry_points

import httpx
import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.api import DEFAULT_BASE_URL, AsyncModelsLabClient, ModelsLabClient

KEY = "sk-block-test-4b3c2d1e0f"


class TestModelsLabCredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return ModelsLabCredentials

    @pytest.mark.skip(reason="needs the internet: the suite downloads the logo")
    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pass


def test_defaults_and_validation() -> None:
    credentials = ModelsLabCredentials(api_key=KEY)
    assert credentials.base_url == DEFAULT_BASE_URL
    assert (credentials.timeout, credentials.connect_timeout) == (30.0, 10.0)
    assert ModelsLabCredentials(api_key=KEY, base_url="http://127.0.0.1:8/api/v6/").base_url == (
        "http://127.0.0.1:8/api/v6"
    )
    for bad in ("ftp://modelslab.com/api/v6", "modelslab.com/api/v6", "http://", "http://[::1"):
        with pytest.raises(ValidationError, match="base_url"):
            ModelsLabCredentials(api_key=KEY, base_url=bad)
    with pytest.raises(ValidationError, match="timeout"):
        ModelsLabCredentials(api_key=KEY, timeout=0)


def test_the_key_is_masked_everywhere_it_could_be_printed() -> None:
    credentials = ModelsLabCredentials(api_key=KEY)
    for text in (repr(credentials), str(credentials), credentials.model_dump_json()):
        assert KEY not in text
    assert credentials.api_key.get_secret_value() == KEY


def test_save_and_load_keeps_the_secret_usable_and_masked() -> None:
    name = f"modelslab-{uuid.uuid4().hex[:8]}"
    ModelsLabCredentials(api_key=KEY, base_url="http://127.0.0.1:9/api/v6", timeout=5.0).save(name)

    loaded = ModelsLabCredentials.load(name)

    assert isinstance(loaded, ModelsLabCredentials)
    assert isinstance(loaded.api_key, SecretStr)
    assert loaded.api_key.get_secret_value() == KEY
    assert (loaded.base_url, loaded.timeout) == ("http://127.0.0.1:9/api/v6", 5.0)
    for text in (repr(loaded), str(loaded), loaded.model_dump_json()):
        assert KEY not in text


def test_clients_carry_the_settings() -> None:
    credentials = ModelsLabCredentials(
        api_key=KEY, base_url="http://127.0.0.1:9/api/v6", timeout=12.0, connect_timeout=3.0
    )
    with credentials.get_client() as client:
        assert isinstance(client, ModelsLabClient)
        assert client.base_url == "http://127.0.0.1:9/api/v6"
        assert client.timeout == httpx.Timeout(12.0, connect=3.0)
        assert KEY not in repr(client)
    async_client = credentials.get_async_client()
    assert isinstance(async_client, AsyncModelsLabClient)
    assert async_client.timeout == httpx.Timeout(12.0, connect=3.0)


def test_from_env_reads_the_key_and_the_base_url() -> None:
    credentials = ModelsLabCredentials.from_env(
        {"MODELSLAB_API_KEY": f"  {KEY}\n", "MODELSLAB_BASE_URL": "http://127.0.0.1:9/api/v6"}
    )
    assert credentials.api_key.get_secret_value() == KEY
    assert credentials.base_url == "http://127.0.0.1:9/api/v6"
    assert ModelsLabCredentials.from_env({"MODELSLAB_API_KEY": KEY}).base_url == DEFAULT_BASE_URL


def test_from_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSLAB_API_KEY", KEY)
    monkeypatch.delenv("MODELSLAB_BASE_URL", raising=False)
    assert ModelsLabCredentials.from_env().api_key.get_secret_value() == KEY


@pytest.mark.parametrize("environ", [{}, {"MODELSLAB_API_KEY": "   "}])
def test_from_env_without_a_key_names_the_variable(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="MODELSLAB_API_KEY is not set"):
        ModelsLabCredentials.from_env(environ)


def test_the_prefect_collections_entry_point_resolves() -> None:
    found = entry_points(group="prefect.collections")
    [entry] = [e for e in found if e.name == "prefect_modelslab"]
    module = entry.load()
    assert module.__name__.startswith("prefect_modelslab")
    # Prefect registers the Block subclasses it finds as members of that module.
    assert module.ModelsLabCredentials is ModelsLabCredentials


def _register(module: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", module],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("module", ["prefect_modelslab", "prefect_modelslab.blocks"])
def test_prefect_block_register_finds_the_block(module: str) -> None:
    result = _register(module)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ModelsLab Credentials" in result.stdout
    with get_client(sync_client=True) as client:
        assert client.read_block_type_by_slug("modelslab-credentials").name == (
            "ModelsLab Credentials"
        )


def test_the_catalog_description_is_one_unbroken_line() -> None:
    """The block catalog shows the description as is: no hard wraps, one sentence."""
    description = ModelsLabCredentials.get_description()
    assert description is not None and "\n" not in description
    assert description.endswith(".") and description.count(". ") == 0
