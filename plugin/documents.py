"""The day's note kept as a document: which DocumentReferences are this visit's note, and their text.

A note may be a `DocumentReference` instead of (or beside) `Procedure.note`: its attachment is
inline (`data`, base64) or a `url` to a `Binary` the record holds (the FHIR follow-up fetches it
from the fhirServer). Plain text, Markdown, HTML and a PDF's text layer (pypdf) are read; other
formats (images, a scanned PDF without text) are kept as "unreadable", so the rules that look
for words in the note stay quiet instead of calling them absent.
Source: 97124-rules.md §5; FHIR R4 DocumentReference, Attachment, Binary.
"""
from __future__ import annotations

import io
import logging
from html.parser import HTMLParser
from typing import Any

from pypdf import PdfReader

from plugin.facts import about_patient, massage_procedures, notes_text
from plugin.record import Record

TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown", "text/html", "application/xhtml+xml"}
MAX_CHARS = 100_000   # a treatment note is a page or two; more is not read
MAX_PDF_BYTES = 5_000_000
MAX_PDF_PAGES = 10
log = logging.getLogger(__name__)
_SKIPPED_TAGS = {"script", "style", "head", "title"}


class _HtmlText(HTMLParser):
    """The visible text of an HTML document (stdlib parser; scripts and styles dropped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip += tag in _SKIPPED_TAGS
        if tag in ("p", "br", "li", "div", "tr", "h1", "h2", "h3"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in _SKIPPED_TAGS and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _media(content_type: str | None) -> tuple[str, str]:
    """(media type, charset) of a contentType such as `text/html; charset=utf-8`."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    charset = next((p.split("=", 1)[1].strip('"') for p in parts[1:] if p.lower().startswith("charset=")), "utf-8")
    return parts[0].lower(), charset


def attachment_text(record: Record, attachment: Any, within: Any = None) -> str | None:
    """The readable text of one Attachment (inline, or a Binary the record holds); None if unreadable.
    `within` is the document holding it (its url may name a contained Binary)."""
    content_type, data = attachment.contentType, attachment.data
    if data is None and attachment.url:
        binary = record.resolve(attachment.url, within)
        if binary is None or binary.get_resource_type() != "Binary":
            return None
        content_type, data = content_type or binary.contentType, binary.data
    media, charset = _media(content_type)
    if data is not None and media == "application/pdf":
        return pdf_text(bytes(data))
    if data is None or media not in TEXT_TYPES:
        return None
    try:
        text = bytes(data).decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = bytes(data).decode("utf-8", errors="replace")
    text = text[:MAX_CHARS]
    if media in ("text/html", "application/xhtml+xml"):
        parser = _HtmlText()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    return text


def pdf_text(data: bytes) -> str | None:
    """The text layer of a PDF's first pages; None when it has none or cannot be parsed."""
    if len(data) > MAX_PDF_BYTES:
        return None
    try:
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES])
    except Exception as error:  # a malformed or hostile PDF may make the parser raise anything
        log.info("note PDF not read: %s", type(error).__name__)  # the type only: no PHI
        return None
    return text[:MAX_CHARS] if text.strip() else None


def visit_notes(record: Record) -> list[Any]:
    """This visit's note documents: the patient's DocumentReferences (not entered in error) whose
    context names the visit's encounter or one of its 97124 services."""
    def compute() -> list[Any]:
        enc = f"Encounter/{record.encounter_id}" if record.encounter_id else None
        services = {record.key_of(p) for p in massage_procedures(record)}
        out = []
        for doc in record.all("DocumentReference"):
            if doc.status == "entered-in-error" or doc.docStatus == "entered-in-error":
                continue
            if not about_patient(record, doc) or doc.context is None:
                continue
            linked = {record.key(e, doc) for e in doc.context.encounter or []}
            linked |= {record.key(r, doc) for r in doc.context.related or []}
            if (enc and enc in linked) or services & linked:
                out.append(doc)
        return out
    return record.memo("visit_notes", compute)


def note_text(record: Record, doc: Any) -> str | None:
    """The text of a note document (its readable attachments joined); None when none is readable."""
    found = [t for c in doc.content or [] if c.attachment is not None
             for t in [attachment_text(record, c.attachment, doc)] if t is not None]
    return "\n".join(found) if found else None


def visit_note_texts(record: Record) -> list[tuple[Any, str]]:
    """(document, text) for each readable note document of the visit."""
    return record.memo("visit_note_texts", lambda: [
        (d, t) for d in visit_notes(record) for t in [note_text(record, d)] if t is not None])


def unreadable_notes(record: Record) -> list[Any]:
    """The visit's note documents whose text could not be read (a PDF, a Binary not fetched)."""
    readable = {id(d) for d, _ in visit_note_texts(record)}
    return [d for d in visit_notes(record) if id(d) not in readable]


def service_note(record: Record, procedure: Any) -> str:
    """Everything written about a 97124 service that day: its own note and the visit's note documents."""
    return "\n".join([notes_text(procedure.note), *(text for _doc, text in visit_note_texts(record))]).strip()
