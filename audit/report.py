"""report.html: the audit on one self-contained page a billing office can read.

Totals; findings by rule, by payer and by month; 97124 units billed against the units the
documented minutes support, and the money at risk (from the Claim lines' `net`); the worst
claims with their findings; what was skipped. Figures are SQL aggregates over the results;
charts are matplotlib figures inlined as SVG, so the page needs no network and no other file.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from audit.store import Store

WORST_CLAIMS = 25
SKIPPED_LISTED = 200
SEVERITY_RANK = "CASE worst_indicator WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 WHEN 'info' THEN 2 ELSE 3 END"
COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0", "none": "#9e9e9e",
           "with findings": "#ef6c00", "no finding": "#9e9e9e"}
# A claim is at risk when a warning or critical finding stands: its 97124 lines may be denied or
# taken back. Over-billed: units beyond what the minutes support, at the line's price per unit.
AT_RISK = "worst_indicator IN ('critical', 'warning')"
OVER_BILLED = ("CASE WHEN units_supported IS NOT NULL AND units_billed > units_supported AND units_billed > 0 "
               "THEN net * (units_billed - units_supported) / units_billed ELSE 0 END")


def _svg(figure) -> Markup:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight")
    text = out.getvalue()
    return Markup(text[text.index("<svg"):])   # inline in HTML: no XML prolog or DOCTYPE


def _figure(height: float = 3.0):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import rcParams
    from matplotlib.figure import Figure
    rcParams.update({"svg.fonttype": "none", "font.size": 9})
    figure = Figure(figsize=(8, height))
    return figure, figure.subplots()


def _by_rule_chart(rows: list[tuple]) -> Markup:
    figure, ax = _figure(0.8 + 0.28 * len(rows))
    names = [r[0] for r in rows][::-1]
    left = [0] * len(rows)
    for severity in ("critical", "warning", "info"):
        values = [r[{"critical": 2, "warning": 3, "info": 4}[severity]] for r in rows][::-1]
        ax.barh(names, values, left=left, color=COLOURS[severity], label=severity)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("findings"), ax.legend(frameon=False, loc="lower right")
    return _svg(figure)


def _stacked_chart(labels: list[str], series: dict[str, list[int]], ylabel: str, rotate: bool = False) -> Markup:
    figure, ax = _figure()
    places, bottom = range(len(labels)), [0] * len(labels)   # places, not labels: a month is no number
    for name, values in series.items():
        ax.bar(places, values, bottom=bottom, color=COLOURS.get(name), label=name)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_xticks(places, labels, rotation=45 if rotate else 0)
    ax.set_ylabel(ylabel), ax.legend(frameon=False)
    return _svg(figure)


def _units_chart(rows: list[tuple]) -> Markup:
    figure, ax = _figure()
    labels = [("minutes not documented" if d is None else f"{d:+d}" if d else "0") for d, _ in rows]
    ax.bar(range(len(rows)), [n for _, n in rows],
           color=["#9e9e9e" if d is None else "#c62828" if d > 0 else "#2e7d32" if d == 0 else "#1565c0"
                  for d, _ in rows])
    ax.set_xticks(range(len(rows)), labels)
    ax.set_xlabel("97124 units billed minus units the minutes support"), ax.set_ylabel("claims")
    return _svg(figure)


def gather(store: Store) -> dict:
    q = store.query
    counts = dict(q("SELECT name, n FROM counts"))
    totals = {
        "lines": counts.get("lines", 0), "ignored": counts.get("ignored", 0),
        "malformed": counts.get("malformed", 0),
        "claims_in_export": q("SELECT count(DISTINCT ref) FROM resources WHERE type = 'Claim'")[0][0],
        "audited": q("SELECT count(*) FROM audited")[0][0],
        "flagged": q("SELECT count(*) FROM audited WHERE findings > 0")[0][0],
        "findings": q("SELECT count(*) FROM findings")[0][0],
        "patients": q("SELECT count(DISTINCT patient_id) FROM audited")[0][0],
        "skipped": q("SELECT count(*) FROM problems")[0][0],
    }
    by_worst = dict(q("SELECT coalesce(nullif(worst_indicator, ''), 'none'), count(*) FROM audited GROUP BY 1"))
    by_rule = q("""SELECT rule, count(DISTINCT claim_id), sum(indicator = 'critical'), sum(indicator = 'warning'),
                   sum(indicator = 'info'), min(summary) FROM findings GROUP BY rule ORDER BY count(*) DESC, rule""")
    by_payer = q(f"""SELECT payer_profile, count(*), sum(findings > 0), sum(findings), sum(units_billed),
                    sum(CASE WHEN {AT_RISK} THEN net ELSE 0 END) FROM audited
                    GROUP BY payer_profile ORDER BY count(*) DESC, payer_profile""")
    by_month = q("""SELECT coalesce(nullif(substr(service_date, 1, 7), ''), 'no date') AS month,
                    coalesce(nullif(worst_indicator, ''), 'none'), count(*) FROM audited GROUP BY 1, 2 ORDER BY 1""")
    units = q(f"""SELECT sum(units_billed), sum(CASE WHEN units_supported IS NOT NULL THEN units_billed END),
                  sum(units_supported), sum(units_supported IS NULL), sum(net),
                  sum(CASE WHEN {AT_RISK} THEN net ELSE 0 END), sum({OVER_BILLED}),
                  max(currency) FROM audited""")[0]
    difference = q("""SELECT units_billed - units_supported AS d, count(*) FROM audited
                      GROUP BY d ORDER BY d IS NULL, d""")
    worst = q(f"""SELECT claim_id, patient_id, service_date, payer_profile, worst_indicator, findings, net
                  FROM audited WHERE findings > 0 ORDER BY {SEVERITY_RANK}, findings DESC, net DESC, claim_id
                  LIMIT {WORST_CLAIMS}""")
    worst_findings = {}
    for claim_id, *_ in worst:
        worst_findings[claim_id] = q("SELECT rule, indicator, summary FROM findings WHERE claim_id = ? "
                                     "ORDER BY position", claim_id)
    skipped = q(f"SELECT place, reason FROM problems ORDER BY place LIMIT {SKIPPED_LISTED}")
    return {"totals": totals, "by_worst": by_worst, "by_rule": by_rule, "by_payer": by_payer,
            "by_month": by_month, "units": units, "difference": difference, "worst": worst,
            "worst_findings": worst_findings, "skipped": skipped}


def charts(data: dict) -> dict[str, Markup]:
    out = {}
    if data["by_rule"]:
        out["rule"] = _by_rule_chart(data["by_rule"])
    if data["by_payer"]:
        out["payer"] = _stacked_chart([r[0] for r in data["by_payer"]], {
            "with findings": [r[2] for r in data["by_payer"]],
            "no finding": [r[1] - r[2] for r in data["by_payer"]]}, "claims audited")
    months = sorted({m for m, _, _ in data["by_month"]})
    if months:
        cells = {(m, w): n for m, w, n in data["by_month"]}
        out["month"] = _stacked_chart(months, {w: [cells.get((m, w), 0) for m in months]
                                               for w in ("critical", "warning", "info", "none")},
                                      "claims (by worst finding)", rotate=len(months) > 6)
    if data["difference"]:
        out["units"] = _units_chart(data["difference"])
    return out


def write_report(store: Store, path: Path, source: Path) -> None:
    data = gather(store)
    page = Environment(autoescape=True, trim_blocks=True).from_string(PAGE)
    path.write_text(page.render(
        **data, charts=charts(data), source=source.name, colours=COLOURS,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        listed=SKIPPED_LISTED, money=lambda v: f"{(v or 0):,.2f}"), encoding="utf-8")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>97124 claims audit</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d2733; padding: 0 1em; }
h2 { margin-top: 2em; border-bottom: 2px solid #dde3ea; padding-bottom: .2em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { padding: .3em .6em; border-bottom: 1px solid #dde3ea; vertical-align: top; text-align: left; }
th { background: #f0f3f6; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.tiles { display: flex; flex-wrap: wrap; gap: .8em; }
.tile { border: 1px solid #dde3ea; border-radius: 6px; padding: .6em 1em; min-width: 9em; }
.tile b { display: block; font-size: 1.6em; }
.badge { color: #fff; border-radius: 3px; padding: 0 .4em; font-size: .85em; }
.findings { margin: 0; padding-left: 1.1em; } .muted { color: #5f6b7a; } td.id { white-space: nowrap; }
figure { margin: 1em 0; }
</style></head><body>
<h1>Therapeutic massage (97124) claims audit</h1>
<p class="muted">Export <code>{{ source }}</code>, audited {{ generated }}. Each Claim with a 97124 line was checked
by the same rules and payer profiles as the claim-prepare hook, with the patient's record as the export holds it.</p>

<h2>Totals</h2>
<div class="tiles">
<div class="tile"><b>{{ totals.audited }}</b>claims audited</div>
<div class="tile"><b>{{ totals.flagged }}</b>claims with findings</div>
<div class="tile"><b>{{ by_worst.get('critical', 0) }}</b>with a critical finding</div>
<div class="tile"><b>{{ by_worst.get('warning', 0) }}</b>worst finding a warning</div>
<div class="tile"><b>{{ by_worst.get('info', 0) }}</b>information only</div>
<div class="tile"><b>{{ totals.findings }}</b>findings</div>
<div class="tile"><b>{{ money(units[5]) }}</b>{{ units[7] or '' }} of 97124 at risk</div>
</div>
<p>{{ totals.lines }} NDJSON lines read; {{ totals.claims_in_export }} Claims in the export, {{ totals.audited }} of them
with a 97124 line audited, for {{ totals.patients }} patients. {{ totals.ignored }} resources of types no rule reads were
left aside; {{ totals.malformed }} malformed lines and {{ totals.skipped - totals.malformed }} other skipped items are
listed <a href="#skipped">at the end</a>.</p>

<h2>Findings by rule</h2>
{% if by_rule %}{{ charts.rule }}
<table><thead><tr><th>rule</th><th class="n">claims</th><th class="n">critical</th><th class="n">warning</th>
<th class="n">info</th><th>for example</th></tr></thead><tbody>
{% for r in by_rule %}<tr><td><code>{{ r[0] }}</code></td><td class="n">{{ r[1] }}</td><td class="n">{{ r[2] }}</td>
<td class="n">{{ r[3] }}</td><td class="n">{{ r[4] }}</td><td>{{ r[5] }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p>No findings.</p>{% endif %}

<h2>By payer</h2>
{{ charts.payer }}
<table><thead><tr><th>payer profile</th><th class="n">claims</th><th class="n">with findings</th>
<th class="n">findings</th><th class="n">97124 units billed</th><th class="n">at risk</th></tr></thead><tbody>
{% for r in by_payer %}<tr><td>{{ r[0] }}</td><td class="n">{{ r[1] }}</td><td class="n">{{ r[2] }}</td>
<td class="n">{{ r[3] }}</td><td class="n">{{ r[4] }}</td><td class="n">{{ money(r[5]) }}</td></tr>
{% endfor %}</tbody></table>

<h2>By month of service</h2>
{{ charts.month }}

<h2>Units and money</h2>
<p>97124 units billed: <b>{{ units[0] or 0 }}</b>. On the claims whose minutes are documented, {{ units[1] or 0 }} units
were billed where the minutes support {{ units[2] or 0 }} (under each claim's payer method, CMS total time or per
code); {{ units[3] or 0 }} claims lack the clock times to tell.</p>
<p>97124 billed (line <code>net</code>): <b>{{ money(units[4]) }}</b> {{ units[7] or '' }}. At risk — the 97124 lines
of claims with a warning or critical finding: <b>{{ money(units[5]) }}</b>. Of that, billed beyond the units the
minutes support: <b>{{ money(units[6]) }}</b>.</p>
{{ charts.units }}

<h2>The worst claims</h2>
{% if worst %}<table><thead><tr><th>claim</th><th>patient</th><th>date of service</th><th>payer profile</th>
<th class="n">97124 net</th><th>findings</th></tr></thead><tbody>
{% for c in worst %}<tr><td class="id"><code>{{ c[0] }}</code></td><td class="id"><code>{{ c[1] }}</code></td>
<td class="id">{{ c[2] }}</td>
<td>{{ c[3] }}</td><td class="n">{{ money(c[6]) }}</td><td><ul class="findings">
{% for f in worst_findings[c[0]] %}<li><span class="badge" style="background: {{ colours[f[1]] }}">{{ f[1] }}</span>
<code>{{ f[0] }}</code> {{ f[2] }}</li>{% endfor %}</ul></td></tr>
{% endfor %}</tbody></table>{% else %}<p>No claim has a finding.</p>{% endif %}

<h2 id="skipped">Skipped lines and resources</h2>
{% if skipped %}<p>{{ totals.skipped }} in all{% if totals.skipped > listed %}; the first {{ listed }} by place{% endif %}.
A malformed line is skipped and the audit goes on; a resource that is not valid FHIR R4 is left out of the records
that would hold it, and those claims carry a <code>data-unavailable</code> finding, as the hook's card would.</p>
<table><thead><tr><th>where</th><th>why</th></tr></thead><tbody>
{% for where, why in skipped %}<tr><td><code>{{ where }}</code></td><td>{{ why }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p>Nothing was skipped.</p>{% endif %}
</body></html>
"""
