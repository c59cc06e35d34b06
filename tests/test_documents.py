"""The day's note kept as a DocumentReference (97124-rules.md §5): which documents are the visit's
note, how their text is read (inline base64 or a Binary; plain text, Markdown, HTML), and what the
documentation and signing rules make of it."""
from __future__ import annotations

import base64

import pytest

from plugin import evaluate, visit_notes
from plugin.documents import note_text, unreadable_notes
from tests.builders import ENCOUNTER, Visit, ref
from tests.rules.signing_support import massage_visit, physician, provenance

TEXT = "Effleurage and petrissage to the lumbar paraspinals. Progress since last visit: pain improved."


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def document(visit: Visit, attachment: dict, **extra) -> dict:
    return visit.add({"resourceType": "DocumentReference", "status": "current",
                      "date": f"{visit.day}T11:30:00-05:00", "subject": {"reference": f"Patient/{visit.patient}"},
                      "content": [{"attachment": attachment}],
                      "context": {"encounter": [{"reference": f"Encounter/{ENCOUNTER}"}]}, **extra})


def bare_massage(visit: Visit) -> dict:
    """A 97124 service with clock times and a reason but no note, region or technique of its own."""
    proc = visit.procedure("97124", minutes=15, body_site=None)
    visit.claim_line("97124")
    return proc


@pytest.mark.parametrize("content_type, raw", [
    ("text/plain", TEXT),
    ("text/markdown", "# Massage\n\n- **Techniques:** effleurage, petrissage\n- **Region:** lumbar paraspinals\n"),
    ("text/html; charset=utf-8", "<html><head><style>p{}</style><script>var effleurage;</script></head>"
                                 "<body><p>Effleurage to the <b>lumbar</b> paraspinals</p></body></html>"),
    ("application/xhtml+xml", "<div xmlns='http://www.w3.org/1999/xhtml'>Effleurage, lumbar</div>"),
])
def test_inline_text_markdown_and_html_are_read(content_type, raw):
    visit = Visit()
    bare_massage(visit)
    document(visit, {"contentType": content_type, "data": b64(raw)})
    record = visit.record()
    [doc] = visit_notes(record)
    text = note_text(record, doc)
    assert "ffleurage" in text and "lumbar" in text
    assert "<" not in text and "var effleurage" not in text


def test_a_binary_the_attachment_points_to_is_read():
    visit = Visit()
    bare_massage(visit)
    visit.add({"resourceType": "Binary", "id": "bin-1", "contentType": "text/plain", "data": b64(TEXT)})
    document(visit, {"contentType": "text/plain", "url": "https://ehr.example.org/fhir/Binary/bin-1"})
    record = visit.record()
    assert note_text(record, visit_notes(record)[0]) == TEXT


def pdf(text: str) -> bytes:
    """A one-page PDF whose text layer is `text` (Helvetica, no compression)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdfs_text_layer_is_read(policy):
    visit = Visit()
    bare_massage(visit)
    data = base64.b64encode(pdf("Effleurage to the lumbar paraspinals. Pain improved since last visit.")).decode()
    document(visit, {"contentType": "application/pdf", "data": data})
    record = visit.record()
    assert "lumbar paraspinals" in note_text(record, visit_notes(record)[0])
    found = {f.code for f in evaluate(record, policy).findings}
    assert not {"techniques", "regions", "progress", "data-unavailable"} & found


@pytest.mark.parametrize("attachment", [
    {"contentType": "application/pdf", "data": b64("%PDF-1.7 not really")},
    {"contentType": "text/plain", "url": "Binary/never-fetched"},
    {"contentType": "image/png", "url": "https://elsewhere.example/note.png"},
])
def test_unreadable_notes_keep_the_word_rules_quiet_and_are_reported(policy, attachment):
    visit = Visit()
    bare_massage(visit)
    document(visit, attachment)
    found = {f.code: f for f in evaluate(visit.record(), policy).findings}
    assert not {"techniques", "regions", "progress"} & set(found)
    unavailable = found["data-unavailable"]
    assert "Could not read the 2 Mar 2026 note" in unavailable.detail
    assert any(e.startswith("DocumentReference/") for e in unavailable.evidence)


def test_techniques_regions_and_progress_come_from_the_document(policy):
    visit = Visit()
    bare_massage(visit)
    found = {f.code for f in evaluate(visit.record(), policy).findings}
    assert {"techniques", "regions", "progress"} <= found       # nothing written anywhere
    document(visit, {"contentType": "text/plain", "data": b64(TEXT)})
    found = {f.code for f in evaluate(visit.record(), policy).findings}
    assert not {"techniques", "regions", "progress", "data-unavailable"} & found


def test_a_note_linked_to_the_service_counts_without_the_encounter(policy):
    visit = Visit()
    proc = bare_massage(visit)
    doc = document(visit, {"contentType": "text/plain", "data": b64(TEXT)})
    doc["context"] = {"related": [{"reference": ref(proc)}]}
    assert visit_notes(visit.record()) != []


@pytest.mark.parametrize("change", [
    {"status": "entered-in-error"},
    {"subject": {"reference": "Patient/someone-else"}},
    {"context": {"encounter": [{"reference": "Encounter/another-visit"}]}},
])
def test_other_documents_are_not_the_days_note(change):
    visit = Visit()
    bare_massage(visit)
    document(visit, {"contentType": "text/plain", "data": b64(TEXT)}, **change)
    record = visit.record()
    assert visit_notes(record) == [] and unreadable_notes(record) == []


def test_signed_by_provenance_on_the_document_and_countersigned_as_its_authenticator(policy):
    visit, proc, therapist = massage_visit()
    doc = document(visit, {"contentType": "text/plain", "data": b64(TEXT)},
                   authenticator={"reference": ref(physician(visit, "111N00000X"))})
    found = {f.code for f in evaluate(visit.record(), policy).findings}
    assert "countersignature" not in found and "signature" in found
    provenance(visit, doc, (therapist, "author"))
    found = {f.code for f in evaluate(visit.record(), policy).findings}
    assert not {"signature", "countersignature"} & found


def test_the_therapist_as_authenticator_signs_and_the_doctor_countersigns_by_provenance(policy):
    visit, proc, therapist = massage_visit()
    doc = document(visit, {"contentType": "text/plain", "data": b64(TEXT)},
                   authenticator={"reference": ref(therapist)})
    provenance(visit, doc, (physician(visit), "verifier"))
    found = {f.code for f in evaluate(visit.record(), policy).findings}
    assert not {"signature", "countersignature"} & found
