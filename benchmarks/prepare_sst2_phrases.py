"""Write an SST-2 folder that trains on phrases, as Kim (2014) did, for `charlm classify train`.

    python benchmarks/prepare_sst2_phrases.py ../shared/corpora/classification OUT
    charlm classify train OUT ...

OUT/train.txt  GLUE's 67,349 labelled phrases of the SST training sentences (sst2-glue/train.txt)
OUT/dev.txt    the 872 dev sentences (sst2/dev.txt)
OUT/test.txt   the 1,821 test sentences (sst2/test.txt)

GLUE writes brackets as ( and ), Kim's sentence files as -lrb- and -rrb-: the phrases are mapped
to the latter so that train, dev and test share one vocabulary. Nothing else is changed. The
phrases come from training sentences only (GLUE's construction), so no dev or test sentence
leaks into training. A short phrase can still equal a whole dev or test sentence by chance
("what 's next ?"): the script counts and prints those, and keeps them.
"""

from __future__ import annotations

import sys
from pathlib import Path


def kim_brackets(text: str) -> str:
    return " ".join({"(": "-lrb-", ")": "-rrb-"}.get(tok, tok) for tok in text.split(" "))


def main(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    phrases = []
    for line in (source / "sst2-glue" / "train.txt").read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t")
        phrases.append(f"{label}\t{kim_brackets(text)}")
    held_out = set()
    for split in ("dev", "test"):
        text = (source / "sst2" / f"{split}.txt").read_text(encoding="utf-8")
        (out / f"{split}.txt").write_text(text, encoding="utf-8")
        held_out |= {line.split("\t")[1] for line in text.splitlines()}
    same = [p.split("\t")[1] for p in phrases if p.split("\t")[1] in held_out]
    (out / "train.txt").write_text("\n".join(phrases) + "\n", encoding="utf-8")
    print(f"{out}: train {len(phrases):,} phrases, dev and test from {source / 'sst2'}; "
          f"{len(same)} phrase(s) equal to a dev or test sentence: {same[:3]}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    main(Path(sys.argv[1]), Path(sys.argv[2]))
