"""The workbench against a production-mode service: its calls carry JWTs signed by its local
test key, which the service trusts through the issuers file the workbench writes."""
from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.serving import make_server

from cds_hooks.app import create_app as create_service
from cds_hooks.config import Config, Issuer
from tests.integration.conftest import ServerThread
from tests.integration.support import free_port
from workbench.app import create_app as create_workbench
from workbench.signing import ISSUER, LocalKey

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def production_service(tmp_path, policy):
    key = LocalKey(tmp_path / "keys")  # what the workbench will sign with
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/db.sqlite", public_base_url=base,
                    issuers=(Issuer(iss=ISSUER, jwks_file=str(tmp_path / "keys" / "jwks.json")),))
    config.check()
    running = ServerThread(make_server("127.0.0.1", port, create_service(config, policy), threaded=True))
    yield base, key
    running.stop()


def page_after(client, *posts) -> str:
    for path, form in posts:
        assert client.post(path, data=form).status_code == 302
    return client.get("/").get_data(as_text=True)


def test_signed_calls_get_cards_and_unsigned_calls_are_refused(production_service, tmp_path):
    base, key = production_service
    assert key.issuers_file.read_text().count(ISSUER) == 1
    client = create_workbench(base, None, FIXTURES, tmp_path / "keys").test_client()
    prepare = [("/patients/fixture", {"fixture": "s06-cms-mixed-remainder-underbilled"}),
               ("/claim/prepare", {"claim": "Claim/s06-claim"})]
    refused = page_after(client, *prepare)
    assert "HTTP 401" in refused and 'data-code="units"' not in refused
    signed = page_after(client, ("/settings", {"service": base, "fhir": "", "prefetch": "recorded", "signed": "on"}),
                        *prepare)
    assert 'data-code="units"' in signed and "· signed JWT</summary>" in signed
    assert "Traceback" not in signed
