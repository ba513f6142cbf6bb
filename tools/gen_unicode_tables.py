#!/usr/bin/env python3
"""Writes Sources/Tokenizers/UnicodeTables.swift: the Unicode data the tokenizers need, taken from
the peers so that token ids match the Hugging Face `tokenizers` library and do not depend on the
Unicode version of the Swift toolchain:

* \\p{L}, \\p{N}, \\s as the pre-tokenizer regexes (Oniguruma inside `tokenizers`) match them;
* NFC data: full canonical decompositions as `tokenizers`' NFD produces them, canonical combining
  classes and primary compositions from Python's unicodedata (checked against `tokenizers`' NFC),
  and the scalars NFC may change (anything else is left as is without work).

Run: /tmp/peers/bin/python tools/gen_unicode_tables.py
"""
import os
import sys
import unicodedata as ud

import tokenizers
from tokenizers import Regex, normalizers, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Sources", "Tokenizers", "UnicodeTables.swift")
POINTS = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
HANGUL = range(0xAC00, 0xD7A4)


def matched_ranges(pattern):
    """Inclusive [first, last] ranges of the code points a one-character pattern matches."""
    split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
    unmatched = set()
    for text, _ in split.pre_tokenize_str("".join(map(chr, POINTS))):
        unmatched.update(map(ord, text))
    return to_ranges(c for c in POINTS if c not in unmatched)


def to_ranges(points):
    ranges = []
    for c in points:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return ranges


def per_point(normalizer):
    """The normalizer applied to each code point on its own (joined by NUL, which never changes)."""
    out = normalizer.normalize_str("\0".join(map(chr, POINTS))).split("\0")
    assert len(out) == len(POINTS)
    return dict(zip(POINTS, out))


def normalization_tables():
    nfd = per_point(normalizers.NFD())
    peer_nfc = normalizers.NFC()
    decompositions = {c: [ord(x) for x in d] for c, d in nfd.items() if d != chr(c) and c not in HANGUL}
    compositions = []
    for c in POINTS:
        d = ud.decomposition(chr(c))
        if not d or d.startswith("<") or c in HANGUL:
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 2 and peer_nfc.normalize_str(chr(parts[0]) + chr(parts[1])) == chr(c):
            compositions.append((parts[0], parts[1], c))
    classes = {c: ud.combining(chr(c)) for c in POINTS if ud.combining(chr(c))}
    seconds = {b for _, b, _ in compositions} | set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    unstable = sorted(set(decompositions) | set(classes) | seconds | set(HANGUL))
    # Check against the peer: a code point NFC changes on its own must be one that decomposes.
    for c, n in per_point(peer_nfc).items():
        assert n == chr(c) or c in decompositions or c in HANGUL, hex(c)
    return decompositions, compositions, classes, to_ranges(unstable)


def hex_words(values):
    words = [f"{v:X}" for v in values]
    return "\n".join(" ".join(words[i:i + 16]) for i in range(0, len(words), 16))


def swift_table(name, doc, values):
    return f'    /// {doc}\n    static let {name} = parse("""\n{hex_words(values)}\n""")'


def main():
    letters, numbers, spaces = matched_ranges(r"\p{L}"), matched_ranges(r"\p{N}"), matched_ranges(r"\s")
    decompositions, compositions, classes, unstable = normalization_tables()
    assert unstable[-1][1] < 0x40000, "CharacterClasses' flat table must cover every scalar NFC may change"
    flat_decomp = []
    for c in sorted(decompositions):
        d = decompositions[c]
        flat_decomp += [c, len(d)] + d
    class_ranges = []
    for c in sorted(classes):
        if class_ranges and class_ranges[-1][1] == c - 1 and class_ranges[-1][2] == classes[c]:
            class_ranges[-1][1] = c
        else:
            class_ranges.append([c, c, classes[c]])
    tables = [
        swift_table("letters", f"\\p{{L}}: inclusive (first, last) pairs ({len(letters)} ranges).", [v for r in letters for v in r]),
        swift_table("numbers", f"\\p{{N}}: inclusive (first, last) pairs ({len(numbers)} ranges).", [v for r in numbers for v in r]),
        swift_table("whitespace", f"\\s: inclusive (first, last) pairs ({len(spaces)} ranges).", [v for r in spaces for v in r]),
        swift_table("nfcUnstable", f"Scalars NFC may change or combine: inclusive (first, last) pairs ({len(unstable)} ranges).",
                    [v for r in unstable for v in r]),
        swift_table("combiningClasses", f"Canonical combining classes: (first, last, class) triples ({len(class_ranges)}).",
                    [v for r in class_ranges for v in r]),
        swift_table("decompositions", f"Full canonical decompositions except Hangul: (scalar, count, scalars...) ({len(decompositions)}).",
                    flat_decomp),
        swift_table("compositions", f"Primary compositions except Hangul: (first, second, composite) triples ({len(compositions)}).",
                    [v for t in compositions for v in t]),
    ]
    text = (
        "// Unicode data of the tokenizers, as the Hugging Face `tokenizers` library "
        f"{tokenizers.__version__} (Oniguruma classes, NFD)\n"
        f"// and Python's unicodedata {ud.unidata_version} (combining classes, compositions) define it.\n"
        "// Generated by tools/gen_unicode_tables.py; do not edit. Numbers are hexadecimal.\n\n"
        "enum UnicodeTables {\n" + "\n\n".join(tables) + "\n\n"
        "    private static func parse(_ text: String) -> [UInt32] {\n"
        "        text.split(whereSeparator: { $0 == \" \" || $0 == \"\\n\" }).map { UInt32($0, radix: 16)! }\n"
        "    }\n}\n"
    )
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT} ({len(text)} bytes): letters {len(letters)}, numbers {len(numbers)}, whitespace {len(spaces)} ranges; "
          f"{len(decompositions)} decompositions, {len(compositions)} compositions, {len(class_ranges)} class ranges, "
          f"{len(unstable)} NFC-unstable ranges")


if __name__ == "__main__":
    sys.exit(main())
