#!/usr/bin/env python3
# Writes tests/fixtures/tokenizer/corpus.jsonl: the strings the tokenizer golden tests encode.
# Edit the lists below, run `python3 make_corpus.py`, then `node gen_golden_ids.js`.
import json, sys

C = []
def add(*xs):
    for x in xs: C.append(x)

# --- empty and tiny
add("", " ", "  ", "a", "A", "Z", "0", ".", "\n", "\t", "\r", "\r\n", "中", "あ", "한", "😀", "é", "ß")

# --- English prose
add(
 "Hello, world!",
 "The quick brown fox jumps over the lazy dog.",
 "It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
 "I don't think we'll make it; they've already left, and she'd said you're late.",
 "Mr. and Mrs. Dursley, of number four, Privet Drive, were proud to say that they were perfectly normal, thank you very much.",
 "THIS IS ALL CAPS AND SHOUTING!!!",
 "camelCaseIdentifier and snake_case_identifier and kebab-case-identifier",
 "e-mail me at john.doe+test@example.co.uk or visit https://www.example.com/path?q=1&r=two#frag",
 "The U.S.A. and the U.K. signed the treaty on Jan. 5th, 1945 at 3:30 p.m.",
 "She said, \"Don't go there.\" He replied: 'Why not?'",
 "Well... I guess—no, I'm sure—that it's fine (mostly) [citation needed] {maybe}.",
 "  leading spaces and trailing spaces   ",
 "Multiple     spaces    between      words",
 "Line one\nLine two\nLine three",
 "Paragraph one.\n\nParagraph two.\n\n\nParagraph three.",
 "Windows line endings\r\nare here\r\n\r\nand there.",
 "Tabs\tseparate\tthese\tcolumns\t\tdouble",
 "A sentence ending with a newline.\n",
 "rock'n'roll, o'clock, y'all, ma'am, 'twas, ’tis, don’t",
 "Numbers like 3.14, 2,718, 1e10, -42, +7 and 0x1F appear in text.",
 "In 2023, revenue grew 15% to $4.2 billion (vs. $3.65B in 2022).",
 "Antidisestablishmentarianism and pneumonoultramicroscopicsilicovolcanoconiosis are long words.",
 "Supercalifragilisticexpialidocious",
 "#hashtag @mention $TICKER %percent ^caret &amp; *star",
 "A/B testing, and/or, either/or, 24/7, w/o",
 "He scored 10/10 — a perfect score! Isn't that great?!?",
 "Résumé, naïve, café, coöperate, façade, jalapeño, piñata",
 "The café's crème brûlée was exquisite.",
 "Ünïcödé ïn Éñglïsh téxt",
 "Q: What is 2+2?\nA: 4.",
 "- item one\n- item two\n  - nested item\n* star item",
 "1. First\n2. Second\n3. Third",
 "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\nThe slings and arrows of outrageous fortune,",
)

# --- Chinese
add(
 "你好，世界！",
 "我爱北京天安门，天安门上太阳升。",
 "深度求索是一家人工智能公司，致力于通用人工智能的研究。",
 "今天天气很好，我们去公园散步吧。",
 "人工智能（AI）正在改变世界。",
 "這是繁體中文的句子，包含一些傳統字符。",
 "《红楼梦》是中国古典四大名著之一。",
 "他说：“我明天来。”她回答：‘好的。’",
 "价格是１２３元，约合17.5美元。",
 "第1章 第2节 第345页",
 "中文English混合mixed文本text",
 "中文 空格 分隔",
 "龘靐齉齾爩鱻麤龗灪吁",
 "𠀀𠀁𠀂 are CJK Extension B characters",
 "㐀㐁㐂 are CJK Extension A",
 "鿐鿑鿒鿓 are late CJK unified ideographs",
 "〇一二三四五六七八九十百千万亿",
 "问：什么是机器学习？\n答：机器学习是人工智能的一个分支。",
 "的的的的的的的的的的",
 "中文标点：，。！？、；：“”‘’（）【】《》〈〉「」『』……——～·",
)

