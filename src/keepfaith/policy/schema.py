"""The shape of ``policy.yaml``: the machine form of a privacy policy.

Everything keepfaith says or enforces about personal data is derived from a `Policy`: the public
notice, consent texts, retention sweeps, staff permissions and evidence checks. Maps are keyed
(``purposes: {newsletter: {...}}``) so that an error can name its place as
``purposes.newsletter.retention``.

Cross-references (a purpose's categories, a recipient's purposes, ...) and the rules of law that
a policy must respect are checked in `keepfaith.policy.rules`, after the shape is valid.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)

from keepfaith.policy.countries import iso_country
from keepfaith.policy.duration import Duration

CATEGORY_KEY = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
SLUG = r"^[a-z][a-z0-9_]*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG, max_length=64)]
CategoryKey = Annotated[str, StringConstraints(pattern=CATEGORY_KEY, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(iso_country)]

_SLUG_RE = re.compile(SLUG)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Jurisdiction(StrEnum):
    UK_GDPR = "uk_gdpr"
    EU_GDPR = "eu_gdpr"
    CCPA = "ccpa"
    CAN_SPAM = "can_spam"
    PECR = "pecr"


class LegalBasis(StrEnum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"


class RetentionTrigger(StrEnum):
    COLLECTION = "collection"
    LAST_INTERACTION = "last_interaction"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    ACCOUNT_CLOSED = "account_closed"
    END_OF_CONTRACT = "end_of_contract"
    TRANSACTION = "transaction"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    WEB = "web"
    IN_APP = "in_app"


class RecipientRole(StrEnum):
    PROCESSOR = "processor"
    CONTROLLER = "controller"
    GROUP_COMPANY = "group_company"
    AUTHORITY = "authority"


class TransferMechanism(StrEnum):
    NONE = "none"  # the recipient is in the same legal area: no restricted transfer
    ADEQUACY = "adequacy"
    IDTA = "idta"
    UK_ADDENDUM = "uk_addendum"
    SCC = "scc"
    BCR = "bcr"
    EXPLICIT_CONSENT = "explicit_consent"


class CommunicationKind(StrEnum):
    MARKETING = "marketing"
    MANDATORY = "mandatory"


class CookieCategory(StrEnum):
    STRICTLY_NECESSARY = "strictly_necessary"
    FUNCTIONAL = "functional"
    ANALYTICS = "analytics"
    ADVERTISING = "advertising"


class CookieChoice(StrEnum):
    """What a visitor is asked before a cookie is set (PECR reg 6 and Sch A1)."""

    NONE = "none"  # strictly necessary: no choice to offer (Sch A1 para 4)
    OPT_IN = "opt_in"  # set only after the visitor agrees (Sch A1 para 2)
    OPT_OUT = "opt_out"  # set unless the visitor objects (Sch A1 paras 5 and 6 only)
    BROWSER_SETTINGS = "browser_settings"  # legacy "change your browser"; refused under PECR


class AnalyticsMode(StrEnum):
    NONE = "none"
    COOKIELESS = "cookieless"
    CONSENT = "consent"


class Verification(StrEnum):
    EMAIL_CODE = "email_code"
    ACCOUNT_SIGN_IN = "account_sign_in"
    STAFF_CHECK = "staff_check"


class Capability(StrEnum):
    """Console and API functions a staff role may use (categories are granted separately)."""

    POLICY_VIEW = "policy.view"
    POLICY_MANAGE = "policy.manage"
    STAFF_MANAGE = "staff.manage"
    APIKEYS_MANAGE = "apikeys.manage"
    JOBS_VIEW = "jobs.view"
    JOBS_MANAGE = "jobs.manage"
    AUDIT_VIEW = "audit.view"
    SUBJECTS_VIEW = "subjects.view"
    SUBJECTS_EDIT = "subjects.edit"
    CONSENT_RECORD = "consent.record"
    CAMPAIGNS_MANAGE = "campaigns.manage"
    MESSAGES_SEND = "messages.send"
    SUPPRESSION_MANAGE = "suppression.manage"
    REQUESTS_HANDLE = "requests.handle"
    EVIDENCE_VIEW = "evidence.view"


class ValueType(StrEnum):
    """The kind of value a data category holds: how the vault validates and normalises it."""

    TEXT = "text"
    EMAIL = "email"  # findable: blind-indexed (trimmed, case-folded)
    PHONE = "phone"  # findable: blind-indexed in E.164 form
    DATE = "date"
    ADDRESS = "address"  # street, locality, region, postal_code, country
    NUMBER = "number"
    BOOLEAN = "boolean"
    URL = "url"
    COUNTRY = "country"  # ISO 3166-1 alpha-2 code


class PostalAddress(Strict):
    street: ShortText
    locality: ShortText
    region: ShortText | None = None
    postal_code: ShortText
    country: CountryCode

    def lines(self) -> list[str]:
        return [
            p
            for p in (self.street, self.locality, self.region, self.postal_code, self.country)
            if p
        ]


class Contact(Strict):
    name: ShortText | None = None
    email: EmailStr
    phone: ShortText | None = None
    postal_address: PostalAddress | None = None


class Organisation(Strict):
    legal_name: ShortText
    trading_name: ShortText | None = None
    postal_address: PostalAddress
    contact: Contact
    website: AnyHttpUrl
    dpo: Contact | None = None
    representative: Contact | None = Field(
        None, description="UK or EU representative (Art. 27) when established outside that area."
    )
    registration: ShortText | None = Field(None, description="e.g. ICO registration number.")
    supervisory_authority: ShortText | None = Field(
        None,
        description="Lead supervisory authority named in the notice (EU); the ICO is named "
        "automatically under uk_gdpr.",
    )


class DataCategory(Strict):
    title: ShortText
    description: Text | None = None
    type: ValueType = Field(
        ValueType.TEXT,
        description="What kind of value it holds; values are checked and normalised by type on "
        "every write, and `email` and `phone` categories are findable by blind index.",
    )
    special: bool = Field(
        False,
        description="Special-category data (UK/EU GDPR Art. 9: health, ethnicity, beliefs, ...): "
        "purposes using it need explicit consent.",
    )
    criminal: bool = Field(
        False,
        description="Criminal-offence data such as suspected-fraud markers (Art. 10): purposes "
        "using it must name their `condition`.",
    )
    required: bool = Field(False, description="Must be given to use the service (Art. 13(2)(e)).")
    source: Text | None = Field(
        None,
        description="Where it comes from when not from the person (Art. 14(2)(f)); "
        "none means the person gives it to us.",
    )


class AutomatedDecision(Strict):
    description: Text
    logic: Text
    significance: Text


class Retention(Strict):
    period: Duration
    trigger: RetentionTrigger
    reason: Text | None = Field(
        None, description="Why this long, e.g. the statute that requires it."
    )


class Purpose(Strict):
    title: ShortText
    description: Text
    legal_basis: LegalBasis
    legitimate_interest: Text | None = Field(
        None, description="The interest pursued; required when the basis is legitimate interests."
    )
    categories: list[CategoryKey] = Field(min_length=1)
    retention: Retention
    channels: list[Channel] = Field(default_factory=list)
    marketing: bool = False
    sale: bool = Field(False, description="Sale of personal information (CCPA).")
    sharing: bool = Field(False, description="Sharing for cross-context behavioural advertising.")
    targeted_advertising: bool = False
    soft_opt_in: bool = Field(
        False, description="PECR reg 22(3): e-mail marketing of similar products to customers."
    )
    explicit_consent: bool = Field(
        False,
        description="Consent is asked for explicitly, as special-category data needs "
        "(Art. 9(2)(a)).",
    )
    condition: Text | None = Field(
        None,
        description="For criminal-offence data: the condition relied on (Art. 10; DPA 2018 Sch 1).",
    )
    profiling: bool = Field(
        False, description="Evaluates personal aspects such as interests (Art. 4(4))."
    )
    automated_decision: AutomatedDecision | None = Field(
        None, description="Decisions made by automated means (Art. 13(2)(f), Art. 22)."
    )
    dpv: ShortText | None = Field(None, description="W3C DPV purpose name, e.g. DirectMarketing.")


class Recipient(Strict):
    name: ShortText
    role: RecipientRole
    description: Text
    country: CountryCode
    transfer_mechanism: TransferMechanism = TransferMechanism.NONE
    categories: list[CategoryKey] = Field(min_length=1)
    purposes: list[Slug] = Field(min_length=1)
    contract: ShortText | None = Field(None, description="Art. 28 contract or agreement reference.")


class Communication(Strict):
    title: ShortText
    kind: CommunicationKind
    description: Text
    purpose: Slug | None = Field(
        None, description="Marketing kinds: the purpose that permits them."
    )
    channels: list[Channel] = Field(default_factory=lambda: [Channel.EMAIL])
    from_address: EmailStr | None = None


class Cookie(Strict):
    name: ShortText
    provider: ShortText
    category: CookieCategory
    lifetime: Duration | None = Field(
        None, description="None means it ends with the browser session."
    )
    purpose: Text
    third_party: bool = Field(
        False, description="Set by another company, which may follow visitors across sites."
    )
    choice: CookieChoice | None = Field(
        None,
        description="What visitors are asked; none means `none` for strictly necessary "
        "cookies and `opt_in` for every other category.",
    )

    @property
    def effective_choice(self) -> CookieChoice:
        if self.choice is not None:
            return self.choice
        if self.category is CookieCategory.STRICTLY_NECESSARY:
            return CookieChoice.NONE
        return CookieChoice.OPT_IN


class Analytics(Strict):
    mode: AnalyticsMode = AnalyticsMode.NONE
    description: Text | None = None
    raw_retention: Duration = Duration(days=30)


class Fee(Strict):
    flat: bool = Field(
        False,
        description="A fee for every request (the repealed DPA 1998's £10); refused under "
        "UK/EU GDPR (Art. 12(5)).",
    )
    manifestly_unfounded_or_excessive: bool = Field(
        False, description="A reasonable fee for manifestly unfounded or excessive requests."
    )
    further_copies: bool = Field(
        False, description="A reasonable fee for further copies (Art. 15(3))."
    )
    amount: ShortText | None = Field(None, description="How the fee is set, e.g. '£10 a copy'.")


class Rights(Strict):
    response_period: Duration = Duration(months=1)
    extension: Duration = Duration(months=2)
    identity_verification: list[Verification] = Field(
        default_factory=lambda: [Verification.EMAIL_CODE, Verification.ACCOUNT_SIGN_IN]
    )
    fee: Fee = Fee()
    staff_review: bool = Field(
        True, description="Access packages are reviewed by staff before release."
    )
    contact: EmailStr | None = Field(
        None, description="Where requests go; the organisation's contact e-mail when not set."
    )
    self_service: AnyHttpUrl | None = Field(
        None,
        description="Where account holders review and correct their own details "
        "(e.g. 'My Account'; Cal. Bus. & Prof. Code §22575(b)(2)).",
    )


class StaffRole(Strict):
    title: ShortText
    description: Text | None = None
    categories: list[CategoryKey] = Field(default_factory=list)
    purposes: list[Slug] = Field(default_factory=list)
    capabilities: list[Capability] = Field(default_factory=list)
    require_2fa: bool = False


class Disclosure(Strict):
    title: ShortText
    description: Text
    legal_basis: LegalBasis
    legitimate_interest: Text | None = Field(
        None, description="The interest pursued; required when the basis is legitimate interests."
    )


class Changes(Strict):
    notice_period: Duration = Field(
        Duration(days=30), description="Notice before a material change."
    )
    updated_badge: Duration = Field(
        Duration(days=30), description="How long /privacy shows 'Updated'."
    )
    material_requires_consent: bool = Field(
        True, description="Consent-based purposes changed materially need fresh consent."
    )
    ownership_change: Text | None = Field(
        None, description="What happens on a sale of the business."
    )
    notify_by_email: bool = Field(
        False, description="Material changes are also announced by e-mail to account holders."
    )


class Policy(Strict):
    keepfaith: Literal[1] = Field(1, description="Format version of this file.")
    organisation: Organisation
    jurisdictions: list[Jurisdiction] = Field(min_length=1)
    language: ShortText = "en"
    data_categories: dict[CategoryKey, DataCategory] = Field(min_length=1)
    purposes: dict[Slug, Purpose] = Field(min_length=1)
    recipients: dict[Slug, Recipient] = Field(default_factory=dict)
    communications: dict[Slug, Communication] = Field(default_factory=dict)
    cookies: list[Cookie] = Field(default_factory=list)
    analytics: Analytics = Analytics()
    rights: Rights = Rights()
    staff_roles: dict[Slug, StaffRole] = Field(default_factory=dict)
    disclosures: dict[Slug, Disclosure] = Field(default_factory=dict)
    changes: Changes = Changes()
    security: list[Text] = Field(
        default_factory=list,
        description="Security measures the notice describes (Art. 32), one per entry.",
    )

    def has(self, jurisdiction: Jurisdiction) -> bool:
        return jurisdiction in self.jurisdictions

    @property
    def gdpr(self) -> bool:
        return self.has(Jurisdiction.UK_GDPR) or self.has(Jurisdiction.EU_GDPR)

    @property
    def us_site(self) -> bool:
        """A US business or US law applies: CalOPPA's notice elements are needed."""
        return (
            self.has(Jurisdiction.CCPA)
            or self.has(Jurisdiction.CAN_SPAM)
            or self.organisation.postal_address.country == "US"
        )

    def recipients_for(self, purpose: str) -> dict[str, Recipient]:
        return {k: r for k, r in self.recipients.items() if purpose in r.purposes}

    def purposes_using(self, category: str) -> dict[str, Purpose]:
        return {k: p for k, p in self.purposes.items() if category in p.categories}


OWNER_ROLE = "owner"
