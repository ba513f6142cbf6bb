#!/usr/bin/env python3
"""Golden fixtures for Sources/Tokenizers, made with the Hugging Face `tokenizers` and
`transformers` libraries (the peers bridge must match).

1. Trains three small byte-level BPE tokenizers with `tokenizers` on varied text (English,
   numbers, LaTeX, code, CJK, emoji, combining marks, whitespace runs, special tokens) plus
   GSM8K / MATH training problems from /work/shared/data:
     qwen2-style   NFC + Split(Qwen2 regex) + ByteLevel, Qwen's special and non-special added tokens
     llama3-style  Split(Llama-3 regex) + ByteLevel, ignore_merges, TemplateProcessing with BOS
     gpt2-flags    NFC + ByteLevel(add_prefix_space, GPT-2 regex), added tokens with the
                   lstrip / rstrip / single_word / normalized flags
2. Writes, per tokenizer, encode.jsonl (text → ids with and without special tokens, and the
   decodes of those ids) for a few hundred lines, including special tokens inside text and
   GSM8K / MATH test problems and solutions, and decode.jsonl (random id lists, including ones
   that cut UTF-8 sequences, → text).
3. Renders chats with transformers' apply_chat_template and the published Jinja templates of
   Qwen2.5-Instruct, Qwen2.5-Math-Instruct (another default system prompt), Meta-Llama-3-8B-Instruct
   and Llama-3.2-Instruct into chat_templates.jsonl.
4. Pins the pieces: pretokenize.jsonl (each Split regex on its own, on the test lines and more
   random text) and nfc.jsonl (`tokenizers`' NFC of every primary composition pair, reordered
   mark runs, Hangul jamo sequences and random mark soup). Pieces are given as UTF-8 byte lengths.

Run: /tmp/peers/bin/python tools/gen_tokenizer_goldens.py
Writes Tests/TokenizersTests/Fixtures/{qwen2-style,llama3-style,gpt2-flags}/, chat_templates.jsonl,
pretokenize.jsonl, nfc.jsonl and versions.json.
"""
import glob
import json
import os
import random

import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
DATA = "/work/shared/data"

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# The `chat_template` strings of the published tokenizer_config.json files (no network here).
# Qwen/Qwen2.5-0.5B-Instruct (identical in the other Qwen2.5 Instruct sizes).
QWEN25_TEMPLATE = (
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or "
    "(message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n            {{- '\\n' + message.content }}\n        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"
)
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# Qwen2.5-Math-Instruct ships the same template with this default system prompt.
QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\\\boxed{}."
QWEN25_MATH_TEMPLATE = QWEN25_TEMPLATE.replace(QWEN_DEFAULT_SYSTEM, QWEN_MATH_SYSTEM)

# meta-llama/Meta-Llama-3-8B-Instruct.
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' "
    "+ message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# meta-llama/Llama-3.2-1B-Instruct (3.1 differs only in tool handling).
LLAMA32_TEMPLATE = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# ---------------------------------------------------------------------------------------------
# Text

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times; nobody knew which.",
    "Dr. Smith's lab isn't open on Sundays, but they'll reopen on Monday at 9 a.m.",
    "I'm sure you're right: we've seen it, they'd agree, and she's done.",
    "DON'T SHOUT. I'M LISTENING! WE'LL SEE, THEY'RE HERE, YOU'VE WON, HE'D GO.",
    "Rock 'n' roll, the '90s, 'quoted', and o'clock; it’s curly, isn’t it?",
    "Mr. O'Neil paid $1,234.56 for 3 books (about 7% off) on 2024-03-15.",
    "Email me at jane.doe+tokens@example.org or visit https://example.com/a/b?c=1&d=two#frag.",
    "Hello, world! How are you? Fine... thanks!!! (really) [yes] {ok}",
    "Ünïcödé wörds like naïve, café, façade, résumé, and coöperate appear in English too.",
    "She said: \"Go left\" — then right — and finally straight ahead…",
    "A\tB\tC\nD E  F\r\nG",
]

NUMBERS = [
    "0 1 12 123 1234 12345 123456 1234567 12345678901234567890",
    "3.14159 2.71828 -0.5 +42 1e10 6.022e23 1.5E-7 0x1F 0b1011 1_000_000",
    "1,000 10,000,000 1.000,50 12:30 23:59:59 3/4 22/7 50% 99.9%",
    "Call +1 (555) 123-4567 or 555.765.4321; ZIP 90210-1234.",
    "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ①②③ ⅓ ½ ¾ Ⅻ ²³ 𝟙𝟚𝟛",
    "2024年3月15日 第1章 第二十三条",
]