# --- Japanese
add(
 "こんにちは、世界！",
 "私は日本語を勉強しています。",
 "カタカナとひらがなと漢字が混ざった文章です。",
 "東京タワーは１９５８年に完成しました。",
 "ｶﾀｶﾅ（半角カタカナ）もあります。",
 "ラーメン、スーパー、コーヒー",
 "人々、時々、我々、色々",
 "「これはテストです」と彼は言った。",
 "ゔ ゕ ゖ ゝ ゞ ヷ ヸ ヹ ヺ ・ ヽ ヾ ヿ",
 "吾輩は猫である。名前はまだ無い。",
)

# --- Korean
add(
 "안녕하세요, 세계!",
 "한국어는 한글로 씁니다.",
 "저는 학생입니다. 만나서 반갑습니다.",
 "ㄱㄴㄷㄹ ㅏㅑㅓㅕ",
 "한국어 English 日本語 中文",
 "\u1100\u1161\u11a8 (conjoining jamo)",
)

# --- Arabic, Hebrew, Persian
add(
 "مرحبا بالعالم",
 "اللغة العربية جميلة جداً.",
 "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
 "الأرقام العربية: ٠١٢٣٤٥٦٧٨٩ و ۰۱۲۳۴۵۶۷۸۹",
 "שלום עולם",
 "עִבְרִית עם ניקוד",
 "سلام دنیا، حال شما چطور است؟",
 "Mixed \u202bRTL\u202c and \u200fmarks\u200e here",
)

# --- Indic, Thai, SE Asian
add(
 "नमस्ते दुनिया",
 "हिन्दी भाषा देवनागरी लिपि में लिखी जाती है।",
 "क्षत्रिय ज्ञान श्री",
 "देवनागरी अंक: ०१२३४५६७८९",
 "বাংলা ভাষা",
 "தமிழ் மொழி",
 "తెలుగు భాష",
 "ગુજરાતી",
 "ਪੰਜਾਬੀ",
 "สวัสดีครับ",
 "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
 "เลขไทย ๐๑๒๓๔๕๖๗๘๙",
 "ພາສາລາວ",
 "ភាសាខ្មែរ",
 "မြန်မာဘာသာ",
 "Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ ế ề ể ễ ệ",
)

# --- Cyrillic, Greek, other European
add(
 "Привет, мир!",
 "Съешь же ещё этих мягких французских булок, да выпей чаю.",
 "Москва — столица России. В 2024 году население составило 13 миллионов.",
 "Українська мова: ґ, є, і, ї",
 "Γειά σου Κόσμε! Αλφάβητο: αβγδεζηθικλμνξοπρστυφχψω",
 "Ἐν ἀρχῇ ἦν ὁ λόγος",
 "Zażółć gęślą jaźń",
 "Příliš žluťoučký kůň úpěl ďábelské ódy",
 "Größenwahn und Straße; ẞ capital sharp s",
 "İstanbul'da ılık bir gün; I ı İ i",
 "Ærøskøbing, Ålborg, Þórsmörk, ðæs",
 "Հայերեն այբուբեն",
 "ქართული ენა",
 "Mongolian: ᠮᠣᠩᠭᠣᠯ",
 "Amharic: ሰላም ለዓለም",
 "Cherokee: ᏣᎳᎩ",
 "Inuktitut: ᐃᓄᒃᑎᑐᑦ",
)

# --- Emoji
add(
 "😀😃😄😁😆",
 "I love pizza 🍕 and tacos 🌮!",
 "👍🏻👍🏼👍🏽👍🏾👍🏿",
 "👨‍👩‍👧‍👦 family ZWJ sequence",
 "👩‍💻 👨‍🚀 🧑‍🔬 🏳️‍🌈 🏴‍☠️",
 "🇺🇸🇬🇧🇯🇵🇨🇳🇩🇪🇫🇷",
 "Flags: 🇰🇷 🇮🇳 🇧🇷 and a lone regional indicator 🇦",
 "🏴󠁧󠁢󠁥󠁮󠁧󠁿 England, 🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
 "Keycaps: 1️⃣ 2️⃣ #️⃣ *️⃣ 🔟",
 "❤️ ❤ ♥️ ☺️ ✔️ ✅ ❌",
 "🧑🏽‍🤝‍🧑🏿 people holding hands",
 "emoji🙂between🙃words",
 "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉",
 "🫠🫡🫶🪿🫎 newer emoji",
 "😀 😀  😀   😀",
 "©®™ ℹ️ Ⓜ️ ⌚ ⏰",
)

