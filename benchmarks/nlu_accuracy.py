"""Accuracy of offline understanding on a labelled JSONL file; prints figures and the misses.

    python benchmarks/nlu_accuracy.py [--file tests/data/nlu_labelled.jsonl] [--quiet] [--rules-only]

Files: tests/data/nlu_labelled.jsonl (the rules are tuned on it; earlier held-out sets are merged into it once
measured), tests/data/nlu_holdout_v5.jsonl (held out, never tuned on).
Each line: {"text", "intent", "product", "emotion", "slots": {...}} and optionally "expecting" (the slot
the bot just asked for, passed to understand_offline like the dialog does), "current_product", "today" (YYYY-MM-DD,
anchors relative deadlines). A malformed line (unknown label, slot or field) stops the run with its line number.
"slots exactly right" = the whole slots dict equal, where
``security`` is compared as a set of comma-separated tags and ``goals`` (free text) matches when both are present and
their token-set similarity is ≥ 60 (rapidfuzz); every other slot must be equal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.understand import learned  # noqa: E402
from pipelines.understand.offline import understand_offline  # noqa: E402
from voronka.vocabulary import EMOTIONS, INTENTS, OTHER_SLOTS, PRICING_SLOTS, PRODUCT_OR_NONE  # noqa: E402

DEFAULT_FILE = ROOT / "tests" / "data" / "nlu_labelled.jsonl"
SLOT_NAMES: tuple[str, ...] = (*PRICING_SLOTS, *OTHER_SLOTS)
EXPECTABLE = (*SLOT_NAMES, "product")  # what the dialog may be waiting for
_FIELDS = frozenset({"text", "intent", "product", "emotion", "slots", "expecting", "current_product", "today"})


def check_record(rec: dict[str, Any], lineno: int) -> None:
    """Raise ValueError naming the line when a labelled record is malformed (a typo would silently skew figures)."""
    problems: list[str] = []
    if not isinstance(rec.get("text"), str) or not rec["text"].strip():
        problems.append("no text")
    for key, allowed in (("intent", INTENTS), ("product", PRODUCT_OR_NONE), ("emotion", EMOTIONS)):
        if rec.get(key) not in allowed:
            problems.append(f"{key}={rec.get(key)!r} not in {allowed}")
    slots = rec.get("slots", {})
    if not isinstance(slots, dict) or any(k not in SLOT_NAMES for k in slots):
        problems.append(f"slots {slots!r}: names must be in {SLOT_NAMES}")
    if rec.get("expecting") is not None and rec["expecting"] not in EXPECTABLE:
        problems.append(f"expecting={rec['expecting']!r} not in {EXPECTABLE}")
    if rec.get("current_product") is not None and rec["current_product"] not in PRODUCT_OR_NONE:
        problems.append(f"current_product={rec['current_product']!r} not in {PRODUCT_OR_NONE}")
    unknown = set(rec) - _FIELDS
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}")
    if problems:
        raise ValueError(f"line {lineno}: " + "; ".join(problems))


def slot_equal(name: str, expected: Any, got: Any) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if name == "security":
        return {s.strip().lower() for s in str(expected).split(",")} == {s.strip().lower() for s in str(got).split(",")}
    if name == "goals":
        from rapidfuzz import fuzz

        return fuzz.token_set_ratio(str(expected).lower(), str(got).lower()) >= 60
    return bool(expected == got)


def slots_equal(expected: dict[str, Any], got: dict[str, Any]) -> bool:
    return all(slot_equal(k, expected.get(k), got.get(k)) for k in set(expected) | set(got))


@dataclass
class Report:
    total: int = 0
    right: Counter[str] = field(default_factory=Counter)
    slot_labelled: Counter[str] = field(default_factory=Counter)
    slot_found: Counter[str] = field(default_factory=Counter)
    slot_spurious: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    # messages answered while the bot waited for a slot («expecting» set): how many, how many fully right
    expecting_total: int = 0
    expecting_right: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (labelled intent, understood intent)

    def pct(self, key: str) -> float:
        return 100.0 * self.right[key] / self.total if self.total else 0.0

    def expecting_pct(self, key: str) -> float:
        return 100.0 * self.expecting_right[key] / self.expecting_total if self.expecting_total else 0.0


def evaluate(path: Path) -> Report:
    rep = Report()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        check_record(rec, lineno)
        today = date.fromisoformat(rec["today"]) if rec.get("today") else None
        t0 = time.perf_counter()
        u = understand_offline(
            rec["text"], current_product=rec.get("current_product"), expecting=rec.get("expecting"), today=today
        )
        rep.seconds.append(time.perf_counter() - t0)
        rep.total += 1
        got = u.as_dict()
        rep.confusion[(rec["intent"], str(got["intent"]))] += 1
        wrong: list[str] = []
        ok: dict[str, bool] = {key: got[key] == rec[key] for key in ("intent", "product", "emotion")}
        for key in ("intent", "product", "emotion"):
            if ok[key]:
                rep.right[key] += 1
            else:
                wrong.append(f"{key}: want {rec[key]!r} got {got[key]!r}")
        exp_slots: dict[str, Any] = rec.get("slots", {})
        ok["slots"] = slots_equal(exp_slots, got["slots"])
        if ok["slots"]:
            rep.right["slots"] += 1
        else:
            wrong.append(f"slots: want {exp_slots} got {got['slots']}")
        if rec.get("expecting"):
            rep.expecting_total += 1
            for key, good in ok.items():
                rep.expecting_right[key] += int(good)
        for name in SLOT_NAMES:
            e, g = exp_slots.get(name), got["slots"].get(name)
            if e is not None:
                rep.slot_labelled[name] += 1
                if slot_equal(name, e, g):
                    rep.slot_found[name] += 1
            elif g is not None:
                rep.slot_spurious[name] += 1
        if wrong:
            ctx = {k: rec[k] for k in ("expecting", "current_product", "today") if rec.get(k)}
            rep.misses.append(f"  line {lineno}: {rec['text']!r} {ctx or ''}\n      " + "\n      ".join(wrong))
    return rep


def _warm_timings(path: Path, cpu: list[float] | None = None) -> list[float]:
    """Milliseconds per message on a second pass (caches warm), sorted; ``cpu`` gets the process CPU ms (what one
    free core would take, whatever the machine's load)."""
    out: list[float] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        today = date.fromisoformat(rec["today"]) if rec.get("today") else None
        t0, c0 = time.perf_counter(), time.process_time()
        understand_offline(rec["text"], current_product=rec.get("current_product"), expecting=rec.get("expecting"),
                           today=today)
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    if cpu is not None:
        cpu.sort()
    return sorted(out)


def print_confusion(rep: Report) -> None:
    """Intent confusion matrix: rows are the labels, columns what understanding said."""
    short = {i: i[:5] for i in INTENTS}
    print("  intent confusion (rows: labelled, columns: understood):")
    print("    " + " " * 13 + "".join(f"{short[i]:>6}" for i in INTENTS))
    for want in INTENTS:
        row = [rep.confusion[(want, got)] for got in INTENTS]
        if sum(row):
            print(f"    {want:<13}" + "".join(f"{n:>6}" if n else f"{'.':>6}" for n in row))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--quiet", action="store_true", help="figures only, no list of misses")
    ap.add_argument("--rules-only", action="store_true", help="the rules alone, without the learned model")
    args = ap.parse_args(argv)
    if args.rules_only:
        learned.ENABLED = False
    understand_offline("прогрев: юрист на 20 человек")  # build lexicons and the morph analyzer once
    rep = evaluate(args.file)
    print(f"file: {args.file} — {rep.total} messages")
    for key in ("intent", "product", "emotion", "slots"):
        label = "slots exactly right" if key == "slots" else key
        print(f"  {label:<20} {rep.pct(key):6.1f} %  ({rep.right[key]}/{rep.total})")
    if rep.expecting_total:
        figures = ", ".join(f"{k} {rep.expecting_pct(k):.1f} %" for k in ("intent", "product", "emotion", "slots"))
        print(f"  with expecting ({rep.expecting_total} messages): {figures}")
    print("  per slot (recall on labelled / spurious where not labelled):")
    for name in SLOT_NAMES:
        n = rep.slot_labelled[name]
        if n or rep.slot_spurious[name]:
            rec_pct = 100.0 * rep.slot_found[name] / n if n else 100.0
            print(f"    {name:<13} {rec_pct:6.1f} %  ({rep.slot_found[name]}/{n}), spurious {rep.slot_spurious[name]}")
    ms = sorted(s * 1000 for s in rep.seconds)
    if ms:
        print(f"  time per message: median {ms[len(ms) // 2]:.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, "
              f"max {ms[-1]:.2f} ms (first pass, caches cold for new words)")
    cpu: list[float] = []
    warm = _warm_timings(args.file, cpu)
    if warm:
        print(f"  time per message, second pass: median {warm[len(warm) // 2]:.2f} ms, "
              f"p95 {warm[int(len(warm) * 0.95) - 1]:.2f} ms, max {warm[-1]:.2f} ms")
        print(f"  CPU per message, second pass: median {cpu[len(cpu) // 2]:.2f} ms, "
              f"p95 {cpu[int(len(cpu) * 0.95) - 1]:.2f} ms")
    print_confusion(rep)
    if rep.misses and not args.quiet:
        print(f"misses ({len(rep.misses)}):")
        print("\n".join(rep.misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