LATEX = [
    r"$\frac{a}{b} + \sqrt{x^2 + y^2} = \boxed{42}$",
    r"\begin{align} f(x) &= \int_0^\infty e^{-x^2}\,dx \\ &= \frac{\sqrt{\pi}}{2} \end{align}",
    r"\left( \frac{1}{2} \right)^{n} \leq \dfrac{3}{4}, \quad \tfrac{1}{3} \cdot \pi r^2",
    r"Let $S = \sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}$ and $\prod_{i=1}^{3} i = 6$.",
    r"The answer is $\boxed{\text{(C) } 12\sqrt{3}}$ or $x \in [0, 1) \cup (2, \infty)$.",
    r"$$\lim_{x \to 0} \frac{\sin x}{x} = 1, \quad \binom{10}{3} = 120, \quad 90^\circ$$",
    r"\textbf{Solution:} We have $a_{n+1} = 2a_n - 1$, so $a_5 = \boxed{17}$.",
]

CODE = [
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}",
    "let xs = [1, 2, 3].map { $0 * 2 }  // Swift\nguard let y = xs.first else { return }",
    "{\"name\": \"bridge\", \"version\": 1, \"tags\": [\"sft\", \"rl\"], \"ok\": true, \"n\": null}",
    "if [ -f \"$HOME/.bashrc\" ]; then source ~/.bashrc; fi && echo $((1 + 2)) | tee /tmp/x.log",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE 'A%' ORDER BY id DESC;",
    "    indented four\n        indented eight\n\t\ttabbed twice\n",
    "x=>x**2; a!==b; c>>=1; d<<=2; e&&f||g; h??i; j?.k; l::m; n->o; p...q",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
]

CJK = [
    "我们今天学习数学。这个问题的答案是四十二。",
    "日本語の文章です。ひらがな、カタカナ、漢字が混ざっています。",
    "한국어 문장입니다. 띄어쓰기가 있습니다.",
    "中文English混合text测试123数字",
    "「引用」『二重』（括弧）【見出し】、。・！？",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３",
]

EMOJI = [
    "😀😃😄😁 👍🏽👍🏿 🇫🇷🇯🇵 👨‍👩‍👧‍👦 🏳️‍🌈 1️⃣ #️⃣ ❤️ ✨",
    "I love 🍕 and 🍣! 🎉🎉🎉 Party time 🥳",
    "🤖: beep boop 🔢 ➕ ➖ ✖️ ➗ 🟰",
]

MARKS = [
    "e\u0301 n\u0303 a\u0308 o\u0302 u\u0300 c\u0327",                    # decomposed (NFC composes them)
    "\u1e9b\u0323 q\u0307\u0323 a\u0301\u0301\u0301 x\u0334\u0335",        # stacked and uncomposable marks
    "Tiếng Việt có dấu: Hà Nội, Sài Gòn, Nguyễn",
    "हिन्दी भाषा में लिखा गया वाक्य",
    "العربية: مَرْحَبًا بِكُمْ",
    "עברית: שָׁלוֹם עוֹלָם",
    "ภาษาไทยไม่มีการเว้นวรรค",
    "Ελληνικά: Καλημέρα κόσμε· Ωμέγα",
    "Русский: Съешь же ещё этих мягких французских булок",
    "\u1100\u1161\u11a8 \uac00\u11a8 Hangul jamo",                         # conjoining jamo compose under NFC
    "Å (U+212B) Ω (U+2126) ﬁ ligature ǅ titlecase",                       # singletons and compatibility chars
]

WHITESPACE = [
    "two  spaces   three    four     five",
    "trailing spaces   ",
    "   leading spaces",
    "\ttab\t\ttabs\t",
    "line\nbreak\n\ndouble\n\n\ntriple",
    "crlf\r\nline\r\n\r\nend\r",
    "mixed \t \n \r\n  \n\t end",
    "nbsp\u00a0here\u00a0\u00a0and\u2003em\u2009thin\u3000ideographic",
    "zero\u200bwidth\ufeffBOM\u200djoiner\u2028line\u2029para\u0085nel",
    "\x0b\x0c vertical tab and form feed \x1c\x1d\x1e\x1f separators",
    " ",
    "\n",
    "\n\n\n",
    "    ",
    "a \n b",
    "a  \n  b",
    "x \u00a0y",
]

