"""The rule catalog: every module in this package (not starting with "_") exports RULE."""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from plugin.rules._rule import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule) or (rule.check is None) == (rule.report is None):
            raise TypeError(f"{module.__name__} must define RULE with a check or a report")
        rules.append(rule)
    codes = [r.code for r in rules]
    if len(codes) != len(set(codes)):
        raise ValueError("duplicate rule codes")
    return tuple(rules)


def rule(code: str) -> Rule:
    for r in all_rules():
        if r.code == code:
            return r
    raise KeyError(code)
