"""Synthetic people for the demo: names (from the shared Synthea sample when present), phones, NPIs, a tiny PDF."""

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

SYNTHEA_FOLDER = "synthea-csv-27pt"

# Used when the shared Synthea sample is absent (a fresh clone without ../shared/data).
GIVEN_FEMALE = [
    "Amara", "Beatriz", "Chloe", "Dana", "Elena", "Fatima", "Grace", "Hana", "Imani", "Julia", "Keiko", "Leah",
    "Maria", "Nadia", "Olivia", "Priya", "Rosa", "Sofia", "Tamara", "Yasmin",
]
GIVEN_MALE = [
    "Aaron", "Bilal", "Carlos", "Daniel", "Emeka", "Felix", "Gabriel", "Hiro", "Isaac", "Jamal", "Kofi", "Luis",
    "Marcus", "Nikhil", "Omar", "Pavel", "Rafael", "Samuel", "Tomas", "Wei",
]
FAMILY = [
    "Abbott", "Alvarez", "Bauer", "Becker", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ibarra",
    "Jensen", "Kowalski", "Larsen", "Lindqvist", "Morales", "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Peralta",
    "Quinn", "Ramirez", "Rossi", "Schmidt", "Sato", "Tanaka", "Torres", "Underwood", "Vargas", "Vasquez", "Walsh",
    "Weber", "Xu", "Yamamoto", "Young", "Zeller", "Zimmerman", "Holt",
]


@dataclass(frozen=True)
class NamePool:
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    source: str


def strip_synthea_digits(value: str) -> str:
    """Synthea appends digits to make names unique ("Jacinto644"); people's names do not have them."""
    return re.sub(r"\d+$", "", value.strip())


def synthea_dir() -> Path | None:
    """The shared Synthea sample: $HEALTHOPS_SHARED_DATA (the shared data folder, or the sample itself), else
    ../shared/data beside the project."""
    candidates = []
    env = os.environ.get("HEALTHOPS_SHARED_DATA")
    if env:
        candidates += [Path(env), Path(env) / SYNTHEA_FOLDER]
    candidates.append(Path(settings.BASE_DIR).parent / "shared" / "data" / SYNTHEA_FOLDER)
    for folder in candidates:
        if (folder / "patients.csv").is_file():
            return folder
    return None


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def load_name_pool(folder: Path | None = None) -> NamePool:
    folder = folder if folder is not None else synthea_dir()
    if folder is not None and (folder / "patients.csv").is_file():
        female, male, family = [], [], []
        with open(folder / "patients.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                given = strip_synthea_digits(row.get("FIRST") or "")
                (female if (row.get("GENDER") or "").upper() == "F" else male).append(given)
                family.append(strip_synthea_digits(row.get("LAST") or ""))
        female, male, family = _unique(female), _unique(male), _unique(family)
        if female and male and family:
            return NamePool(female, male, family, source=str(folder))
    return NamePool(tuple(GIVEN_FEMALE), tuple(GIVEN_MALE), tuple(FAMILY), source="built-in lists")


def staff_name(index: int) -> tuple[str, str, str]:
    """A stable (given, family, sex) for staff member `index`; staff use the built-in lists, whatever the sample."""
    female = index % 2 == 0
    given = (GIVEN_FEMALE if female else GIVEN_MALE)[(index * 7) % 20]
    family = FAMILY[(index * 11 + 3) % len(FAMILY)]
    return given, family, "female" if female else "male"


def fictional_phone(area: str, number: int) -> str:
    """555-0100 to 555-0199 are reserved for fiction in the North American numbering plan."""
    return f"({area}) 555-01{number % 100:02d}"


def npi(base: int) -> str:
    """A 10-digit NPI with a valid Luhn check digit (computed over the 80840 prefix, as CMS does)."""
    body = f"{1 + base % 2}{base % 10**8:08d}"
    digits = [int(c) for c in "80840" + body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def tiny_pdf(title: str) -> bytes:
    """A one-page, valid PDF saying it is synthetic. Built by hand so the seed needs no PDF library."""
    text = f"{title} - synthetic demo document, no real patient data".replace("(", "[").replace(")", "]")
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
