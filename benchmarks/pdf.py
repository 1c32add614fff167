"""Time to make each document as PDF with WeasyPrint and with the xhtml2pdf fallback.

    python benchmarks/pdf.py [--runs 30] [--engines weasyprint,xhtml2pdf] [--kinds proposal,contract,invoice]

Renders a realistic brief (ИИ-Менеджер, 25 users, 3 integrations, on-premise, SLA 99.5, deadline < 2 weeks;
package Оптимум) end to end — context, Jinja2, PDF — and prints per engine and kind: pages, size, the first
(cold) render, p50/p95 of the warm ones (wall clock and CPU time of this process) and pages/s.
Target: the 2-page КП in ≤ 0.5 s p95 with WeasyPrint. The load average is printed too: on a busy machine the
wall clock grows while the CPU time stays put.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.rate_table import DEFAULT_RATES
from pipelines.document.context import build_context
from pipelines.document.render import render_pdf, warm_up
from pipelines.price.engine import calculate, validate_brief
from voronka.settings import Settings

BRIEF = {"product": "ai_manager", "users": 25, "integrations": 3, "hosting": "onprem", "sla": "99.5",
         "deadline": "lt2w"}
NUMBERS = {"proposal": "КП-2026-0001", "contract": "ДГ-2026-0001", "invoice": "СЧ-2026-0001"}
TARGET_P95 = 0.5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def context(kind: str, settings: Settings) -> dict[str, Any]:
    quote = calculate(validate_brief(BRIEF), DEFAULT_RATES)
    return build_context(kind, brief=BRIEF, quote=quote, package="optimum", client_name="Анна Смирнова",
                         company="ООО «Ромашка»", number=NUMBERS[kind], version=1, settings=settings,
                         payment_url=None, issued_at=date(2026, 5, 12))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--engines", default="weasyprint,xhtml2pdf")
    parser.add_argument("--kinds", default="proposal,contract,invoice")
    args = parser.parse_args()

    from loguru import logger

    logger.remove()  # per-render info lines would drown the table
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    print(f"warm_up(): {warm_up():.3f} s (fonts, templates, WeasyPrint import) — not in the cold column")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} on {os.cpu_count()} CPUs; {args.runs} warm runs each")
    print(f"{'engine':<11} {'kind':<9} {'pages':>5} {'KB':>6} {'cold s':>7} {'p50 s':>7} {'p95 s':>7} "
          f"{'cpu p50':>8} {'cpu p95':>8} {'pages/s':>8}")
    verdict = ""
    for engine in args.engines.split(","):
        for kind in args.kinds.split(","):
            started = time.perf_counter()
            cold = render_pdf(kind, context(kind, settings), engine=engine)
            cold_s = time.perf_counter() - started
            if cold.engine != engine:
                print(f"{engine}: fell back to {cold.engine}", file=sys.stderr)
            times, cpu = [], []
            for _ in range(args.runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                pdf = render_pdf(kind, context(kind, settings), engine=engine)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            pages_per_s = pdf.pages * len(times) / sum(times)
            print(f"{engine:<11} {kind:<9} {pdf.pages:>5} {len(pdf.data) / 1024:>6.1f} {cold_s:>7.3f} "
                  f"{p50:>7.3f} {p95:>7.3f} {statistics.median(cpu):>8.3f} {percentile(cpu, 0.95):>8.3f} "
                  f"{pages_per_s:>8.1f}")
            if engine == "weasyprint" and kind == "proposal":
                ok = p95 <= TARGET_P95
                verdict = (f"target: {pdf.pages}-page КП p95 {p95:.3f} s (CPU {percentile(cpu, 0.95):.3f} s) "
                           f"with WeasyPrint {'≤' if ok else '>'} {TARGET_P95} s — {'OK' if ok else 'MISSED'}")
    if verdict:
        print(verdict)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
