from __future__ import annotations

from pathlib import Path

import pytest

from keepfaith.config import Settings, SettingsError, describe_settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_it_reads_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "KEEPFAITH_PORT": "9000",
            "KEEPFAITH_REQUIRE_2FA": "false",
            "KEEPFAITH_BASE_URL": "https://privacy.example.com/",
        }
    )
    assert settings.port == 9000
    assert settings.require_2fa is False
    assert settings.base_url == "https://privacy.example.com"
    assert settings.secure_cookies


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "smtp"
    secret.write_text("hunter2\n")
    settings = Settings.from_env({"KEEPFAITH_SMTP_PASSWORD_FILE": str(secret)})
    assert settings.smtp_password == "hunter2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEEPFAITH_PORT": "eighty"}, "KEEPFAITH_PORT: Input should be a valid integer"),
        (
            {"KEEPFAITH_BASE_URL": "privacy.example.com"},
            "KEEPFAITH_BASE_URL: Value error, must be an absolute",
        ),
        ({"KEEPFAITH_MAIL_TRANSPORT": "pigeon"}, "KEEPFAITH_MAIL_TRANSPORT"),
        (
            {"KEEPFAITH_SMTP_PASSWORD_FILE": "/nonexistent/x"},
            "KEEPFAITH_SMTP_PASSWORD_FILE: cannot read",
        ),
    ],
)
def test_it_names_the_variable_that_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_defaults_put_everything_in_the_data_folder() -> None:
    settings = Settings.from_env({"KEEPFAITH_DATA_DIR": "/srv/kf"})
    assert settings.resolved_database_url == "sqlite:////srv/kf/keepfaith.db"
    assert settings.resolved_keyring_path == Path("/srv/kf/keyring.json")


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [var for var, _default, _desc in describe_settings() if f"`{var}`" not in text]
    assert missing == []
