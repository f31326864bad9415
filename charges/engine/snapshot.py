"""The one loader of the rules data (docs/contracts.md section 2): seed CSV files -> RulesBook -> RulesSnapshot.

Pure Python: no Django, no database. ``read_tables`` reads and validates the neutral seed files of
``codebook/data`` (columns and cell syntax; a ``SeedError`` names the file, the row and the column);
``build_book`` turns the tables (from the files, or from the database through
``codebook.selectors.codebook_tables()``) into a ``RulesBook``; ``RulesBook.for_date`` gives the frozen
snapshot the engine applies to one date of service (rows are effective-dated: ``valid_from`` inclusive,
``valid_to`` inclusive, empty = open-ended). Snapshots are cached per validity period.

Source ids: coding-rules-reference.md section 0.2 (versioned data tables keyed by effective date).
"""

from __future__ import annotations

import bisect
import csv
import datetime
import io
import pathlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

SEED_DIR = pathlib.Path(__file__).resolve().parent.parent.parent / "codebook" / "data"

TABLE_NAMES = (
    "procedure_codes",
    "addon_primaries",
    "ptp_pairs",
    "drugs",
    "modifiers",
    "icd10",
    "payers",
    "payer_notes",
    "facility_places_of_service",
    "revenue_codes",
)

KINDS = ("initial", "addon", "standalone", "em", "unlisted")
SETTINGS = ("facility", "professional")
BILLING_UNITS = ("mg", "mcg", "g", "mL", "L", "units", "mEq", "dose")
CATEGORIES = ("chemo", "therapeutic", "hydration")
VACCINE_KINDS = ("influenza", "pneumococcal", "hepatitis_b", "other")
CONTAINERS = ("single", "multi")
REVENUE_KEYS = (
    "administration",
    "chemo_iv",
    "chemo_injected",
    "drug_separately_payable",
    "drug_packaged",
    "iv_solution",
    "clinic_visit",
    "emergency",
    "pump",
)
REPEAT_METHODS = ("add_times", "interval")

# Column types: "req" non-empty text, "text" any text, "bool", "int?" optional non-negative integer,
# "dec" non-negative decimal, "code4?" optional 4-digit code, ("enum", values, optional),
# ("list", values or None), "vaccmap" key:code|key:code, "drugset" [!]HCPCS|..., "date", "date?".
_DATE = "date"
_COMMON = {"valid_from": "date", "valid_to": "date?"}
SCHEMAS: dict[str, dict[str, object]] = {
    "procedure_codes": {
        "code": "code",
        "description": "req",
        "kind": ("enum", KINDS, False),
        "settings": ("list", SETTINGS, True),
        "mue_professional": "int?",
        "mue_facility": "int?",
        "mue_verified": "bool",
        "revenue_code": "code4?",
        "price": "dec",
    },
    "addon_primaries": {"addon": "code", "primary": "code"},
    "ptp_pairs": {"column1": "code", "column2": "code", "modifier_indicator": ("enum", ("0", "1", "9"), False)},
    "drugs": {
        "hcpcs": "code",
        "name": "req",
        "synonyms": ("list", None, False),
        "ingredient": "text",
        "billing_unit_amount": "decpos",
        "billing_unit": ("enum", BILLING_UNITS, False),
        "category": ("enum", CATEGORIES, True),
        "hormonal": "bool",
        "vaccine_kind": ("enum", VACCINE_KINDS, True),
        "electrolyte": "bool",
        "container": ("enum", CONTAINERS, True),
        "opps_status": "status",
        "ndcs": ("list", None, False),
        "ndc_required": "bool",
        "unclassified": "bool",
        "price": "dec",
    },
    "modifiers": {"code": "mod", "description": "req"},
    "icd10": {"code": "icd", "description": "req"},
    "payers": {
        "key": "key",
        "name": "req",
        "is_default": "bool",
        "distinct_site_modifier": "mod",
        "separate_encounter_modifier": "mod",
        "missing_stop_as_push": "bool",
        "combine_hydration_intervals": "bool",
        "repeat_infusion_method": ("enum", REPEAT_METHODS, False),
        "split_dose_per_injection": "bool",
        "waste_modifiers_required": "bool",
        "modifier_340b_hospital": "mod?",
        "modifier_340b_covered_entity": "mod?",
        "facility_em_code": "code?",
        "prolonged_pump_code_facility": "code?",
        "vaccine_admin_codes": "vaccmap",
        "ndc_required": "bool",
        "chemo_drug_list": "drugset",
    },
    "payer_notes": {"payer": "key", "code": "code?", "note": "req"},
    "facility_places_of_service": {"place_of_service": "pos", "description": "req"},
    "revenue_codes": {"key": ("enum", REVENUE_KEYS, False), "revenue_code": "code4"},
}
for _schema in SCHEMAS.values():
    _schema.update(_COMMON)

