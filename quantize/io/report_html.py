"""The HTML report of a batch: one self-contained page, written by the caller atomically.

:func:`render_report` turns a summary and one row per image (from
:mod:`quantize.run.report`) into the bytes of a page that needs nothing
else: its style, its script and its thumbnails (``data:`` URIs) are inside
it, and it links to the full-size inputs and outputs by relative paths.
It loads nothing from the network.

The summary is plain HTML. The rows are JSON in the page, and a short plain
script (no framework) draws one page of them at a time, sorted and filtered
as asked: the browser decodes only the thumbnails of the rows it shows, so
a page of thousands of images stays quick.
"""

from __future__ import annotations

import html
import json
import math

__all__ = ["render_report", "format_bytes"]


def format_bytes(n) -> str:
    """Bytes in decimal units, as the page shows them.

    Examples
    --------
    >>> format_bytes(999), format_bytes(1234), format_bytes(5_600_000)
    ('999 B', '1.2 kB', '5.6 MB')
    """
    if n is None:
        return "–"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} GB"  # not reached


def _psnr_text(value) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "exact"
    return f"{value:.2f} dB"


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _script_json(value) -> str:
    """JSON that can stand inside a ``<script>`` element (no ``</script>`` in it)."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _summary_html(summary: dict) -> str:
    counts = summary["counts"]
    parts = []
    files = (f"<b>{counts['done']}</b> done · <b>{counts['skipped']}</b> skipped · "
             f"<b class=\"{'bad' if counts['failed'] else ''}\">{counts['failed']}</b> failed")
    if counts["cancelled"] or summary.get("interrupted"):
        files += f" · <b>{counts['cancelled']}</b> not done"
    parts.append(("Files", f"{files}<small>{counts['total']} in all</small>", "files"))
    bytes_in, bytes_out = summary.get("bytes_in"), summary.get("bytes_out")
    if bytes_in:
        saving = 1.0 - bytes_out / bytes_in
        size = (f"{format_bytes(bytes_in)} → {format_bytes(bytes_out)}"
                f"<small>saved {format_bytes(bytes_in - bytes_out)} ({100 * saving:.1f}%) "
                f"over {summary['sized']} file(s)</small>")
    else:
        size = "–<small>no output to measure</small>"
    parts.append(("Bytes in → out", size, "bytes"))
    if summary.get("psnr_median") is not None:
        psnr = (f"median {_psnr_text(summary['psnr_median'])}<small>worst "
                f"{_psnr_text(summary['psnr_worst'])}: {_esc(summary['worst_name'])}</small>")
    else:
        psnr = "–<small>no output measured</small>"
    parts.append(("PSNR", psnr, "psnr"))
    seconds = summary.get("seconds")
    when = f"{seconds:.2f} s" if seconds is not None else "–<small>not recorded</small>"
    if summary.get("interrupted"):
        when += "<small class=\"bad\">interrupted (Ctrl-C): the files not done are listed</small>"
    parts.append(("Time", when, "time"))
    if summary.get("exit_code") is not None:
        code = summary["exit_code"]
        parts.append(("Exit code", f"<b class=\"{'bad' if code else ''}\">{code}</b>", "exit"))
    cards = "".join(f'<div class="card" id="summary-{key}"><h2>{title}</h2><p>{body}</p></div>'
                    for title, body, key in parts)
    options = summary.get("options") or {}
    if options:
        items = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_option_text(v))}</td></tr>"
                        for k, v in options.items())
        cards += (f'<details class="options" id="summary-options"><summary>Options</summary>'
                  f"<table>{items}</table></details>")
    notes = "".join(f"<p class=\"note\">{_esc(n)}</p>" for n in summary.get("notes") or ())
    return f'<section class="summary">{cards}</section>{notes}'


def _option_text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def render_report(summary: dict, rows: list) -> bytes:
    """The page's bytes (UTF-8 HTML).

    Parameters
    ----------
    summary : dict
        From :func:`quantize.run.report.summarize`.
    rows : list of dict
        From :func:`quantize.run.report.report_row`, in input order.

    Returns
    -------
    bytes
        The same bytes for the same summary and rows.
    """
    title = _esc(summary.get("title") or "quantize batch")
    page = [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src 'self' data: file:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'\">\n",
        f"<title>{title}: report</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<header><h1>{title}</h1>{_summary_html(summary)}</header>\n",
        _CONTROLS,
        "<script type=\"application/json\" id=\"report-data\">",
        _script_json({"rows": rows}),
        "</script>\n<script>",
        _JS,
        "</script>\n</body>\n</html>\n",
    ]
    return "".join(page).encode("utf-8")


_CONTROLS = """<main>
<noscript><p class="note">The table of images needs JavaScript.</p></noscript>
<nav class="controls" aria-label="Find images">
<button type="button" id="show-failed">Failures <span id="failed-count"></span></button>
<button type="button" id="show-worst">Worst PSNR first</button>
<button type="button" id="show-all">All, in input order</button>
<label>Rows a page <select id="page-size"><option>25</option><option selected>50</option>
<option>100</option><option>250</option><option>1000</option></select></label>
<span class="pager"><button type="button" id="prev" aria-label="Previous page">‹</button>
<span id="page-info" aria-live="polite"></span>
<button type="button" id="next" aria-label="Next page">›</button></span>
</nav>
<p class="hint">Click a column's name to sort by it (again to reverse). Filter under it:
text matches anywhere; numbers take <code>&lt;30</code>, <code>&gt;=1000</code>,
<code>=16</code> or <code>20..30</code>. Click a thumbnail to compare the full-size files.
The crop is the 1:1 square where the error is largest, drawn at twice its size.</p>
<table id="images">
<thead><tr id="sort-row"></tr><tr id="filter-row"></tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="empty" class="note" hidden>No image matches the filters.</p>
</main>
<dialog id="compare" aria-labelledby="compare-title">
<form method="dialog" class="compare-head"><h2 id="compare-title"></h2>
<span><button type="button" id="compare-mode">Flip between them</button>
<button value="close" id="compare-close">Close</button></span></form>
<p class="note" id="compare-note"></p>
<div id="compare-body" class="side"></div>
</dialog>
"""

_CSS = """
:root{--fg:#1d2125;--muted:#5f6b76;--line:#d9dee3;--bg:#fff;--soft:#f4f6f8;--bad:#b3261e;
--ok:#1e6b35;--skip:#4a5a6a;--accent:#1f64b4;font:14px/1.4 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:var(--fg);background:var(--bg)}
body{margin:0;padding:16px 20px}
h1{font-size:20px;margin:0 0 12px}
h2{font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted);margin:0 0 4px}
.summary{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:170px;
background:var(--soft)}
.card p{margin:0;font-size:16px}.card small{display:block;font-size:12px;color:var(--muted)}
.bad{color:var(--bad)}
.options{border:1px solid var(--line);border-radius:8px;padding:8px 12px;max-width:520px}
.options summary{cursor:pointer;font-weight:600}
.options table{border-collapse:collapse;margin-top:6px;font-size:12px}
.options th{text-align:left;color:var(--muted);font-weight:500;padding:1px 12px 1px 0}
.note{color:var(--muted);font-size:13px}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:16px 0 4px}
.controls button,.compare-head button{font:inherit;padding:3px 10px;border:1px solid var(--line);
border-radius:6px;background:var(--soft);cursor:pointer}
.controls button:hover{border-color:var(--accent)}
.pager{margin-left:auto;display:flex;gap:6px;align-items:center}
.hint{font-size:12px;color:var(--muted);margin:4px 0 8px}
table#images{border-collapse:collapse;width:100%}
#images th{position:sticky;top:0;background:var(--bg);text-align:left;font-size:12px;
border-bottom:1px solid var(--line);padding:4px;vertical-align:bottom;z-index:1}
#filter-row th{top:26px}
#images th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer;
color:var(--fg);white-space:nowrap}
#images th[aria-sort=ascending] button::after{content:" ▲"}
#images th[aria-sort=descending] button::after{content:" ▼"}
#images th input{width:100%;min-width:34px;box-sizing:border-box;font:inherit;font-weight:400;
padding:2px 4px;border:1px solid var(--line);border-radius:4px}
#images th input.invalid{border-color:var(--bad)}
#images td{border-bottom:1px solid var(--line);padding:6px 4px;vertical-align:top}
#images td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;font-size:13px}
tr.failed{background:#fdf1f0}tr.cancelled{background:#f7f7f2}
.name{font-weight:600;overflow-wrap:anywhere;min-width:130px;max-width:240px}
.links a{margin-right:8px;font-size:12px}.dim{color:var(--muted);font-size:12px}
.pics{display:flex;gap:4px;align-items:flex-start;border:0;background:none;padding:0;
cursor:zoom-in}
.pics figure{margin:0;text-align:center}
.pics figcaption{font-size:11px;color:var(--muted)}
.thumb{max-width:96px;max-height:96px;display:block;background:
repeating-conic-gradient(#ddd 0 25%,#fff 0 50%) 0 0/12px 12px}
.crop{width:64px;height:64px;image-rendering:pixelated;display:block;border:1px solid var(--line)}
.swatch{display:flex;width:120px;height:18px;border:1px solid var(--line);border-radius:3px;
overflow:hidden;background:repeating-conic-gradient(#ddd 0 25%,#fff 0 50%) 0 0/8px 8px}
.swatch span{flex:1 1 0;min-width:1px}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;font-weight:600;
color:#fff;background:var(--skip)}
.badge.done{background:var(--ok)}.badge.failed{background:var(--bad)}
.badge.cancelled{background:#8a6d00}
.message{font-size:12px;color:var(--bad);min-width:150px;max-width:360px;overflow-wrap:anywhere;
margin-top:2px}
.warning{font-size:12px;color:#8a6d00}
dialog{max-width:96vw;max-height:94vh;border:1px solid var(--line);border-radius:8px;padding:12px}
dialog::backdrop{background:rgba(0,0,0,.45)}
.compare-head{display:flex;gap:16px;justify-content:space-between;align-items:center}
#compare-body{display:flex;flex-wrap:wrap;gap:12px;overflow:auto;max-height:80vh}
#compare-title{text-transform:none;letter-spacing:0;font-size:15px;color:var(--fg)}
#compare-body figure{margin:0}#compare-body figcaption{font-size:12px;color:var(--muted)}
#compare-body img{display:block;max-width:none}
#compare-body.flip figure.hidden{display:none}
#compare-body img.big-crop{width:256px;height:256px;image-rendering:pixelated}
"""

_JS = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const rows = data.rows;
  rows.forEach(function (r, i) {
    r.n = i + 1;
    r.saving = r.bytes_in && r.bytes_out != null ? 1 - r.bytes_out / r.bytes_in : null;
    r.psnr_key = r.mse === 0 ? Infinity : r.psnr;
  });
  const fmt = {
    num: function (v, digits) { return v == null ? "–" : v.toFixed(digits); },
    bytes: function (n) {
      if (n == null) return "–";
      const units = ["B", "kB", "MB", "GB"];
      let i = 0;
      while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
      return i === 0 ? n.toFixed(0) + " B" : n.toFixed(1) + " " + units[i];
    }
  };
  function text(r) {
    return [r.status, r.error, r.note].concat(r.warnings || []).filter(Boolean).join(" ");
  }
  // Every column: how it sorts and filters (value), and how a cell is drawn.
  const columns = [
    {key: "n", label: "#", type: "num", value: function (r) { return r.n; }, cell: "num",
     show: function (r) { return String(r.n); }},
    {key: "name", label: "Image", type: "text", value: function (r) { return r.name; }},
    {key: "thumbs", label: "Input · output"},
    {key: "crop", label: "Worst 1:1"},
    {key: "palette", label: "Palette", type: "text",
     value: function (r) { return r.preview ? r.preview.palette.join(" ") : ""; }},
    {key: "k", label: "k", type: "num", value: function (r) { return r.k; }, cell: "num",
     show: function (r) { return r.k == null ? "–" : String(r.k); }},
    {key: "psnr", label: "PSNR dB", type: "num", value: function (r) { return r.psnr_key; },
     cell: "num", show: function (r) { return r.mse === 0 ? "exact" : fmt.num(r.psnr, 2); }},
    {key: "mse", label: "MSE", type: "num", value: function (r) { return r.mse; }, cell: "num",
     show: function (r) { return fmt.num(r.mse, 2); }},
    {key: "delta_e_ok", label: "ΔE_OK", type: "num", value: function (r) { return r.delta_e_ok; },
     cell: "num", show: function (r) { return fmt.num(r.delta_e_ok, 4); }},
    {key: "bytes_in", label: "In", type: "num", value: function (r) { return r.bytes_in; },
     cell: "num", show: function (r) { return fmt.bytes(r.bytes_in); }},
    {key: "bytes_out", label: "Out", type: "num", value: function (r) { return r.bytes_out; },
     cell: "num", show: function (r) { return fmt.bytes(r.bytes_out); }},
    {key: "saving", label: "Saved %", type: "num",
     value: function (r) { return r.saving == null ? null : 100 * r.saving; }, cell: "num",
     show: function (r) { return r.saving == null ? "–" : (100 * r.saving).toFixed(1); }},
    {key: "seconds", label: "Seconds", type: "num", value: function (r) { return r.seconds; },
     cell: "num", show: function (r) { return fmt.num(r.seconds, 3); }},
    {key: "status", label: "Status", type: "text", value: text}
  ];
  const byKey = {};
  columns.forEach(function (c) { byKey[c.key] = c; });
  const state = {sort: null, descending: false, filters: {}, page: 0, size: 50};

  function numberTest(expr) {
    const m = /^\s*(<=|>=|<|>|=)?\s*(-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?)\s*$/i.exec(expr);
    if (m) {
      const x = parseFloat(m[2]);
      switch (m[1] || "=") {
        case "<": return function (v) { return v < x; };
        case "<=": return function (v) { return v <= x; };
        case ">": return function (v) { return v > x; };
        case ">=": return function (v) { return v >= x; };
        default: return function (v) { return v === x; };
      }
    }
    const range = /^\s*(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)\s*$/.exec(expr);
    if (range) {
      const lo = parseFloat(range[1]), hi = parseFloat(range[2]);
      if (!isNaN(lo) && !isNaN(hi)) return function (v) { return v >= lo && v <= hi; };
    }
    return null;
  }

  function visible() {
    const tests = [];
    Object.keys(state.filters).forEach(function (key) {
      const expr = state.filters[key].trim();
      if (!expr) return;
      const column = byKey[key];
      if (column.type === "num") {
        const test = numberTest(expr);
        if (test) tests.push(function (r) { const v = column.value(r); return v != null && test(v); });
      } else {
        const needle = expr.toLowerCase();
        tests.push(function (r) { return String(column.value(r) || "").toLowerCase().indexOf(needle) >= 0; });
      }
    });
    let out = rows.filter(function (r) { return tests.every(function (t) { return t(r); }); });
    if (state.sort) {
      const column = byKey[state.sort], sign = state.descending ? -1 : 1;
      out = out.slice().sort(function (a, b) {
        const va = column.value(a), vb = column.value(b);
        const na = va == null || va === "", nb = vb == null || vb === "";
        if (na || nb) return na === nb ? a.n - b.n : (na ? 1 : -1);  // no value: last
        let c = 0;
        if (column.type === "num") c = va < vb ? -1 : (va > vb ? 1 : 0);
        else c = String(va).localeCompare(String(vb));
        return c ? sign * c : a.n - b.n;
      });
    }
    return out;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function picture(src, cls, alt) {
    const img = el("img", {className: cls, alt: alt, loading: "lazy", decoding: "async"});
    img.src = src;
    return img;
  }

  function figure(img, caption) {
    return el("figure", {}, [img, el("figcaption", {text: caption})]);
  }

  function swatch(p) {
    const box = el("div", {className: "swatch", role: "img",
                           "aria-label": p.palette.length + " colours"});
    const total = (p.counts || []).reduce(function (a, b) { return a + b; }, 0);
    p.palette.forEach(function (colour, i) {
      const share = p.counts && total ? p.counts[i] / total : 1 / p.palette.length;
      const span = el("span", {title: colour + " · " + (100 * share).toFixed(1) + "%"});
      span.style.background = colour;
      span.style.flexGrow = String(share);
      box.appendChild(span);
    });
    return box;
  }

  function cell(column, r) {
    const td = el("td", {className: column.cell || "", "data-key": column.key});
    const p = r.preview;
    if (column.show) {
      td.textContent = column.show(r);
    } else if (column.key === "name") {
      td.appendChild(el("div", {className: "name", text: r.name}));
      const links = el("div", {className: "links"});
      if (r.output_href) links.appendChild(el("a", {href: r.output_href, text: "output"}));
      if (r.input_href) links.appendChild(el("a", {href: r.input_href, text: "input"}));
      td.appendChild(links);
      if (p) td.appendChild(el("div", {className: "dim", text: p.size[0] + " × " + p.size[1] + " px"}));
    } else if (column.key === "thumbs") {
      if (p) {
        const button = el("button", {type: "button", className: "pics",
                                     title: "Compare at full size"}, [
          figure(picture(p.thumb_in, "thumb", "input"), "input"),
          figure(picture(p.thumb_out, "thumb", "output"), "output")]);
        button.addEventListener("click", function () { compare(r); });
        td.appendChild(button);
      } else {
        td.appendChild(el("span", {className: "dim", text: r.note || "–"}));
      }
    } else if (column.key === "crop") {
      if (p) {
        const where = p.crop[2] + "×" + p.crop[3] + " px at (" + p.crop[0] + ", " + p.crop[1] + ")";
        td.appendChild(el("div", {className: "pics", title: where}, [
          figure(picture(p.crop_in, "crop", "input, " + where), "in"),
          figure(picture(p.crop_out, "crop", "output, " + where), "out")]));
      }
    } else if (column.key === "palette") {
      if (p && p.palette.length) {
        td.appendChild(swatch(p));
        td.appendChild(el("div", {className: "dim", text: p.palette.length + " colours"}));
      }
    } else if (column.key === "status") {
      let label = r.status;
      if (r.status === "failed") label += " · exit " + r.exit_code;
      td.appendChild(el("span", {className: "badge " + r.status, text: label}));
      if (r.error) td.appendChild(el("div", {className: "message", text: r.error}));
      (r.warnings || []).forEach(function (w) { td.appendChild(el("div", {className: "warning", text: w})); });
    }
    return td;
  }

  function render() {
    const list = visible();
    const pages = Math.max(1, Math.ceil(list.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * state.size;
    const slice = list.slice(start, start + state.size);
    const body = document.getElementById("rows");
    const fragment = document.createDocumentFragment();
    slice.forEach(function (r) {
      const tr = el("tr", {className: r.status, "data-n": r.n});
      columns.forEach(function (c) { tr.appendChild(cell(c, r)); });
      fragment.appendChild(tr);
    });
    body.replaceChildren(fragment);
    document.getElementById("empty").hidden = list.length > 0;
    const shown = list.length ? (start + 1) + "–" + (start + slice.length) : "0";
    document.getElementById("page-info").textContent = "rows " + shown + " of " + list.length +
      (list.length < rows.length ? " (of " + rows.length + ")" : "") +
      " · page " + (state.page + 1) + "/" + pages;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
    columns.forEach(function (c) {
      const th = document.getElementById("sort-" + c.key);
      if (state.sort === c.key) th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
  }

  function sortBy(key, descending) {
    state.sort = key;
    state.descending = !!descending;
    state.page = 0;
    render();
  }

  function setFilter(key, value) {
    state.filters[key] = value;
    const input = document.getElementById("filter-" + key);
    if (input) input.value = value;
  }

  const sortRow = document.getElementById("sort-row");
  const filterRow = document.getElementById("filter-row");
  columns.forEach(function (c) {
    const th = el("th", {id: "sort-" + c.key, scope: "col"});
    if (c.type) {
      const button = el("button", {type: "button", "data-key": c.key, text: c.label});
      button.addEventListener("click", function () {
        sortBy(c.key, state.sort === c.key ? !state.descending : false);
      });
      th.appendChild(button);
    } else {
      th.textContent = c.label;
    }
    sortRow.appendChild(th);
    const fth = el("th", {});
    if (c.type) {
      const input = el("input", {id: "filter-" + c.key, type: "search",
                                 "aria-label": "Filter " + c.label,
                                 placeholder: "filter"});
      input.addEventListener("input", function () {
        state.filters[c.key] = input.value;
        input.classList.toggle("invalid", c.type === "num" && input.value.trim() !== "" &&
                                          !numberTest(input.value));
        state.page = 0;
        render();
      });
      fth.appendChild(input);
    }
    filterRow.appendChild(fth);
  });

  const failed = rows.filter(function (r) { return r.status === "failed"; }).length;
  document.getElementById("failed-count").textContent = "(" + failed + ")";
  document.getElementById("show-failed").addEventListener("click", function () {
    setFilter("status", "failed");
    state.page = 0;
    render();
  });
  document.getElementById("show-worst").addEventListener("click", function () { sortBy("psnr", false); });
  document.getElementById("show-all").addEventListener("click", function () {
    Object.keys(state.filters).forEach(function (k) { setFilter(k, ""); });
    sortBy(null, false);
  });
  document.getElementById("page-size").addEventListener("change", function (e) {
    state.size = parseInt(e.target.value, 10);
    state.page = 0;
    render();
  });
  document.getElementById("prev").addEventListener("click", function () { state.page -= 1; render(); });
  document.getElementById("next").addEventListener("click", function () { state.page += 1; render(); });

  // The comparison: the full-size files side by side, or one over the other to flip.
  const dialog = document.getElementById("compare");
  const compareBody = document.getElementById("compare-body");
  const modeButton = document.getElementById("compare-mode");
  let flipped = false;
  function fullSize(href, fallback, caption, note) {
    const img = el("img", {alt: caption});
    img.addEventListener("error", function () {
      if (img.src !== fallback) {
        img.src = fallback;
        note.textContent = "A full-size file was not found (has the report or the files moved?); " +
                           "its thumbnail is shown.";
      }
    });
    img.src = href || fallback;
    return figure(img, caption);
  }
  function compare(r) {
    const p = r.preview;
    const note = document.getElementById("compare-note");
    note.textContent = "";
    document.getElementById("compare-title").textContent = r.name;
    flipped = false;
    compareBody.className = "side";
    modeButton.textContent = "Flip between them";
    const input = fullSize(r.input_href, p.thumb_in, "input", note);
    const output = fullSize(r.output_href, p.thumb_out, "output", note);
    const crops = el("figure", {}, [
      el("div", {}, [picture(p.crop_in, "big-crop", "input crop"), picture(p.crop_out, "big-crop", "output crop")]),
      el("figcaption", {text: "where the error is largest: input, output (" + p.crop[2] + "×" + p.crop[3] + " px, 8×)"})]);
    compareBody.replaceChildren(input, output, crops);
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }
  modeButton.addEventListener("click", function () {
    const figures = compareBody.querySelectorAll("figure");
    if (compareBody.className === "side") {
      compareBody.className = "flip";
      flipped = false;
    } else {
      flipped = !flipped;
    }
    figures[0].classList.toggle("hidden", flipped);
    figures[1].classList.toggle("hidden", !flipped);
    figures[2].classList.add("hidden");
    modeButton.textContent = flipped ? "Show the input" : "Show the output";
  });
  dialog.addEventListener("close", function () { compareBody.replaceChildren(); });
  render();
})();
"""
