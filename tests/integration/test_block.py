"""TavusCredentials as a Prefect block: Prefect's standard checks, and registration."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points

import pytest
from prefect.client.orchestration import get_client
from prefect.plugins import load_prefect_collections
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from prefect_tavus.blocks import TavusCredentials


class TestTavusCredentialsStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return TavusCredentials

    def test_has_a_valid_image(self, block):
        pytest.skip(
            "Prefect's check downloads the logo over the network, which CI does not have; "
            "test_logo_url_is_https checks what can be checked offline."
        )


def test_logo_url_is_https_and_not_a_favicon():
    logo = str(TavusCredentials._logo_url)
    assert logo.startswith("https://") and "favicon" not in logo and not logo.endswith(".ico")


def test_collections_entry_point_names_the_blocks_module():
    points = {ep.name: ep.value for ep in entry_points(group="prefect.collections")}
    assert points.get("prefect_tavus") == "prefect_tavus"
    assert "prefect_tavus" in load_prefect_collections()


def test_block_type_is_registered_with_its_schema():
    async def read():
        async with get_client() as client:
            await TavusCredentials.aregister_type_and_schema(client=client)
            block_type = await client.read_block_type_by_slug("tavus-credentials")
            schema = await client.get_most_recent_block_schema_for_block_type(block_type.id)
            return block_type, schema

    block_type, schema = asyncio.run(read())
    assert block_type.name == "Tavus Credentials"
    assert block_type.logo_url and block_type.documentation_url and block_type.description
    properties = schema.fields["properties"]
    # One password field in the UI's form: no "password | null" switch (anyOf), not required,
    # no default to prefill, and the TAVUS_API_KEY fallback explained in its help text.
    api_key = properties["api_key"]
    assert {"format": "password", "type": "string", "writeOnly": True}.items() <= api_key.items()
    assert "anyOf" not in api_key and "default" not in api_key
    assert "api_key" not in schema.fields.get("required", [])
    assert "TAVUS_API_KEY" in api_key["description"]
    assert str(block_type.logo_url) == str(TavusCredentials._logo_url)
    assert all(
        properties[name].get("description")
        for name in ("api_key", "base_url", "request_timeout_seconds")
    )
    assert "api_key" in schema.fields.get("secret_fields", [])


def test_saved_block_round_trips_and_masks_the_key():
    TavusCredentials(api_key="tvs-roundtrip", base_url="http://127.0.0.1:9").save(
        "tavus-it-block", overwrite=True
    )
    loaded = TavusCredentials.load("tavus-it-block")
    assert loaded.api_key.get_secret_value() == "tvs-roundtrip"
    assert "tvs-roundtrip" not in repr(loaded)


def test_a_block_without_a_key_is_saved_with_no_key_not_a_masked_one():
    """An empty key is stored as null, so the UI shows none rather than ``********``; blocks
    saved as null (earlier versions, or cleared) load with an empty key, which means
    ``TAVUS_API_KEY``; saving without a key over a saved key clears it."""
    TavusCredentials(api_key="tvs-old", base_url="http://127.0.0.1:9").save(
        "tavus-it-nokey", overwrite=True
    )
    TavusCredentials(base_url="http://127.0.0.1:9").save("tavus-it-nokey", overwrite=True)

    async def stored():
        async with get_client() as client:
            document = await client.read_block_document_by_name(
                "tavus-it-nokey", "tavus-credentials"
            )
            return document.data

    assert asyncio.run(stored())["api_key"] is None
    loaded = TavusCredentials.load("tavus-it-nokey")
    assert loaded.api_key.get_secret_value() == ""
    with pytest.raises(Exception, match="TAVUS_API_KEY"):
        loaded.resolved_api_key()
