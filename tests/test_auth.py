"""CDS Hooks JWT bearer auth with real keys: RSA via a JWKS URL on loopback, EC via a JWKS file."""
import dataclasses
import json
import logging

import jwt
import pytest

from cds_hooks.app import create_app
from cds_hooks.config import Config, Issuer
from tests.builders import Visit
from tests.ehr_signer import (
    BASE,
    ISS,
    JwksServer,
    Signer,
    b64,
    bearer,
    hs256_with_public_key,
    unsigned,
)

CLAIM_SERVICE = "/cds-services/massage-97124-claim-check"
DISCOVERY_AUD = f"{BASE}/cds-services"


@pytest.fixture(scope="module")
def rsa_ehr():
    return Signer.rsa("ehr-rsa", "RS384")


@pytest.fixture(scope="module")
def ec_ehr():
    return Signer.ec("ehr-ec", "ES384")


@pytest.fixture(scope="module")
def attacker():
    return Signer.rsa("ehr-rsa", "RS384")  # same kid as the real EHR, different key


@pytest.fixture
def jwks_server(rsa_ehr, attacker):
    with JwksServer({"/jwks": rsa_ehr.jwks(), "/evil-jwks": attacker.jwks(),
                     "/rotated": rsa_ehr.jwks()}) as server:
        yield server


@pytest.fixture
def prod_config(tmp_path, jwks_server, ec_ehr):
    ec_file = tmp_path / "ec-jwks.json"
    ec_file.write_text(json.dumps(ec_ehr.jwks()))
    return Config(dev=False, database_url=f"sqlite:///{tmp_path}/service.db", public_base_url=BASE,
                  issuers=(Issuer(iss=ISS, jwks_url=jwks_server.url("/jwks"),
                                  jku_allowlist=(jwks_server.url("/rotated"),)),
                           Issuer(iss="https://other-ehr.example.org", jwks_file=str(ec_file))))


@pytest.fixture
def prod_client(prod_config, policy):
    return create_app(prod_config, policy).test_client()


def claim_request() -> dict:
    visit = Visit()
    visit.procedure("97124", minutes=22)
    visit.claim_line("97124", units=1)
    return visit.request("claim-prepare")


