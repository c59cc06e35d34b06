"""CORS on the CDS Hooks paths: preflights from allowed and disallowed origins, dev mode, scope."""
import pytest

from cds_hooks.app import create_app
from cds_hooks.config import Config, Issuer
from tests.ehr_signer import ISS

ALLOWED = "https://ehr.example.org"
CLAIM_SERVICE = "/cds-services/massage-97124-claim-check"
PATHS = ["/cds-services", CLAIM_SERVICE, f"{CLAIM_SERVICE}/feedback"]


@pytest.fixture
def prod_client(tmp_path, policy):
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db", cors_origins=(ALLOWED,),
                    issuers=(Issuer(iss=ISS, jwks_file=str(tmp_path / "unused.json")),))
    return create_app(config, policy).test_client()


def preflight(client, path, origin, method="POST"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": "authorization, content-type"})


@pytest.mark.parametrize("path", PATHS)
def test_preflight_from_an_allowed_origin_is_answered_without_a_token(prod_client, path):
    response = preflight(prod_client, path, ALLOWED)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("path", PATHS)
def test_preflight_from_another_origin_is_refused(prod_client, path):
    response = preflight(prod_client, path, "https://attacker.example.net")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_origin_matching_ignores_case_but_not_scheme(prod_client):
    assert preflight(prod_client, "/cds-services", "HTTPS://EHR.example.org").status_code == 204
    assert preflight(prod_client, "/cds-services", "http://ehr.example.org").status_code == 403


def test_refusals_still_carry_cors_headers_so_the_browser_can_read_them(prod_client):
    response = prod_client.get("/cds-services", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_actual_request_from_another_origin_gets_no_allow_origin(prod_client):
    response = prod_client.get("/cds-services", headers={"Origin": "https://attacker.example.net"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_dev_mode_allows_any_origin(client):
    response = preflight(client, CLAIM_SERVICE, "http://localhost:3000")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    discovery = client.get("/cds-services", headers={"Origin": "http://localhost:3000"})
    assert discovery.status_code == 200
    assert discovery.headers["Access-Control-Allow-Origin"] == "*"


def test_paths_outside_cds_services_get_no_cors(client):
    response = client.get("/healthz", headers={"Origin": "http://localhost:3000"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_plain_options_without_preflight_headers_is_not_a_cors_answer(prod_client):
    response = prod_client.options("/cds-services")
    assert response.status_code == 200  # Flask's own OPTIONS: lists the methods
    assert "GET" in response.headers["Allow"]
    assert "Access-Control-Allow-Origin" not in response.headers
