"""A notice as tables: the same rows on its page, in its XLSX workbook (one sheet per table) and CSV.

Tables are built from the notice's frozen content (already narrowed to the reader by
``content_for``), so every format shows the same figures. Titles and column labels are
translated for the reader; cells are plain values (numbers stay numbers in the workbook).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from gridops.cases.forms import STATE_LABELS
from gridops.cases.states import State
from gridops.evaluation.scores import GRADE_LABELS
from gridops.supervision.serializers import STAGE_LABELS

KIND_LABELS = {
    "weekly": _l("Weekly supervision"),
    "monthly": _l("Monthly notice"),
    "quarterly": _l("Quarterly review"),
}
STATUS_LABELS = {"draft": _l("Draft"), "published": _l("Published")}
NINE_WORD_LABELS = {
    "净": _l("clean"), "绿": _l("green"), "亮": _l("lit"), "齐": _l("tidy"), "便": _l("convenient"),
    "美": _l("beautiful"), "通": _l("passable"), "平": _l("flat"), "清": _l("clear water"),
}
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass
class Table:
    """One titled table of a notice."""

    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    #: Shown when there are no rows.
    empty: str = ""

    @property
    def numeric(self) -> list[bool]:
        """Per column: it holds numbers (right-aligned on the page)."""
        return [
            any(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in self.rows)
            for i in range(len(self.columns))
        ]


def notice_title(notice) -> str:
    scope = notice.content.get("scope", {}).get("name") or _("city")
    return _("%(kind)s %(period)s · %(scope)s", kind=KIND_LABELS[notice.kind], period=notice.period_key, scope=scope)


def _local(value: str | None) -> str:
    if not value:
        return ""
    zone = ZoneInfo(current_app.config["GRIDOPS_TIMEZONE"])
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _state(value: str) -> str:
    try:
        return str(STATE_LABELS[State(value)])
    except (ValueError, KeyError):
        return value


def _yes(value: bool) -> str:
    return _("yes") if value else ""


def _level3(row: dict) -> str:
    """The stages a listed case is stuck in at level 3 (a notice made before stages were named: yes/no)."""
    if "level3_stages" not in row:
        return _yes(row["level3"])
    return " / ".join(str(STAGE_LABELS.get(stage, stage)) for stage in row["level3_stages"])


def _case_table(key: str, title: str, rows: list[dict], empty: str) -> Table:
    table = Table(
        key, title,
        [_("Case number"), _("Small class"), _("Area"), _("Address"), _("State"), _("Due"),
         _("Hours overdue"), _("Level 3 at stage"), _("Supervised")],
        empty=empty,
    )
    for row in rows:
        table.rows.append([
            row["number"], row["small_class"], f"{row['area_name'] or ''} {row['area_code'] or ''}".strip(),
            row["address"], _state(row["state"]), _local(row["due_at"]),
            row["overdue_hours"] if row["overdue_hours"] and row["overdue_hours"] > 0 else None,
            _level3(row), _yes(row["supervised"]),
        ])
    return table


def _unit_name(entry: dict) -> str:
    return entry["unit_name"] or _("Not yet with a unit (centre)")


def weekly_tables(content: dict) -> list[Table]:
    totals = content["totals"]
    tables = [Table("totals", _("Summary"), [_("Overdue cases"), _("Of which level 3"), _("Supervised cases")],
                    [[totals["overdue"], totals["level3"], totals["supervised"]]])]
    for entry in content["units"]:
        name = _unit_name(entry)
        if entry["overdue"]:
            tables.append(_case_table(f"overdue-{entry['unit_id']}", _("Overdue cases: %(unit)s", unit=name),
                                      entry["overdue"], ""))
        if entry["supervised"]:
            tables.append(_case_table(f"supervised-{entry['unit_id']}",
                                      _("Supervised cases: %(unit)s", unit=name), entry["supervised"], ""))
    figures = Table("unit_figures", _("The week's figures by unit"), _ranking_columns(), empty=_("No figures."))
    figures.rows = [
        _ranking_row({**entry["figures"], "label": _unit_name(entry)})
        for entry in content["units"] if entry.get("figures")
    ]
    tables.insert(1, figures)
    tables.append(_spot_table("hot_spots", _("Hot spots"), content["hot_spots"], with_new=True,
                              empty=_("No unit grid had %(n)d reports of one class.",
                                      n=content["settings"]["hot_spot_min_reports"])))
    return tables


def _spot_table(key: str, title: str, spots: list[dict], *, with_new: bool, empty: str) -> Table:
    columns = [_("Unit grid"), _("Grid code"), _("Small class"), _("Nine words"), _("Reports")]
    if with_new:
        columns.append(_("New this period"))
    table = Table(key, title, columns, empty=empty)
    for spot in spots:
        row = [spot["grid_name"], spot["grid_code"], spot["small_class"], spot["nine_word"] or "", spot["reports"]]
        if with_new:
            row.append(_yes(spot["new"]))
        table.rows.append(row)
    return table


def _unit_count_table(key: str, title: str, rows: list[dict], label: str) -> Table:
    table = Table(key, title, [_("Unit"), _("Unit code"), label, _("Cases")], empty=_("None."))
    for row in rows:
        table.rows.append([row["unit_name"], row["unit_code"], row["total"], row["cases"]])
    return table


def quarterly_tables(content: dict) -> list[Table]:
    months = Table("months", _("Reports per month and nine-word dimension"),
                   [_("Month")] + [f"{w} {NINE_WORD_LABELS[w]}" for w in _words(content)])
    for month in content["months"]:
        months.rows.append([month["period"]] + [row["reports"] for row in month["nine_words"]])
    tables = []
    if content.get("city"):
        city = Table("city", _("City figures"), _ranking_columns()[1:])
        city.rows.append(_ranking_row(content["city"])[1:])
        tables.append(city)
    return tables + [
        _trend_table(content["trend"]),
        _spot_table("recurring", _("Recurring problems"), content["recurring"], with_new=False,
                    empty=_("No small class came back %(n)d times in one unit grid.",
                            n=content["settings"]["recurring_min_reports"])),
        _unit_count_table("rework", _("Rework by unit"), content["rework"], _("Rework")),
        _unit_count_table("extensions", _("Extensions by unit"), content["extensions"], _("Extensions")),
        months,
    ]


GROUP_LABELS = {
    "district": _l("districts"), "subdistrict": _l("subdistricts"), "community": _l("communities"),
    "grid": _l("unit grids"), "unit": _l("handling units"), "city": _l("city"),
}


def percent(rate: float | None) -> float | None:
    """A 0–1 rate as a percentage with one decimal."""
    return None if rate is None else round(rate * 100, 1)


def _change(changes: dict | None, name: str, *, rate: bool = False) -> float | None:
    if not changes or changes.get(name) is None:
        return None
    return round(changes[name] * 100, 1) if rate else changes[name]


def _grade(grade: str | None) -> str:
    return str(GRADE_LABELS[grade]) if grade else ""


def _ranking_columns() -> list[str]:
    return [
        _("Rank"), _("Name"), _("Score"), _("Grade"), _("On-time closure rate (%)"), _("Closure rate (%)"),
        _("Due"), _("Closed"), _("Rework"), _("Overdue open"), _("Score change MoM"), _("Score change YoY"),
        _("On-time rate change MoM (points)"), _("On-time rate change YoY (points)"),
    ]


def _ranking_row(row: dict) -> list:
    rank = f"{row['rank']}/{row['rank_of']}" if row["rank"] is not None else ""
    return [
        rank, row["label"], row["score"], _grade(row["grade"]), percent(row["on_time_closure_rate"]),
        percent(row["closure_rate"]), row["due"], row["closures"], row["rework_count"], row["overdue_open"],
        _change(row["previous"], "score"), _change(row["last_year"], "score"),
        _change(row["previous"], "on_time_closure_rate", rate=True),
        _change(row["last_year"], "on_time_closure_rate", rate=True),
    ]


def monthly_tables(content: dict) -> list[Table]:
    tables = []
    if content.get("city"):
        city = Table("city", _("City figures"), _ranking_columns()[1:])
        city.rows.append(_ranking_row(content["city"])[1:])
        tables.append(city)
    for group in content["groups"]:
        label = GROUP_LABELS.get(group["group_by"], group["group_by"])
        ranking = Table(f"ranking-{group['group_by']}", _("Ranking of %(group)s", group=label), _ranking_columns(),
                        empty=_("No figures."))
        ranking.rows = [_ranking_row(r) for r in group["rows"]]
        tables.append(ranking)
        for key, title, rows in (
            ("best", _("Best %(group)s", group=label), group["best"]),
            ("worst", _("Worst %(group)s", group=label), group["worst"]),
        ):
            table = Table(f"{key}-{group['group_by']}", title,
                          [_("Name"), _("Score"), _("Grade"), _("On-time closure rate (%)")], empty=_("No figures."))
            table.rows = [[r["label"], r["score"], _grade(r["grade"]), percent(r["on_time_closure_rate"])] for r in rows]
            tables.append(table)
    tables.append(_trend_table(content["trend"]))
    return tables


def _trend_table(trend: list[dict]) -> Table:
    table = Table("trend", _("Trend"), [_("Period"), _("Reports"), _("Closed"), _("Closure rate (%)"),
                                        _("On-time closure rate (%)"), _("Score")])
    table.rows = [[t["period"], t["reports"], t["closures"], percent(t["closure_rate"]),
                   percent(t["on_time_closure_rate"]), t["score"]] for t in trend]
    return table


def _words(content: dict) -> list[str]:
    return [row["word"] for row in content["nine_words"]]


def common_tables(content: dict) -> list[Table]:
    words = Table("nine_words", _("Nine-word dimensions"), [_("Dimension"), _("Reports"), _("Closed")])
    for row in content["nine_words"]:
        words.rows.append([f"{row['word']} {NINE_WORD_LABELS[row['word']]}", row["reports"], row["closed"]])
    campaigns = Table(
        "campaigns", _("Special campaigns"),
        [_("Campaign"), _("From"), _("To"), _("Found"), _("Closed"), _("Target"), _("Completion rate (%)")],
        empty=_("No special campaign ran in this period."),
    )
    for row in content["campaigns"]:
        campaigns.rows.append([row["name"], row["starts_on"], row["ends_on"], row["found"], row["closed"],
                               row["target"], row["completion_rate"]])
    return [words, campaigns]


def notice_tables(notice, content: dict) -> list[Table]:
    """Every table of the notice, in reading order."""
    kind_tables = {"weekly": weekly_tables, "monthly": monthly_tables, "quarterly": quarterly_tables}
    return kind_tables[notice.kind](content) + common_tables(content)


def _cell(value):
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if _FORMULA_START.match(value):
            return "'" + value
    return value


def notice_csv(notice, tables: list[Table]) -> str:
    """The tables one after another, each under its title, separated by an empty line (UTF-8 BOM)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([_cell(notice_title(notice))])
    for table in tables:
        writer.writerow([])
        writer.writerow([_cell(table.title)])
        writer.writerow([_cell(c) for c in table.columns])
        for row in table.rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
    return buffer.getvalue()


def notice_xlsx(notice, tables: list[Table]) -> bytes:
    """A workbook with one sheet per table (titled, bold header row)."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    used: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(_sheet_name(table.title, used))
        sheet.append([_cell(table.title)])
        sheet["A1"].font = bold
        sheet.append([_cell(c) for c in table.columns])
        for cell in sheet[2]:
            cell.font = bold
        for row in table.rows:
            sheet.append([_cell(v) for v in row])
        for index, column in enumerate(table.columns, 1):
            width = max([len(str(column))] + [len(str(r[index - 1] or "")) for r in table.rows])
            sheet.column_dimensions[sheet.cell(row=2, column=index).column_letter].width = min(60, width + 4)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    """A valid, unique sheet name (31 characters at most, no []:*?/\\)."""
    base = _SHEET_NAME_BAD.sub(" ", title).strip()[:28] or "sheet"
    name, n = base, 2
    while name.lower() in used:
        name = f"{base[:26]} {n}"
        n += 1
    used.add(name.lower())
    return name