def assert_refused(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.data == b""


def test_valid_rsa_token_from_jwks_url_opens_discovery(prod_client, rsa_ehr):
    response = prod_client.get("/cds-services", headers=bearer(rsa_ehr.token(DISCOVERY_AUD)))
    assert response.status_code == 200
    assert response.get_json()["services"]


def test_valid_ec_token_from_jwks_file_runs_the_hook(prod_client, ec_ehr):
    token = ec_ehr.token(BASE + CLAIM_SERVICE, iss="https://other-ehr.example.org")
    response = prod_client.post(CLAIM_SERVICE, json=claim_request(), headers=bearer(token))
    assert response.status_code == 200, response.data
    assert response.get_json()["cards"]  # the rules ran and answered


def test_aud_may_be_a_list_holding_the_endpoint(prod_client, rsa_ehr):
    token = rsa_ehr.token(["https://elsewhere.example.org", DISCOVERY_AUD])
    assert prod_client.get("/cds-services", headers=bearer(token)).status_code == 200


def test_missing_header_is_refused_with_a_bare_challenge(prod_client):
    response = prod_client.post(CLAIM_SERVICE, json=claim_request())
    assert_refused(response)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_not_a_bearer_scheme_is_refused(prod_client, rsa_ehr):
    token = rsa_ehr.token(DISCOVERY_AUD)
    assert_refused(prod_client.get("/cds-services", headers={"Authorization": f"Basic {token}"}))


def test_expired_token_is_refused(prod_client, rsa_ehr):
    token = rsa_ehr.token(DISCOVERY_AUD, iat=1_700_000_000, exp=1_700_000_300)
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_expiry_within_leeway_is_still_accepted(prod_client, rsa_ehr):
    claims = rsa_ehr.claims(DISCOVERY_AUD)
    token = rsa_ehr.token(DISCOVERY_AUD, iat=claims["iat"] - 100, exp=claims["iat"] - 30)  # leeway 60 s
    assert prod_client.get("/cds-services", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("aud", [f"{BASE}{CLAIM_SERVICE}", "https://attacker.example.org/cds-services",
                                 "http://cds.example.org/cds-services"])
def test_token_for_another_endpoint_is_refused(prod_client, rsa_ehr, aud):
    assert_refused(prod_client.get("/cds-services", headers=bearer(rsa_ehr.token(aud))))


def test_unknown_issuer_is_refused(prod_client, rsa_ehr):
    token = rsa_ehr.token(DISCOVERY_AUD, iss="https://stranger.example.org")
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_issuer_signing_with_another_issuers_key_is_refused(prod_client, ec_ehr):
    # iss names the RSA issuer, but the token is signed by the file issuer's EC key
    token = ec_ehr.token(DISCOVERY_AUD, iss=ISS)
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_alg_none_is_refused(prod_client, rsa_ehr):
    assert_refused(prod_client.get("/cds-services", headers=bearer(unsigned(rsa_ehr, DISCOVERY_AUD))))


def test_hs256_signed_with_the_public_key_is_refused(prod_client, rsa_ehr):
    token = hs256_with_public_key(rsa_ehr, DISCOVERY_AUD)
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_forged_signature_with_the_real_kid_is_refused(prod_client, attacker):
    assert_refused(prod_client.get("/cds-services", headers=bearer(attacker.token(DISCOVERY_AUD))))


@pytest.mark.parametrize("dropped", ["exp", "iat", "jti"])
def test_required_claims_are_required(prod_client, rsa_ehr, dropped):
    token = rsa_ehr.token(DISCOVERY_AUD, **{dropped: None})
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_token_living_longer_than_allowed_is_refused(prod_client, rsa_ehr):
    claims = rsa_ehr.claims(DISCOVERY_AUD)
    token = rsa_ehr.token(DISCOVERY_AUD, exp=claims["iat"] + 7200)  # max lifetime 3600 s
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_replayed_jti_is_refused(prod_client, rsa_ehr):
    token = rsa_ehr.token(DISCOVERY_AUD)
    assert prod_client.get("/cds-services", headers=bearer(token)).status_code == 200
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_replay_is_caught_by_another_worker_sharing_the_database(prod_config, policy, rsa_ehr):
    worker_a = create_app(prod_config, policy).test_client()
    worker_b = create_app(prod_config, policy).test_client()
    token = rsa_ehr.token(DISCOVERY_AUD)
    assert worker_a.get("/cds-services", headers=bearer(token)).status_code == 200
    assert_refused(worker_b.get("/cds-services", headers=bearer(token)))


def test_jku_outside_the_allowlist_is_refused(prod_client, attacker, jwks_server):
    token = attacker.token(DISCOVERY_AUD, headers={"jku": jwks_server.url("/evil-jwks")})
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))
    assert jwks_server.hits.get("/evil-jwks", 0) == 0  # never even fetched


def test_jku_on_the_allowlist_is_used(prod_client, rsa_ehr, jwks_server):
    token = rsa_ehr.token(DISCOVERY_AUD, headers={"jku": jwks_server.url("/rotated")})
    assert prod_client.get("/cds-services", headers=bearer(token)).status_code == 200
    assert jwks_server.hits["/rotated"] == 1


def test_jwks_is_fetched_once_and_cached(prod_client, rsa_ehr, jwks_server):
    for _ in range(3):
        assert prod_client.get("/cds-services", headers=bearer(rsa_ehr.token(DISCOVERY_AUD))).status_code == 200
    assert jwks_server.hits["/jwks"] == 1


def test_key_of_the_wrong_type_for_alg_is_refused(tmp_path, policy, rsa_ehr, ec_ehr):
    # The JWKS holds the EC key under the kid the RSA-signed token names.
    mixed = {"keys": [{**ec_ehr.public_jwk(), "kid": rsa_ehr.kid}]}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(mixed))
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db", public_base_url=BASE,
                    issuers=(Issuer(iss=ISS, jwks_file=str(path)),))
    client = create_app(config, policy).test_client()
    assert_refused(client.get("/cds-services", headers=bearer(rsa_ehr.token(DISCOVERY_AUD))))


def test_without_public_base_url_aud_is_the_url_flask_sees(tmp_path, policy, jwks_server, rsa_ehr):
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db",
                    issuers=(Issuer(iss=ISS, jwks_url=jwks_server.url("/jwks")),))
    client = create_app(config, policy).test_client()
    good = rsa_ehr.token("http://localhost/cds-services")
    assert client.get("/cds-services", headers=bearer(good)).status_code == 200
    assert_refused(client.get("/cds-services", headers=bearer(rsa_ehr.token(DISCOVERY_AUD))))


