"""A seeded generator of realistic accounting-package exports (DESIGN section 6 columns).

Records are derived from their index in blocks of BLOCK rows, each block with its own seeded
random generator, so any size streams in constant memory and any record can be regenerated
alone. The output is deterministic for (seed, sizes, ratios, today, span_days).

    python -m services.importer.sources.generator DIR --customers N --invoices M --seed S
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import random
import re
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from statistics import NormalDist
from typing import NamedTuple, TypeVar

from .base import COLUMNS, Entity
from .files import FILE_NAMES

__all__ = [
    "BLOCK",
    "PAYMENT_CONDITIONS",
    "SyntheticExport",
    "generate",
    "main",
    "write_export",
]

BLOCK = 1000
_T = TypeVar("_T")
_NOT_ALNUM = re.compile("[^a-z0-9]")
_M64 = (1 << 64) - 1

# (code, description, term in days, weight for companies, weight for consumers)
PAYMENT_CONDITIONS: tuple[tuple[str, str, int, int, int], ...] = (
    ("30D", "Betaling binnen 30 dagen", 30, 55, 10),
    ("14D", "Betaling binnen 14 dagen", 14, 20, 55),
    ("8D", "Betaling binnen 8 dagen", 8, 5, 10),
    ("60D", "Betaling binnen 60 dagen", 60, 12, 0),
    ("DIRECT", "Direct betalen (contant of pin)", 0, 8, 25),
)
_TERMS = {code: term for code, _, term, _, _ in PAYMENT_CONDITIONS}
_CODES = tuple(code for code, _, _, _, _ in PAYMENT_CONDITIONS)
# Standard normal quantiles at evenly spaced probabilities: a table lookup draws an amount's
# log-normal spread far faster than random.lognormvariate.
_NORMAL_QUANTILES = tuple(NormalDist().inv_cdf((k + 0.5) / 4096) for k in range(4096))


# Reference data ---------------------------------------------------------------------------------


class _City(NamedTuple):
    name: str
    region: str  # nl | be_nl | be_fr | de
    postal: tuple[int, int]  # range of the numeric part
    area: str  # trunk prefix and area code, as dialled at home


_CITIES: tuple[_City, ...] = (
    _City("Amsterdam", "nl", (1011, 1109), "020"),
    _City("Rotterdam", "nl", (3011, 3089), "010"),
    _City("Den Haag", "nl", (2491, 2599), "070"),
    _City("Utrecht", "nl", (3511, 3585), "030"),
    _City("Eindhoven", "nl", (5611, 5658), "040"),
    _City("Groningen", "nl", (9711, 9747), "050"),
    _City("Tilburg", "nl", (5011, 5049), "013"),
    _City("Almere", "nl", (1311, 1363), "036"),
    _City("Breda", "nl", (4811, 4839), "076"),
    _City("Nijmegen", "nl", (6511, 6546), "024"),
    _City("Apeldoorn", "nl", (7311, 7339), "055"),
    _City("Haarlem", "nl", (2011, 2037), "023"),
    _City("Arnhem", "nl", (6811, 6846), "026"),
    _City("Enschede", "nl", (7511, 7548), "053"),
    _City("Amersfoort", "nl", (3811, 3829), "033"),
    _City("Zwolle", "nl", (8011, 8048), "038"),
    _City("Leiden", "nl", (2311, 2334), "071"),
    _City("Maastricht", "nl", (6211, 6229), "043"),
    _City("Dordrecht", "nl", (3311, 3329), "078"),
    _City("'s-Hertogenbosch", "nl", (5211, 5248), "073"),
    _City("Delft", "nl", (2611, 2629), "015"),
    _City("Leeuwarden", "nl", (8911, 8939), "058"),
    _City("Alkmaar", "nl", (1811, 1827), "072"),
    _City("Deventer", "nl", (7411, 7429), "0570"),
    _City("Antwerpen", "be_nl", (2000, 2060), "03"),
    _City("Gent", "be_nl", (9000, 9052), "09"),
    _City("Brugge", "be_nl", (8000, 8020), "050"),
    _City("Leuven", "be_nl", (3000, 3012), "016"),
    _City("Mechelen", "be_nl", (2800, 2812), "015"),
    _City("Hasselt", "be_nl", (3500, 3512), "011"),
    _City("Aalst", "be_nl", (9300, 9320), "053"),
    _City("Kortrijk", "be_nl", (8500, 8511), "056"),
    _City("Oostende", "be_nl", (8400, 8400), "059"),
    _City("Genk", "be_nl", (3600, 3600), "089"),
    _City("Brussel", "be_nl", (1000, 1210), "02"),
    _City("Bruxelles", "be_fr", (1000, 1210), "02"),
    _City("Liège", "be_fr", (4000, 4032), "04"),
    _City("Namur", "be_fr", (5000, 5004), "081"),
    _City("Charleroi", "be_fr", (6000, 6010), "071"),
    _City("Mons", "be_fr", (7000, 7034), "065"),
    _City("Berlin", "de", (10115, 14199), "030"),
    _City("Hamburg", "de", (20095, 22769), "040"),
    _City("München", "de", (80331, 81929), "089"),
    _City("Köln", "de", (50667, 51149), "0221"),
    _City("Frankfurt am Main", "de", (60306, 60599), "069"),
    _City("Düsseldorf", "de", (40210, 40629), "0211"),
    _City("Dortmund", "de", (44135, 44388), "0231"),
    _City("Essen", "de", (45127, 45359), "0201"),
    _City("Aachen", "de", (52062, 52080), "0241"),
    _City("Münster", "de", (48143, 48167), "0251"),
    _City("Hannover", "de", (30159, 30669), "0511"),
    _City("Bremen", "de", (28195, 28779), "0421"),
    _City("Kleve", "de", (47533, 47533), "02821"),
)
_COUNTRY_OF = {"nl": "NL", "be_nl": "BE", "be_fr": "BE", "de": "DE"}
_CITIES_IN: dict[str, tuple[_City, ...]] = {
    country: tuple(c for c in _CITIES if _COUNTRY_OF[c.region] == country)
    for country in ("NL", "BE", "DE")
}
_COUNTRY_TABLE = ("NL",) * 65 + ("BE",) * 22 + ("DE",) * 13

_FIRST_NAMES = {
    "nl": (
        "Jan", "Piet", "Kees", "Willem", "Johannes", "Hendrik", "Pieter", "Sander", "Daan",
        "Bram", "Thijs", "Ruben", "Joost", "Maarten", "Gerrit", "Anna", "Sanne", "Lotte", "Emma",
        "Sophie", "Fleur", "Iris", "Marieke", "Anouk", "Eva", "Ingrid", "Linda", "Petra",
        "Esther", "Femke", "Noor", "Wilma",
    ),
    "be_nl": (
        "Lucas", "Arthur", "Wout", "Pieter", "Tom", "Koen", "Bart", "Stijn", "Jens", "Dirk",
        "Lies", "Els", "An", "Katrien", "Sofie", "Nele", "Leen", "Hanne", "Marie", "Elise",
    ),
    "be_fr": (
        "Luc", "Philippe", "Jean", "Michel", "Olivier", "François", "Nathalie", "Isabelle",
        "Camille", "Julie", "Céline", "Amélie", "Hélène", "Sébastien",
    ),
    "de": (
        "Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Thomas", "Michael", "Andreas", "Stefan",
        "Jürgen", "Klaus", "Jörg", "Björn", "Anna", "Lena", "Laura", "Julia", "Sabine", "Petra",
        "Ursula", "Katrin", "Jörn", "Günter", "Bärbel",
    ),
}  # fmt: skip
_SURNAMES = {
    "nl": (
        "de Vries", "Jansen", "de Jong", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
        "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen",
        "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer",
        "van der Linden", "Kok", "Jacobs", "Vermeulen", "van Dijk", "Willems", "Hoekstra",
        "Kuipers", "Verhoeven", "Postma", "van Beek", "Schouten", "Prins", "Huisman",
    ),
    "be_nl": (
        "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
        "Wouters", "De Smet", "Hermans", "Van Damme", "De Clercq", "Van de Velde",
        "Vandenberghe", "Verstraete", "Desmet", "Lemmens", "Michiels", "Coppens", "Aerts",
    ),
    "be_fr": (
        "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leclercq", "Lejeune",
        "Renard", "Fontaine", "Gérard", "François", "Lefèvre", "Collignon",
    ),
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
        "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Weiß",
        "Groß", "Köhler", "Jäger", "Vogel",
    ),
}  # fmt: skip
_COMPANY_FORMS = {
    "nl": (
        "{s} Installatietechniek B.V.", "Bakkerij {s}", "{s} & Zn.", "Transportbedrijf {s} B.V.",
        "{s} Bouw B.V.", "Autobedrijf {s}", "{s} Accountants", "Hoveniersbedrijf {s}",
        "{s} Schilderwerken", "Kaashandel {s}", "{s} ICT B.V.", "Garage {s} V.O.F.",
        "Tandartspraktijk {s}", "{c} Logistiek B.V.", "Drukkerij {c}", "Horeca {s} V.O.F.",
        "{s} Fietsen", "Loodgietersbedrijf {s}", "Eetcafé {s}",
    ),
    "be_nl": (
        "{s} BV", "Bouwbedrijf {s} BV", "Brasserie {s}", "Bakkerij {s}", "Garage {s} BV",
        "{s} & Co NV", "Schrijnwerkerij {s}", "Transport {s} NV", "Dakwerken {s} BV",
        "Frituur {s}",
    ),
    "be_fr": (
        "{s} SRL", "Boulangerie {s}", "Menuiserie {s} SRL", "Transports {s} SA",
        "Garage {s} SRL", "Brasserie {s}", "Toitures {s} SRL",
    ),
    "de": (
        "{s} GmbH", "{s} Metallbau GmbH", "Bäckerei {s}", "Autohaus {s} GmbH & Co. KG",
        "{s} Elektrotechnik e.K.", "Schreinerei {s}", "{s} Logistik GmbH", "Gasthaus {s}",
        "{s} Sanitär und Heizung GmbH", "Steuerberatung {s}",
    ),
}  # fmt: skip
_LEGAL_WORDS = frozenset(
    {"b.v.", "v.o.f.", "bv", "nv", "sa", "srl", "gmbh", "&", "co.", "co", "kg", "e.k.", "zn."}
)
_STREETS = {
    "nl": (
        "Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Schoolstraat", "Julianastraat",
        "Beatrixlaan", "Wilhelminastraat", "Nieuwstraat", "Marktplein", "Industrieweg",
        "Havenstraat", "Hoofdstraat", "Eikenlaan", "Lindelaan", "Parallelweg",
        "Prins Bernhardlaan", "Oranjestraat", "Zuiderweg", "Energieweg", "Ambachtsweg",
    ),
    "be_nl": (
        "Kerkstraat", "Stationsstraat", "Nieuwstraat", "Kapelstraat", "Molenstraat",
        "Schoolstraat", "Hoogstraat", "Grote Markt", "Brugsesteenweg", "Kortrijksesteenweg",
        "Dorpsstraat", "Industrielaan", "Leopoldlaan",
    ),
    "be_fr": (
        "Rue de la Station", "Rue de l'Église", "Avenue Louise", "Chaussée de Louvain",
        "Rue du Marché", "Place Saint-Lambert", "Rue Haute", "Boulevard d'Avroy",
        "Rue des Écoles",
    ),
    "de": (
        "Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenstraße", "Dorfstraße",
        "Kirchstraße", "Lindenstraße", "Bergstraße", "Industriestraße", "Goethestraße",
        "Schillerstraße", "Am Markt", "Friedrichstraße", "Mühlenweg", "Ringstraße",
    ),
}  # fmt: skip
_MAILBOXES = {
    "nl": ("info", "administratie", "facturen", "boekhouding", "crediteuren"),
    "be_nl": ("info", "boekhouding", "facturatie", "administratie"),
    "be_fr": ("info", "comptabilite", "facturation", "contact"),
    "de": ("info", "buchhaltung", "rechnung", "kontakt"),
}
_PROVIDERS = {
    "NL": ("gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "xs4all.nl"),
    "BE": ("telenet.be", "skynet.be", "gmail.com", "proximus.be", "hotmail.com"),
    "DE": ("web.de", "gmx.de", "t-online.de", "gmail.com", "freenet.de"),
}
_TLD = {"NL": "nl", "BE": "be", "DE": "de"}
_LANGUAGE = {"nl": "nl", "be_nl": "nl", "be_fr": "fr", "de": "de"}
_COUNTRY_CODE = {"NL": "31", "BE": "32", "DE": "49"}
# Letters in use in Dutch postcodes; SA, SD and SS are never issued.
_NL_POSTAL_LETTER_PAIRS = tuple(
    a + b
    for a in "ABCDEGHJKLMNPRSTVWXZ"
    for b in "ABCDEGHJKLMNPRSTVWXZ"
    if a + b not in ("SA", "SD", "SS")
)
_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
    "oktober", "november", "december",
)  # fmt: skip
_DESCRIPTIONS = (
    "Onderhoud installatie {month}",
    "Levering volgens pakbon {n}",
    "Huur bedrijfsruimte {month} {year}",
    "Advieswerkzaamheden {month}",
    "Reparatie, incl. voorrijkosten",
    'Levering "Premium" koffiebonen',
    "Abonnement Q{quarter} {year}",
    "Installatie zonnepanelen",
    "Schilderwerk kozijnen",
    "Transport Rotterdam - Antwerpen",
    "Softwarelicentie {year}",
    "Catering personeelsfeest",
    "Servicecontract {year}, termijn {quarter}",
    "Levering kantoorartikelen",
    "",
)
_CREDIT_REASONS = (
    "Creditnota: retour geleverde goederen",
    "Creditnota: korting wegens late levering",
    "Creditnota: dubbel gefactureerd",
    "Creditnota: prijscorrectie",
)
_OTHER_CURRENCIES = ("USD", "GBP", "CHF")
_INVOICE_DEFECTS = (
    "due_before_invoice",
    "invalid_currency",
    "open_exceeds_total",
    "unknown_customer",
    "unknown_payment_condition",
    "invalid_date",
    "invalid_amount",
)
_CUSTOMER_DEFECTS = (
    "invalid_email",
    "invalid_email",
    "invalid_email",
    "missing_postal_code",
    "missing_postal_code",
    "invalid_postal_code",
    "invalid_country",
    "missing_email",
)
_BAD_COUNTRIES = {"NL": ("Nederland", "NLD"), "BE": ("België", "BEL"), "DE": ("Duitsland", "DEU")}
_BAD_POSTAL_CODES = {"NL": ("123 AB", "12345"), "BE": ("10000", "B-10"), "DE": ("1234", "D-5206")}


# Check digits -----------------------------------------------------------------------------------


def nl_vat_number(rng: random.Random) -> str:
    """A Dutch btw-id whose nine digits pass the eleven-test (weights 9..2 and -1)."""
    while True:
        digits = [1 + _below(rng, 9)] + [_below(rng, 10) for _ in range(7)]
        check = sum((9 - i) * d for i, d in enumerate(digits)) % 11
        if check < 10:
            return "NL" + "".join(map(str, digits)) + str(check) + "B01"


def be_vat_number(rng: random.Random) -> str:
    """A Belgian enterprise number: 0 + seven digits + 97 - (those eight mod 97)."""
    base = _between(rng, 2_000_000, 9_999_999)  # with the leading 0, eight digits
    return f"BE0{base:07d}{97 - base % 97:02d}"


def de_vat_number(rng: random.Random) -> str:
    """A German USt-IdNr: eight digits and an ISO 7064 mod 11,10 check digit."""
    digits = [1 + _below(rng, 9)] + [_below(rng, 10) for _ in range(7)]
    product = 10
    for d in digits:
        total = (d + product) % 10 or 10
        product = (2 * total) % 11
    return "DE" + "".join(map(str, digits)) + str((11 - product) % 10)


_VAT = {"NL": nl_vat_number, "BE": be_vat_number, "DE": de_vat_number}


# Small helpers ----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)  # names and words repeat: a small cache does all the work
def _ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: "Müller & Zn." becomes "muellerzn"."""
    text = text.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_ALNUM.sub("", text)


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    return options[int(rng.random() * len(options))]


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _between(rng: random.Random, low: int, high: int) -> int:
    """low..high inclusive."""
    return low + int(rng.random() * (high - low + 1))


