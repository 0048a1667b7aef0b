"""One masking function for every phone number written in any format inside any text (Hypothesis)."""
from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hotline.privacy import mask_deep, mask_for, mask_phones_in, redact

DIGITS = st.text("0123456789", min_size=1, max_size=1)
# Text around a number: Chinese, letters, punctuation, but no digits (they would join the number).
FILLER = st.lists(st.sampled_from(list("联系电话请回我的手机号码是：，。 ()abcXYZ#") + ["\n", "号楼", "幸福路"]),
                  max_size=8).map("".join)
SEPS = st.sampled_from(["", " ", "-", ".", "\u3000", "－", "—"])


@st.composite
def mobile(draw):
    return "1" + draw(st.sampled_from("3456789")) + "".join(draw(DIGITS) for _ in range(9))


@st.composite
def landline(draw):
    area = draw(st.sampled_from(["010", "020", "021", "0571", "0755", "0851", "0398"]))
    local = draw(st.sampled_from("2345678")) + "".join(draw(DIGITS) for _ in range(draw(st.sampled_from([6, 7]))))
    return area + local


def group(number: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(number[i:i + n])
        i += n
    out.append(number[i:])
    return sep.join(p for p in out if p)


@st.composite
def written_mobile(draw):
    n = draw(mobile())
    sep = draw(SEPS)
    body = draw(st.sampled_from([n, group(n, [3, 4], sep), group(n, [3, 3], sep), group(n, [4, 3], sep)]))
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "+86-", "0086", "0086 ", "86", "(+86)"]))
    if prefix == "(+86)":
        prefix = "+86 "
    return n, prefix + body


@st.composite
def written_landline(draw):
    n = draw(landline())
    area, local = (n[:3], n[3:]) if n[:3] in ("010", "020", "021") else (n[:4], n[4:])
    sep = draw(SEPS)
    half = len(local) // 2
    local_w = draw(st.sampled_from([local, local[:half] + sep + local[half:]]))
    form = draw(st.sampled_from(["plain", "dash", "space", "brackets", "fullwidth", "intl", "intl0"]))
    text = {
        "plain": area + local_w, "dash": area + "-" + local_w, "space": area + " " + local_w,
        "brackets": f"({area}) {local_w}", "fullwidth": f"（{area}）{local_w}",
        "intl": f"+86 {area[1:]} {local_w}", "intl0": f"+86-{area[1:]}-{local_w}",
    }[form]  # fmt: skip
    return n, text


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


@settings(max_examples=300, deadline=None)
@given(written_mobile(), FILLER, FILLER)
@example(("13900001313", "13900001313"), "幸福路8号 联系人电话", "")
@example(("13812345678", "+86 138-1234-5678"), "", "")
def test_every_written_mobile_number_is_masked(number, before, after):
    n, written = number
    out = mask_phones_in(before + written + after)
    assert n not in digits_of(out) and n[3:7] not in digits_of(out).replace(n[:3] + n[-4:], "")
    assert n[:3] + "****" + n[-4:] in out
    assert before in out and after in out  # only the number changes


@settings(max_examples=300, deadline=None)
@given(written_landline(), FILLER, FILLER)
@example(("057188886666", "0571-88886666"), "请回电", "谢谢")
def test_every_written_landline_is_masked(number, before, after):
    n, written = number
    out = mask_phones_in(before + written + after)
    assert n not in digits_of(out) and n[1:] not in digits_of(out)
    assert "*" in out and out.endswith(after)


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list("0123456789-: 年月日号楼元")), max_size=12), FILLER)
def test_short_digit_runs_dates_and_amounts_stay(text, filler):
    # Fewer than 7 digits cannot be a number with its area code or a mobile.
    if len(digits_of(text)) < 7:
        assert mask_phones_in(filler + text) == filler + text


def test_dates_ticket_numbers_and_amounts_are_not_numbers():
    for text in ("2026-11-23 09:00:00", "2026-01-23T09:00:00", "工单 20261122-00017", "金额 5000元",
                 "幸福路8号3单元502室", "身份证后四位1234", "2026年11月23日"):
        assert mask_phones_in(text) == text


def test_views_are_masked_for_everybody_outside_the_center():
    view = {"content": "电话13812345678", "events": [{"note": "回拨0571-88886666", "after": {"address": "+86 139 0000 1313"}}]}
    masked = mask_for("unit", view)
    assert "13812345678" not in str(masked) and "88886666" not in str(masked) and "00001313" not in str(masked)
    assert mask_for("manager", view) == masked == mask_deep(view)
    for role in ("operator", "supervisor", "expert", "admin"):
        assert mask_for(role, view) == view


@settings(max_examples=200, deadline=None)
@given(written_mobile())
def test_a_log_line_never_shows_a_number_even_url_encoded(number):
    n, written = number
    from urllib.parse import quote, quote_plus

    for line in (f'"GET /api/v1/tickets?caller_phone={quote(written)} HTTP/1.1" 200',
                 f'"GET /api/v1/tickets?q={quote_plus("电话" + written)} HTTP/1.1" 200', f"call from {written}"):
        assert n not in digits_of(redact(line)), redact(line)


def test_secrets_never_reach_a_log_line():
    line = redact('GET /open311/v2/requests.json?api_key=hl_AbCdEfGh12345678&x=1 "Authorization: Bearer hl_tok3n_xyz12345" '
                  '{"username": "op1", "password": "demo12345"} Cookie: session=eyJ1c2VyX2lkIjoxfQ.abc.def')
    for secret in ("hl_AbCdEfGh12345678", "hl_tok3n_xyz12345", "demo12345", "eyJ1c2VyX2lkIjoxfQ"):
        assert secret not in line, line
    assert "op1" in line and "x=1" in line
