"""The roster: every student in one table that sorts by any column and filters by name or status, in the
page itself. Each row links to that student's report.html. The script only reorders and hides rows that
are already there; it never builds HTML, so no student text is ever parsed as markup.
"""
from __future__ import annotations

from urllib.parse import quote

from grader.items import ITEM_IDS
from grader.pages.html import TINTS, esc, long_text
from grader.result import Report

SHORT = {"pixel_shuffle": "shuffle", "pixel_unshuffle": "unshuffle", "cnn": "cnn", "sr": "sr"}
STATUSES = ("complete", "incomplete", "not graded")

SCRIPT = """(function(){
var table=document.getElementById('roster'),body=table.tBodies[0],heads=table.tHead.rows[0].cells;
var name=document.getElementById('filter-name'),status=document.getElementById('filter-status'),
    shown=document.getElementById('roster-count');
function key(row,i){var v=row.cells[i].getAttribute('data-v');if(v==='')return -Infinity;
  return isFinite(v)?parseFloat(v):v.toLowerCase();}
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener('click',function(){
  var asc=th.getAttribute('aria-sort')!=='ascending';
  Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
    if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);});
  rows.forEach(function(r){body.appendChild(r);});});});
function filter(){var q=name.value.trim().toLowerCase(),s=status.value,n=0;
  Array.prototype.forEach.call(body.rows,function(r){
    var ok=(!q||r.getAttribute('data-student').toLowerCase().indexOf(q)>=0)&&
           (!s||r.getAttribute('data-status')===s||(s==='flagged'&&r.getAttribute('data-flags')!=='0'));
    r.hidden=!ok;if(ok)n++;});
  shown.textContent=n+' of '+body.rows.length+' students shown';}
name.addEventListener('input',filter);status.addEventListener('change',filter);filter();})();"""

CSS = """#roster{width:100%}#roster th{cursor:pointer;font-size:12px;user-select:none;vertical-align:bottom}
#roster td{font-size:13px}#roster td:first-child{max-width:220px;overflow-wrap:anywhere}
#roster th[aria-sort=ascending]::after{content:' \\25B2'}#roster th[aria-sort=descending]::after{content:' \\25BC'}
#roster td.n{text-align:right}#roster pre{max-width:360px}.controls{margin:8px 0}.controls input{width:220px}"""


def _status(report: Report | None, error: str) -> str:
    if report is None:
        return "not graded"
    return "complete" if report.complete and not error else "incomplete"


def _cell(value: object, html: str, css: str = "", style: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    st = f' style="{style}"' if style else ""
    return f'<td data-v="{esc(value)}"{cls}{st}>{html}</td>'


def roster_html(entries: list[tuple[str, Report | None, str]], folders: dict[str, str]) -> str:
    """Controls + table. `entries`: (student, report or None, error); `folders`: student -> folder name of
    its report.html (relative to the summary); a student without one gets no link."""
    heads = [("student",)] + [(SHORT.get(i.split(".")[0], i), i.split(".")[1]) for i in ITEM_IDS] + \
            [("total",), ("status",), ("flags",), ("seconds",), ("device",)]
    titles = ["student id"] + list(ITEM_IDS) + ["total points", "status", "flags", "grading time", "device"]
    th = "".join(f'<th title="{esc(t)}">{"<br>".join(esc(w) for w in h)}</th>' for h, t in zip(heads, titles))
    rows = []
    for student, report, error in entries:
        status = _status(report, error)
        flags = report.flags if report else []
        folder = folders.get(student)
        link = f'<a href="{esc(quote(folder))}/report.html">{esc(student)}</a>' if folder and report else esc(student)
        cells = [_cell(student, link)]
        tests = {t.id: t for t in report.tests} if report else {}
        for item_id in ITEM_IDS:
            t = tests.get(item_id)
            cells.append(_cell(t.score if t else "", f"{t.score:g}" if t else "–", "n",
                               f"background:{TINTS.get(t.status, '#fff')}" if t else ""))
        total = report.score if report else 0.0
        cells.append(_cell(total, f"<b>{total:g}</b>" + (f"/{report.max_score:g}" if report else ""), "n"))
        why = f"<details><summary>why</summary>{long_text(error, 200)}</details>" if error else ""
        cells.append(_cell(status, esc(status) + why))
        flag_html = (f"<details><summary>{len(flags)} flag(s)</summary>"
                     + "".join(long_text(f, 200) for f in flags) + "</details>") if flags else ""
        cells.append(_cell(len(flags), flag_html, "n"))
        cells.append(_cell(f"{report.duration_s:.1f}" if report else "", f"{report.duration_s:.0f}" if report else "",
                           "n"))
        cells.append(_cell(report.device if report else "", esc(report.device) if report else ""))
        rows.append(f'<tr data-student="{esc(student)}" data-status="{esc(status)}" data-flags="{len(flags)}">'
                    + "".join(cells) + "</tr>")
    options = "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in STATUSES)
    return (f'<div class="controls"><label>Name <input id="filter-name" type="search" placeholder="filter by name">'
            f'</label> <label>Status <select id="filter-status"><option value="">all</option>{options}'
            f'<option value="flagged">flagged</option></select></label> <span id="roster-count" class="muted">'
            f'</span> <span class="muted">(click a column heading to sort)</span></div>'
            f'<table id="roster"><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
