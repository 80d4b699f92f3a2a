"""The page: inline CSS, images as base64 PNG data URIs, sortable tables through a small
inline script.  Nothing is fetched, so the file opens offline and as an email attachment.
"""

from __future__ import annotations

import base64
import re
import struct
from html import escape

from zoo.report.style import Plot

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto;
       max-width: 1200px; padding: 0 1em; color: #1a1a1a; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: .2em; }
.meta { color: #555; } .note { color: #8a4b00; }
table { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f0f3f7; position: sticky; top: 0; white-space: normal; vertical-align: bottom; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
tbody tr:nth-child(even) { background: #fafafa; }
td.reason { white-space: normal; max-width: 50em; min-width: 12em; overflow-wrap: anywhere; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 13px; margin-top: .3em; }
.scroll { overflow-x: auto; }
"""

# Sorts a table by the clicked column: numerically when the server marked the column as
# numeric (text cells such as "diverged" then always come last), else in natural order.
SORT_SCRIPT = """
(function () {
  function num(text) {
    var m = /^\\s*[-+]?(\\d+\\.?\\d*|\\.\\d+)(e[-+]?\\d+)?/i.exec(text);
    return m ? parseFloat(m[0]) : NaN;
  }
  function sortBy(table, th, col) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var down = th.getAttribute("aria-sort") === "ascending", sign = down ? -1 : 1;
    var numeric = th.getAttribute("data-type") === "number";
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      if (numeric) {
        var p = num(x), q = num(y);
        if (isNaN(p) || isNaN(q)) {
          if (isNaN(p) !== isNaN(q)) { return isNaN(p) ? 1 : -1; }
          return x.localeCompare(y);
        }
        return sign * (p - q);
      }
      return sign * x.localeCompare(y, undefined, {numeric: true});
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, th, col); } });
    });
  });
})();
"""

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", re.IGNORECASE)


def numeric_column(cells: list[str]) -> bool:
    """Numbers, possibly with placeholders such as 'diverged' or '-' (text with no digit):
    '0.9 ± 0.01' and '12.5' are numbers, 'resnet18' is not."""
    starts = [bool(_NUMBER.match(c)) for c in cells]
    return any(starts) and all(s or not any(ch.isdigit() for ch in c) for s, c in zip(starts, cells))


def table(headers: list[str], rows: list[list[str]], *, table_id: str, sortable: bool = True,
          wide: tuple[str, ...] = ()) -> str:
    numeric = [numeric_column([row[i] for row in rows]) for i in range(len(headers))]
    marks = [' data-type="number"' if n else "" for n in numeric]
    head = "".join(f'<th scope="col"{m}>{escape(h)}</th>' for h, m in zip(headers, marks))
    body = "\n".join("<tr>" + "".join(
        f'<td class="{"num" if n else ("reason" if h in wide else "text")}">{escape(str(c))}</td>'
        for c, n, h in zip(row, numeric, headers)) + "</tr>" for row in rows)
    classes = "sortable" if sortable else "plain"
    return (f'<div class="scroll"><table id="{table_id}" class="{classes}">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG header, so the page reserves the space before decoding."""
    return struct.unpack(">II", data[16:24])


def figure(plot: Plot) -> str:
    """The PNG, its caption and, beside it, what it shows as JSON (zoo.report.figure_data)."""
    from zoo.report.figure_data import to_json

    width, height = png_size(plot.png)
    source = base64.b64encode(plot.png).decode("ascii")
    return (f'<figure id="fig-{plot.name}"><img src="data:image/png;base64,{source}" '
            f'alt="{escape(plot.title)}" width="{width}" height="{height}">'
            f"<figcaption><b>{escape(plot.title)}.</b> {escape(plot.caption)}</figcaption>"
            f'<script type="application/json" id="data-{plot.name}" class="figure-data">'
            f"{to_json(plot.data)}</script></figure>")


def page(title: str, blocks: list[str]) -> str:
    body = "\n".join(blocks)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"{body}\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n")


def heading(text: str, level: int = 2, anchor: str = "") -> str:
    anchor_attr = f' id="{anchor}"' if anchor else ""
    return f"<h{level}{anchor_attr}>{escape(text)}</h{level}>"


def paragraph(text: str, cls: str = "") -> str:
    """A paragraph of plain text in which `command` is shown as code."""
    inner = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
    return f'<p class="{cls}">{inner}</p>' if cls else f"<p>{inner}</p>"