def _mix(*parts: object) -> int:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _capitalise(name: str) -> str:
    return name[:1].upper() + name[1:]


# The export -------------------------------------------------------------------------------------


class SyntheticExport:
    """A whole ledger's export, generated on demand: iterate it as often as you like."""

    def __init__(
        self,
        seed: int,
        *,
        customers: int,
        invoices: int,
        invalid_ratio: float = 0.03,
        paid_ratio: float = 0.3,
        credit_note_ratio: float = 0.03,
        today: date | None = None,
        span_days: int = 365,
    ) -> None:
        if customers < 0 or invoices < 0:
            raise ValueError("customers and invoices must not be negative")
        if invoices and not customers:
            raise ValueError("invoices need at least one customer")
        for name, ratio in (
            ("invalid_ratio", invalid_ratio),
            ("paid_ratio", paid_ratio),
            ("credit_note_ratio", credit_note_ratio),
        ):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {ratio}")
        if span_days < 1:
            raise ValueError("span_days must be at least 1")
        self.seed = seed
        self.n_customers = customers
        self.n_invoices = invoices
        self.invalid_ratio = invalid_ratio
        self.paid_ratio = paid_ratio
        self.credit_note_ratio = credit_note_ratio
        self.today = today if today is not None else date.today()
        self.span_days = span_days
        self._salt = _mix(seed, "customer-traits")
        # Invoice dates run from today - span_days to today; 70 days of margin before that
        # leave room for due dates moved back on purpose, 70 after for the longest term.
        self._first_day = self.today - timedelta(days=span_days + 70)
        self._day_info = [
            (d.isoformat(), d.year, _MONTHS[d.month - 1], (d.month - 1) // 3 + 1)
            for d in (self._first_day + timedelta(days=k) for k in range(span_days + 141))
        ]
        self._days = [iso for iso, _, _, _ in self._day_info]
        self._trait_bytes: bytes | None = None
        # Credit notes are always open, so the paid share of the rest is raised to keep the
        # overall paid share near paid_ratio.
        rest = 1.0 - credit_note_ratio
        self._paid_share = min(1.0, paid_ratio / rest) if rest > 0 else 0.0
        # An invoice of age a (0 = today, 1 = the oldest) is paid with chance a ** k; over
        # uniform ages that averages 1 / (k + 1), the share wanted. Old invoices are paid.
        self._paid_exponent = 1.0 / self._paid_share - 1.0 if 0.0 < self._paid_share < 1.0 else None

    def __repr__(self) -> str:
        return (
            f"SyntheticExport(seed={self.seed}, customers={self.n_customers}, "
            f"invoices={self.n_invoices}, today={self.today.isoformat()})"
        )

    # Streams -----------------------------------------------------------------------------------

    def payment_condition_rows(self) -> Iterator[dict[str, str]]:
        for code, description, term, _, _ in PAYMENT_CONDITIONS:
            yield {"code": code, "description": description, "term_days": str(term)}

    def customer_rows(self) -> Iterator[dict[str, str]]:
        for start in range(0, self.n_customers, BLOCK):
            yield from self._customer_block(start // BLOCK)

    def invoice_rows(self) -> Iterator[dict[str, str]]:
        for start in range(0, self.n_invoices, BLOCK):
            yield from self._invoice_block(start // BLOCK)

    def customer(self, index: int) -> dict[str, str]:
        """Customer number `index`, regenerated alone (costs one block)."""
        if not 0 <= index < self.n_customers:
            raise IndexError(index)
        return self._customer_block(index // BLOCK)[index % BLOCK]

    def invoice(self, index: int) -> dict[str, str]:
        if not 0 <= index < self.n_invoices:
            raise IndexError(index)
        return self._invoice_block(index // BLOCK)[index % BLOCK]

    @staticmethod
    def customer_number(index: int) -> str:
        return str(10001 + index)

    def invoice_number(self, index: int) -> str:
        return f"{self._day_info[self._day_of(index)][1]}{index + 1:07d}"

    # Per-customer traits the invoices need, from a hash instead of stored state ----------------

    def _traits(self, index: int) -> tuple[bool, str]:
        """(is a consumer, usual payment condition) of a customer, from a hash of its index.

        Cached in one byte per customer, built on first use: a million customers cost a MB.
        """
        if self._trait_bytes is None:
            self._trait_bytes = bytes(map(self._trait_byte, range(self.n_customers)))
        byte = self._trait_bytes[index]
        return byte >= 128, _CODES[byte & 127]

    def _trait_byte(self, index: int) -> int:
        z = (self._salt + index * 0x9E3779B97F4A7C15) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        z ^= z >> 31
        consumer = z % 100 < 30
        pick = (z >> 8) % 100
        position = 0
        for position, condition in enumerate(PAYMENT_CONDITIONS):  # noqa: B007 - used after
            pick -= condition[4] if consumer else condition[3]
            if pick < 0:
                break
        return position | (128 if consumer else 0)

    def _day_of(self, index: int) -> int:
        """Invoice dates rise with the invoice number, as they do in a real ledger."""
        return 70 + (index * self.span_days) // max(self.n_invoices, 1)

    # Blocks ------------------------------------------------------------------------------------

    def _customer_block(self, block: int) -> list[dict[str, str]]:
        rng = random.Random(_mix(self.seed, "customers", block))
        start = block * BLOCK
        stop = min(self.n_customers, start + BLOCK)
        return [self._make_customer(rng, index) for index in range(start, stop)]

    def _invoice_block(self, block: int) -> list[dict[str, str]]:
        rng = random.Random(_mix(self.seed, "invoices", block))
        start = block * BLOCK
        stop = min(self.n_invoices, start + BLOCK)
        latest: dict[str, str] = {}  # customer number -> their latest invoice in this block
        return [self._make_invoice(rng, index, latest) for index in range(start, stop)]

    def _make_customer(self, rng: random.Random, index: int) -> dict[str, str]:
        consumer = self._trait_byte(index) >= 128
        country = _COUNTRY_TABLE[_below(rng, 100)]
        city = _pick(rng, _CITIES_IN[country])
        region = city.region
        first = _pick(rng, _FIRST_NAMES[region])
        surname = _pick(rng, _SURNAMES[region])
        if consumer:
            name = f"{first} {surname}"
            email = self._consumer_email(rng, first, surname, country)
            vat = ""
        else:
            form = _pick(rng, _COMPANY_FORMS[region])
            name = _capitalise(form.format(s=surname, c=city.name))
            email = self._company_email(rng, name, region, country)
            vat = _VAT[country](rng) if rng.random() < 0.95 else ""
            if vat and country == "BE" and rng.random() < 0.2:
                vat = f"BE {vat[2:6]}.{vat[6:9]}.{vat[9:]}"
        number = _between(rng, 1, 249)
        suffix = _pick(rng, ("", "", "", "", "", "a", "b", "-2", "A"))
        if country == "NL":
            postal = f"{_between(rng, *city.postal)} {_pick(rng, _NL_POSTAL_LETTER_PAIRS)}"
        elif country == "BE":
            postal = str(_between(rng, *city.postal))
        else:
            postal = f"{_between(rng, *city.postal):05d}"
        changed = self.today - timedelta(days=_between(rng, 1, 730))
        row = {
            "customer_number": self.customer_number(index),
            "name": name,
            "email": email,
            "phone": self._phone(rng, country, city, mobile=consumer or rng.random() < 0.2),
            "street": f"{_pick(rng, _STREETS[region])} {number}{suffix}",
            "postal_code": postal,
            "city": city.name,
            "country": country,
            "language": "en" if rng.random() < 0.02 else _LANGUAGE[region],
            "vat_number": vat,
            "changed_at": (
                f"{changed.isoformat()}T{_between(rng, 7, 18):02d}:"
                f"{_below(rng, 60):02d}:{_below(rng, 60):02d}Z"
            ),
        }
        if rng.random() < self.invalid_ratio:
            self._spoil_customer(rng, row)
        return row

    def _consumer_email(self, rng: random.Random, first: str, surname: str, country: str) -> str:
        f, s = _ascii_slug(first), _ascii_slug(surname)
        local = _pick(rng, (f"{f}.{s}", f"{f[0]}.{s}", f"{f}{s}{_between(rng, 60, 99)}", f"{f}"))
        return f"{local}@{_pick(rng, _PROVIDERS[country])}"

    def _company_email(self, rng: random.Random, name: str, region: str, country: str) -> str:
        words = [w for w in name.lower().split() if w not in _LEGAL_WORDS]
        domain = "-".join(filter(None, map(_ascii_slug, words))) or "bedrijf"
        if rng.random() < 0.5:
            domain = domain.replace("-", "")
        return f"{_pick(rng, _MAILBOXES[region])}@{domain}.{_TLD[country]}"

    def _phone(self, rng: random.Random, country: str, city: _City, *, mobile: bool) -> str:
        """A number that fits the customer's city (or a mobile), in one of four common styles."""
        if not mobile:
            trunk = city.area
        elif country == "NL":
            trunk = "06"
        elif country == "BE":
            trunk = f"04{_between(rng, 70, 99)}"
        else:
            trunk = _pick(rng, ("0151", "0160", "0170", "0171", "0176"))
        # Digits after the leading 0: always 9 in NL; 8 for Belgian landlines and 9 for
        # mobiles; in Germany 10 for landlines and 10 or 11 for mobiles.
        if country == "NL":
            national = 9
        elif country == "BE":
            national = 9 if mobile else 8
        else:
            national = 11 if trunk in ("0151", "0160", "0176") else 10
        length = national - (len(trunk) - 1)
        # Leading digits in use (NL mobiles 1..5 and 8, Belgian landlines 2 and 3 so that
        # Liège's 04 is no mobile); the others are not allocated.
        if mobile:
            lead = _pick(rng, "123458" if trunk == "06" else "2345678")
        else:
            lead = _pick(rng, "23" if country == "BE" else "2345678")
        rest = lead + str(_below(rng, 10 ** (length - 1))).zfill(length - 1)
        style = _below(rng, 4)
        if style == 0:
            return f"+{_COUNTRY_CODE[country]}{trunk[1:]}{rest}"
        if style == 1:
            return f"+{_COUNTRY_CODE[country]} {trunk[1:]} {rest}"
        if style == 2:
            return f"{trunk}-{rest}"
        return f"{trunk} {rest[:3]} {rest[3:]}"

    def _spoil_customer(self, rng: random.Random, row: dict[str, str]) -> None:
        defect = rng.choice(_CUSTOMER_DEFECTS)
        local, _, domain = row["email"].partition("@")
        if defect == "invalid_email":
            row["email"] = rng.choice(
                (
                    f"{local}@",
                    f"{local}@{domain.rsplit('.', 1)[0]}",
                    f"{local}.{domain}",
                    f"{local}@@{domain}",
                    f"{local} @{domain}",
                )
            )
        elif defect == "missing_email":
            row["email"] = ""
        elif defect == "missing_postal_code":
            row["postal_code"] = ""
        elif defect == "invalid_postal_code":
            row["postal_code"] = rng.choice(_BAD_POSTAL_CODES[row["country"]])
        else:
            row["country"] = rng.choice(_BAD_COUNTRIES[row["country"]])

    def _make_invoice(
        self, rng: random.Random, index: int, latest: dict[str, str]
    ) -> dict[str, str]:
        # The hot path of a million-invoice export: draws are rng.random() and table lookups
        # (rng.choice and friends cost a microsecond each in Python).
        r = rng.random
        # Skewed towards the first customers: a few regulars, a long tail of occasional ones.
        customer = int(self.n_customers * r() ** 1.3)
        consumer, condition = self._traits(customer)
        if r() < 0.1:
            condition = _CODES[int(r() * len(_CODES))]
        day = 70 + (index * self.span_days) // self.n_invoices
        iso, year, month, quarter = self._day_info[day]
        z = _NORMAL_QUANTILES[int(r() * len(_NORMAL_QUANTILES))]
        cents = max(500, min(25_000_000, int(math.exp((5.0 if consumer else 6.2) + z) * 100)))
        number = f"{year}{index + 1:07d}"
        customer_number = str(10001 + customer)
        if r() < self.credit_note_ratio:
            total = open_ = -max(500, cents // 4)
            credited = latest.get(customer_number)
            description = _CREDIT_REASONS[int(r() * len(_CREDIT_REASONS))]
            if credited is not None:
                description += f" (factuur {credited})"
        else:
            latest[customer_number] = number
            total = cents
            age = 1.0 - (day - 70) / self.span_days  # 1 for the oldest invoice, 0 for today's
            if self._paid_exponent is None:
                paid = self._paid_share >= 1.0
            else:
                paid = r() < age**self._paid_exponent
            if paid:
                open_ = 0
            elif r() < 0.1:
                open_ = max(1, int(total * (0.1 + 0.8 * r())))
            else:
                open_ = total
            template = _DESCRIPTIONS[int(r() * len(_DESCRIPTIONS))]
            description = (
                template.format(
                    month=month, year=year, quarter=quarter, n=int(10_000 + r() * 90_000)
                )
                if "{" in template
                else template
            )
        row = {
            "invoice_number": number,
            "customer_number": customer_number,
            "invoice_date": iso,
            "due_date": self._days[day + _TERMS[condition]],
            "currency": _OTHER_CURRENCIES[int(r() * 3)] if r() < 0.005 else "EUR",
            "amount_total": f"{total / 100:.2f}",
            "amount_open": f"{open_ / 100:.2f}",
            "payment_condition": condition,
            "description": description,
        }
        if total > 0 and r() < self.invalid_ratio:
            self._spoil_invoice(rng, row, day, total)
        return row

    def _spoil_invoice(self, rng: random.Random, row: dict[str, str], day: int, total: int) -> None:
        defect = rng.choice(_INVOICE_DEFECTS)
        if defect == "due_before_invoice":
            row["due_date"] = self._days[day - rng.randrange(1, 60)]
        elif defect == "invalid_currency":
            row["currency"] = "EUX"
        elif defect == "open_exceeds_total":
            row["amount_open"] = _amount(total + rng.randrange(1, total + 1))
        elif defect == "unknown_customer":
            row["customer_number"] = self.customer_number(self.n_customers + rng.randrange(1, 900))
        elif defect == "unknown_payment_condition":
            row["payment_condition"] = rng.choice(("45D", "21D", "30DEM"))
        elif defect == "invalid_date":
            d = date.fromisoformat(row["invoice_date"])
            if rng.random() < 0.5:
                row["invoice_date"] = d.strftime("%d-%m-%Y")
            else:
                row["due_date"] = f"{d.year}-02-30"
        else:
            row["amount_total"] = f"{total // 100:,}".replace(",", ".") + f",{total % 100:02d}"


# Public functions -------------------------------------------------------------------------------


def generate(
    seed: int,
    *,
    customers: int,
    invoices: int,
    invalid_ratio: float = 0.03,
    paid_ratio: float = 0.3,
    credit_note_ratio: float = 0.03,
    today: date | None = None,
    span_days: int = 365,
) -> tuple[Iterator[dict[str, str]], Iterator[dict[str, str]], Iterator[dict[str, str]]]:
    """(payment conditions, customers, invoices) as streams of dicts keyed by DESIGN columns."""
    export = SyntheticExport(
        seed,
        customers=customers,
        invoices=invoices,
        invalid_ratio=invalid_ratio,
        paid_ratio=paid_ratio,
        credit_note_ratio=credit_note_ratio,
        today=today,
        span_days=span_days,
    )
    return export.payment_condition_rows(), export.customer_rows(), export.invoice_rows()


def write_export(
    directory: Path | str,
    seed: int,
    *,
    customers: int,
    invoices: int,
    invalid_ratio: float = 0.03,
    paid_ratio: float = 0.3,
    credit_note_ratio: float = 0.03,
    today: date | None = None,
    span_days: int = 365,
) -> dict[Entity, int]:
    """Write the three CSV files, streaming, and return the rows written per entity.

    Each file is written under a hidden temporary name and renamed into place once all three
    are complete, so a watcher never reads a half-written file.
    """
    export = SyntheticExport(
        seed,
        customers=customers,
        invoices=invoices,
        invalid_ratio=invalid_ratio,
        paid_ratio=paid_ratio,
        credit_note_ratio=credit_note_ratio,
        today=today,
        span_days=span_days,
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    streams: dict[Entity, Iterator[dict[str, str]]] = {
        "payment_condition": export.payment_condition_rows(),
        "customer": export.customer_rows(),
        "invoice": export.invoice_rows(),
    }
    counts: dict[Entity, int] = {}
    temporary: list[tuple[Path, Path]] = []
    try:
        for entity, rows in streams.items():
            final = directory / FILE_NAMES[entity]
            partial = final.with_name(f".{final.name}.partial")
            temporary.append((partial, final))
            counts[entity] = _write_csv(partial, COLUMNS[entity], rows)
        for partial, final in temporary:
            os.replace(partial, final)
    finally:
        for partial, _ in temporary:
            partial.unlink(missing_ok=True)
    return counts


def _write_csv(path: Path, columns: Sequence[str], rows: Iterator[dict[str, str]]) -> int:
    values = itemgetter(*columns)
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(values(row))
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.importer.sources.generator",
        description="Write a synthetic accounting export (customers.csv, invoices.csv, "
        "payment_conditions.csv) to DIR.",
    )
    parser.add_argument("directory", metavar="DIR", type=Path)
    parser.add_argument("--customers", type=int, required=True, metavar="N")
    parser.add_argument("--invoices", type=int, required=True, metavar="M")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--invalid-ratio", type=float, default=0.03)
    parser.add_argument("--paid-ratio", type=float, default=0.3)
    parser.add_argument("--credit-note-ratio", type=float, default=0.03)
    parser.add_argument("--span-days", type=int, default=365)
    parser.add_argument(
        "--today", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
        help="the export's date (default: the real today)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        counts = write_export(
            args.directory,
            args.seed,
            customers=args.customers,
            invoices=args.invoices,
            invalid_ratio=args.invalid_ratio,
            paid_ratio=args.paid_ratio,
            credit_note_ratio=args.credit_note_ratio,
            today=args.today,
            span_days=args.span_days,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(
        f"wrote {counts['payment_condition']} payment conditions, {counts['customer']} customers "
        f"and {counts['invoice']} invoices to {args.directory} in {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
