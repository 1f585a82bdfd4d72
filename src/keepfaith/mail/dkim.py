"""DKIM signatures (RFC 6376), with a key per sending domain.

Keys live in a folder (``KEEPFAITH_DKIM_DIR``, default ``dkim/`` in the data folder), one
RSA private key per domain and selector: ``<folder>/<domain>/<selector>.pem``. When a domain
has several, the selector whose name sorts last signs (name them so the newest sorts last,
e.g. ``k2026a``, ``k2026b``). `keepfaith mail dkim-keygen` writes a key and prints the DNS
record to publish at ``<selector>._domainkey.<domain>``.

dkimpy parses the message and canonicalises it (relaxed/relaxed); the RSA signature itself is
made by OpenSSL through `cryptography`: dkimpy's RSA is pure Python, about ten times slower
(docs/mail.md#dkim has the figures), and a campaign signs every message.

The signed headers are `SIGNED`: RFC 8058 §4 requires List-Unsubscribe *and*
List-Unsubscribe-Post under the signature, and dkimpy's default set leaves the latter out
(stack-notes §5). A name listed but absent from a message is signed as absent, so nobody can
add it on the way (a List-Unsubscribe on a receipt); the ones that matter most are listed twice
so that no second copy can be added either.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy

from keepfaith.mail.headers import add_verbatim
from keepfaith.mail.transports import as_bytes

SIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"auto-submitted",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    # Signed twice ("over-signed", RFC 6376 §8.15): the second names an instance that does
    # not exist, so adding one anywhere on the way breaks the signature.
    b"from",
    b"subject",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
CANONICALIZATION = b"relaxed/relaxed"
KEY_BITS = 2048
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class DkimError(ValueError):
    """A key cannot be made or used; the message says which and what to do."""


def check_domain(domain: str) -> str:
    """The domain in lower case, or DkimError."""
    name = domain.strip().rstrip(".").lower()
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in labels):
        raise DkimError(f"{domain!r} is not a domain name such as example.com")
    return name


def check_selector(selector: str) -> str:
    name = selector.strip().lower()
    if not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise DkimError(f"{selector!r} is not a selector: letters, digits and hyphens (k2026a)")
    return name


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def dns_record(self) -> str:
        """The TXT record's value: ``v=DKIM1; k=rsa; p=<public key>``."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


def signature_header(raw: bytes, key: DkimKey, *, now: int | None = None) -> bytes:
    """The ``DKIM-Signature: ...`` header (folded, CRLF-terminated) for the message ``raw``."""
    canon = CanonicalizationPolicy.from_c_value(CANONICALIZATION)
    headers, body = dkim.rfc822_parse(raw)
    body_hash = base64.b64encode(hashlib.sha256(canon.canonicalize_body(body)).digest())
    fields = [
        (b"v", b"1"),
        (b"a", b"rsa-sha256"),
        (b"c", CANONICALIZATION),
        (b"d", key.domain.encode()),
        (b"s", key.selector.encode()),
        (b"t", str(int(time.time()) if now is None else now).encode()),
        (b"h", b" : ".join(SIGNED)),  # spaces: where folding may break the line
        (b"bh", body_hash),
        (b"b", b""),
    ]
    unsigned = b"; ".join(b"=".join(f) for f in fields)
    hasher = hashlib.sha256()
    # RFC 6376 §3.7: the selected headers, then this header with an empty b=, canonicalised.
    dkim.hash_headers(
        hasher,
        canon,
        canon.canonicalize_headers(headers),
        SIGNED,
        (b"DKIM-Signature", b" " + unsigned),
        None,
    )
    signed = key.private_key.sign(
        hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
    )
    value = unsigned + base64.b64encode(signed)
    folded: bytes = dkim.fold(value, namelen=len(b"DKIM-Signature"))
    return b"DKIM-Signature: " + folded + b"\r\n"


def sign_message(message: EmailMessage, key: DkimKey, *, now: int | None = None) -> None:
    """Add a DKIM-Signature to ``message`` for the bytes it serialises to."""
    header = signature_header(as_bytes(message), key, now=now).decode("ascii")
    name, _, value = header.partition(":")
    # Written back exactly as folded here: the email package would refold it (and turn the long
    # b= token into encoded words, breaking the signature).
    add_verbatim(message, name, value.lstrip(" ").rstrip("\r\n").split("\r\n"))


class DkimKeys:
    """The keys in a folder, loaded once (call `keys_in`, which notices changes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys: dict[str, DkimKey] = {}
        for domain_dir in sorted(folder.iterdir()) if folder.is_dir() else []:
            pems = sorted(domain_dir.glob("*.pem")) if domain_dir.is_dir() else []
            if pems:
                self.keys[domain_dir.name.lower()] = _load(domain_dir.name, pems[-1])

    @property
    def configured(self) -> bool:
        return bool(self.keys)

    def for_domain(self, domain: str) -> DkimKey | None:
        """The key for ``domain``, or for the closest parent domain that has one (DMARC's
        relaxed alignment: ``d=example.com`` aligns with ``news.example.com``)."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            found = self.keys.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None


def _load(domain: str, path: Path) -> DkimKey:
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DkimError(f"{path}: not a readable unencrypted PEM private key ({exc})") from None
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < 1024:
        raise DkimError(f"{path}: DKIM needs an RSA key of at least 1024 bits (2048 advised)")
    return DkimKey(check_domain(domain), check_selector(path.stem), loaded)


_cache: dict[Path, tuple[tuple[tuple[str, int], ...], DkimKeys]] = {}


def keys_in(folder: Path) -> DkimKeys:
    """The keys in ``folder``, reloaded when a key file is added, removed or changed."""
    folder = folder.resolve()
    stamp = (
        tuple((str(p), p.stat().st_mtime_ns) for p in sorted(folder.glob("*/*.pem")))
        if folder.is_dir()
        else ()
    )
    cached = _cache.get(folder)
    if cached is None or cached[0] != stamp:
        cached = _cache[folder] = (stamp, DkimKeys(folder))
    return cached[1]


def generate_key(folder: Path, domain: str, selector: str) -> tuple[Path, DkimKey]:
    """Write a new RSA-2048 key to ``<folder>/<domain>/<selector>.pem`` (mode 0600); refuses
    to overwrite one."""
    domain, selector = check_domain(domain), check_selector(selector)
    target = folder / domain / f"{selector}.pem"
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DkimError(f"{target} already exists: choose a new selector") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return target, DkimKey(domain, selector, private)