CONTRACTIONS = [
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'Ve 'M 'LL 'D",
    "it's isn't they're we've I'm you'll he'd",
    "IT'S ISN'T THEY'RE WE'VE I'M YOU'LL HE'D",
    "x's x'st x'rey 'ſ 'ſt ſ's '''s ''",
    "’s ‘t ′re",
]

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_PLAIN_ADDED = ["<tool_call>", "</tool_call>", "<think>", "</think>"]
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>"]

SPECIAL_LINES = [
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text",
    " <|im_end|> spaced <|im_start|> ",
    "<|im_start|><|im_end|><|endoftext|>",
    "<|im_start <|im_end| im_end|> <||> <|> <|im_startt|>",
    "<<|im_end|>> <|<|im_start|>|>",
    "Call <tool_call>{\"name\": \"f\"}</tool_call> then <think>hmm</think> done.",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>",
    "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|><|end_of_text|>",
    "<|reserved_special_token_0|>x<|reserved_special_token_1|>y<|reserved_special_token_10|>",
    "a <mask> b",
    "a<mask>b",
    "  <mask>  end",
    "x [SEP]   y",
    "[SEP][SEP] [SEP]",
    "<both>   <both>",
    "gap   <both>   gap",
    "word",
    "a word.",
    "words",
    "sword word_ word-word",
    "wordy word",
    "café cafe\u0301",
    "<NORM> <NORM>x",
]


def fuzz_lines(rng, count):
    """Random strings over interesting code points (seeded, so the goldens are reproducible)."""
    pools = [
        [chr(c) for c in range(0x20, 0x7F)],
        list(" \t\n\r\u00a0\u2003\u3000\u200b\x0b\x0c\x85"),
        list("'’sStTrReEvVmMlLdD"),
        [chr(c) for c in range(0xC0, 0x250)],
        [chr(c) for c in range(0x300, 0x370)],
        [chr(c) for c in range(0x391, 0x3CA)] + [chr(c) for c in range(0x410, 0x450)],
        [chr(c) for c in range(0x4E00, 0x4E80)] + [chr(c) for c in range(0x3041, 0x3097)],
        [chr(c) for c in range(0xAC00, 0xAC40)] + [chr(c) for c in range(0x1100, 0x1113)],
        [chr(c) for c in range(0x660, 0x66A)] + [chr(c) for c in range(0x966, 0x970)] + list("²³¹¼½¾ⅠⅡⅢ①②"),
        [chr(c) for c in range(0x1F600, 0x1F650)] + ["\u200d", "\ufe0f", "\U0001F3FD"],
        [chr(c) for c in range(0x2200, 0x2260)],
        list("0123456789"),
        ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<mask>", "[SEP]", "word", "café"],
        [chr(c) for c in (0x10400, 0x1D400, 0x1D7CE, 0x20000, 0x2A6D6, 0x30000, 0xE0041, 0xF0000)],
    ]
    lines = []
    for _ in range(count):
        n = rng.randint(1, 40)
        parts = []
        for _ in range(n):
            pool = pools[rng.randrange(len(pools))]
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 4))))
        lines.append("".join(parts))
    return lines


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def gsm8k(split):
    return read_jsonl(os.path.join(DATA, "gsm8k", f"{split}.jsonl"))


def math_records(split):
    out = []
    for path in sorted(glob.glob(os.path.join(DATA, "math", f"{split}_*.jsonl"))):
        out += read_jsonl(path)
    return out


def handmade():
    return ENGLISH + NUMBERS + LATEX + CODE + CJK + EMOJI + MARKS + WHITESPACE + CONTRACTIONS + SPECIAL_LINES


def training_corpus(rng):
    texts = []
    for r in gsm8k("train"):
        texts += [r["question"], r["answer"]]
    for r in math_records("train"):
        texts += [r["problem"], r["solution"]]
    texts += handmade() * 20
    texts += fuzz_lines(rng, 400)
    return texts


# ---------------------------------------------------------------------------------------------
# Tokenizers

def trainer(vocab_size, specials):
    return trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
                               initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)


def qwen2_style(corpus):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.train_from_iterator(corpus, trainer(4000, QWEN_SPECIALS))
    # Qwen2.5's tool and think markers are added tokens that are not special (kept by skip_special_tokens).
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in QWEN_PLAIN_ADDED])
    return tok


def llama3_style(corpus):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.train_from_iterator(corpus, trainer(4000, LLAMA_SPECIALS))
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