_CODE_RE = re.compile(r"^[0-9A-Z][0-9A-Z]{3}[0-9A-Z]$")
_MOD_RE = re.compile(r"^[0-9A-Z]{2}$")
_ICD_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_KEY_RE = re.compile(r"^[a-z0-9_]+$")
_POS_RE = re.compile(r"^[0-9]{2}$")
_CODE4_RE = re.compile(r"^[0-9]{4}$")
_STATUS_RE = re.compile(r"^[A-Z][0-9A-Z]?$")
_DRUGSET_RE = re.compile(r"^!?[0-9A-Z]{5}$")
_VACCINE_KEYS = ("influenza", "pneumococcal", "hepatitis_b", "other", "first", "additional")


class SeedError(ValueError):
    """A seed table is missing or malformed; the message names the file, the row number and the column."""


def _canonical_decimal(text: str) -> str:
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation
    return format(value.normalize(), "f")


def _check_cell(kind: object, text: str) -> str:
    """Return the canonical cell text or raise ValueError with a short reason."""
    if isinstance(kind, tuple):
        if kind[0] == "enum":
            _, values, optional = kind
            if text == "" and optional:
                return ""
            if text not in values:
                raise ValueError(f"expected one of {', '.join(values)}")
            return text
        _, values, non_empty = kind
        if text == "":
            if non_empty:
                raise ValueError("expected a non-empty |-list")
            return ""
        items = text.split("|")
        if any(item.strip() == "" or item != item.strip() for item in items):
            raise ValueError("list items must be non-empty and without surrounding spaces")
        if values is not None:
            bad = [item for item in items if item not in values]
            if bad:
                raise ValueError(f"unknown value {bad[0]!r} (expected {', '.join(values)})")
        return text
    optional = isinstance(kind, str) and kind.endswith("?")
    base = kind[:-1] if optional else kind
    if text == "" and (optional or base in ("text", "vaccmap", "drugset")):
        return ""
    if base == "req":
        if text.strip() == "":
            raise ValueError("must not be empty")
        return text
    if base == "text":
        return text
    if base == "bool":
        if text not in ("true", "false"):
            raise ValueError("expected true or false")
        return text
    if base == "int":
        if not text.isdigit():
            raise ValueError("expected a non-negative integer")
        return str(int(text))
    if base in ("dec", "decpos"):
        try:
            canonical = _canonical_decimal(text)
        except (InvalidOperation, ValueError):
            raise ValueError("expected a decimal number") from None
        if Decimal(canonical) < 0 or (base == "decpos" and Decimal(canonical) == 0):
            raise ValueError("expected a positive decimal number" if base == "decpos" else "must not be negative")
        return canonical
    if base == "date":
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError("expected an ISO date YYYY-MM-DD") from None
        if len(text) != 10:
            raise ValueError("expected an ISO date YYYY-MM-DD")
        return text
    patterns = {
        "code": (_CODE_RE, "a 5-character procedure or HCPCS code"),
        "mod": (_MOD_RE, "a 2-character modifier"),
        "icd": (_ICD_RE, "an ICD-10-CM code such as E86.0"),
        "key": (_KEY_RE, "a lower-case key"),
        "pos": (_POS_RE, "a two-digit place of service"),
        "code4": (_CODE4_RE, "a 4-digit revenue code"),
        "status": (_STATUS_RE, "an OPPS status indicator such as K, G or N"),
    }
    if base in patterns:
        pattern, what = patterns[base]
        if not pattern.match(text):
            raise ValueError(f"expected {what}")
        return text
    if base == "vaccmap":
        for item in text.split("|"):
            key, sep, code = item.partition(":")
            if not sep or key not in _VACCINE_KEYS or not _CODE_RE.match(code):
                raise ValueError("expected kind:CODE items such as influenza:G0008|first:90471")
        return text
    if base == "drugset":
        for item in text.split("|"):
            if not _DRUGSET_RE.match(item):
                raise ValueError("expected HCPCS codes, each optionally prefixed with !")
        return text
    raise AssertionError(f"unknown column type {kind!r}")  # pragma: no cover - schema bug


