"""HL7 v2.5 DFT^P03 (post detail financial transactions) for an export batch, built with hl7apy.

One message per encounter; one FT1 segment per charge line (in a DFT_P03_FINANCIAL group):

    MSH-9   DFT^P03^DFT_P03             MSH-10 <batch>-<encounter>   MSH-12 2.5
    EVN-1   P03
    PID-3   MRN^^^<center>^MR           PID-5  family^given (the name as documented)
    PV1-2   O (outpatient)              PV1-19 visit number
    FT1-1   set id                      FT1-2  line id        FT1-3  batch number
    FT1-4   date of service (YYYYMMDD)  FT1-6  CG charge / CD credit (INT-01: credits keep positive
    FT1-7   code^description (the charge item; our chargemaster keys on the code)    units)
    FT1-10  units                       FT1-11 extended amount  FT1-12 unit amount
    FT1-13  revenue code (facility)     FT1-19 diagnoses (ICD-10, first-listed first, ~ repeated)
    FT1-25  CPT/HCPCS code              FT1-26 modifiers (~ repeated)

Segments end with CR; in a batch file each message ends with CR LF, so a line reader splits the
file into messages. The tests parse each message back with hl7apy at STRICT validation against
the v2.5 DFT_P03 structure. Pure: takes plain dicts, no database.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message

from reports.rows import CREDIT

HL7_VERSION = "2.5"
SENDING_APPLICATION = "INFUSIONCHARGES"
RECEIVING_APPLICATION = "BILLING"
TRANSACTION_TYPE = {"charge": "CG", CREDIT: "CD"}
MESSAGE_SEPARATOR = "\r\n"

# HL7 escape sequences for the delimiters in free text (v2.5 section 2.7.4).
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def hl7_text(value: Any) -> str:
    """Free text made safe inside one component: delimiters escaped, line breaks to spaces."""
    text = " ".join(str(value or "").split())
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def hl7_date(day: datetime.date) -> str:
    return day.strftime("%Y%m%d")


def hl7_timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S") + "+0000"


def _money(value: Any) -> str:
    return format(Decimal(value or 0).quantize(Decimal("0.01")), "f")


def _code_system(code: str) -> str:
    """HL7 table 0396: CPT-4 codes are five digits (or four digits and a letter), else HCPCS."""
    return "C4" if code[:4].isdigit() else "HCPCS"


def _person_name(name: str) -> str:
    """`Doe, Jane` -> `Doe^Jane`; a name without a comma goes whole into the family name."""
    family, sep, given = str(name or "").partition(",")
    if sep:
        return f"{hl7_text(family.strip())}^{hl7_text(given.strip())}"
    return hl7_text(name)


def build_message(
    *,
    encounter: dict[str, Any],
    lines: list[dict[str, Any]],
    batch_number: int | str,
    sending_facility: str,
    created_at: datetime.datetime,
) -> Message:
    """One DFT^P03 message for one encounter and its lines (at least one).

    `encounter`: id, mrn, patient_name, visit_number, diagnoses (list of ICD-10 codes), center.
    `lines`: line (id), service_date (date), transaction (charge/credit), code, description,
    units (positive), amount and unit_price (positive), revenue_code, modifiers (list).
    """
    if not lines:
        raise ValueError("a DFT^P03 message needs at least one FT1 line")
    msg = Message("DFT_P03", version=HL7_VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    msg.msh.msh_3 = SENDING_APPLICATION
    msg.msh.msh_4 = hl7_text(sending_facility)
    msg.msh.msh_5 = RECEIVING_APPLICATION
    msg.msh.msh_7 = hl7_timestamp(created_at)
    msg.msh.msh_9 = "DFT^P03^DFT_P03"
    msg.msh.msh_10 = f"B{batch_number}-E{encounter['id']}"
    msg.msh.msh_11 = "P"
    msg.msh.msh_12 = HL7_VERSION

    msg.evn.evn_1 = "P03"
    msg.evn.evn_2 = hl7_timestamp(created_at)

    msg.pid.pid_1 = "1"
    msg.pid.pid_3 = f"{hl7_text(encounter['mrn'])}^^^{hl7_text(sending_facility)}^MR"
    msg.pid.pid_5 = _person_name(encounter.get("patient_name", ""))

    msg.pv1.pv1_1 = "1"
    msg.pv1.pv1_2 = "O"
    if encounter.get("visit_number"):
        msg.pv1.pv1_19 = hl7_text(encounter["visit_number"])

    diagnoses = [f"{hl7_text(code)}^^I10" for code in encounter.get("diagnoses") or [] if code]
    for index, line in enumerate(lines, start=1):
        financial = msg.add_group("DFT_P03_FINANCIAL")
        ft1 = financial.add_segment("FT1")
        ft1.ft1_1 = str(index)
        ft1.ft1_2 = str(line["line"])
        ft1.ft1_3 = str(batch_number)
        ft1.ft1_4 = hl7_date(line["service_date"])
        ft1.ft1_6 = TRANSACTION_TYPE[line["transaction"]]
        code = hl7_text(line["code"])
        ft1.ft1_7 = f"{code}^{hl7_text(line.get('description', ''))}^{_code_system(code)}"
        ft1.ft1_10 = str(int(line["units"]))
        if line.get("amount") is not None:
            ft1.ft1_11 = f"{_money(line['amount'])}&USD"
        if line.get("unit_price") is not None:
            ft1.ft1_12 = f"{_money(line['unit_price'])}&USD"
        if line.get("revenue_code"):
            ft1.ft1_13 = hl7_text(line["revenue_code"])
        for diagnosis in diagnoses:
            ft1.add_field("ft1_19").value = diagnosis
        ft1.ft1_25 = f"{code}^^{_code_system(code)}"
        for modifier in line.get("modifiers") or []:
            if modifier:
                ft1.add_field("ft1_26").value = hl7_text(modifier)
    return msg


def encode_batch(messages: Iterable[Message]) -> str:
    """The batch file: each message's segments joined by CR, messages ended by CR LF."""
    return "".join(message.to_er7() + MESSAGE_SEPARATOR for message in messages)