def gpt2_flags(corpus):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus[::3], trainer(1500, ["<|endoftext|>"]))
    tok.add_tokens([
        AddedToken("<mask>", lstrip=True, special=True, normalized=False),
        AddedToken("[SEP]", rstrip=True, special=True, normalized=False),
        AddedToken("<both>", lstrip=True, rstrip=True, special=True, normalized=False),
        AddedToken("word", single_word=True, special=False, normalized=False),
        AddedToken("cafe\u0301", special=False, normalized=True),  # matched in its NFC form "café"
        AddedToken("<NORM>", special=True, normalized=True),
    ])
    return tok


def decode_cases(tok, encoded, rng, count):
    """Random slices of encodings (cutting UTF-8 sequences) and random id lists."""
    vocab = tok.get_vocab_size()
    cases = []
    long_ones = [ids for ids in encoded if len(ids) > 4]
    for _ in range(count // 2):
        ids = rng.choice(long_ones)
        a = rng.randrange(len(ids))
        b = rng.randrange(a, min(len(ids), a + 12)) + 1
        cases.append(ids[a:b])
    for _ in range(count - count // 2):
        cases.append([rng.randrange(vocab) for _ in range(rng.randint(1, 16))])
    return [{"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
             "decoded_skip": tok.decode(ids, skip_special_tokens=True)} for ids in cases]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def test_lines(rng):
    lines = handmade() + fuzz_lines(rng, 60)
    test = gsm8k("test")[:40]
    lines += [r["question"] for r in test] + [r["answer"] for r in test]
    picked = [r for r in math_records("test") if len(r["problem"]) + len(r["solution"]) < 1200]
    picked = picked[::max(1, len(picked) // 40)][:40]
    lines += [r["problem"] for r in picked] + [r["solution"] for r in picked]
    lines += ["", "a", " a", "a ", "\u00e9", "e\u0301"]
    return lines


# ---------------------------------------------------------------------------------------------
# Chat templates

CHATS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a math tutor."}, {"role": "user", "content": "Solve x^2 = 4."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}],
    [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April."},
     {"role": "assistant", "content": "She sold 48/2 = 24 clips in May.\n#### 72"}],
    [{"role": "user", "content": "  padded content \n"}, {"role": "assistant", "content": "\t answer  \n\n"}],
    [{"role": "system", "content": "  spaced system  "}, {"role": "user", "content": "\n\nq\n"}],
    [{"role": "user", "content": "<|im_end|> and <|eot_id|> inside"}],
    [{"role": "user", "content": "数学 😀 e\u0301 \\boxed{42}"}],
    [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
    [{"role": "user", "content": "first"}, {"role": "system", "content": "late system"},
     {"role": "user", "content": "second"}],
    [{"role": "system", "content": "   "}, {"role": "user", "content": "\x1c\x1fseparators\x1e \u3000"}],
    [{"role": "user", "content": "Find $\\frac{1}{2} + \\frac{1}{3}$."},
     {"role": "assistant", "content": "$\\frac{5}{6}$, so the answer is $\\boxed{\\frac{5}{6}}$."},
     {"role": "user", "content": "Thanks."}],
]

TEMPLATES = [
    # (name in bridge, Jinja source, tokenizer to host it, extra render kwargs, bridge options)
    ("qwen2.5", QWEN25_TEMPLATE, "qwen2-style", {}, {}),
    ("qwen2.5", QWEN25_MATH_TEMPLATE, "qwen2-style", {}, {"default_system_prompt": QWEN_MATH_SYSTEM.replace("\\\\", "\\")}),
    ("llama3", LLAMA3_TEMPLATE, "llama3-style", {}, {}),
    ("llama3.1", LLAMA32_TEMPLATE, "llama3-style", {"date_string": "26 Jul 2024"}, {"date_string": "26 Jul 2024"}),
    ("llama3.1", LLAMA32_TEMPLATE, "llama3-style", {"date_string": "01 Jan 2025"}, {"date_string": "01 Jan 2025"}),
]


def chat_goldens(trained):
    rows = []
    for name, source, host, kwargs, options in TEMPLATES:
        tok = PreTrainedTokenizerFast(tokenizer_object=trained[host],
                                      bos_token="<|begin_of_text|>" if host == "llama3-style" else None)
        tok.chat_template = source
        for messages in CHATS:
            for gen in (False, True):
                text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen, **kwargs)
                ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen, **kwargs)
                if isinstance(ids, dict) or hasattr(ids, "keys"):
                    ids = ids["input_ids"]
                rows.append({"template": name, "options": options, "tokenizer": host, "messages": messages,
                             "add_generation_prompt": gen, "text": text, "ids": list(ids)})
    return rows


# ---------------------------------------------------------------------------------------------
# Pre-tokenizer patterns and NFC on their own

def pretokenize_goldens(lines, rng):
    rows = []
    texts = handmade() + fuzz_lines(rng, 400)
    for name, regex in [("qwen2", QWEN2_REGEX), ("llama3", LLAMA3_REGEX), ("gpt2", GPT2_REGEX)]:
        split = pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False)
        for text in texts:
            pieces = [p for p, _ in split.pre_tokenize_str(text)]
            rows.append({"pattern": name, "text": text, "piece_bytes": [len(p.encode("utf-8")) for p in pieces]})
    return rows


def nfc_goldens(rng):
    import unicodedata as ud
    nfc = normalizers.NFC()
    texts = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        d = ud.decomposition(chr(c))
        if d and not d.startswith("<"):
            parts = "".join(chr(int(x, 16)) for x in d.split())
            texts += [parts + "\u0323\u0301", "x" + parts[::-1]]
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0323", "\u031b", "\u05b0", "\u0e38", "\u3099", "\u093c"]
    bases = list("aeiouAEIOUnNcCsSzZ") + ["\u3046", "\u304b", "\u0915", "\u05d0", "\u1100", "\uac00", "\u03b1"]
    jamo = [chr(c) for c in list(range(0x1100, 0x1113)) + list(range(0x1161, 0x1176)) + list(range(0x11A8, 0x11C3))]
    for _ in range(1000):
        texts.append("".join(rng.choice(bases) + "".join(rng.choice(marks) for _ in range(rng.randint(0, 4)))
                             for _ in range(rng.randint(1, 4))))
        texts.append("".join(rng.choice(jamo + ["\uac00", "\uac01", "\ud7a3"]) for _ in range(rng.randint(1, 6))))
    rows = []
    for t in texts:
        n = nfc.normalize_str(t)
        rows.append({"text": t} if n == t else {"text": t, "nfc": n})  # no "nfc": unchanged
    return rows


def main():
    rng = random.Random(20240917)
    corpus = training_corpus(rng)
    lines = test_lines(random.Random(7))
    trained = {"qwen2-style": qwen2_style(corpus), "llama3-style": llama3_style(corpus), "gpt2-flags": gpt2_flags(corpus)}
    meta = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__}
    for name, tok in trained.items():
        out = os.path.join(FIXTURES, name)
        os.makedirs(out, exist_ok=True)
        tok.save(os.path.join(out, "tokenizer.json"), pretty=False)
        rows, encoded = [], []
        for text in lines:
            ids = tok.encode(text, add_special_tokens=False).ids
            with_special = tok.encode(text, add_special_tokens=True).ids
            encoded.append(ids)
            decoded = tok.decode(ids, skip_special_tokens=False)
            decoded_skip = tok.decode(ids, skip_special_tokens=True)
            # Fields equal to what they default to are left out to keep the fixture small:
            # ids_with_special_tokens defaults to ids, decoded to text, decoded_skip to decoded.
            row = {"text": text, "ids": ids}
            if with_special != ids:
                row["ids_with_special_tokens"] = with_special
            if decoded != text:
                row["decoded"] = decoded
            if decoded_skip != decoded:
                row["decoded_skip"] = decoded_skip
            rows.append(row)
        write_jsonl(os.path.join(out, "encode.jsonl"), rows)
        write_jsonl(os.path.join(out, "decode.jsonl"), decode_cases(tok, encoded, random.Random(11), 80))
        size = os.path.getsize(os.path.join(out, "tokenizer.json"))
        print(f"{name}: vocab {tok.get_vocab_size()}, tokenizer.json {size} bytes, {len(rows)} lines")
    write_jsonl(os.path.join(FIXTURES, "chat_templates.jsonl"), chat_goldens(trained))
    write_jsonl(os.path.join(FIXTURES, "pretokenize.jsonl"), pretokenize_goldens(lines, random.Random(13)))
    write_jsonl(os.path.join(FIXTURES, "nfc.jsonl"), nfc_goldens(random.Random(17)))
    with open(os.path.join(FIXTURES, "versions.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print("peers:", meta)


if __name__ == "__main__":
    main()
