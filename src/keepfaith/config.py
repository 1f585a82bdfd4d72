"""Settings: every knob keepfaith has, read from ``KEEPFAITH_*`` environment variables.

This module is the one place settings are defined. Each field's description is its
documentation; ``docs/configuration.md`` must name every field (a test checks it).

Any setting can also be read from a file by naming it ``KEEPFAITH_<NAME>_FILE`` (for secrets
mounted by an orchestrator, e.g. ``KEEPFAITH_SMTP_PASSWORD_FILE=/run/secrets/smtp``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "KEEPFAITH_"


class SettingsError(Exception):
    """A setting is malformed; the message names the environment variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(
        Path("keepfaith-data"),
        description="Folder for the SQLite database, keyring and starter policy.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: a SQLite file `keepfaith.db` in the data folder. "
        "PostgreSQL: `postgresql://user@host/dbname` (psycopg 3 is used).",
    )
    keyring_path: Path | None = Field(
        None,
        description="Keyring file (master keys). Default: `keyring.json` in the data folder. "
        "Keep it out of database backups.",
    )
    erasure_register: Path | None = Field(
        None,
        description="Append-only list of erased people, checked against the database at every "
        "start so that a restored backup cannot bring them back. Default: `erasures.log` in the "
        "data folder. Keep it with the keyring, out of database backups; with several hosts, on "
        "storage they all share.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL of this service, used in links in e-mails and for origin checks. "
        "An https URL turns on HSTS and secure cookies.",
    )
    host: str = Field("127.0.0.1", description="Interface `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies trusted to set X-Forwarded-For/Proto (comma-separated, `*` for any).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level. Logs never carry personal data at any level."
    )

    mail_transport: Literal["outbox", "smtp", "file"] = Field(
        "outbox",
        description="Where outbound mail goes: `outbox` keeps it in the database for the console "
        "(demo), `smtp` sends it, `file` writes .eml files to `mail_dir`.",
    )
    mail_dir: Path | None = Field(
        None, description="Folder for the `file` transport. Default: `mail` in the data folder."
    )
    mail_from: str = Field(
        "keepfaith@localhost",
        description="Envelope sender used when a message has no kind-specific From.",
    )
    dkim_dir: Path | None = Field(
        None,
        description="Folder of DKIM private keys, `<domain>/<selector>.pem` (made by `keepfaith "
        "mail dkim-keygen`). Messages from a domain with a key are signed; once any key is "
        "there, a message from a domain without one is refused. Default: `dkim` in the data "
        "folder.",
    )
    unsubscribe_domain: str | None = Field(
        None,
        description="Domain of the `unsubscribe+TOKEN@` addresses in marketing messages' "
        "List-Unsubscribe header; your mail server pipes their mail to `keepfaith mail inbound`. "
        "Default: the domain of the message's From address.",
    )
    smtp_host: str = Field("localhost", description="SMTP server host.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="`starttls` (port 587), `tls` (implicit TLS, port 465) or `none`."
    )
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(None, description="SMTP password (prefer the _FILE form).")
    smtp_timeout: float = Field(30.0, gt=0, description="SMTP socket timeout in seconds.")
    mail_rate: float = Field(
        0,
        ge=0,
        description="Most messages a second each sending process hands to the transport, to "
        "stay within a provider's limit (0: no limit).",
    )

    session_idle_minutes: int = Field(
        30, ge=1, description="Staff sessions end after this many minutes without a request."
    )
    session_absolute_hours: int = Field(
        12, ge=1, description="Staff sessions end this many hours after sign-in, active or not."
    )
    account_idle_minutes: int = Field(
        15,
        ge=1,
        description="My Account sessions (people signed in to see their data) end after this "
        "many minutes without a request.",
    )
    account_absolute_hours: int = Field(
        2, ge=1, description="My Account sessions end this many hours after sign-in."
    )
    require_2fa: bool = Field(
        True,
        description="Owner and DPO accounts (and roles the policy marks) must use a second factor.",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins per account within 15 minutes before it is throttled."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted; bigger ones get 413."
    )

    embedded_worker: bool = Field(
        True, description="`serve` runs a job worker thread in the web process."
    )
    worker_poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle worker looks for due jobs."
    )
    job_lease_seconds: int = Field(
        60, ge=5, description="A claimed job is re-offered if its worker is silent this long."
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite `synchronous` pragma. FULL survives power loss; NORMAL is faster and "
        "survives process crashes only.",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL such as https://privacy.example.com")
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'keepfaith.db').resolve()}"

    @property
    def resolved_keyring_path(self) -> Path:
        return self.keyring_path or self.data_dir / "keyring.json"

    @property
    def resolved_erasure_register(self) -> Path:
        return self.erasure_register or self.data_dir / "erasures.log"

    @property
    def resolved_mail_dir(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    @property
    def resolved_dkim_dir(self) -> Path:
        return self.dkim_dir or self.data_dir / "dkim"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from the environment; keyword overrides win (used by the CLI)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            var = ENV_PREFIX + name.upper()
            if var in env:
                values[name] = env[var]
            elif var + "_FILE" in env:
                try:
                    values[name] = Path(env[var + "_FILE"]).read_text().strip()
                except OSError as exc:
                    raise SettingsError(
                        f"{var}_FILE: cannot read {env[var + '_FILE']}: {exc.strerror}"
                    ) from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            raise SettingsError(f"{ENV_PREFIX}{field.upper()}: {first['msg']}") from None


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for docs and `--help`."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is None else str(default)
        rows.append((ENV_PREFIX + name.upper(), shown, field.description or ""))
    return rows
