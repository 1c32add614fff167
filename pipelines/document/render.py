"""HTML preview and PDF of a document: WeasyPrint first, xhtml2pdf when WeasyPrint fails.

Both engines get DejaVu Sans (found through fontconfig) so Cyrillic is drawn and the PDF text is extractable.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from loguru import logger
from pypdf import PdfReader

from pipelines.document.context import KINDS, date_ru
from pipelines.document.money import format_amount, format_rub
from voronka import paths
from voronka.errors import PayloadTooLarge, ValidationError

TEMPLATES_DIR = paths.TEMPLATES_DIR / "documents"
SHIPPED_FONTS_DIR = paths.TEMPLATES_DIR / "fonts"
DEFAULT_MAX_PDF_BYTES = 10 * 1024 * 1024
FONT_FAMILY = "DejaVu Sans"
Engine = Literal["weasyprint", "xhtml2pdf"]


class DocumentTooLarge(PayloadTooLarge):
    """The rendered PDF is over MAX_PDF_SIZE_MB."""

    code = "document_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"Документ получился слишком большим: {size / 1048576:.1f} МБ при лимите "
                         f"{limit / 1048576:.0f} МБ. Сократите его или увеличьте MAX_PDF_SIZE_MB.",
                         field="pdf")
        self.size = size
        self.limit = limit


class RenderError(Exception):
    """Neither engine produced a PDF."""


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    engine: str
    pages: int

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str


def _fc_match(pattern: str) -> str:
    if shutil.which("fc-match") is None:
        return ""
    out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10,
                         check=False)
    path = out.stdout.strip()
    return path if path and Path(path).is_file() else ""


@lru_cache(maxsize=1)
def find_fonts() -> Fonts:
    """DejaVu Sans regular/bold TTF files: fontconfig first, then fonts shipped in templates/fonts/."""
    regular = _fc_match(f"{FONT_FAMILY}:style=Book")
    bold = _fc_match(f"{FONT_FAMILY}:style=Bold")
    if "DejaVuSans" not in Path(regular).name:
        regular = ""
    if "DejaVuSans-Bold" not in Path(bold).name:
        bold = ""
    for name, current in (("DejaVuSans.ttf", regular), ("DejaVuSans-Bold.ttf", bold)):
        if not current and (SHIPPED_FONTS_DIR / name).is_file():
            if name.endswith("Bold.ttf"):
                bold = str(SHIPPED_FONTS_DIR / name)
            else:
                regular = str(SHIPPED_FONTS_DIR / name)
    if not regular:
        raise RenderError("Не найден шрифт DejaVu Sans (fc-match): без него кириллица в PDF не отобразится")
    return Fonts(regular=regular, bold=bold or regular)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["rub"] = format_rub
    env.filters["amount"] = format_amount
    env.filters["date_ru"] = date_ru
    env.filters["chunks"] = lambda text, size: [str(text)[i:i + size] for i in range(0, len(str(text)), size)]
    env.tests["short"] = lambda value: len(str(value)) <= 42  # fits half a row of the brief table
    return env


def _render(kind: str, context: dict[str, Any], engine: str) -> str:
    if kind not in KINDS:
        raise ValidationError(f"Неизвестный вид документа «{kind}»", field="kind")
    fonts = find_fonts()
    return _env().get_template(f"{kind}.html").render(**context, engine=engine, fonts=fonts)


def render_html(kind: str, context: dict[str, Any]) -> str:
    """HTML preview of the document (the same markup WeasyPrint prints)."""
    return _render(kind, context, "weasyprint")


def _weasyprint(html: str) -> tuple[bytes, int]:
    import weasyprint  # reason: heavy import (~1.2 s); only when a PDF is actually made

    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).render()
    data = document.write_pdf()
    if data is None:  # pragma: no cover - write_pdf without target always returns bytes
        raise RenderError("WeasyPrint не вернул PDF")
    return data, len(document.pages)


def _xhtml2pdf(html: str) -> tuple[bytes, int]:
    from xhtml2pdf import pisa  # reason: heavy (reportlab, ~0.8 s); only the fallback engine needs it
    from xhtml2pdf.config.resources import ResourceAccessPolicy  # reason: as above

    fonts = find_fonts()
    # Local reads are confined: the templates, and the font directories found through fontconfig.
    # The document needs nothing from the network (the QR code is an inline data: URI).
    policy = ResourceAccessPolicy(
        base_dir=TEMPLATES_DIR,
        extra_roots=tuple({Path(fonts.regular).parent, Path(fonts.bold).parent}),
        allow_remote=False,
    )
    buffer = io.BytesIO()
    status = pisa.CreatePDF(html, dest=buffer, encoding="utf-8", path=str(TEMPLATES_DIR / "base.html"),
                            resource_policy=policy)
    if status.err:
        raise RenderError(f"xhtml2pdf: {status.err} ошибок при вёрстке")
    data = buffer.getvalue()
    return data, len(PdfReader(io.BytesIO(data)).pages)


def warm_up() -> float:
    """Load WeasyPrint, the templates and the fonts once (a worker's first document otherwise takes ~1.5 s).

    Call at worker start-up; returns the seconds it took."""
    started = time.perf_counter()
    find_fonts()
    for kind in KINDS:
        _env().get_template(f"{kind}.html")
    _weasyprint(f'<p style="font-family: \'{FONT_FAMILY}\'">Прогрев: ₽ № «»</p>')
    return time.perf_counter() - started


def render_pdf(kind: str, context: dict[str, Any], *, engine: Engine = "weasyprint",
               max_bytes: int | None = None) -> RenderedPdf:
    """PDF of the document. ``engine="weasyprint"`` falls back to xhtml2pdf when WeasyPrint raises;
    ``engine="xhtml2pdf"`` uses the fallback directly. Raises ``DocumentTooLarge`` over the size limit
    (``max_bytes``, else the context's ``max_pdf_bytes``, else 10 MB)."""
    if engine not in ("weasyprint", "xhtml2pdf"):
        raise ValueError(f"unknown PDF engine {engine!r}")
    limit = max_bytes or int(context.get("max_pdf_bytes") or DEFAULT_MAX_PDF_BYTES)
    started = time.perf_counter()
    used: str = engine
    if engine == "weasyprint":
        try:
            data, pages = _weasyprint(_render(kind, context, "weasyprint"))
        except (ValidationError, jinja2.TemplateError):
            raise  # a template or input bug fails the same way in both engines
        except Exception as exc:
            logger.warning("WeasyPrint failed ({}: {}), falling back to xhtml2pdf", type(exc).__name__, exc)
            used = "xhtml2pdf"
            data, pages = _xhtml2pdf(_render(kind, context, "xhtml2pdf"))
    else:
        data, pages = _xhtml2pdf(_render(kind, context, "xhtml2pdf"))
    logger.info("document {} rendered by {}: {} pages, {} bytes, {:.0f} ms", kind, used, pages, len(data),
                (time.perf_counter() - started) * 1000)
    if len(data) > limit:
        raise DocumentTooLarge(len(data), limit)
    return RenderedPdf(data=data, engine=used, pages=pages)
