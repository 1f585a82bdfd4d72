"""Plain-English names for the policy's coded values, shared by the notice and the diff."""

from __future__ import annotations

from keepfaith.policy.schema import (
    AnalyticsMode,
    Channel,
    CookieCategory,
    CookieChoice,
    Jurisdiction,
    LegalBasis,
    RecipientRole,
    RetentionTrigger,
    TransferMechanism,
    Verification,
)

JURISDICTIONS = {
    Jurisdiction.UK_GDPR: "UK GDPR with the Data Protection Act 2018",
    Jurisdiction.EU_GDPR: "EU General Data Protection Regulation (GDPR)",
    Jurisdiction.CCPA: "California Consumer Privacy Act as amended by the CPRA (CCPA)",
    Jurisdiction.CAN_SPAM: "CAN-SPAM Act",
    Jurisdiction.PECR: "Privacy and Electronic Communications Regulations (PECR)",
}

BASES = {
    LegalBasis.CONSENT: "your consent",
    LegalBasis.CONTRACT: "our contract with you, or steps you asked for before one",
    LegalBasis.LEGAL_OBLIGATION: "a legal obligation we must meet",
    LegalBasis.LEGITIMATE_INTERESTS: "our legitimate interests",
    LegalBasis.VITAL_INTERESTS: "protecting someone's life or physical safety",
    LegalBasis.PUBLIC_TASK: "a task in the public interest",
}

ARTICLES = {
    LegalBasis.CONSENT: "Art. 6(1)(a)",
    LegalBasis.CONTRACT: "Art. 6(1)(b)",
    LegalBasis.LEGAL_OBLIGATION: "Art. 6(1)(c)",
    LegalBasis.VITAL_INTERESTS: "Art. 6(1)(d)",
    LegalBasis.PUBLIC_TASK: "Art. 6(1)(e)",
    LegalBasis.LEGITIMATE_INTERESTS: "Art. 6(1)(f)",
}

TRIGGERS = {
    RetentionTrigger.COLLECTION: "after we collect it",
    RetentionTrigger.LAST_INTERACTION: "after your last contact with us",
    RetentionTrigger.CONSENT_WITHDRAWN: "after you withdraw your consent",
    RetentionTrigger.ACCOUNT_CLOSED: "after you close your account",
    RetentionTrigger.END_OF_CONTRACT: "after our contract with you ends",
    RetentionTrigger.TRANSACTION: "after the transaction",
}

UNTIL = {
    RetentionTrigger.COLLECTION: "only as long as needed at the time",
    RetentionTrigger.LAST_INTERACTION: "until your last contact with us",
    RetentionTrigger.CONSENT_WITHDRAWN: "until you withdraw your consent",
    RetentionTrigger.ACCOUNT_CLOSED: "until you close your account",
    RetentionTrigger.END_OF_CONTRACT: "until our contract with you ends",
    RetentionTrigger.TRANSACTION: "until the transaction is complete",
}

ROLES = {
    RecipientRole.PROCESSOR: "Service provider (processes data only on our instructions)",
    RecipientRole.CONTROLLER: "Independent company (uses the data for its own purposes)",
    RecipientRole.GROUP_COMPANY: "Company in our group",
    RecipientRole.AUTHORITY: "Public authority",
}

MECHANISMS = {
    TransferMechanism.NONE: "no transfer safeguard needed",
    TransferMechanism.ADEQUACY: "an adequacy decision (the country's protection is recognised)",
    TransferMechanism.IDTA: "the UK International Data Transfer Agreement",
    TransferMechanism.UK_ADDENDUM: "the EU standard contractual clauses with the UK Addendum",
    TransferMechanism.SCC: "the EU standard contractual clauses",
    TransferMechanism.BCR: "binding corporate rules",
    TransferMechanism.EXPLICIT_CONSENT: "your explicit consent to the transfer",
}

CHANNELS = {
    Channel.EMAIL: "e-mail",
    Channel.SMS: "text message",
    Channel.PHONE: "phone",
    Channel.POST: "post",
    Channel.WEB: "our website",
    Channel.IN_APP: "in-app messages",
}

COOKIE_CATEGORIES = {
    CookieCategory.STRICTLY_NECESSARY: "Strictly necessary",
    CookieCategory.FUNCTIONAL: "Functional",
    CookieCategory.ANALYTICS: "Analytics",
    CookieCategory.ADVERTISING: "Advertising",
}

COOKIE_CHOICES = {
    CookieChoice.NONE: "Always on: needed for the site to work",
    CookieChoice.OPT_IN: "Only if you agree",
    CookieChoice.OPT_OUT: "On unless you switch it off",
    CookieChoice.BROWSER_SETTINGS: "Controlled by your browser settings",
}

ANALYTICS_MODES = {
    AnalyticsMode.NONE: "We do not measure visits to this site.",
    AnalyticsMode.COOKIELESS: "We count visits without cookies and without identifying anyone.",
    AnalyticsMode.CONSENT: "We measure visits with analytics cookies only if you agree.",
}

VERIFICATIONS = {
    Verification.EMAIL_CODE: "a code we send to your e-mail address",
    Verification.ACCOUNT_SIGN_IN: "signing in to your account",
    Verification.STAFF_CHECK: "a check by our staff with information only you would know",
}