# --- Digits: sweeps and formats
for n in list(range(1, 26)) + [31, 32, 33, 40, 64]:
    add("".join(str((i * 7 + 3) % 10) for i in range(n)))
for n in range(1, 11):
    add("x" + "9" * n + "y")
    add(" " + "1" * n)
add(
 "1,234,567.89", "3.14159265358979323846", "-273.15°C", "+1 (555) 123-4567",
 "2024-01-15T10:30:00Z", "192.168.0.1:8080", "v1.2.3-rc.4+build.567",
 "ISBN 978-3-16-148410-0", "0xDEADBEEF 0b101010 0o777 1_000_000",
 "１２３４５６７８９０ fullwidth digits", "x² + y³ = z¹⁰", "½ ¼ ¾ ⅓ ⅔ ⅛",
 "Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅿ roman numerals", "①②③④⑤ ⑴⑵⑶ ⒈⒉⒊", "𝟘𝟙𝟚𝟛 math digits",
 "৩৪৫ ௧௨௩ ၁၂၃ ᠑᠒᠓", "123abc456def789", "abc123", "123 456 7890",
 "9999999999999999999999999999999999999999", "1.0e-10 6.022e23 1E+5",
 "$1,000,000.00 €99,99 £5 ¥1000 ₹500 ₿0.001", "50% off 100%",
)

# --- Whitespace sweeps and oddities
for n in [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 64]:
    add("a" + " " * n + "b")
for n in [1, 2, 3, 4, 8]:
    add("x" + "\t" * n + "y")
    add("x" + "\n" * n + "y")
    add("x" + "\r\n" * n + "y")
add(
 " leading", "trailing ", "   ", "\t\t\t", "\n\n\n", "\r\n\r\n", "\r\r\r", "\n\r", " \n", "\n ", " \n ",
 "word \n word", "word\t\nword", "word  \r\n  word", "a \t b \t c", "\t indented\n\t\tdouble\n",
 "end with spaces   \n   start with spaces", "spaces before newline    \nafter",
 "\u00a0non-breaking\u00a0space\u00a0", "ideographic\u3000space\u3000here", "en\u2002em\u2003thin\u2009hair\u200a",
 "line\u2028separator and paragraph\u2029separator", "next\u0085line char", "vertical\u000btab and form\u000cfeed",
 "zero\u200bwidth\u200bspace", "zero\u200cwidth\u200dnon-joiner", "BOM\ufeffin the middle", "\ufeffBOM at start",
 "narrow\u202fno-break and medium\u205fmath space", "ogham\u1680space mark", "mongolian\u180evowel separator",
 " \u00a0 \u3000 \t \n", "a\u00a0\u00a0\u00a0b", "\n\n\nText after blank lines",
 "x \r\n\r\n y", "?\n\n", "!\r\n", " ?!\r\n\r\n", ".\n.\n.\n",
)

