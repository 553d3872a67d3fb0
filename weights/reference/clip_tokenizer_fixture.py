"""Token-id fixture for zoo-clip's tokenizer from open_clip's SimpleTokenizer.

    python weights/reference/clip_tokenizer_fixture.py   # -> weights/fixtures/clip_tokenizer.json

Hand-picked strings (unicode, accents in NFC and NFD, emoji, CJK, punctuation runs, numbers, HTML
entities, ligatures, fullwidth forms, curly quotes, control characters, long texts, empty) plus
seeded random strings over mixed scripts. Strings whose cleaning differs once ftfy's mojibake
repair (fix_encoding) is switched off are left out and counted: zoo-clip does not reproduce that
heuristic.
"""
import json
import random

import ftfy
import open_clip
from open_clip.tokenizer import SimpleTokenizer

tok = SimpleTokenizer()

HAND = [
    "", " ", "\t\n ", "a", "A photo of a cat.", "a photo of a dog", "A PHOTO OF A DOG!!!",
    "I'll be there, you're late, it's fine, we've done, I'm here, he'd go, 'S 'T 'RE",
    "Don't stop believin'", "rock'n'roll", "hello world" * 3, "hello   world \t\n again",
    "1234567890", "3.14159 2,718 1e-10 -42 +7 0x1F 100%", "$19.99 €5 £3 ¥100 ₹50",
    "!!!???...;;;:::---___***", "(((nested))) [brackets] {braces} <angles>", "@user #hashtag http://example.com/a?b=c&d=e",
    "email@example.com", "C++ and C# and F#", "x = y**2 + 3*z - 4/w", "def f(x): return x ** 2",
    "café", "cafe\u0301", "naïve résumé façade Ångström", "Ærøskøbing Straße Łódź Dvořák",
    "İstanbul ıi", "ΟΔΥΣΣΕΥΣ Οδυσσεύς σοφός", "Москва, Россия", "Ελληνικά", "עברית", "العربية",
    "हिन्दी", "ภาษาไทย", "한국어 문장입니다", "日本語の文章です。", "中文句子，标点符号！", "ｶﾀｶﾅ ﾊﾝｶｸ",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ　１２３", "“curly” ‘quotes’ ‚low‛ „double‟", "ﬁne ﬂower ﬀ ﬃ ﬄ ﬅ ﬆ Ĳssel",
    "😀 😃 😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🏳️‍🌈 ❤️", "emoji😀inside😀words", "🐈 cat 🐕 dog", "✓ ✗ → ← ↔ ∞ ∑ √ π",
    "&amp; &lt; &gt; &quot; &#39; &#x27; &nbsp; &eacute; &hellip; &mdash;", "Tom &amp;amp; Jerry",
    "P&EACUTE;REZ &NTILDE; &ntilde;", "&amp &lt &copy &notit; &notin;", "&#128512; &#x1F600; &#0; &#xD800; &#150;",
    "<b>bold</b> &amp; text", "a &unknown; entity & lone ampersand", "AT&T R&D Q&A",
    "line1\r\nline2\rline3\u2028line4\u2029line5\x85line6", "tab\there", "zero\u200bwidth\u200djoiner",
    "\x1b[31mred\x1b[0m text", "ctrl\x00\x01\x07\x7f\x1f chars", "c1 \x80 \x85 \x91\x92 \x93\x94 \x99",
    "\ufeffBOM at start", "soft\u00adhyphen", "non\u00a0breaking\u00a0space", "ideographic\u3000space",
    "<start_of_text> <end_of_text> <|startoftext|> <|endoftext|>", "<END_OF_TEXT>",
    "supercalifragilisticexpialidocious antidisestablishmentarianism", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "The quick brown fox jumps over the lazy dog. " * 20, "word " * 200,
    "a photo of a {}.", "itap of a {}.", "a bad photo of the {}.", "a origami {}.",
]


def random_strings(n, seed=0):
    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \t\n",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿß", "αβγδεζηθικλμνξοπρστυφχψω",
        "абвгдежзийклмнопрстуфхцчшщъыьэюя", "的一是不了人我在有他这为之大来以个中上们", "あいうえおかきくけこアイウエオ",
        "😀😃😄😁😆😅😂🤣🥲☺️😊", "“”‘’«»—–…", "ﬁﬂ", "ＡＢＣ１２３", "&;#",
    ]
    out = []
    for _ in range(n):
        k = rng.randint(1, 60)
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(k)))
    return out


def main():
    cases, skipped = [], 0
    for s in HAND + random_strings(600):
        if ftfy.fix_text(s) != ftfy.fix_text(s, fix_encoding=False):
            skipped += 1
            continue
        ids = [tok.sot_token_id] + tok.encode(s) + [tok.eot_token_id]
        row = tok([s])[0].tolist()
        case = {"text": s, "ids": ids}
        if len(ids) > 77:  # truncated: keep the padded row open_clip returns
            case["row77"] = row
        cases.append(case)
    with open("weights/fixtures/clip_tokenizer.json", "w", encoding="utf-8") as f:
        json.dump({"open_clip": open_clip.__version__, "ftfy": ftfy.__version__, "skipped_mojibake": skipped,
                   "cases": cases}, f, ensure_ascii=False)
    print(len(cases), "cases,", skipped, "skipped (mojibake repair)")


if __name__ == "__main__":
    main()