def read_table(source: pathlib.Path | str | io.TextIOBase, table: str) -> list[dict[str, str]]:
    """Read and validate one table file (a path or an open text file) -> rows as {column: canonical text}.

    Raises SeedError naming the file, the row (line number, header = row 1) and the column.
    """
    if table not in SCHEMAS:
        raise SeedError(f"{table}: unknown table (expected one of {', '.join(TABLE_NAMES)})")
    schema = SCHEMAS[table]
    name = f"{table}.csv"
    if isinstance(source, (str, pathlib.Path)):
        path = pathlib.Path(source)
        name = path.name
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise SeedError(f"{name}: file not found in {path.parent}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SeedError(f"{name}: cannot read the file ({error})") from None
    else:
        name = getattr(source, "name", name) if isinstance(getattr(source, "name", None), str) else name
        try:
            text = source.read()
        except (OSError, UnicodeDecodeError) as error:
            raise SeedError(f"{name}: cannot read the file ({error})") from None
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as error:
                raise SeedError(f"{name}: not UTF-8 ({error})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SeedError(f"{name}: row 1: the header row is missing") from None
    except csv.Error as error:
        raise SeedError(f"{name}: row 1: {error}") from None
    missing = [column for column in schema if column not in header]
    extra = [column for column in header if column not in schema]
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if missing or extra or duplicated:
        problems = []
        if missing:
            problems.append("missing column(s) " + ", ".join(missing))
        if extra:
            problems.append("unknown column(s) " + ", ".join(extra))
        if duplicated:
            problems.append("duplicated column(s) " + ", ".join(duplicated))
        raise SeedError(f"{name}: row 1 (header): " + "; ".join(problems))
    rows: list[dict[str, str]] = []
    row_number = 1
    try:
        for cells in reader:
            row_number = reader.line_num
            if not cells or all(cell == "" for cell in cells):
                continue
            if len(cells) != len(header):
                raise SeedError(f"{name}: row {row_number}: expected {len(header)} cells, found {len(cells)}")
            row: dict[str, str] = {}
            for column, cell in zip(header, cells, strict=True):
                try:
                    row[column] = _check_cell(schema[column], cell)
                except ValueError as error:
                    raise SeedError(f"{name}: row {row_number}: column {column}: {cell!r}: {error}") from None
            if row["valid_to"] and row["valid_to"] < row["valid_from"]:
                raise SeedError(f"{name}: row {row_number}: column valid_to: {row['valid_to']!r} is before valid_from")
            rows.append({column: row[column] for column in schema})
    except csv.Error as error:
        raise SeedError(f"{name}: row {row_number + 1}: {error}") from None
    return rows


def read_tables(directory: pathlib.Path | str = SEED_DIR) -> dict[str, list[dict[str, str]]]:
    """Every seed table of DIRECTORY: table name (file stem) -> rows as {column: canonical cell text}."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise SeedError(f"{directory}: not a directory of seed files")
    return {table: read_table(directory / f"{table}.csv", table) for table in TABLE_NAMES}


def read_version(directory: pathlib.Path | str = SEED_DIR) -> str:
    """The codebook version string (codebook/data/VERSION)."""
    path = pathlib.Path(directory) / "VERSION"
    try:
        version = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SeedError(f"VERSION: cannot read {path} ({error})") from None
    if not version or "\n" in version:
        raise SeedError("VERSION: row 1: expected one non-empty line")
    return version


# --------------------------------------------------------------------------------------------- snapshot types


@dataclass(frozen=True, slots=True)
class ProcedureCode:
    code: str
    description: str
    kind: str
    settings: frozenset[str]
    mue_professional: int | None
    mue_facility: int | None
    mue_verified: bool
    revenue_code: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class Drug:
    hcpcs: str
    name: str
    synonyms: tuple[str, ...]
    ingredient: str
    billing_unit_amount: Decimal
    billing_unit: str
    category: str
    hormonal: bool
    vaccine_kind: str
    electrolyte: bool
    container: str
    opps_status: str
    ndcs: tuple[str, ...]
    ndc_required: bool
    unclassified: bool
    price: Decimal

    @property
    def separately_payable_facility(self) -> bool:
        """OPPS status G or K (R19)."""
        return self.opps_status in ("G", "K")


@dataclass(frozen=True, slots=True)
class Payer:
    key: str
    name: str
    is_default: bool
    distinct_site_modifier: str
    separate_encounter_modifier: str
    missing_stop_as_push: bool
    combine_hydration_intervals: bool
    repeat_infusion_method: str
    split_dose_per_injection: bool
    waste_modifiers_required: bool
    modifier_340b_hospital: str
    modifier_340b_covered_entity: str
    facility_em_code: str
    prolonged_pump_code_facility: str
    vaccine_admin_codes: dict[str, str]
    ndc_required: bool
    chemo_added: frozenset[str]
    chemo_removed: frozenset[str]


@dataclass(frozen=True, slots=True)
class RulesSnapshot:
    """Everything the engine looks up for one date of service (plain, read-only after construction)."""

    version: str
    codes: dict[str, ProcedureCode]
    addon_primaries: dict[str, frozenset[str]]
    ptp: dict[tuple[str, str], str]
    drugs: dict[str, Drug]
    drug_names: dict[str, str]
    modifiers: dict[str, str]
    icd10: dict[str, str]
    payers: dict[str, Payer]
    default_payer: Payer
    payer_notes: tuple[tuple[str, str, str], ...]
    facility_places_of_service: frozenset[str]
    revenue_codes: dict[str, str]
    cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)


def _as_bool(text: str) -> bool:
    return text == "true"


def _as_int(text: str) -> int | None:
    return int(text) if text else None


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split("|")) if text else ()


class RulesBook:
    """Every row of every table with its validity; ``for_date`` gives the snapshot of one day."""

    def __init__(self, tables: dict[str, list[dict[str, str]]], version: str) -> None:
        self.version = version
        self._tables = tables
        boundaries = set()
        for rows in tables.values():
            for row in rows:
                boundaries.add(datetime.date.fromisoformat(row["valid_from"]))
                if row["valid_to"]:
                    boundaries.add(datetime.date.fromisoformat(row["valid_to"]) + datetime.timedelta(days=1))
        self._boundaries = sorted(boundaries)
        self._segments: dict[int, RulesSnapshot | None] = {}
        self._by_day: dict[datetime.date, RulesSnapshot | None] = {}
        self._by_iso: dict[str, RulesSnapshot | None] = {}

    def for_date(self, day: datetime.date) -> RulesSnapshot | None:
        """The snapshot valid on DAY, or None when the codebook has no procedure codes or payers for it."""
        try:
            return self._by_day[day]
        except KeyError:
            pass
        segment = bisect.bisect_right(self._boundaries, day)
        if segment not in self._segments:
            self._segments[segment] = self._build(day)
        snapshot = self._segments[segment]
        self._by_day[day] = snapshot
        return snapshot

    def for_iso(self, iso: str) -> RulesSnapshot | None:
        """for_date of an ISO date text (cached by the text; the engine's hot path)."""
        try:
            return self._by_iso[iso]
        except KeyError:
            snapshot = self._by_iso[iso] = self.for_date(datetime.date.fromisoformat(iso))
            return snapshot

    def _rows(self, table: str, day: datetime.date) -> list[tuple[int, dict[str, str]]]:
        iso = day.isoformat()
        return [
            (index, row)
            for index, row in enumerate(self._tables.get(table, ()), start=2)
            if row["valid_from"] <= iso and (not row["valid_to"] or iso <= row["valid_to"])
        ]

    def _build(self, day: datetime.date) -> RulesSnapshot | None:
        codes = {}
        for _, row in self._rows("procedure_codes", day):
            codes[row["code"]] = ProcedureCode(
                code=row["code"],
                description=row["description"],
                kind=row["kind"],
                settings=frozenset(row["settings"].split("|")),
                mue_professional=_as_int(row["mue_professional"]),
                mue_facility=_as_int(row["mue_facility"]),
                mue_verified=_as_bool(row["mue_verified"]),
                revenue_code=row["revenue_code"],
                price=Decimal(row["price"]),
            )
        payers: dict[str, Payer] = {}
        for _, row in self._rows("payers", day):
            listed = _split(row["chemo_drug_list"])
            vaccine = dict(item.split(":", 1) for item in _split(row["vaccine_admin_codes"]))
            payers[row["key"]] = Payer(
                key=row["key"],
                name=row["name"],
                is_default=_as_bool(row["is_default"]),
                distinct_site_modifier=row["distinct_site_modifier"],
                separate_encounter_modifier=row["separate_encounter_modifier"],
                missing_stop_as_push=_as_bool(row["missing_stop_as_push"]),
                combine_hydration_intervals=_as_bool(row["combine_hydration_intervals"]),
                repeat_infusion_method=row["repeat_infusion_method"],
                split_dose_per_injection=_as_bool(row["split_dose_per_injection"]),
                waste_modifiers_required=_as_bool(row["waste_modifiers_required"]),
                modifier_340b_hospital=row["modifier_340b_hospital"],
                modifier_340b_covered_entity=row["modifier_340b_covered_entity"],
                facility_em_code=row["facility_em_code"],
                prolonged_pump_code_facility=row["prolonged_pump_code_facility"],
                vaccine_admin_codes=vaccine,
                ndc_required=_as_bool(row["ndc_required"]),
                chemo_added=frozenset(code for code in listed if not code.startswith("!")),
                chemo_removed=frozenset(code[1:] for code in listed if code.startswith("!")),
            )
        if not codes or not payers:
            return None
        defaults = [payer for payer in payers.values() if payer.is_default]
        if len(defaults) != 1:
            raise SeedError(
                f"payers.csv: column is_default: exactly one payer must be the default on {day.isoformat()}, "
                f"found {len(defaults)}"
            )
        addon_primaries: dict[str, set[str]] = {}
        for index, row in self._rows("addon_primaries", day):
            for column in ("addon", "primary"):
                if row[column] not in codes:
                    raise SeedError(
                        f"addon_primaries.csv: row {index}: column {column}: {row[column]!r} is not a procedure code"
                    )
            addon_primaries.setdefault(row["addon"], set()).add(row["primary"])
        ptp = {(row["column1"], row["column2"]): row["modifier_indicator"] for _, row in self._rows("ptp_pairs", day)}
        drugs = {}
        drug_names: dict[str, str] = {}
        for _, row in self._rows("drugs", day):
            drug = Drug(
                hcpcs=row["hcpcs"],
                name=row["name"],
                synonyms=_split(row["synonyms"]),
                ingredient=row["ingredient"] or row["hcpcs"],
                billing_unit_amount=Decimal(row["billing_unit_amount"]),
                billing_unit=row["billing_unit"],
                category=row["category"],
                hormonal=_as_bool(row["hormonal"]),
                vaccine_kind=row["vaccine_kind"],
                electrolyte=_as_bool(row["electrolyte"]),
                container=row["container"],
                opps_status=row["opps_status"],
                ndcs=_split(row["ndcs"]),
                ndc_required=_as_bool(row["ndc_required"]),
                unclassified=_as_bool(row["unclassified"]),
                price=Decimal(row["price"]),
            )
            drugs[drug.hcpcs] = drug
            for name in (drug.name, *drug.synonyms):
                drug_names.setdefault(name.casefold(), drug.hcpcs)
        revenue = {row["key"]: row["revenue_code"] for _, row in self._rows("revenue_codes", day)}
        for key, default in DEFAULT_REVENUE_CODES.items():
            revenue.setdefault(key, default)
        return RulesSnapshot(
            version=self.version,
            codes=codes,
            addon_primaries={addon: frozenset(primaries) for addon, primaries in addon_primaries.items()},
            ptp=ptp,
            drugs=drugs,
            drug_names=drug_names,
            modifiers={row["code"]: row["description"] for _, row in self._rows("modifiers", day)},
            icd10={row["code"]: row["description"] for _, row in self._rows("icd10", day)},
            payers=payers,
            default_payer=defaults[0],
            payer_notes=tuple((row["payer"], row["code"], row["note"]) for _, row in self._rows("payer_notes", day)),
            facility_places_of_service=frozenset(
                row["place_of_service"] for _, row in self._rows("facility_places_of_service", day)
            ),
            revenue_codes=revenue,
        )


# R18 defaults, used when the revenue_codes table lacks a key.
DEFAULT_REVENUE_CODES = {
    "administration": "0260",
    "chemo_iv": "0335",
    "chemo_injected": "0331",
    "drug_separately_payable": "0636",
    "drug_packaged": "0250",
    "iv_solution": "0258",
    "clinic_visit": "0510",
    "emergency": "0450",
    "pump": "0261",
}


def build_book(tables: dict[str, list[dict[str, str]]], version: str) -> RulesBook:
    """A RulesBook over TABLES (the shape read_tables returns); checks cross-table references on first use."""
    if not isinstance(tables, dict):
        raise SeedError("tables: expected a mapping of table name to rows")
    for table in TABLE_NAMES:
        if table not in tables:
            raise SeedError(f"{table}.csv: table missing")
        for index, row in enumerate(tables[table], start=2):
            for column in SCHEMAS[table]:
                if column not in row:
                    raise SeedError(f"{table}.csv: row {index}: column {column}: missing")
    book = RulesBook(tables, version)
    for boundary in book._boundaries:  # validate every period now, so a bad book fails at load time
        book.for_date(boundary)
    return book


def load_seed_book(directory: pathlib.Path | str = SEED_DIR) -> RulesBook:
    """The RulesBook of a seed directory (default: the shipped codebook/data)."""
    return build_book(read_tables(directory), read_version(directory))