# --- Code
add(
 "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
 "import numpy as np\nx = np.arange(10).reshape(2, 5)\nprint(x.T @ x)\n",
 "class Foo(Base):\n    \"\"\"Docstring.\"\"\"\n    def __init__(self, *args, **kwargs):\n        super().__init__()\n        self._cache: dict[str, int] = {}\n",
 "#include <iostream>\n\nint main() {\n    std::cout << \"Hello, world!\" << std::endl;\n    return 0;\n}\n",
 "template <typename T>\nconstexpr T max(const T& a, const T& b) noexcept { return a > b ? a : b; }",
 "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
 "std::vector<std::unique_ptr<Node>> children_; // owned",
 "const add = (a, b) => a + b;\nconsole.log(`sum: ${add(1, 2)}`);\n",
 "async function fetchData(url) {\n  const res = await fetch(url);\n  if (!res.ok) throw new Error(res.statusText);\n  return res.json();\n}",
 "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
 "impl<'a, T: Clone + 'a> Iterator for Iter<'a, T> { type Item = &'a T; }",
 "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n",
 "public static void main(String[] args) {\n\tSystem.out.println(\"Hi\");\n}",
 "SELECT id, name, COUNT(*) AS n FROM users WHERE age >= 18 GROUP BY id, name HAVING n > 1 ORDER BY n DESC;",
 "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Test</title></head>\n<body><p class=\"x\">Hi &amp; bye</p></body>\n</html>",
 "{\"name\": \"dsinfer\", \"version\": \"0.1.0\", \"tags\": [\"a\", \"b\"], \"nested\": {\"k\": null, \"n\": 1.5e-3}}",
 "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  echo \"$f\" | tr '[:lower:]' '[:upper:]' >> out.log 2>&1\ndone\n",
 "\\begin{equation}\n  E = mc^2 \\quad \\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n\\end{equation}",
 "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)$",
 "| col1 | col2 |\n|------|------|\n| a    | b    |\n",
 "```python\nprint('hi')\n```",
 "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,4 @@\n-int x = 1;\n+int x = 2;\n",
 "x+=1;y-=2;z*=3;w/=4;a%=5;b<<=1;c>>=2;d&=e|f^g;",
 "if (a != b && c == d || !e) { return -1; } else if (x <= y >= z) {}",
 "arr[i][j] = (ptr->next)->val; obj.method().chain()?.opt ?? fallback;",
 "    indented with four spaces\n\tindented with tab\n        eight spaces",
 "// comment\n/* block\n   comment */\n# hash comment\n-- sql comment\n<!-- html comment -->",
 "__init__ __name__ __main__ _private __dunder__",
 "$variable @decorator #define %macro &reference *pointer",
 "key: value\nlist:\n  - a\n  - b\nnested:\n  inner: 1\n",
 "[section]\nkey=value\n; comment\n",
 "(defun square (x) (* x x))",
 "main = do\n  putStrLn \"Hello\"\n  let xs = [1..10] :: [Int]\n  print $ sum xs",
 "<?php echo \"Hello\"; $arr = ['a' => 1]; ?>",
 "local t = {1, 2, 3}\nfor i, v in ipairs(t) do print(i, v) end",
 "@media (max-width: 600px) { .box { margin: 0 auto; color: #ff00aa; } }",
 "a\\nb\\tc\\\\d\\\"e\\u00e9",
 "path/to/file.txt C:\\Users\\name\\Documents ../relative ./here ~/home",
 "0x7fffffff 0xFFFFFFFFFFFFFFFF 1234567890ULL 3.0f 1e-9L",
)

# --- Special tokens mid-text (V3 added tokens) and look-alikes
BOS = "<｜begin▁of▁sentence｜>"; EOS = "<｜end▁of▁sentence｜>"
add(
 BOS, EOS, "<｜▁pad▁｜>", "<|EOT|>", "<｜User｜>", "<｜Assistant｜>",
 BOS + "Hello", "Hello" + EOS, "Hello " + BOS + " world", "a" + BOS + "b" + EOS + "c",
 BOS + BOS + EOS + EOS,
 "<｜User｜>What is 1+1?<｜Assistant｜>2" + EOS,
 BOS + "You are a helpful assistant.<｜User｜>Hi<｜Assistant｜>Hello! How can I help?" + EOS + "<｜User｜>Thanks",
 "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>" + EOS,
 "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temp\": 21}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>",
 "<｜fim▁begin｜>def f(x):\n    <｜fim▁hole｜>\n    return y<｜fim▁end｜>",
 "<think>\nLet me think step by step.\n</think>\n\nThe answer is 42.",
 "<think></think>", "</think>", "<｜User｜><think>",
 "<｜place▁holder▁no▁0｜> and <｜place▁holder▁no▁799｜> and <｜place▁holder▁no▁42｜>",
 "<｜User", "<｜User｜", "｜User｜>", "<|User|>", "<｜user｜>", "<｜ User｜>", "< ｜User｜>",
 "<｜begin▁of▁sentence", "<｜begin_of_sentence｜>", "<|begin▁of▁sentence|>",
 "<<｜User｜>>", "<｜User｜><｜User｜><｜User｜>", "x<|EOT|>y<|EOT|>",
 "   <｜User｜>   spaced   <｜Assistant｜>   ", "\n<｜User｜>\n", "中文<｜User｜>中文", "123<｜User｜>456",
 "<s>Llama style</s> [INST] not special here [/INST] <|im_start|>user<|im_end|>",
 "<|endoftext|> <|im_start|> <pad> <unk> <mask> [CLS] [SEP]",
 "▁ underscore-like ▁▁▁ and ｜ fullwidth bar",
)

