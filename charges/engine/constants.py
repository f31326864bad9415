"""Named thresholds and code tables of coding-rules.md (version 2); every rule module takes its numbers from here.

Sources (coding-rules-reference.md): section 2 and 3.2 (push/infusion 15/16 minutes, hydration 31 minutes,
additional hours past 30 minutes into the next hour [S5][S24][S36][S38]), 3.5 (overlaps [S25][S27]),
3.6 (96376 more than 30 minutes [S35][S67]), section P of coding-rules.md for payer defaults.
"""

# R1: an infusion of 15 minutes or fewer is a push; 16 or more an infusion.
PUSH_MAX_MINUTES = 15
INFUSION_MIN_MINUTES = 16
LONG_PUSH_OVER_MINUTES = 15

# R3/R4: hydration needs 31 countable minutes.
HYDRATION_MIN_MINUTES = 31

# R10/R11: additional-hour units at 91, 151, 211, ... billable minutes: floor((T - 31) / 60).
ADDL_HOUR_OFFSET = 31
MINUTES_PER_HOUR = 60
FIRST_ADDL_HOUR_MINUTE = ADDL_HOUR_OFFSET + MINUTES_PER_HOUR  # 91: the minute the first additional hour is earned

# R6: same-drug infusions that overlap, touch or are at most this many minutes apart are one infusion.
SAME_DRUG_MAX_GAP = 10
# R6: concurrent when the overlap with the placed infusions is at least 16 minutes and at most 15 run outside.
CONCURRENT_MIN_OVERLAP = 16
CONCURRENT_MAX_OUTSIDE = 15

# R13: a repeat push of the same drug is 96376 only when more than 30 minutes after the prior reported push.
REPEAT_PUSH_MIN_GAP = 30

# R14: injections of the same drug by the same route within 10 minutes are one split dose.
SPLIT_DOSE_MAX_GAP = 10

# Ranks (Conventions), highest first.
RANK_CHEMO_INFUSION = 1
RANK_CHEMO_PUSH = 2
RANK_THERAPEUTIC_INFUSION = 3
RANK_THERAPEUTIC_PUSH = 4
RANK_HYDRATION = 5

# R9-R12 codes.
INITIAL_CODES = {
    RANK_CHEMO_INFUSION: "96413",
    RANK_CHEMO_PUSH: "96409",
    RANK_THERAPEUTIC_INFUSION: "96365",
    RANK_THERAPEUTIC_PUSH: "96374",
    RANK_HYDRATION: "96360",
}
SEQUENTIAL_CODES = {
    RANK_CHEMO_INFUSION: "96417",
    RANK_CHEMO_PUSH: "96411",
    RANK_THERAPEUTIC_INFUSION: "96367",
    RANK_THERAPEUTIC_PUSH: "96375",
    RANK_HYDRATION: "96361",
}
HOUR_CODES = {RANK_CHEMO_INFUSION: "96415", RANK_THERAPEUTIC_INFUSION: "96366", RANK_HYDRATION: "96361"}
CONCURRENT_THERAPEUTIC = "96368"
CONCURRENT_CHEMO_UNLISTED = "96549"
REPEAT_PUSH_CODE = "96376"
SC_INFUSION_INITIAL, SC_INFUSION_HOUR, SC_INFUSION_NEW_SITE = "96369", "96370", "96371"
IA_INFUSION_INITIAL, IA_INFUSION_HOUR = "96422", "96423"

# R14 stand-alone codes.
INJECTION_THERAPEUTIC, INJECTION_CHEMO, INJECTION_CHEMO_HORMONAL = "96372", "96401", "96402"
IA_PUSH_THERAPEUTIC, IA_PUSH_CHEMO = "96373", "96420"
CHEMO_INTRALESIONAL, CHEMO_INTRATHECAL = "96405", "96450"
VACCINE_FIRST_DEFAULT, VACCINE_ADDITIONAL_DEFAULT = "90471", "90472"

# R15.
PUMP_CHEMO, PUMP_CHEMO_IA, PUMP_G0498 = "96416", "96425", "G0498"
PUMP_REFILL_PORTABLE, PUMP_REFILL_IMPLANTED = "96521", "96522"
PORT_FLUSH, CATHETER_CLEARANCE, ON_BODY_INJECTOR = "96523", "36593", "96377"

# R17.
EM_BUNDLED = "99211"
EM_OFFICE_RANGE = ("99202", "99215")
EM_ED_RANGE = ("99281", "99285")
MODIFIER_EM = "25"

# R18.
DEPARTMENT_MODIFIERS = {"off_campus_excepted": "PO", "off_campus_non_excepted": "PN"}

# R19: units that convert (to the base unit of the family).
UNIT_FAMILIES = {
    "mg": ("mass", 1),
    "g": ("mass", 1000),
    "mcg": ("mass", "0.001"),
    "ml": ("volume", 1),
    "l": ("volume", 1000),
    "units": ("units", 1),
    "unit": ("units", 1),
    "meq": ("meq", 1),
    "dose": ("dose", 1),
}

SETTINGS = ("facility", "professional")
ROUTES = (
    "iv_infusion",
    "iv_push",
    "sc",
    "im",
    "sc_infusion",
    "intra_arterial",
    "intra_arterial_infusion",
    "intralesional",
    "intrathecal",
    "oral",
    "pump_prolonged",
    "pump_refill",
    "pump_disconnect",
    "port_flush",
    "catheter_clearance",
    "on_body_injector",
)
CATEGORIES = ("chemo", "therapeutic", "hydration")
BILLING_ENTITIES = ("hospital", "covered_entity", "practice")
DEPARTMENT_STATUSES = ("on_campus", "off_campus_excepted", "off_campus_non_excepted", "emergency")
ROUTES_WITHOUT_CATEGORY = frozenset({"oral", "port_flush", "pump_disconnect", "pump_refill", "catheter_clearance"})
