"""Assemble the ``checks`` block: validity and consistency of a read card, as data.

Nothing here changes a field: a failed check digit, a name that disagrees with its
code, or dates out of order are reported beside the fields (with warning codes),
and the fields stay as printed.
"""

from __future__ import annotations

from datetime import date

from .checks import (
    age_at,
    date_sanity,
    id_number_candidates,
    id_number_valid,
    is_permanent,
    parse_birth_date,
    parse_issue_date,
    parse_symbols,
    symbols_age_consistent,
)
from .names import NameDecision
from .schema import CardData, Checks, SymbolInfo, WarningInfo
from .types import CardView

__all__ = ["card_checks"]


def card_checks(
    data: CardData,
    view: CardView,
    name: NameDecision,
    title_permanent: bool | None,
    photocopy: bool,
    recaptured: bool,
    today: date,
) -> Checks:
    """The checks for one card; ``today`` is passed in so results never hide a clock."""
    warnings: list[WarningInfo] = []
    valid = id_number_valid(data.idNumber)
    if data.idNumber and not valid:
        warnings.append(WarningInfo(code="idNumberCheckFailed",
                                    message="the card number's check digit does not match"))
    if name.consistent is False:
        warnings.append(WarningInfo(code="nameCodeMismatch",
                                    message="the Chinese name and its commercial code line disagree"))
    if name.recovered:
        warnings.append(WarningInfo(
            code="nameRecoveredFromCode",
            message=f"{len(name.recovered)} Chinese character(s) were taken from the code line"))
    date_warnings = date_sanity(data.birthDate, data.firstIssuedDate, data.issuedDate, today)
    warnings += [WarningInfo(code=w.code, message=w.message) for w in date_warnings]
    birth = parse_birth_date(data.birthDate) if data.birthDate else None
    issued = parse_issue_date(data.issuedDate) if data.issuedDate else None
    sym = symbols_age_consistent(data.issuedCode, birth, issued)
    if sym is not None:
        warnings.append(WarningInfo(code=sym.code, message=sym.message))
    if recaptured:
        warnings.append(WarningInfo(code="screenRecapture",
                                    message="the image looks like a photo of a screen showing the card"))
    if photocopy:
        warnings.append(WarningInfo(code="photocopy", message="the image looks like a photocopy or greyscale copy"))
    return Checks(
        cardVersion=view.design,
        idNumberValid=valid,
        idNumberCandidates=id_number_candidates(data.idNumber) if data.idNumber and not valid else [],
        nameCodeConsistent=name.consistent,
        permanent=is_permanent(data.issuedCode, title_permanent),
        symbols=[SymbolInfo(symbol=s.symbol, meaning=s.meaning) for s in parse_symbols(data.issuedCode)],
        ageAtIssue=age_at(birth, issued),
        datesConsistent=not date_warnings if (birth or issued or data.firstIssuedDate) else None,
        layoutScore=round(view.score, 3),
        warnings=warnings,
    )