# --- Unicode edge cases
add(
 "e\u0301 vs é (combining acute vs precomposed)",
 "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333 zalgo",
 "\u0301 leading combining mark", "a\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308",
 "\u0000 NUL char", "ctrl\u0001\u0002\u0003\u001b[31mred\u001b[0m", "del\u007fchar", "c1\u0080\u0081\u009f controls",
 "\ue000\uf8ff private use", "\U000f0000\U0010fffd supplementary private use", "\U0010ffff max code point",
 "\ufffd replacement char", "\ufffe\uffff noncharacters", "\U0001fffe\U0001ffff",
 "soft\u00adhyphen", "RTL \u202eoverride\u202c end", "\u2066isolate\u2069",
 "𝐀𝐁𝐂 𝑎𝑏𝑐 𝔸𝔹ℂ 𝒜ℬ𝒞 math letters", "ﬁ ﬂ ﬀ ﬃ ligatures", "ＡＢＣ ａｂｃ fullwidth latin",
 "Ⓐⓑⓒ 🅰🅱 circled", "ᴬᴮᴰ ᵃᵇᶜ modifier letters", "℃ ℉ № ™ ℠ Ω Å K",
 "𓀀𓀁𓀂 Egyptian hieroglyphs", "𐌰𐌱𐌲 Gothic", "𒀀𒀁 cuneiform", "\U00016fe0\U00016fe1 Tangut marks",
 "\U0001e4f0\U0001e4f1 Nag Mundari digits", "\U00011f00\U00011f04 Kawi", "\U00031350\U00031351 CJK Ext H",
 "\U0002ebf0\U0002ebf1 CJK Ext I", "\U0001fae8\U0001faef newest emoji", "\u0cf3 Kannada sign",
 "\ufe0f\ufe0e variation selectors alone", "\U000e0100 variation selector supplement", "\U000e0001\U000e0061 tags",
 "a\u200db\u200dc", "\u034f combining grapheme joiner", "\u2060word\u2060joiner",
 "ʼ apostrophe modifier ˈstress ˌsecondary", "ǅ ǈ ǋ titlecase digraphs", "ᾈ ᾉ Greek titlecase",
 "\u0e40\u0e01\u0e47 Thai with marks \u0e48\u0e49", "\u0915\u094d\u200d\u0937 Devanagari ZWJ",
 "߀߁߂ NKo digits", "᧐᧑ New Tai Lue digits", "꘠꘡ Vai digits",
 "〆〇〻 ideographic", "ー〜～ prolonged marks", "・･ middle dots", "゛゜ kana voicing",
 "\u3031\u3032\u3033 kana repeat", "\u30fb\u30fc\u30fd\u30fe", "\u309b\u309c\u309f\u30a0",
 "\u4e00\u9fa5\u9fa6\u9fff boundaries of the CJK range", "\u3040\u3041\u309f\u30a0\u30ff\u3100 kana range edges",
 "\u2e80\u2f00\u31c0\u3190 CJK radicals strokes kanbun", "\uac00\ud7a3 Hangul edges", "\uf900\ufa6d CJK compat",
)

# --- Long words and runs
add(
 "a" * 100, "a" * 1000, "ab" * 300, "abc" * 200, "Aa" * 150,
 "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
 "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
 "Taumatawhakatangihangakoauauotamateaturipukakapikimaungahoronukupokaiwhenuakitanatahu",
 "0123456789abcdef" * 16, "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo0NTY3ODkwQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
 "https://example.com/" + "very/long/path/segment/" * 10 + "?query=" + "x" * 50,
 "中" * 200, "中文" * 100, "あいうえお" * 40, "한국어" * 60, "😀" * 100, "🇺🇸" * 30,
 "é" * 200, "\u0301" * 50, " " * 200, "\n" * 100, "\t" * 50, "\r\n" * 50,
 "word " * 100, "1" * 200, "1 " * 100, "." * 100, "-" * 80, "=" * 80, "!" * 50, "?" * 50,
 "ŉ" * 30, "ǰ" * 30,
)

