"""The profile as one compact HTML view: overview, alerts, collapsible columns with plots, correlations.

Plots are inline SVG and colours are JupyterLab theme variables (with light fallbacks for a saved file), so
the view is light, fast to render, and readable in the light and the dark theme.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the profile shows itself through this module: it imports this one, not the reverse
    from mlops_magics.eda.profile import Profile

_CSS = """
.mlops-eda{--fg:var(--jp-ui-font-color1,#1a1a1a);--fg2:var(--jp-ui-font-color2,#616161);
--bg:var(--jp-layout-color1,#fff);--bg2:var(--jp-layout-color2,#f3f3f3);--line:var(--jp-border-color2,#ddd);
--bar:var(--jp-brand-color1,#1976d2);--warn:var(--jp-warn-color1,#e65100);--err:var(--jp-error-color1,#d32f2f);
font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;color:var(--fg);background:var(--bg);
max-width:1100px;line-height:1.4}
.mlops-eda h2{font-size:17px;margin:4px 0 2px}.mlops-eda h3{font-size:14px;margin:14px 0 6px}
.mlops-eda .sub{color:var(--fg2);margin-bottom:8px}
.mlops-eda .tiles{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.mlops-eda .tile{background:var(--bg2);border-radius:4px;padding:6px 10px;min-width:96px}
.mlops-eda .tile b{display:block;font-size:15px}.mlops-eda .tile span{color:var(--fg2);font-size:11px}
.mlops-eda .alerts{display:flex;flex-wrap:wrap;gap:4px}
.mlops-eda .alert{border:1px solid var(--warn);color:var(--fg);border-radius:10px;padding:1px 8px;font-size:12px}
.mlops-eda .alert i{color:var(--warn);font-style:normal;font-weight:600}
.mlops-eda details{border-top:1px solid var(--line)}.mlops-eda details[open]{background:var(--bg2)}
.mlops-eda summary{cursor:pointer;display:grid;grid-template-columns:minmax(140px,1.4fr) 90px 80px 90px 130px 1fr;
gap:8px;align-items:center;padding:4px 6px}
.mlops-eda summary .name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.mlops-eda .muted{color:var(--fg2)}.mlops-eda .warn{color:var(--warn)}
.mlops-eda .body{display:flex;flex-wrap:wrap;gap:16px;padding:6px 12px 12px}
.mlops-eda table{border-collapse:collapse}.mlops-eda td,.mlops-eda th{padding:1px 8px 1px 0;text-align:left;font-weight:normal}
.mlops-eda th{color:var(--fg2)}.mlops-eda td.num{text-align:right;font-variant-numeric:tabular-nums}
.mlops-eda svg .b{fill:var(--bar)}.mlops-eda svg text{fill:var(--fg2);font-size:10px}
.mlops-eda .heat td{width:44px;height:22px;text-align:center;font-size:11px;padding:0;color:var(--fg)}
.mlops-eda .heat th{font-size:11px;padding:0 4px;white-space:nowrap;max-width:110px;overflow:hidden;text-overflow:ellipsis}
.mlops-eda .corr{display:flex;flex-wrap:wrap;gap:24px}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _number(value: Any, kind: str = "numeric") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == "datetime":
        return str(pd.Timestamp(int(value)))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:.4g}"


def _when(iso: str) -> str:
    try:
        return pd.Timestamp(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _bars(counts: list[float], width: int, height: int) -> str:
    if not counts or max(counts) <= 0:
        return f'<svg width="{width}" height="{height}"></svg>'
    top = max(counts)
    step = width / len(counts)
    rects = "".join(
        f'<rect class="b" x="{i * step:.1f}" y="{height - max(c / top * height, 1 if c else 0):.1f}" '
        f'width="{max(step - 1, 1):.1f}" height="{max(c / top * height, 1 if c else 0):.1f}"/>'
        for i, c in enumerate(counts)
    )
    return f'<svg width="{width}" height="{height}" role="img">{rects}</svg>'


def _histogram(column: dict[str, Any], width: int = 320, height: int = 110) -> str:
    hist = column.get("histogram") or {}
    counts, edges = hist.get("counts") or [], hist.get("edges") or []
    if not counts:
        return ""
    kind = column["kind"]
    chart = _bars(counts, width, height - 14)
    low, high = _number(edges[0], kind), _number(edges[-1], kind)
    return (
        f'<div><svg width="{width}" height="{height}">{chart[chart.index(">") + 1 : -6]}'
        f'<text x="0" y="{height - 2}">{_e(low)}</text>'
        f'<text x="{width}" y="{height - 2}" text-anchor="end">{_e(high)}</text></svg></div>'
    )


def _levels(column: dict[str, Any]) -> str:
    count = column["count"] or 1
    rows = "".join(
        f"<tr><td>{_e(value)}</td><td class='num'>{n:,}</td><td>{_bars([n], int(140 * n / count) + 1, 10)}</td>"
        f"<td class='num muted'>{n / count:.1%}</td></tr>"
        for value, n in column.get("top", [])
    )
    if column.get("other"):
        rows += f"<tr><td class='muted'>other values</td><td class='num'>{column['other']:,}</td><td></td><td></td></tr>"
    return f"<table>{rows}</table>"


_CONTENT = {"date": "dates as text", "text": "free text", "number": "numbers as text", "mixed": "numbers and words"}


def _kind_label(column: dict[str, Any]) -> str:
    """The engine's kind, or what a column of strings turned out to hold."""
    return _CONTENT.get(column.get("content") or "", column["kind"])


def _content_items(column: dict[str, Any]) -> list[tuple[str, str]]:
    evidence = column.get("evidence") or {}
    content = column.get("content")
    if content == "date" and evidence.get("date_min"):
        about = "" if evidence.get("date_range_exact", True) else "≈"
        return [(key, about + evidence[f"date_{key}"].replace("T", " ")) for key in ("min", "max")]
    if content == "text":
        return [("words a value", _number(evidence.get("mean_words")))]
    if content in ("number", "mixed"):
        shares = evidence.get("shares", {})
        return [("numbers", f"{shares.get('numbers', 0):.1%}"), ("words", f"{shares.get('words', 0):.1%}")]
    return []


def _stats(column: dict[str, Any]) -> str:
    kind = column["kind"]
    items: list[tuple[str, str]] = [
        ("type", f"{_kind_label(column)} ({column['dtype']})"),
        ("count", _number(column["count"])),
        ("missing", f"{column['missing']:,} ({column['missing_share']:.1%})"),
        ("distinct", ("" if column["distinct_exact"] else "≈") + _number(column["distinct"])),
    ]
    if kind in ("numeric", "datetime"):
        items += [("mean", _number(column.get("mean"), kind)), ("std", _number(column.get("std")))]
        items += [("min", _number(column.get("min"), kind))]
        items += [(q, _number(v, kind)) for q, v in (column.get("quantiles") or {}).items()]
        items += [("max", _number(column.get("max"), kind))]
    if kind == "numeric":
        items += [
            ("skew", _number(column.get("skew"))),
            ("kurtosis", _number(column.get("kurtosis"))),
            ("zeros", _number(column.get("zeros"))),
            ("infinite", _number(column.get("infinite"))),
        ]
    if kind == "boolean":
        items += [("share true", _number(column.get("mean")))]
    items += _content_items(column)
    if column.get("value_types"):
        items += [("value types", ", ".join(column["value_types"]))]
    body = "".join(f"<tr><th>{_e(k)}</th><td class='num'>{_e(v)}</td></tr>" for k, v in items)
    return f"<table>{body}</table>"


def _column(column: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    kind = column["kind"]
    mini = (
        _bars((column.get("histogram") or {}).get("counts") or [], 120, 18)
        if kind in ("numeric", "datetime")
        else _bars([n for _, n in column.get("top", [])[:12]], 120, 18)
    )
    flagged = [a for a in alerts if a.get("column") == column["name"] or column["name"] in (a.get("columns") or [])]
    marks = f"<span class='warn'>{_plural(len(flagged), 'alert')}</span>" if flagged else ""
    detail = _histogram(column) if kind in ("numeric", "datetime") else _levels(column)
    notes = "".join(f"<div class='warn'>{_e(a['message'])}</div>" for a in flagged)
    return (
        f"<details data-column='{_e(column['name'])}'><summary><span class='name' title='{_e(column['name'])}'>"
        f"{_e(column['name'])}</span><span class='muted'>{_e(_kind_label(column))}</span>"
        f"<span>{column['missing_share']:.1%} miss.</span>"
        f"<span>{'' if column['distinct_exact'] else '≈'}{column['distinct']:,} dist.</span>{mini}{marks}</summary>"
        f"<div class='body'>{_stats(column)}{detail}<div>{notes}</div></div></details>"
    )


def _heat(title: str, matrix: dict[str, Any] | None) -> str:
    if not matrix:
        return ""
    names = matrix["columns"]
    header = "".join(f"<th title='{_e(n)}'>{_e(n)}</th>" for n in names)
    rows = []
    for name, values in zip(names, matrix["matrix"], strict=True):
        cells = []
        for v in values:
            if v is None:
                cells.append("<td class='muted'>–</td>")
                continue
            colour = "25,118,210" if v >= 0 else "211,47,47"
            cells.append(f"<td style='background:rgba({colour},{abs(v) * 0.75:.2f})'>{v:.2f}</td>")
        rows.append(f"<tr><th title='{_e(name)}'>{_e(name)}</th>{''.join(cells)}</tr>")
    return f"<div><h3>{_e(title)}</h3><table class='heat'><tr><th></th>{header}</tr>{''.join(rows)}</table></div>"


def _target(target: dict[str, Any] | None) -> str:
    if not target:
        return ""
    rows = "".join(
        f"<tr><td>{_e(r['column'])}</td><td class='muted'>{_e(r['measure'])}</td><td class='num'>"
        f"{_number(r['score'])}</td><td>{_bars([abs(r['score'] or 0)], int(160 * abs(r['score'] or 0)) + 1, 10)}</td></tr>"
        for r in target["associations"]
    )
    apart = "".join(
        f"<tr><td>{_e(r['column'])}</td><td class='muted' colspan='3'>not ranked: {_e(r['reason'])}</td></tr>"
        for r in target.get("set_apart", [])
    )
    note = f"<div class='sub'>{_e(target['note'])}</div>" if target.get("note") else ""
    return f"<h3>Relation to target {_e(target['column'])}</h3>{note}<table>{rows}{apart}</table>"


def render(profile: Profile) -> str:
    data = profile.data
    o = data["overview"]
    engine = data.get("engine") or {}
    if o["rows"] == 0:
        body = "<p>The data is empty: it has no rows" + (f" ({o['columns']} columns)." if o["columns"] else ".") + "</p>"
        return f"<style>{_CSS}</style><div class='mlops-eda'><h2>{_e(data['title'])}</h2>{body}</div>"
    kinds = ", ".join(f"{n} {k}" for k, n in o["kinds"].items())
    tiles = [
        (f"{o['rows']:,}", "rows"),
        (f"{o['columns']}", f"columns ({kinds})"),
        (_bytes(o["memory_bytes"]), "memory"),
        (f"{o['missing_cells']:,}", f"missing cells ({o['missing_share']:.1%})"),
        (f"{o['duplicate_rows']:,}", f"duplicate rows ({_share(o['duplicate_rows'], o['rows'])})"),
        (f"{len(data['alerts'])}", "alerts"),
    ]
    tiles_html = "".join(f"<div class='tile'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in tiles)
    alerts = "".join(
        f"<span class='alert'><i>{_e(a['kind'].replace('_', ' '))}</i> {_e(a['message'])}</span>" for a in data["alerts"]
    )
    columns = "".join(_column(c, data["alerts"]) for c in data["columns"].values())
    corr = data.get("correlations") or {}
    sample_note = f" (on a uniform sample of {corr.get('sample_rows', 0):,} rows)"
    corr_html = "".join(
        [
            _heat("Pearson", corr.get("pearson")),
            _heat("Spearman" + sample_note, corr.get("spearman")),
            _heat("Cramér's V" + sample_note, corr.get("cramers_v")),
        ]
    )
    where = f"{engine.get('partitions', '?')} partition(s) on {engine.get('where', '?')}, {engine.get('seconds', '?')} s"
    sampled = f"; profiled a sample of {engine['sampled_rows']:,} rows" if engine.get("sampled_rows") else ""
    return (
        f"<style>{_CSS}</style><div class='mlops-eda'><h2>{_e(data['title'])}</h2>"
        f"<div class='sub'>{_e(data['source'])} · {_e(_when(data['created_at']))} · {_e(where)}{_e(sampled)}</div>"
        f"<div class='tiles'>{tiles_html}</div>"
        + (f"<h3>Alerts</h3><div class='alerts'>{alerts}</div>" if alerts else "")
        + f"<h3>Columns</h3>{columns}"
        + (f"<h3>Correlations</h3><div class='corr'>{corr_html}</div>" if corr_html else "")
        + _target(data.get("target"))
        + "</div>"
    )


def standalone(profile: Profile) -> str:
    """A complete HTML page of the report, for saving to a file or opening in a tab."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(profile.title)}</title></head><body style='margin:16px'>{render(profile)}</body></html>"
    )


def _overlay(ref: dict[str, Any], cur: dict[str, Any], width: int = 180, height: int = 36) -> str:
    """Reference (outline) and current (filled) shares on common bins, as one small SVG."""
    from mlops_magics.eda.sketches import QuantileSummary

    if ref["kind"] in ("numeric", "datetime"):
        r, c = QuantileSummary.from_dict(ref["summary"]), QuantileSummary.from_dict(cur["summary"])
        if not r.values.size or not c.values.size:
            return ""
        low, high = min(r.values[0], c.values[0]), max(r.values[-1], c.values[-1])
        if low == high:
            return ""
        edges = np.linspace(low, high, 21)
        ref_counts, cur_counts = r.histogram(edges), c.histogram(edges)
    else:
        keys = [str(k) for k, _ in ref.get("levels", [])[:12]]
        ref_map = {str(k): n for k, n in ref.get("levels", [])}
        cur_map = {str(k): n for k, n in cur.get("levels", [])}
        ref_counts = [ref_map.get(k, 0) for k in keys]
        cur_counts = [cur_map.get(k, 0) for k in keys]
    ref_total, cur_total = sum(ref_counts) or 1, sum(cur_counts) or 1
    ref_shares = [n / ref_total for n in ref_counts]
    cur_shares = [n / cur_total for n in cur_counts]
    top = max(ref_shares + cur_shares) or 1
    step = width / max(len(ref_shares), 1)
    bars = []
    for i, (a, b) in enumerate(zip(ref_shares, cur_shares, strict=True)):
        hb = b / top * height
        ha = a / top * height
        bars.append(
            f'<rect class="b" x="{i * step:.1f}" y="{height - hb:.1f}" width="{max(step - 1, 1):.1f}" height="{hb:.1f}"/>'
        )
        bars.append(
            f'<rect x="{i * step:.1f}" y="{height - ha:.1f}" width="{max(step - 1, 1):.1f}" height="{ha:.1f}" '
            'fill="none" stroke="var(--fg)" stroke-width="1"/>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(bars)}</svg>'


def render_comparison(comparison: Any) -> str:
    ref, cur = comparison.reference, comparison.current
    rows = []
    for row in comparison.columns:
        name = row["column"]
        verdict = row["verdict"]
        colour = {"drift": "var(--err)", "watch": "var(--warn)"}.get(verdict, "var(--fg2)")
        scores = " · ".join(
            f"{label} {row[key]:.3f}"
            for key, label in (("psi", "PSI"), ("ks", "KS"), ("wasserstein", "W/σ"), ("jensen_shannon", "JS"))
            if row.get(key) is not None
        )
        plot = ""
        if name in ref.columns and name in cur.columns and ref.columns[name]["kind"] == cur.columns[name]["kind"]:
            plot = _overlay(ref.columns[name], cur.columns[name])
        missing = row.get("missing_share")
        missing_text = f"{missing[0]:.1%} → {missing[1]:.1%}" if missing else ""
        rows.append(
            f"<tr><td><b>{_e(name)}</b></td><td class='muted'>{_e(row['kind'])}</td>"
            f"<td style='color:{colour};font-weight:600'>{_e(verdict)}</td><td>{_e(scores or row.get('note', ''))}</td>"
            f"<td class='muted'>{_e(missing_text)}</td><td>{plot}</td></tr>"
        )
    header = "<tr><th>column</th><th>type</th><th>verdict</th><th>drift scores</th><th>missing</th><th>shares (outline: reference)</th></tr>"
    o_ref, o_cur = ref.data["overview"], cur.data["overview"]
    return (
        f"<style>{_CSS}</style><div class='mlops-eda'><h2>{_e(ref.title)} vs {_e(cur.title)}</h2>"
        f"<div class='sub'>{o_ref['rows']:,} vs {o_cur['rows']:,} rows · "
        f"{len(comparison.drifted)} of {len(comparison.columns)} column(s) drifted (PSI ≥ 0.2)</div>"
        f"<table class='cmp'>{header}{''.join(rows)}</table></div>"
    )
