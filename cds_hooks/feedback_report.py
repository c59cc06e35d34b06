"""`cpt97124 feedback report [--html FILE]`: the feedback as a terminal table and as one
self-contained page.

Per rule code: cards issued, accepted and overridden (each card counted once, by its latest
feedback; feedback on a card this database never issued counts under "unknown"), the rates,
and on the page the override reasons given. The weekly
trend is drawn by matplotlib as inline SVG, so the page needs no network and no files beside it.
A card's week is the ISO week (UTC) it was issued in: each week's rates are about that week's cards.
"""
from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy import Engine, select

from cds_hooks.cards import OVERRIDE_REASONS
from cds_hooks.database import feedback_items, issued_cards

UNKNOWN = "unknown"
REASON_TEXT = dict(OVERRIDE_REASONS)
TREND_RULES = 6          # rules drawn in the override-rate chart, the most issued first
COMMENTS_SHOWN = 5


@dataclass
class Rule:
    code: str
    issued: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: Counter = field(default_factory=Counter)
    comments: list[str] = field(default_factory=list)

    def rate(self, count: int, none: str = "–") -> str:
        return f"{100 * count / self.issued:.1f}%" if self.issued else none


@dataclass
class Week:
    issued: int = 0
    accepted: int = 0
    overridden: int = 0


def _monday(moment: datetime) -> date:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def gather(engine: Engine) -> tuple[dict[str, Rule], dict[date, Week], dict[tuple[str, date], Week]]:
    """Per rule, per week, and per (rule, week) counts from the service database."""
    with engine.connect() as connection:
        cards = select(issued_cards.c.card_uuid, issued_cards.c.rule_code, issued_cards.c.issued_at)
        issued = {row.card_uuid: (row.rule_code or UNKNOWN, _monday(row.issued_at))
                  for row in connection.execute(cards)}
        in_order = select(feedback_items).order_by(feedback_items.c.outcome_at, feedback_items.c.id)
        latest = {row.card_uuid: row for row in connection.execute(in_order)}  # the last one wins
    rules: dict[str, Rule] = {}
    weeks: dict[date, Week] = defaultdict(Week)
    by_rule_week: dict[tuple[str, date], Week] = defaultdict(Week)
    for code, week in issued.values():
        rules.setdefault(code, Rule(code)).issued += 1
        weeks[week].issued += 1
        by_rule_week[code, week].issued += 1
    for card_uuid, row in latest.items():
        code, week = issued.get(card_uuid, (UNKNOWN, _monday(row.outcome_at)))
        rule = rules.setdefault(code, Rule(code))
        outcome = "accepted" if row.outcome == "accepted" else "overridden"
        setattr(rule, outcome, getattr(rule, outcome) + 1)
        for tally in (weeks[week], by_rule_week[code, week]):
            setattr(tally, outcome, getattr(tally, outcome) + 1)
        if outcome == "overridden":
            rule.reasons[REASON_TEXT.get(row.override_code, row.override_code or "comment only")] += 1
            if row.user_comment:
                rule.comments.append(row.user_comment)
    return rules, dict(sorted(weeks.items())), by_rule_week


def tallies(engine: Engine) -> dict[str, Rule]:
    """Per rule code: cards issued, and cards whose latest feedback accepted / overrode them."""
    return gather(engine)[0]


def _ordered(rules: dict[str, Rule]) -> list[Rule]:
    return sorted(rules.values(), key=lambda r: (r.code == UNKNOWN, r.code))


def report(engine: Engine) -> str:
    """A plain table of acceptance and override rates per rule code (`cpt97124 feedback report`)."""
    rules = _ordered(tallies(engine))
    if not rules:
        return "No cards issued and no feedback received yet."
    header = ("rule code", "issued", "accepted", "overridden", "accept rate", "override rate")
    lines = [(r.code, str(r.issued), str(r.accepted), str(r.overridden), r.rate(r.accepted, "-"),
              r.rate(r.overridden, "-")) for r in rules]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))

    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, lines)])


def _svg(figure) -> Markup:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight")
    text = out.getvalue()
    return Markup(text[text.index("<svg"):])  # drop the XML prolog and DOCTYPE: inline in HTML