# --- Punctuation runs
add(
 "!!!", "???", "?!?!", "...", "…", "---", "***", "===>", "<===", "->", "=>", "::", "::=", ":-)", ";-)", ":'(",
 "''''", "\"\"\"", "```", "~~~", "___", "@@@", "###", "$$$", "%%%", "^^^", "&&&", "|||", "\\\\\\", "///",
 "([{<>}])", "!@#$%^&*()_+-=[]{}|;':\",./<>?", "¡¿«»‹›„“”‚‘’", "•·°±×÷√∞≈≠≤≥∑∏∫∂∆∇",
 "。。。", "！！！", "？？？", "、、、", "——", "……", "～～", "【【】】",
 "Wait...what?!", "end.", "end.\n", "end.\r\n", "a.b.c.d", "a,b,c", "a;b;c", "(a)(b)(c)",
 " .", " ..", " .\n", " !?\r\n", ".,;:!?", "'s", "'t", "'re", "'ll", "'d", "'m", "'ve", "n't",
 "'hello'", "\"hello\"", "`hello`", "_hello_", "*hello*", "**bold**", "~~strike~~", "#Heading", "[link](url)",
 "→←↑↓⇒⇔", "♠♣♥♦", "★☆✓✗", "█▓▒░", "┌─┐│└┘", "⠁⠃⠉ braille",
)

# --- Mixed scripts and assorted realistic prompts
add(
 "English, 中文, 日本語, 한국어, العربية, हिन्दी, ไทย, Русский — all in one line! 🌍",
 "The word 'naïve' in Chinese is 天真 (tiānzhēn), in Japanese ナイーブ.",
 "Translate to French: \"Where is the library?\" → « Où est la bibliothèque ? »",
 "User: Summarize this.\nAssistant: Sure! Here's a summary:\n\n1. Point one.\n2. Point two.",
 "Error: file not found (code=404) at /var/log/app.log:123",
 "[2024-05-01 12:00:00,123] INFO  worker-3: processed 1500 items in 2.5s (600.0 it/s)",
 "Temperature: 23.5°C, Humidity: 45%, Wind: 12 km/h NE",
 "Call me at +86 138-0013-8000 或发邮件到 test@例子.中国",
 "数学公式：E=mc²，其中c≈3×10⁸m/s。",
 "Рубль ₽ and 日元 ¥ and Won ₩ and Rupee ₹",
 "Version 2.0 (β) – released 2024‑06‑01",
 "The answer is: 42.\n\n---\n\n**Note:** this is *markdown*.",
 "价格：$19.99/月，年付¥999",
 "Chapter 1\n\n\tIt was a bright cold day in April, and the clocks were striking thirteen.",
 "dsinfer run -p \"Hello\" --model ./models/deepseek-v3 --threads=2",
 "🤖: Hello!\n👤: Hi there 👋",
 "a\u3000b　c", "中文。English.", "日本語、English、中文", "Ｈｅｌｌｏ　Ｗｏｒｌｄ",
 "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
)

# --- Unicode 16/17 additions, category changes, more mixed cases
add(
 "\U0001ccf0\U0001ccf1\U0001ccf9 outlined digits (Unicode 16)", "\U00010d50\U00010d70 Garay letters, \U00010d40\U00010d41 Garay digits",
 "\U00016d40\U00016d43\U00016d70 Kirat Rai", "\U000105c0\U000105c1 Todhri", "\U00011bc0\U00011bf0 Sunuwar",
 "\u1c89\u1c8a Cyrillic TJE", "\U00010940\U000323b0 Unicode 17 letters (unassigned for HF)", "\U00011de0 Tolong Siki digit (Unicode 17)",
 "\U0001171e Ahom medial ra", "\U0001fa89\U0001fadf\U0001fae9 Unicode 16 emoji",
 "2024年5月1日星期三", "第３章：２０２４年", "ab中cd文ef", "中文'字'符", "日本語's test", "x\u0085\u0085y",
 "١٢٣٤٥٦٧ Arabic-Indic run", "1️⃣2️⃣3️⃣", "a1b22c333d4444e55555", "12.34.56.78.90", "3rd 21st 100th",
)

# sanity
seen = set(); out = []
for s in C:
    if s in seen: continue
    seen.add(s); out.append(s)
    s.encode('utf-8')  # must be valid (no lone surrogates)
import os
out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../fixtures/tokenizer/corpus.jsonl')
with open(out_path, 'w', encoding='utf-8') as f:
    for s in out:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")
print(len(out), "strings")
