"""text/sources.py: a folder holding a charlm run is never part of a corpus of files."""

from __future__ import annotations

from charlm.text.sources import find_sources


def test_folders_holding_a_run_are_left_out_of_a_corpus_with_a_note(tmp_path):
    notes = tmp_path / "notes"
    for name in ("a.txt", "sub/b.txt", "runs/done/metrics.jsonl", "runs/live/metrics.jsonl", "runs/plain/c.txt"):
        (notes / name).parent.mkdir(parents=True, exist_ok=True)
        (notes / name).write_text("some text\n")
    (notes / "runs/done/best.npz").write_bytes(b"PK")
    (notes / "runs/live/.charlm.lock").write_text("123\n")  # a run before its first checkpoint
    sources = find_sources(notes)
    assert [sources.label(p) for p in sources.splits["train"]] == ["a.txt", "runs/plain/c.txt", "sub/b.txt"]
    [note] = sources.notes
    assert "2 folder(s) holding a charlm run left out" in note
    assert str(notes / "runs" / "done") in note and str(notes / "runs" / "live") in note
    # Named among several paths: a run folder, or a folder of nothing but runs, is left out too.
    several = find_sources([notes / "a.txt", notes / "runs" / "done", notes / "sub"])
    assert several.splits["train"] == [notes / "a.txt", notes / "sub" / "b.txt"]
    assert find_sources([notes / "a.txt", notes / "runs"]).splits["train"] == [notes / "a.txt", notes / "runs/plain/c.txt"]
