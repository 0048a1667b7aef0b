"""The rate report as an Excel workbook (openpyxl) or a PDF (reportlab), from ``rates.to_json``.

Excel: sheet 指标 (every rate: numerator, denominator, value as a percentage cell), 单位排名 (the
units' rates and composite score, ranked), 话务员 (operators' call figures), 趋势 (the daily series
when given). Values are numbers, not formulas, so any reader sees them without recalculating; text that
looks like a formula is written as text (``as_text``).

PDF fonts: a TrueType/OpenType CJK font is embedded when one is found (``HOTLINE_PDF_FONT``, or
WenQuanYi Micro Hei / Noto Sans CJK / Droid Sans Fallback at their Debian paths); otherwise the
PDF uses reportlab's built-in CID font STSong-Light (Adobe-GB1), which needs no font file — PDF
readers render it with their own Chinese font.
"""
from __future__ import annotations

import io
import os
from typing import Any

from scheduler.rates import RATE_FORMULAS, RATE_LABELS, RATES

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def _period(rep: dict[str, Any]) -> str:
    return rep.get("date") or f"{rep['start']} 至 {rep['end']}"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.2f}%"


# --------------------------------------------------------------------------- Excel
def to_xlsx(rep: dict[str, Any], trend: list[dict[str, Any]] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    head_font, head_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F5FA8")

    def header(ws, row: int, titles: list[str]) -> None:  # noqa: ANN001
        for i, t in enumerate(titles, 1):
            c = ws.cell(row=row, column=i, value=t)
            c.font, c.fill, c.alignment = head_font, head_fill, Alignment(horizontal="center")

    ws = wb.active
    ws.title = "指标"
    ws["A1"] = f"12345热线运行指标  {_period(rep)}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = f"统计时间 {rep['computed_at']}"
    header(ws, 4, ["指标", "代码", "分子", "分母", "比率", "分子含义", "分母含义"])
    for i, k in enumerate(RATES, 5):
        r = rep["rates"][k]
        ws.append([RATE_LABELS[k], k, r["numerator"], r["denominator"], r["value"], *RATE_FORMULAS[k]])
        ws.cell(row=i, column=5).number_format = "0.00%"
    for col, w in zip("ABCDEFG", (14, 30, 10, 10, 10, 16, 14)):
        ws.column_dimensions[col].width = w

    ws = wb.create_sheet("单位排名")
    unit_rates = [k for k in RATES if k not in ("connection_rate", "answered_in_15s_rate", "first_contact_resolution_rate")]
    titles = ["排名", "单位编码", "单位名称", "综合得分"]
    for k in unit_rates:
        titles += [f"{RATE_LABELS[k]}分子", f"{RATE_LABELS[k]}分母", RATE_LABELS[k]]
    header(ws, 1, titles)
    for u in rep["units"]:
        row = [u.get("rank"), u["code"], u["name"], u["score"]]
        for k in unit_rates:
            r = u["rates"][k]
            row += [r["numerator"], r["denominator"], r["value"]]
        ws.append(row)
    for row in ws.iter_rows(min_row=2):
        row[3].number_format = "0.00%"
        for j in range(len(unit_rates)):
            row[4 + 3 * j + 2].number_format = "0.00%"
    ws.column_dimensions["C"].width = 22
    ws.freeze_panes = "D2"

    ws = wb.create_sheet("话务员")
    header(ws, 1, ["工号", "姓名", "人工接听量", "15秒内接听", "15秒接通率", "受理工单", "直接办结", "直接办结率"])
    for op in rep.get("operators", []):
        f, c = op["rates"]["answered_in_15s_rate"], op["rates"]["first_contact_resolution_rate"]
        ws.append([op["user_id"], op["name"], f["denominator"], f["numerator"], f["value"], c["denominator"],
                   c["numerator"], c["value"]])  # fmt: skip
    for row in ws.iter_rows(min_row=2):
        row[4].number_format = row[7].number_format = "0.00%"

    if trend:
        ws = wb.create_sheet("趋势")
        header(ws, 1, ["日期", *[RATE_LABELS[k] for k in RATES]])
        for day in trend:
            ws.append([day["date"], *[day["rates"][k]["value"] for k in RATES]])
        for row in ws.iter_rows(min_row=2):
            for c in row[1:]:
                c.number_format = "0.00%"
        for i in range(1, len(RATES) + 2):
            ws.column_dimensions[get_column_letter(i)].width = 12
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                as_text(cell)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# A text cell starting with one of these would be run as a formula by Excel or LibreOffice
# (formula injection, e.g. a unit or operator named "=HYPERLINK(...)"); tab and CR also start one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: Any) -> None:
    """Keep a string cell a string: openpyxl would store "=..." as a formula. The quote prefix is
    what Excel itself sets when one types '=... ."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True


# --------------------------------------------------------------------------- PDF
_FONT: str | None = None


def pdf_font() -> str:
    """Register (once) and return the name of a font that can write Chinese."""
    global _FONT
    if _FONT:
        return _FONT
    from reportlab.pdfbase import pdfmetrics

    path = os.environ.get("HOTLINE_PDF_FONT")
    for candidate in ([path] if path else []) + list(FONT_CANDIDATES):
        if candidate and os.path.exists(candidate):
            try:
                from reportlab.pdfbase.ttfonts import TTFont

                pdfmetrics.registerFont(TTFont("HotlineCJK", candidate, subfontIndex=0))
                _FONT = "HotlineCJK"
                return _FONT
            except Exception:  # noqa: BLE001 - an unusable file: try the next one
                continue
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    _FONT = "STSong-Light"
    return _FONT


def to_pdf(rep: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = pdf_font()
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=13)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=f"12345热线运行指标 {_period(rep)}")  # fmt: skip
    style = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1F5FA8")), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9AA7B8")), ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F2F5FA")]),
    ])  # fmt: skip
    story: list[Any] = [Paragraph(f"12345热线运行指标　{_period(rep)}", title),
                        Paragraph(f"统计时间 {rep['computed_at']}　比率 = 分子 / 分母", body), Spacer(1, 6 * mm)]  # fmt: skip
    rows = [["指标", "分子（含义）", "分母（含义）", "分子", "分母", "比率"]]
    for k in RATES:
        r = rep["rates"][k]
        rows.append([RATE_LABELS[k], RATE_FORMULAS[k][0], RATE_FORMULAS[k][1], r["numerator"], r["denominator"],
                     _pct(r["value"])])  # fmt: skip
    t = Table(rows, colWidths=[28 * mm, 34 * mm, 26 * mm, 24 * mm, 24 * mm, 24 * mm])
    t.setStyle(style)
    story += [t, Spacer(1, 8 * mm), Paragraph("单位排名（综合得分 = 响应率×10% + 解决率×45% + 满意率×45%）", body),
              Spacer(1, 3 * mm)]  # fmt: skip
    rows = [["排名", "单位", "综合得分", "响应率", "按时办结率", "回访率", "满意率", "解决率"]]
    for u in rep["units"]:
        r = u["rates"]
        rows.append([u.get("rank") or "—", u["name"][:14], _pct(u["score"]),
                     *[f"{_pct(r[k]['value'])} ({r[k]['numerator']}/{r[k]['denominator']})" if r[k]["denominator"] else "—"
                       for k in ("response_rate", "on_time_completion_rate", "callback_rate", "satisfaction_rate",
                                 "resolution_rate")]])  # fmt: skip
    t = Table(rows, repeatRows=1, colWidths=[10 * mm, 32 * mm, 18 * mm] + [24 * mm] * 5)
    t.setStyle(TableStyle([*style.getCommands(), ("FONTSIZE", (0, 0), (-1, -1), 7)]))
    story.append(t)
    doc.build(story)
    return buf.getvalue()
