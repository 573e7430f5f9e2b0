from pathlib import Path

import pytest

from core.config import DEFAULT_CONFIG, load_config
from core.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


@pytest.fixture
def no_secrets(tmp_path):
    """An environment whose secrets file does not exist, so nothing leaks in from the machine."""
    return {"BRIGADIER_SECRETS_FILE": str(tmp_path / "absent-secrets.toml")}


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(REPO_CONFIG.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    return path


def test_the_repository_config_is_the_default_and_loads_with_its_settings(no_secrets):
    assert DEFAULT_CONFIG == REPO_CONFIG
    config = load_config(environ=no_secrets)
    assert config.path == REPO_CONFIG
    assert config.company.timezone == "Europe/Kyiv"
    assert config.company.tz.key == "Europe/Kyiv"
    assert config.company.phone_region == "UA"
    assert config.company.currency == "UAH"
    assert config.company.languages == ("uk", "ru", "en")
    assert config.company.default_language == "uk"
    assert config.http.port == 8080
    assert config.database.url.startswith("sqlite+aiosqlite://")
    assert config.when.afternoon_bare_hours == (1, 7)
    assert config.secrets.session_secret is None


def test_environment_overrides_a_setting_with_its_proper_type(no_secrets):
    config = load_config(environ={**no_secrets, "BRIGADIER__HTTP__PORT": "9000"})
    assert config.http.port == 9000
    config = load_config(
        environ={**no_secrets, "BRIGADIER__SCHEDULING__TRAVEL_SPEED_KMH": "30",
                 "BRIGADIER__COMPANY__NAME": "Chysto Lviv"}
    )
    assert config.scheduling.travel_speed_kmh == 30.0
    assert config.company.name == "Chysto Lviv"


def test_variables_without_the_prefix_are_ignored(no_secrets):
    config = load_config(environ={**no_secrets, "HTTP__PORT": "abc", "BRIGADIER_HTTP_PORT": "1"})
    assert config.http.port == 8080


def test_a_value_of_the_wrong_type_names_the_key_and_the_file(no_secrets):
    with pytest.raises(ConfigError) as refused:
        load_config(environ={**no_secrets, "BRIGADIER__HTTP__PORT": "abc"})
    message = str(refused.value)
    assert "http.port" in message
    assert str(REPO_CONFIG) in message
    assert "'abc'" in message


def test_an_out_of_range_port_is_refused(no_secrets):
    with pytest.raises(ConfigError) as refused:
        load_config(environ={**no_secrets, "BRIGADIER__HTTP__PORT": "70000"})
    assert "http.port" in str(refused.value)


def test_a_chat_burst_below_one_message_is_refused(no_secrets):
    with pytest.raises(ConfigError) as refused:
        load_config(environ={**no_secrets, "BRIGADIER__OUTBOX__PER_CHAT_BURST": "0"})
    assert "outbox.per_chat_burst" in str(refused.value)


def test_a_misnamed_override_variable_is_refused_naming_it(no_secrets):
    with pytest.raises(ConfigError) as refused:
        load_config(environ={**no_secrets, "BRIGADIER__PORT": "9000"})
    assert "BRIGADIER__PORT" in str(refused.value)


def test_an_unknown_key_in_the_file_names_section_key_and_path(tmp_path, no_secrets):
    path = tmp_path / "config.toml"
    path.write_text('[http]\nhost = "0.0.0.0"\nprot = 8081\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ=no_secrets)
    message = str(refused.value)
    assert "http.prot" in message
    assert str(path) in message


def test_an_unknown_section_is_refused(tmp_path, no_secrets):
    path = tmp_path / "config.toml"
    path.write_text("[htp]\nport = 8081\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ=no_secrets)
    assert "htp" in str(refused.value) and str(path) in str(refused.value)


def test_an_unknown_time_zone_names_company_timezone(tmp_path, no_secrets):
    path = tmp_path / "config.toml"
    path.write_text('[company]\ntimezone = "Europe/Kiev-Centre"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ=no_secrets)
    message = str(refused.value)
    assert "company.timezone" in message
    assert "Europe/Kiev-Centre" in message
    assert str(path) in message


def test_a_secrets_table_in_the_config_file_is_refused(tmp_path, no_secrets):
    path = write_config(tmp_path, '[secrets]\nsession_secret = "hunter2"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ=no_secrets)
    message = str(refused.value)
    assert "secrets" in message and str(path) in message
    assert "hunter2" not in message


def test_secrets_come_from_the_environment(no_secrets):
    config = load_config(
        environ={**no_secrets, "BRIGADIER__SECRETS__SESSION_SECRET": "from-env"}
    )
    assert config.secrets.session_secret == "from-env"
    assert config.secrets.customer_bot_token is None


def test_secrets_come_from_the_file_named_in_the_environment(tmp_path):
    secrets = tmp_path / "elsewhere" / "my-secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(
        'session_secret = "from-file"\ncustomer_bot_token = "123:abc"\n', encoding="utf-8"
    )
    config = load_config(environ={"BRIGADIER_SECRETS_FILE": str(secrets)})
    assert config.secrets.session_secret == "from-file"
    assert config.secrets.customer_bot_token == "123:abc"
    both = load_config(
        environ={
            "BRIGADIER_SECRETS_FILE": str(secrets),
            "BRIGADIER__SECRETS__SESSION_SECRET": "from-env",
        }
    )
    assert both.secrets.session_secret == "from-env"  # the environment wins over the file
    assert both.secrets.customer_bot_token == "123:abc"


def test_secrets_file_beside_the_config_is_read_by_default(tmp_path):
    path = write_config(tmp_path, "")
    (tmp_path / "secrets.toml").write_text('worker_bot_token = "456:def"\n', encoding="utf-8")
    config = load_config(path, environ={})
    assert config.secrets.worker_bot_token == "456:def"


def test_an_unknown_secret_in_the_secrets_file_names_it_and_the_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('sesion_secret = "typo"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(environ={"BRIGADIER_SECRETS_FILE": str(secrets)})
    message = str(refused.value)
    assert "secrets.sesion_secret" in message and str(secrets) in message
    assert "typo" not in message


def test_a_missing_config_file_names_the_path(tmp_path, no_secrets):
    missing = tmp_path / "nowhere" / "config.toml"
    with pytest.raises(ConfigError) as refused:
        load_config(missing, environ=no_secrets)
    message = str(refused.value)
    assert str(missing) in message
    assert "not found" in message


def test_a_broken_toml_file_names_the_path(tmp_path, no_secrets):
    path = tmp_path / "config.toml"
    path.write_text("[http\nport = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ=no_secrets)
    assert str(path) in str(refused.value)
