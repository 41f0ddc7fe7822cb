"""Writes the tokenizer test corpus (deterministic, about 1.5 MB of valid UTF-8) into a folder.

  /usr/bin/python3 make_corpus.py OUT_DIR [SOURCE_ROOT]

Files:
  multilingual.txt  sentences in many scripts, random text drawn from many Unicode blocks,
                    mixed-case words and contractions (o200k's case classes), numbers in several
                    digit systems, emoji with skin tones, ZWJ sequences and flags;
  code.txt          source code (this repository's own C++ and Python files);
  edge.txt          runs of spaces, tabs, newlines, CR/LF and digits, unusual whitespace
                    (NBSP, U+2028, U+3000, U+FEFF), lone combining marks, very long words.
"""
import os
import random
import sys

SENTENCES = [
    "The quick brown fox jumps over the lazy dog. It's 3:45pm, isn't it? We'll see; they'd've known.",
    "Le cœur a ses raisons que la raison ne connaît point. Ça va très bien, merci !",
    "Der Überfluss an Äpfeln und Öl ist groß. Straße, Maß, Fuß.",
    "¿Dónde está la biblioteca? ¡Qué día tan hermoso! El niño comió piñas.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. ПРИВЕТ мир!",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΣΊΣΥΦΟΣ και Αθηνά.",
    "我能吞下玻璃而不伤身体。人工智能正在改变世界，２０２５年。",
    "私はガラスを食べられます。それは私を傷つけません。カタカナとひらがな、漢字。",
    "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요. 한국어 문장입니다.",
    "أنا قادر على أكل الزجاج و هذا لا يؤلمني. العربية: ٠١٢٣٤٥٦٧٨٩ مرحبا بالعالم",
    "אני יכול לאכול זכוכית וזה לא מזיק לי. שָׁלוֹם עוֹלָם",
    "मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती. संख्या: ०१२३४५६७८९",
    "ฉันกินกระจกได้ แต่มันไม่ทำให้ฉันเจ็บ ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "მინას ვჭამ და არა მტკივა. Հայերեն լեզու: Բարեւ աշխարհ:",
    "Tôi có thể ăn thủy tinh mà không hại gì. Tiếng Việt có dấu: ẳ ặ ẫ ữ ự.",
    "Emoji: 👩‍👩‍👧‍👦 family, 🤷🏽‍♀️ shrug, 🇫🇷🇯🇵🇺🇸 flags, ❤️‍🔥, 🧑🏿‍💻, 1️⃣ #️⃣ ✌🏻",
    "Math: ∀x∈ℝ, ∃y: x² + y² ≤ 1 ⇒ |x| ≤ 1; ∑ᵢ aᵢ = ∫₀¹ f(t) dt ≈ 3.14159…",
    "Roman numerals Ⅻ and ⅷ, fractions ½ ¾, superscripts ¹²³, circled ①②③.",
    "McDonald's iPhone eBay HELLOworld camelCaseWord snake_case_word ALLCAPS MixedUP",
    "I'M HERE, YOU'RE THERE, THEY'LL COME, SHE'D GO, WE'VE SEEN, IT'S OK, 'S 'T 'Re 'vE 'lL 'D",
    "Ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ ａｎｄ ｄｉｇｉｔｓ １２３ ＡＢＣ",
    "Combining: e\u0301 a\u0300 o\u0308 n\u0303 Z\u0335\u0321\u031b a\u20dd \u0915\u094d\u0937",
    "https://example.com/path/to/file?query=1&x=%20y#frag user@example.org 192.168.0.1:8080",
]