def group_by_encounter(rows: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Report rows (ordered by encounter) -> [(encounter, its lines)], keeping the order."""
    groups: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for row in rows:
        key = row["encounter"]
        if key not in groups:
            groups[key] = (
                {
                    "id": key,
                    "mrn": row["mrn"],
                    "patient_name": row["patient_name"],
                    "visit_number": row["visit_number"],
                    "diagnoses": row.get("diagnosis_list") or str(row.get("diagnoses") or "").split(),
                },
                [],
            )
        line = dict(row)
        # report rows carry signed values; HL7 carries the stored positive ones with CG/CD
        line["units"] = abs(int(row["units"]))
        line["amount"] = abs(Decimal(row["amount"])) if row.get("amount") is not None else None
        line["modifiers"] = row.get("modifier_list") or str(row.get("modifiers") or "").split()
        groups[key][1].append(line)
    return list(groups.values())


def batch_hl7(
    rows: Iterable[dict[str, Any]], *, batch_number: int | str, sending_facility: str, created_at: datetime.datetime
) -> str:
    """The HL7 file of a batch from its report rows."""
    messages = [
        build_message(
            encounter=encounter,
            lines=lines,
            batch_number=batch_number,
            sending_facility=sending_facility,
            created_at=created_at,
        )
        for encounter, lines in group_by_encounter(rows)
    ]
    return encode_batch(messages)


def write_atomically(directory: Path | str, filename: str, content: bytes) -> Path:
    """Writes `content` to `directory/filename` through a temporary file in the same directory, then
    renames it, so a reader polling the outbox never sees a half-written file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        target = directory / filename
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return target
