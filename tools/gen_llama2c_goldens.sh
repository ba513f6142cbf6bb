#!/usr/bin/env bash
# Regenerates the two fixtures made with llama2.c (github.com/karpathy/llama2.c, MIT):
#
#   Tests/CheckpointTests/Fixtures/stories260k/greedy_ids.json
#       the 200 token ids run.c generates greedily from BOS
#       (`run stories260K.bin -z tok512.bin -t 0 -n 200 -i ""`)
#   Tests/TokenizersTests/Fixtures/tok512/llama2c_encode.jsonl
#       for each sample text (the "text" fields of the committed file), the ids encode() returns
#       (bos=0/eos=0, bos=1/eos=0, bos=1/eos=1) and the text decode() yields token by token after
#       BOS, as generate() does
#
# Usage: tools/gen_llama2c_goldens.sh LLAMA2C_DIR [OUT_ROOT]
#
#   LLAMA2C_DIR  a llama2.c checkout (holding run.c); the fixtures were made at commit
#                350e04fe35433e6d2941dce5a1f53308f87058eb (350e04f)
#   OUT_ROOT     where the Tests/... files are written; default the repository root (the fixtures
#                are overwritten in place, and a regeneration shows no diff)
#
# run.c is compiled (gcc -O2) with tools/llama2c_driver.c, our own driver calling run.c's
# functions, in a temporary directory that is removed afterwards: no llama2.c code is written
# into this repository. The model and tokenizer are /work/shared/data/models/stories260k/
# (checked byte-identical to the committed fixture copies), or the committed copies when that
# directory is absent.
set -euo pipefail

PINNED_COMMIT=350e04fe35433e6d2941dce5a1f53308f87058eb

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 LLAMA2C_DIR [OUT_ROOT]" >&2
    exit 2
fi
LLAMA2C_DIR=$1
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_ROOT=${2:-$REPO_ROOT}

if [ ! -f "$LLAMA2C_DIR/run.c" ]; then
    echo "error: $LLAMA2C_DIR/run.c not found (LLAMA2C_DIR must be a llama2.c checkout)" >&2
    exit 1
fi
HEAD=$(git -C "$LLAMA2C_DIR" rev-parse HEAD 2>/dev/null || echo "unknown (not a git checkout)")
echo "llama2.c checkout: $LLAMA2C_DIR"
echo "llama2.c HEAD:     $HEAD"
if [ "$HEAD" != "$PINNED_COMMIT" ]; then
    echo "warning: the fixtures were made at $PINNED_COMMIT; this checkout is at $HEAD" >&2
fi

# --- inputs -------------------------------------------------------------------------------------
CKPT_FIXTURES=$REPO_ROOT/Tests/CheckpointTests/Fixtures/stories260k
TOK_FIXTURES=$REPO_ROOT/Tests/TokenizersTests/Fixtures/tok512
SHARED=/work/shared/data/models/stories260k
MODEL_SHA256=b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696
TOKENIZER_SHA256=037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312

if [ -f "$SHARED/stories260K.bin" ] && [ -f "$SHARED/tok512.bin" ]; then
    MODEL=$SHARED/stories260K.bin
    TOKENIZER=$SHARED/tok512.bin
    cmp "$MODEL" "$CKPT_FIXTURES/stories260K.bin"
    cmp "$TOKENIZER" "$CKPT_FIXTURES/tok512.bin"
    cmp "$TOKENIZER" "$TOK_FIXTURES/tok512.bin"
else
    echo "note: $SHARED not found, using the committed fixture copies" >&2
    MODEL=$CKPT_FIXTURES/stories260K.bin
    TOKENIZER=$CKPT_FIXTURES/tok512.bin
    cmp "$TOKENIZER" "$TOK_FIXTURES/tok512.bin"
fi
echo "$MODEL_SHA256  $MODEL" | sha256sum --check --quiet
echo "$TOKENIZER_SHA256  $TOKENIZER" | sha256sum --check --quiet
echo "model:             $MODEL"
echo "tokenizer:         $TOKENIZER"

ENCODE_JSONL_REL=Tests/TokenizersTests/Fixtures/tok512/llama2c_encode.jsonl
GREEDY_JSON_REL=Tests/CheckpointTests/Fixtures/stories260k/greedy_ids.json

# --- build --------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gen_llama2c_goldens.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp "$LLAMA2C_DIR/run.c" "$WORK/run.c"
gcc -O2 -I "$WORK" -o "$WORK/driver" "$REPO_ROOT/tools/llama2c_driver.c" -lm

# --- greedy_ids.json ----------------------------------------------------------------------------
"$WORK/driver" greedy "$MODEL" "$TOKENIZER" 200 > "$WORK/greedy.txt"
python3 - "$WORK/greedy.txt" "$WORK/greedy_ids.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert len(lines) == 3 and lines[2] == "", lines
prompt = [int(x) for x in lines[0].split()]
ids = [int(x) for x in lines[1].split()]
if prompt != [1] or len(ids) != 200:
    sys.exit(f"unexpected greedy output: prompt {prompt}, {len(ids)} ids")
doc = {
    "prompt": prompt,
    "ids": ids,
    "source": 'llama2.c run.c (karpathy/llama2.c HEAD), -t 0 -n 200 -i "", built with gcc -O2 '
              'outside the repo; ids printed from the generate loop',
}
with open(sys.argv[2], "w", encoding="utf-8", newline="") as f:
    f.write(json.dumps(doc))  # no trailing newline
PY

# --- llama2c_encode.jsonl -----------------------------------------------------------------------
python3 - "$REPO_ROOT/$ENCODE_JSONL_REL" "$WORK/texts.hex" <<'PY'
import json, sys
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
with open(sys.argv[2], "w") as f:
    for text in texts:
        raw = text.encode("utf-8")
        if b"\0" in raw:
            sys.exit(f"a text holds a NUL byte: {text!r}")
        f.write(raw.hex() + "\n")
PY
"$WORK/driver" encode "$MODEL" "$TOKENIZER" "$WORK/texts.hex" > "$WORK/encode.tsv"
python3 - "$REPO_ROOT/$ENCODE_JSONL_REL" "$WORK/encode.tsv" "$WORK/llama2c_encode.jsonl" <<'PY'
import json, sys
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
rows = open(sys.argv[2]).read().split("\n")
assert rows[-1] == "" and len(rows) - 1 == len(texts), (len(rows), len(texts))
def ids(field):
    return [int(x) for x in field.split()]
with open(sys.argv[3], "w", encoding="utf-8", newline="") as f:
    for text, row in zip(texts, rows):
        plain, bos, bos_eos, decoded = row.split("\t")
        record = {
            "text": text,
            "ids": ids(plain),
            "ids_bos": ids(bos),
            "ids_bos_eos": ids(bos_eos),
            "decoded_after_bos": bytes.fromhex(decoded).decode("utf-8"),
        }
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
print(f"encoded {len(texts)} texts")
PY

# --- outputs ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT_ROOT/$GREEDY_JSON_REL")" "$(dirname "$OUT_ROOT/$ENCODE_JSONL_REL")"
cp "$WORK/greedy_ids.json" "$OUT_ROOT/$GREEDY_JSON_REL"
cp "$WORK/llama2c_encode.jsonl" "$OUT_ROOT/$ENCODE_JSONL_REL"
echo "wrote $OUT_ROOT/$GREEDY_JSON_REL"
echo "wrote $OUT_ROOT/$ENCODE_JSONL_REL"