BLOCKS = [
    (0x0020, 0x007E), (0x00A0, 0x00FF), (0x0100, 0x017F), (0x0180, 0x024F), (0x0250, 0x02AF),
    (0x0300, 0x036F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x0530, 0x058F), (0x0590, 0x05FF),
    (0x0600, 0x06FF), (0x0900, 0x097F), (0x0980, 0x09FF), (0x0E00, 0x0E7F), (0x10A0, 0x10FF),
    (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF), (0x2100, 0x214F),
    (0x2150, 0x218F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF), (0x2500, 0x257F),
    (0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
    (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F),
    (0x1F900, 0x1F9FF), (0x1F1E6, 0x1F1FF), (0x10000, 0x1007F), (0x20000, 0x2A6DF),
]


def random_text(rng, n_chars):
    out = []
    while len(out) < n_chars:
        lo, hi = rng.choice(BLOCKS)
        for _ in range(rng.randint(1, 12)):
            cp = rng.randint(lo, hi)
            if 0xD800 <= cp <= 0xDFFF:
                continue
            out.append(chr(cp))
        out.append(rng.choice([" ", " ", " ", "\n", "  ", "\t", ". ", ", "]))
    return "".join(out)


def mixed_case_words(rng, n):
    words = []
    for _ in range(n):
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéüßøçñ") for _ in range(rng.randint(1, 10)))
        w = "".join(c.upper() if rng.random() < 0.3 else c for c in w)
        if rng.random() < 0.2:
            w += "'" + rng.choice(["s", "S", "t", "T", "re", "RE", "rE", "ve", "VE", "m", "M", "ll", "LL", "lL", "d", "D", "x"])
        words.append(w)
    return " ".join(words)


def numbers(rng, n):
    systems = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "〇一二三"]
    out = []
    for _ in range(n):
        digits = rng.choice(systems)
        out.append("".join(rng.choice(digits) for _ in range(rng.randint(1, 14))))
        out.append(rng.choice([" ", ".", ",", "-", "/", "\n", ":", "%", " $"]))
    return "".join(out)


def edge_cases(rng):
    parts = []
    for n in [1, 2, 3, 5, 8, 17, 64, 300]:
        parts += [" " * n + "word", "x" + " " * n, "\n" * n, "\r\n" * n, "\t" * n + "y", " \n" * n,
                  "1" * n, "a" * n + "1" * n, " " * n + "\n" + " " * n + "z"]
    parts += ["\u00a0\u00a0nbsp", "a\u2028b\u2029c", "\u3000ideographic", "\ufeffbom", "zero\u200bwidth",
              "\u0301lone mark", " \u0301 ", "\u0301\u0301\u0301", "end with spaces   ", "tabs\t\t\n\t",
              "mixed \r\n \r \n\r", "'s", "''", "' s", "a'", "'ll've", "don't", "DON'T", "dON'T", "x\n\n  \n y",
              "!!!???...", "  !!!\n", "$$$ 100", "/path/to//file//", "a/\nb", "!/\r\n/",
              "😀" * 40, "👍🏽" * 20, "🇺🇳" * 10, "\U0001F9D1\u200d\U0001F680" * 5]
    words = ["".join(rng.choice("abcdefghij") for _ in range(n)) for n in [500, 2000, 6000]]
    parts += words + ["Ä" * 3000, "你" * 3000, "9" * 5000, "\u0915\u094d" * 1000]
    rng.shuffle(parts)
    return "\n".join(parts) + "  "


def main():
    out_dir = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(20251121)

    ml = []
    while sum(len(s.encode()) for s in ml) < 800_000:
        ml.append(" ".join(rng.sample(SENTENCES, 4)))
        ml.append(random_text(rng, rng.randint(50, 400)))
        ml.append(mixed_case_words(rng, rng.randint(10, 60)))
        ml.append(numbers(rng, rng.randint(5, 30)))
    with open(os.path.join(out_dir, "multilingual.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(ml))

    code = []
    for dirpath, _, files in sorted(os.walk(root)):
        if any(p in dirpath for p in ("/build", "/.git", "node_modules")):
            continue
        for name in sorted(files):
            if name.endswith((".cc", ".h", ".py", ".js", ".sh", ".md", ".json", ".txt")) and name != "package-lock.json":
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                    code.append(f.read())
    with open(os.path.join(out_dir, "code.txt"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(code)[:500_000])

    with open(os.path.join(out_dir, "edge.txt"), "w", encoding="utf-8") as f:
        f.write(edge_cases(rng))


if __name__ == "__main__":
    main()
