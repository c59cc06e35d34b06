"""Keys and tenants: where a token's key is found, which algorithm a key may verify, exact `aud`,
and each EHR's cards and feedback kept to itself."""
import json

import pytest
from sqlalchemy import func, select

from cds_hooks.app import create_app
from cds_hooks.config import Config, Issuer
from cds_hooks.database import feedback_items, issued_cards
from tests.ehr_signer import BASE, ISS, JwksServer, Signer, bearer
from tests.test_feedback import FEEDBACK, SERVICE, accepted, issue_cards

DISCOVERY_AUD = f"{BASE}/cds-services"
HOOK = f"/cds-services/{SERVICE}"
OTHER_ISS = "https://other-ehr.example.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.example.org/.well-known/jwks.json"  # never reachable here


def client_for(tmp_path, policy, *issuers: Issuer):
    config = Config(dev=False, database_url=f"sqlite:///{tmp_path}/s.db", public_base_url=BASE, issuers=issuers)
    return create_app(config, policy).test_client(), config


def jwks_file(tmp_path, name: str, *keys: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"keys": list(keys)}))
    return str(path)


@pytest.fixture(scope="module")
def ehr():
    return Signer.ec("ehr-ec", "ES384")


def test_kid_in_the_issuers_file_verifies_a_token_naming_an_allowlisted_jku(tmp_path, policy, ehr):
    # As the CDS Hooks sandbox does: it always sends `jku`; offline, the key comes from the file.
    path = jwks_file(tmp_path, "jwks.json", ehr.public_jwk())
    client, _ = client_for(tmp_path, policy, Issuer(iss=ISS, jwks_file=path, jku_allowlist=(SANDBOX_JKU,)))
    with_jku = ehr.token(DISCOVERY_AUD, headers={"jku": SANDBOX_JKU})
    assert client.get("/cds-services", headers=bearer(with_jku)).status_code == 200
    assert client.get("/cds-services", headers=bearer(ehr.token(DISCOVERY_AUD))).status_code == 200


def test_a_jku_off_the_allowlist_is_refused_even_when_the_file_has_the_key(tmp_path, policy, ehr):
    path = jwks_file(tmp_path, "jwks.json", ehr.public_jwk())
    client, _ = client_for(tmp_path, policy, Issuer(iss=ISS, jwks_file=path, jku_allowlist=(SANDBOX_JKU,)))
    token = ehr.token(DISCOVERY_AUD, headers={"jku": "https://attacker.example.org/jwks.json"})
    assert client.get("/cds-services", headers=bearer(token)).status_code == 401


def test_a_kid_missing_from_the_file_is_looked_up_at_the_allowlisted_jku(tmp_path, policy, ehr):
    other = Signer.ec("elsewhere", "ES384")
    with JwksServer({"/jwks": ehr.jwks()}) as server:
        path = jwks_file(tmp_path, "jwks.json", other.public_jwk())
        client, _ = client_for(tmp_path, policy, Issuer(iss=ISS, jwks_file=path, jku_allowlist=(server.url("/jwks"),)))
        token = ehr.token(DISCOVERY_AUD, headers={"jku": server.url("/jwks")})
        assert client.get("/cds-services", headers=bearer(token)).status_code == 200
        assert server.hits["/jwks"] == 1


@pytest.mark.parametrize("signer, key_alg, allowed", [
    (Signer.rsa("k", "PS256"), None, False),     # an RSA key naming no alg verifies RS only
    (Signer.rsa("k", "RS256"), None, True),
    (Signer.rsa("k", "PS256"), "PS256", True),   # a key that names its alg verifies that alg only
    (Signer.rsa("k", "RS256"), "PS256", False),
    (Signer.ec("k", "ES384"), None, True),       # an EC key naming no alg: its curve's one alg
])
def test_each_key_verifies_only_its_pinned_algorithm(tmp_path, policy, signer, key_alg, allowed):
    jwk = {k: v for k, v in signer.public_jwk().items() if k != "alg"}
    if key_alg:
        jwk["alg"] = key_alg
    client, _ = client_for(tmp_path, policy, Issuer(iss=ISS, jwks_file=jwks_file(tmp_path, "j.json", jwk)))
    status = client.get("/cds-services", headers=bearer(signer.token(DISCOVERY_AUD))).status_code
    assert status == (200 if allowed else 401)


@pytest.mark.parametrize("aud", [DISCOVERY_AUD + "/", DISCOVERY_AUD.upper(), DISCOVERY_AUD + "?x=1"])
def test_aud_is_compared_exactly(tmp_path, policy, ehr, aud):
    keys = jwks_file(tmp_path, "j.json", ehr.public_jwk())
    client, _ = client_for(tmp_path, policy, Issuer(iss=ISS, jwks_file=keys))
    assert client.get("/cds-services", headers=bearer(ehr.token(DISCOVERY_AUD))).status_code == 200  # control
    assert client.get("/cds-services", headers=bearer(ehr.token(aud))).status_code == 401


def test_cards_and_feedback_record_the_issuer_and_tenants_stay_apart(tmp_path, policy, ehr):
    other = Signer.ec("other-ec", "ES384")
    client, config = client_for(
        tmp_path, policy,
        Issuer(iss=ISS, jwks_file=jwks_file(tmp_path, "a.json", ehr.public_jwk())),
        Issuer(iss=OTHER_ISS, jwks_file=jwks_file(tmp_path, "b.json", other.public_jwk())))

    class Signed:  # a test client that signs each call as `signer` for issuer `iss`
        application = client.application

        def __init__(self, signer, iss):
            self.signer, self.iss = signer, iss

        def post(self, path, **kwargs):
            token = self.signer.token(BASE + path, iss=self.iss)
            return client.post(path, headers=bearer(token), **kwargs)

    cards = issue_cards(Signed(ehr, ISS))
    item = accepted(cards["units"])
    refused = Signed(other, OTHER_ISS).post(FEEDBACK, json={"feedback": [item]})
    assert refused.status_code == 403
    assert Signed(ehr, ISS).post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    assert Signed(ehr, ISS).post(FEEDBACK, json={"feedback": [item]}).status_code == 200  # a retry
    with client.application.extensions["cpt97124"].engine.connect() as connection:
        assert set(connection.execute(select(issued_cards.c.issuer)).scalars()) == {ISS}
        assert connection.execute(select(feedback_items.c.issuer)).scalars().all() == [ISS]
        assert connection.execute(select(func.count()).select_from(feedback_items)).scalar_one() == 1