def test_unreachable_jwks_url_is_refused_not_an_error(tmp_path, policy, rsa_ehr):
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db", public_base_url=BASE,
                    issuers=(Issuer(iss=ISS, jwks_url="http://127.0.0.1:9/jwks"),))
    client = create_app(config, policy).test_client()
    assert_refused(client.get("/cds-services", headers=bearer(rsa_ehr.token(DISCOVERY_AUD))))


def test_discovery_can_be_left_open_while_hooks_stay_closed(prod_config, policy):
    config = dataclasses.replace(prod_config, auth_discovery=False)
    client = create_app(config, policy).test_client()
    assert client.get("/cds-services").status_code == 200
    assert_refused(client.post(CLAIM_SERVICE, json=claim_request()))


def test_health_check_needs_no_token(prod_client):
    assert prod_client.get("/healthz").status_code == 200


def test_dev_mode_lets_requests_through_without_a_token(client):
    assert client.get("/cds-services").status_code == 200
    assert client.post(CLAIM_SERVICE, json=claim_request()).status_code == 200


def test_log_names_the_reason_but_never_the_token(prod_client, rsa_ehr, caplog):
    token = rsa_ehr.token("https://attacker.example.org/cds-services")
    with caplog.at_level(logging.INFO):
        assert_refused(prod_client.get("/cds-services", headers=bearer(token)))
    assert '"reason": "audience"' in caplog.text
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text


def hand_made(signer: Signer, header: dict, claims: dict | None = None) -> str:
    """A token written by hand (PyJWT refuses some oddities), with a real signature over it."""
    claims = claims or signer.claims(DISCOVERY_AUD)
    body = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = jwt.get_algorithm_by_name(signer.alg).sign(body.encode(), signer.private_key)
    return f"{body}.{b64(signature)}"


@pytest.mark.parametrize("header", [
    {"alg": ["RS384"], "kid": "ehr-rsa"}, {"alg": "RS384", "kid": 7}, {"alg": "RS384"},
    {"alg": "RS384", "kid": "ehr-rsa", "jku": ["http://x"]}, {"alg": "RS384", "kid": "nope"},
    {"alg": "ES384", "kid": "ehr-rsa"},
])
def test_odd_headers_are_refused_not_errors(prod_client, rsa_ehr, header):
    assert_refused(prod_client.get("/cds-services", headers=bearer(hand_made(rsa_ehr, header))))


@pytest.mark.parametrize("token", ["abc", "a.b.c", "....", "e30.e30.", "x" * 9000,
                                   f"{'W10'}.{'e30'}.sig"])
def test_garbage_tokens_are_refused_not_errors(prod_client, token):
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


@pytest.mark.parametrize("claim, value", [("exp", "9999999999"), ("iat", True), ("jti", 12),
                                          ("jti", ""), ("iss", ["https://ehr.example.org"])])
def test_claims_of_the_wrong_type_are_refused(prod_client, rsa_ehr, claim, value):
    token = hand_made(rsa_ehr, {"alg": rsa_ehr.alg, "kid": rsa_ehr.kid, "typ": "JWT"},
                      rsa_ehr.claims(DISCOVERY_AUD, **{claim: value}))
    assert_refused(prod_client.get("/cds-services", headers=bearer(token)))


def test_hand_made_tokens_verify_when_well_formed(prod_client, rsa_ehr):
    # The control for the two tests above: the hand-made path itself yields a good token.
    token = hand_made(rsa_ehr, {"alg": rsa_ehr.alg, "kid": rsa_ehr.kid, "typ": "JWT"})
    assert prod_client.get("/cds-services", headers=bearer(token)).status_code == 200


def test_expired_jti_rows_are_swept(prod_config, policy, rsa_ehr, monkeypatch):
    from sqlalchemy import insert, select

    from cds_hooks import auth
    from cds_hooks.database import seen_tokens
    monkeypatch.setattr(auth, "PURGE_EVERY", 1)
    client = create_app(prod_config, policy).test_client()
    engine = client.application.extensions["cpt97124"].engine
    with engine.begin() as connection:
        connection.execute(insert(seen_tokens).values(iss=ISS, jti="long-gone", expires_at=1_700_000_000))
    token = rsa_ehr.token(DISCOVERY_AUD, jti="fresh")
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200
    with engine.connect() as connection:
        assert [r.jti for r in connection.execute(select(seen_tokens))] == ["fresh"]
