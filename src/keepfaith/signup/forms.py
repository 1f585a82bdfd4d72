"""Which sign-up forms exist: derived from the policy, never configured twice.

A purpose can be signed up to when it rests on consent, reaches people by e-mail and uses their
e-mail address (the newsletter, offers, surveys...). Purposes that need explicit consent for
special-category data are not offered on a public form. ``/signup`` offers every such purpose;
``/signup/newsletter`` or ``/signup/newsletter+promotions`` offer those only. Each is a
separate, unticked box (UK/EU GDPR Art. 7(2), Recital 32; Yahoo and Gmail sender rules).

The page hands out a signed form token naming the form and the policy version whose words it
shows; the POST must bring it back within a day, so the words recorded are the words shown.
"""

from __future__ import annotations

from datetime import timedelta

from keepfaith.consent.texts import ShownText, texts_of
from keepfaith.crypto.keyring import Keyring
from keepfaith.crypto.tokens import TokenError, sign, verify
from keepfaith.policy.schema import Channel, LegalBasis, Policy, Purpose, ValueType

FORM_SIGNED_AS = "signup.form"
FORM_LIFETIME = timedelta(days=1)
SEPARATOR = "+"


class NoSuchForm(LookupError):
    """The form names a purpose that cannot be signed up to (HTTP 404)."""


def signup_purpose(policy: Policy, purpose: Purpose) -> bool:
    emails = {k for k, c in policy.data_categories.items() if c.type is ValueType.EMAIL}
    return (
        purpose.legal_basis is LegalBasis.CONSENT
        and Channel.EMAIL in purpose.channels
        and not purpose.explicit_consent
        and bool(emails & set(purpose.categories))
    )


def signup_purposes(policy: Policy) -> list[str]:
    return [key for key, purpose in policy.purposes.items() if signup_purpose(policy, purpose)]


def form_purposes(policy: Policy, form: str | None) -> list[str]:
    """The purposes form ``form`` offers (None: all of them); `NoSuchForm` otherwise."""
    offered = signup_purposes(policy)
    if form is None:
        if not offered:
            raise NoSuchForm("the policy has no purpose people can sign up to by e-mail")
        return offered
    keys = form.split(SEPARATOR)
    if len(set(keys)) != len(keys) or any(k not in offered for k in keys):
        raise NoSuchForm(f"there is no sign-up form {form!r}")
    return keys


def form_texts(policy: Policy, version: int, purposes: list[str]) -> list[ShownText]:
    texts = texts_of(policy, version)
    return [texts[key] for key in purposes]


def form_token(ring: Keyring, form: str | None, version: int) -> str:
    return sign(ring, FORM_SIGNED_AS, {"f": form or "", "v": version})


def form_version(ring: Keyring, token: str, form: str | None) -> int:
    """The policy version the form showed; `TokenError` if the token is forged, expired or
    for another form."""
    data = verify(ring, FORM_SIGNED_AS, token, max_age_seconds=int(FORM_LIFETIME.total_seconds()))
    if not isinstance(data, dict) or data.get("f") != (form or ""):
        raise TokenError("the form is not valid")
    version = data.get("v")
    if not isinstance(version, int):
        raise TokenError("the form is not valid")
    return version
