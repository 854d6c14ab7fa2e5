"""Client safety that the simulator cannot show: redirects, and independence from Prefect."""

import subprocess
import sys

import httpx
import pytest

from prefect_tavus.core import TavusClient, TavusRequestError

KEY = "tvs-unit-secret"


async def test_redirects_are_not_followed_so_the_key_never_leaves():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "https://attacker.example/steal"})

    async with TavusClient(KEY, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(TavusRequestError, match="redirect"):
            await client.get_replica("r1")
    assert [r.url.host for r in seen] == ["tavusapi.com"]  # nothing sent to the Location host
    assert seen[0].headers["x-api-key"] == KEY
    assert seen[0].url.path == "/v2/replicas/r1"


async def test_replica_id_is_url_encoded_in_the_path():
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"replica_id": "r:1", "status": "started"})

    async with TavusClient(KEY, transport=httpx.MockTransport(handler)) as client:
        await client.get_replica("r:1")
    assert paths == ["/v2/replicas/r%3A1"]


def test_repr_never_shows_the_key():
    assert KEY not in repr(TavusClient(KEY))


def test_core_imports_without_prefect():
    code = "import sys, prefect_tavus.core; assert 'prefect' not in sys.modules, 'prefect_tavus.core imported prefect'"
    subprocess.run([sys.executable, "-c", code], check=True)