def charts(rules: dict[str, Rule], weeks: dict[date, Week], by_rule_week: dict) -> list[tuple[str, Markup]]:
    """The weekly trend as inline SVG: outcomes of each week's cards, and override rates per rule."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    # Dates go through matplotlib's unit converters; its type stubs only know numbers.
    days: list[Any] = list(weeks)

    def dated(ax) -> None:
        ax.set_xlabel("week starting (UTC)")
        ax.set_xticks(days)
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        ax.tick_params(axis="x", labelrotation=45)

    out = []
    figure = Figure(figsize=(8, 3.2))
    ax = figure.subplots()
    accepted = [w.accepted for w in weeks.values()]
    overridden = [w.overridden for w in weeks.values()]
    silent = [max(w.issued - w.accepted - w.overridden, 0) for w in weeks.values()]
    ax.bar(days, accepted, width=5, label="accepted", color="#2e7d32")
    ax.bar(days, overridden, width=5, bottom=accepted, label="overridden", color="#c62828")
    stacked = [a + o for a, o in zip(accepted, overridden, strict=True)]
    ax.bar(days, silent, width=5, bottom=stacked, label="no feedback", color="#b0bec5")
    ax.set_ylabel("cards"), ax.legend(frameon=False)
    dated(ax)
    out.append(("Cards each week, by what the user did", _svg(figure)))

    top = sorted((r for r in rules.values() if r.issued), key=lambda r: (-r.issued, r.code))[:TREND_RULES]
    if top:
        figure = Figure(figsize=(8, 3.2))
        ax = figure.subplots()
        for rule in top:
            points = [(w, 100 * by_rule_week[rule.code, w].overridden / by_rule_week[rule.code, w].issued)
                      for w in days if by_rule_week.get((rule.code, w), Week()).issued]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=rule.code)
        ax.set_ylim(0, 100), ax.set_ylabel("% of the week's cards overridden")
        ax.legend(frameon=False, fontsize=8)
        dated(ax)
        out.append((f"Override rate by week, the {len(top)} most issued rules", _svg(figure)))
    return out


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Card feedback report</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #1d2733; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3em .6em; border-bottom: 1px solid #dde3ea; vertical-align: top; }
th { text-align: left; background: #f0f3f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.reasons { margin: 0; padding-left: 1.1em; } .comment { color: #555; font-style: italic; }
figure { margin: 1.5em 0; } figcaption { font-weight: 600; margin-bottom: .3em; }
</style></head><body>
<h1>Card feedback report</h1>
<p>Generated {{ generated }} from the service database. Each card counts once, by the latest feedback the EHR sent
for it; cards with no feedback are neither accepted nor overridden. A rule overridden most of the time is one to
review with the clinic's billers.</p>
{% if not rules %}<p>No cards issued and no feedback received yet.</p>{% else %}
<table>
<thead><tr><th>rule code</th><th>issued</th><th>accepted</th><th>overridden</th>
<th>accept rate</th><th>override rate</th><th>override reasons</th></tr></thead>
<tbody>
{% for r in rules %}<tr data-code="{{ r.code }}">
<td><code>{{ r.code }}</code></td><td class="n">{{ r.issued }}</td>
<td class="n">{{ r.accepted }}</td><td class="n">{{ r.overridden }}</td>
<td class="n">{{ r.rate(r.accepted) }}</td><td class="n">{{ r.rate(r.overridden) }}</td>
<td>{% if r.reasons %}<ul class="reasons">{% for reason, n in r.reasons.most_common() %}
<li>{{ reason }}: {{ n }}</li>{% endfor %}</ul>{% endif %}
{% for c in r.comments[-shown:] %}<div class="comment">“{{ c }}”</div>{% endfor %}</td>
</tr>{% endfor %}
</tbody></table>
{% for title, svg in charts %}<figure><figcaption>{{ title }}</figcaption>{{ svg }}</figure>{% endfor %}
{% endif %}
</body></html>
"""


def html_report(engine: Engine) -> str:
    rules, weeks, by_rule_week = gather(engine)
    page = Environment(autoescape=True).from_string(PAGE)
    return page.render(rules=_ordered(rules), charts=charts(rules, weeks, by_rule_week) if rules else [],
                       generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), shown=COMMENTS_SHOWN)
