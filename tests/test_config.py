"""Settings that no worker could start with stop `cpt97124 serve` with one line naming the
setting (Config.from_env, Config.check), never a traceback per worker."""
from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks.config import Config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("text", ["not json", '{"iss": "x"}', '[{"jwks_url": "https://ehr/jwks"}]', "[1]"])
def test_an_issuers_file_that_is_not_a_list_of_issuers_is_named(text, tmp_path):
    issuers = tmp_path / "issuers.json"
    issuers.write_text(text)
    with pytest.raises(SystemExit, match=rf"CPT97124_ISSUERS={issuers}: not a JSON list of issuers"):
        Config.from_env({"CPT97124_ISSUERS": str(issuers)})


def test_a_list_of_issuers_is_read(tmp_path):
    issuers = tmp_path / "issuers.json"
    issuers.write_text('[{"iss": "https://ehr.example.org", "jwks_file": "keys.json"}]')
    config = Config.from_env({"CPT97124_ISSUERS": str(issuers)})
    assert [(i.iss, i.jwks_file) for i in config.issuers] == [("https://ehr.example.org", "keys.json")]


def test_a_database_url_that_does_not_parse_stops_start_up():
    with pytest.raises(SystemExit, match="CPT97124_DATABASE_URL is not a database URL"):
        Config.from_env({"CPT97124_DATABASE_URL": "bogus"}, dev=True).check()


@pytest.mark.parametrize("text", [None, "x = [", "[profiles.clinic]\nunits_method = 7\n"])
def test_a_payer_profile_file_that_does_not_load_stops_start_up(text, tmp_path):
    profiles = tmp_path / "payers.toml"
    if text is not None:
        profiles.write_text(text)
    with pytest.raises(SystemExit, match=rf"CPT97124_PAYER_PROFILES={profiles}: "):
        Config.from_env({"CPT97124_PAYER_PROFILES": str(profiles)}, dev=True).check()


def test_the_shipped_settings_and_the_fixtures_profiles_pass():
    Config.from_env({"CPT97124_PAYER_PROFILES": str(FIXTURES / "payer-profiles.toml")}, dev=True).check()
