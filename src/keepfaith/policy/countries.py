"""Countries the transfer rules need to know about (ISO 3166-1 alpha-2).

Adequacy lists change: they are used for warnings only, never to refuse a policy.
Sources: Commission adequacy decisions (GDPR Art. 45); UK adequacy regulations (UK GDPR
Art. 45 and DPA 2018 s.17A), including the UK Extension to the EU-US Data Privacy Framework
(SI 2023/1028, in force 12 October 2023, certified organisations only). As of 2026.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

# Every officially assigned ISO 3166-1 alpha-2 code (Debian iso-codes, 249 codes).
ISO_3166_1 = frozenset(
    (  # noqa: SIM905 - a block of codes reads better than 249 quoted strings
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
        "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
        "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
        "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
        "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
        "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
        "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
        "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
        "US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
    ).split()
)
# Codes people reach for that ISO does not assign, and what they mean.
MISTAKES = {"UK": "GB", "EL": "GR", "EN": "GB"}

EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
EEA = EU | {"IS", "LI", "NO"}
UK = frozenset({"GB"})

# Recipients here need no transfer mechanism in a keepfaith policy: the UK and the EEA
# recognise each other's protection (UK adequacy regulations; Commission decision renewed
# 19 December 2025).
HOME_AREA = EEA | UK

EU_ADEQUATE = frozenset(
    ["AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY", "US"]
)
UK_ADEQUATE = EEA | frozenset(
    ["GI", "AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "UY", "US"]
)

NAMES = {
    "GB": "the United Kingdom",
    "US": "the United States",
    "IE": "Ireland",
    "DE": "Germany",
    "FR": "France",
    "NL": "the Netherlands",
    "CA": "Canada",
    "CH": "Switzerland",
    "IN": "India",
    "AU": "Australia",
    "JP": "Japan",
    "NZ": "New Zealand",
    "ES": "Spain",
    "IT": "Italy",
    "SE": "Sweden",
    "DK": "Denmark",
    "BE": "Belgium",
    "PL": "Poland",
    "PT": "Portugal",
    "AT": "Austria",
    "FI": "Finland",
    "NO": "Norway",
    "PH": "the Philippines",
    "SG": "Singapore",
    "ZA": "South Africa",
    "BR": "Brazil",
    "MX": "Mexico",
    "IL": "Israel",
    "KR": "South Korea",
    "UY": "Uruguay",
    "AR": "Argentina",
    "JE": "Jersey",
    "GG": "Guernsey",
    "IM": "the Isle of Man",
    "LU": "Luxembourg",
    "CZ": "Czechia",
    "GR": "Greece",
    "HU": "Hungary",
    "RO": "Romania",
    "BG": "Bulgaria",
    "HR": "Croatia",
    "SK": "Slovakia",
    "SI": "Slovenia",
    "EE": "Estonia",
    "LV": "Latvia",
    "LT": "Lithuania",
    "CY": "Cyprus",
    "MT": "Malta",
    "IS": "Iceland",
    "LI": "Liechtenstein",
    "CN": "China",
    "HK": "Hong Kong",
    "TW": "Taiwan",
    "AE": "the United Arab Emirates",
    "UA": "Ukraine",
    "TR": "Türkiye",
    "GI": "Gibraltar",
    "FO": "the Faroe Islands",
    "AD": "Andorra",
}


def iso_country(code: str) -> str:
    """Validator for country fields: refuse codes ISO does not assign, with a hint."""
    if code in ISO_3166_1:
        return code
    hint = f" (did you mean {MISTAKES[code]}?)" if code in MISTAKES else ""
    raise PydanticCustomError(
        "country_code",
        "{code} is not an ISO 3166-1 country code{hint}",
        {"code": repr(code), "hint": hint},
    )


def country_name(code: str) -> str:
    """A readable name for the notice; the code itself for countries not listed."""
    return NAMES.get(code, code)
