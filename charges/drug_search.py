"""Drug search as the nurse types: prefix, synonym and typo-tolerant matching over codebook names.

`search_drugs("ritux", catalog)`, `search_drugs("Rituxan", catalog)` and
`search_drugs("rituximb", catalog)` all find rituximab. Ranking is deterministic:
(match tier, edit distance, name, HCPCS). Pure Python; `charges.selectors.drug_catalog()` supplies
the entries from the codebook.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

MIN_QUERY_LENGTH = 2
DEFAULT_LIMIT = 10

# tiers, best first
EXACT, PREFIX, WORD_PREFIX, SUBSTRING, FUZZY = range(5)


@dataclass(frozen=True, slots=True)
class DrugEntry:
    hcpcs: str
    name: str
    synonyms: tuple[str, ...] = ()
    billing_unit: str = ""
    billing_unit_amount: Decimal | None = None
    category: str = ""
    container: str = ""
    price: Decimal | None = None
    ingredient: str = ""


@dataclass(frozen=True, slots=True)
class DrugMatch:
    entry: DrugEntry
    matched: str  # the name or synonym that matched
    tier: int
    distance: int
    sort_key: tuple = field(compare=False, repr=False, default=())


def normalize(text: str) -> str:
    """Lower case, accents removed, runs of non-alphanumerics collapsed to one space."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def damerau_levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if limit is not None and abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[lb]


def _allowed_typos(query: str) -> int:
    n = len(query)
    if n < 4:
        return 0
    if n < 7:
        return 1
    return 2


def _score_term(query: str, term: str) -> tuple[int, int] | None:
    if not term:
        return None
    if term == query:
        return EXACT, 0
    if term.startswith(query):
        return PREFIX, 0
    words = term.split()
    if any(w.startswith(query) for w in words[1:]):
        return WORD_PREFIX, 0
    if len(query) >= 3 and query in term:
        return SUBSTRING, 0
    allowed = _allowed_typos(query)
    if not allowed:
        return None
    best: int | None = None
    candidates = {term, *words}
    for cand in list(candidates):
        # compare with the whole word and with its prefix of about the query's length
        for piece in {cand, cand[: len(query)], cand[: len(query) + 1], cand[: max(len(query) - 1, 1)]}:
            d = damerau_levenshtein(query, piece, allowed)
            if best is None or d < best:
                best = d
    if best is not None and best <= allowed:
        return FUZZY, best
    return None


def search_drugs(query: str, catalog: Iterable[DrugEntry], limit: int = DEFAULT_LIMIT) -> list[DrugMatch]:
    """The best matches for `query`, best first; an empty list for a query under 2 characters."""
    q = normalize(query)
    if len(q.replace(" ", "")) < MIN_QUERY_LENGTH:
        return []
    q_code = q.replace(" ", "").upper()
    results: list[DrugMatch] = []
    for entry in catalog:
        best: tuple[int, int, str] | None = None
        if entry.hcpcs and entry.hcpcs.upper() == q_code:
            best = (EXACT, 0, entry.hcpcs)
        for term in (entry.name, *entry.synonyms, *((entry.ingredient,) if entry.ingredient else ())):
            scored = _score_term(q, normalize(term))
            if scored is None:
                continue
            key = (scored[0], scored[1], term)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            continue
        sort_key = (best[0], best[1], normalize(entry.name), entry.hcpcs)
        results.append(DrugMatch(entry=entry, matched=best[2], tier=best[0], distance=best[1], sort_key=sort_key))
    results.sort(key=lambda m: m.sort_key)
    return results[:limit]


def exact_match(text: str, catalog: Iterable[DrugEntry]) -> DrugEntry | None:
    """The one entry whose name, synonym or HCPCS equals `text` (ignoring case and spacing), else None."""
    q = normalize(text)
    if not q:
        return None
    catalog = list(catalog)
    found: list[DrugEntry] = []
    for entry in catalog:
        terms = {normalize(t) for t in (entry.name, *entry.synonyms)} | {entry.hcpcs.lower()}
        if q in terms:
            found.append(entry)
    if len({e.hcpcs for e in found}) == 1:
        return found[0]
    if found:
        return None
    by_ingredient = [e for e in catalog if e.ingredient and normalize(e.ingredient) == q]
    if len({e.hcpcs for e in by_ingredient}) == 1:
        return by_ingredient[0]  # an ingredient with one code (several saline sizes stay ambiguous)
    return None
