#!/usr/bin/python3
"""make_tokenizer_texts.py DIR: writes DIR/tokenizer-torture.txt (UTF-8 text meant to
break tokenizers; escapes keep the invisible characters visible here; only
characters assigned in Unicode 14, no U+0085/U+FEFF) and DIR/tokenizer-invalid-utf8.bin
(lines with invalid UTF-8). bpe-train-corpus.txt was assembled once from
/usr/share/common-licenses/{Apache-2.0,BSD,CC0-1.0,LGPL-3},
/usr/share/doc/adduser/copyright, /usr/lib/python3.11/{bisect,colorsys,fnmatch,textwrap}.py
and three copies of tokenizer-torture.txt."""
import unicodedata, sys
L = []
A = L.append
A("The quick brown fox didn't jump; it's lazy, isn't it? I'm sure we'll see.")
A("DON'T SHOUT! WE'LL SEE, THEY'RE HERE, I'VE GOT IT, HE'D GO, SHE'S GONE, I'M OUT.")
A("we'Ll, they'Re, I'M, it'S, you'D, I'Ve, o'clock, rock'n'roll, 'tis, y'all'd've")
A("'s 't 're 've 'm 'll 'd ''s '''ll 'S' \"quoted\" `backticks` don\u2019t (curly apostrophe)")
A("Mr. O'Neil's 1990's-era car ain't cheap... No?! Yes!!! Well--maybe; (or not).")
A("\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e \u0442\u0435\u0441\u0442 \u0442\u043e\u043a\u0435\u043d\u0438\u0437\u0430\u0442\u043e\u0440\u0430. \u0401\u043b\u043a\u0430 \u0438 \u0451\u0436\u0438\u043a.")
A("\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac: \u03a4\u03bf \u03b3\u03c1\u03ae\u03b3\u03bf\u03c1\u03bf \u03ba\u03b1\u03c6\u03ad \u03b1\u03bb\u03b5\u03c0\u03bf\u03cd\u03b4\u03b9; \u03c3\u03bf\u03c6\u03af\u03b1 \u03a3\u039f\u03a6\u0399\u0391\u03a3")
A("\u0627\u0644\u0639\u0631\u0628\u064a\u0629: \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f \u0627\u0644\u0633\u0651\u064e\u0644\u0627\u0645\u064f \u0639\u064e\u0644\u064e\u064a\u0652\u0643\u064f\u0645\u0652 \u0661\u0662\u0663\u0664\u0665\u0666\u0667")
A("\u05e2\u05d1\u05e8\u05d9\u05ea: \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05d1\u05bc\u05b0\u05e8\u05b5\u05d0\u05e9\u05b4\u05c1\u05d9\u05ea \u05d1\u05bc\u05b8\u05e8\u05b8\u05d0 (mixed RTL with English) \u200f\u200e")
A("\u0939\u093f\u0928\u094d\u0926\u0940: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e\u0964 \u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f \u0936\u094d\u0930\u0940 \u0967\u0968\u0969\u096a\u096b \u0966")
A("\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a\u0e19\u0e35\u0e48\u0e04\u0e37\u0e2d\u0e01\u0e32\u0e23\u0e17\u0e14\u0e2a\u0e2d\u0e1a\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e17\u0e35\u0e48\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07 \u0e51\u0e52\u0e53")
A("\u4e2d\u6587\uff1a\u6211\u7231\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002\u8fd9\u662f\u4e00\u4e2a\u6ca1\u6709\u7a7a\u683c\u7684\u5f88\u957f\u7684\u53e5\u5b50\uff0c\u5305\u542b\u6807\u70b9\u7b26\u53f7\uff01\u300c\u5f15\u53f7\u300d\u300a\u4e66\u540d\u300b\u3010\u62ec\u53f7\u3011")
A("\u65e5\u672c\u8a9e\uff1a\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3068\u6f22\u5b57\u3002\u30fc\u30fc\u30fc \uff8a\uff9d\uff76\uff78\uff76\uff80\uff76\uff85 \u3005\u3006\u3007")
A("\ud55c\uad6d\uc5b4: \uc548\ub155\ud558\uc138\uc694, \uc138\uacc4! \ud14c\uc2a4\ud2b8 \ubb38\uc7a5\uc785\ub2c8\ub2e4. \u1100\u1161\u11a8 (conjoining jamo)")
A("Emoji: \U0001F600\U0001F603\U0001F604 \U0001F44D\U0001F3FD \U0001F44B\U0001F3FF\U0001F44B\U0001F3FB \u2764\ufe0f \u263a\ufe0f \u2603 \U0001F4A9!!")
A("ZWJ: \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 \U0001F9D1\U0001F3FF\u200d\U0001F4BB \U0001F3F3\ufe0f\u200d\U0001F308 \U0001F3F4\u200d\u2620\ufe0f \U0001F441\ufe0f\u200d\U0001F5E8\ufe0f")
A("Flags: \U0001F1EF\U0001F1F5\U0001F1FA\U0001F1F8\U0001F1E9\U0001F1EA \U0001F1EB\U0001F1F7 \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F keycap: 1\ufe0f\u20e3 #\ufe0f\u20e3")
A("Combining: e\u0301 vs \u00e9, a\u0308 vs \u00e4, n\u0303, A\u030a, \u1e69\u0307, q\u0323\u0307 stacked")
A("Ti\u1ebfng Vi\u1ec7t: Tr\u01b0\u1eddng \u0111\u1ea1i h\u1ecdc, ng\u01b0\u1eddi Vi\u1ec7t, ch\u00fang t\u00f4i \u0111\u00e3 \u0103n ph\u1edf (Vie\u0302\u0323t decomposed)")
A("Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u036b\u0357\u0364\u0352\u0351\u0305\u0363\u034a\u0342\u034cl\u0352\u036c\u0357\u0308g\u0310\u0344o\u0308\u0311\u0346\u036a\u035b!\u0337\u032e")
A("def f(x):")
A("\tif x > 0:\t# tab then comment")
A("\t\treturn x * 2  # two tabs")
A("        eight_spaces = 8")
A("                sixteen = 16")
A("                                 thirty_three = 33  # 33 spaces before")
A("trailing spaces here   ")
A("trailing tab and spaces\t \t  ")
A("   ")
A("")
A("\t")
A("CRLF line one\r")
A("CRLF line two with trailing space \r")
A("\r")
A("bare CR\rinside a line, and CR CR\r\r then LF-only ends it")
A("for (int i = 0; i < n; ++i) { a[i] += b[i] << 2; } // C++: std::vector<int>&& v;")
A("x==y!=z<=w>=v&&u||t->s::r... ?? ?! !? ;;; ::: ,,, --- ___ *** /// \\\\\\ ||| ~~~ ^^^ %%%")
A("if(a){b();}else{c();} #!/bin/sh echo \"$HOME\" && ls -la | grep '^d' > /dev/null 2>&1")
A("Numbers: 1 12 123 1234 12345 123456 1234567 12345678901234567890 007 0.5 3.14159 -42 +7")
A("Formatted: 1,234,567.89 1.234.567,89 10^6 1e-10 0x1F 0b1010 2024-01-31 12:34:56 $1,000 \u20ac20 \u00a35")
A("Odd digits: \u0661\u0662\u0663 \u06f4\u06f5\u06f6 \u0967\u0968\u0969\u096a \uff11\uff12\uff13 x\u00b2 y\u00b3 \u00bd \u00bc \u2154 \u216b \u2160\u2161\u2162 \u2460\u2461 \U0001D7D9\U0001D7DA")
A("Mixed: abc123def 123abc abc123 12ab34 v1.2.3 H2O CO\u2082 iPhone15Pro 3rd 21st")
A("Spaces: a\u00a0b (nbsp) c\u3000d (ideographic) e\u2003f (em) g\u2009h (thin) i\u202fj (narrow nbsp) k\u1680l (ogham) m\u205fn")
A("Invisible: zero\u200bwidth\u200bspace, zw\u200cnj, zw\u200dj, word\u2060joiner, soft\u00adhyphen, mongolian\u180evs")
A("Controls: bell\x07 esc\x1b[0m vtab\x0bff\x0cend unit\x1fsep nul-free")
A("Line sep: one\u2028two para\u2029three")
A("Repeated: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa end")
A("================================================================================")
A("Long word: pneumonoultramicroscopicsilicovolcanoconiosis Donaudampfschifffahrtsgesellschaftskapit\u00e4n")
A("URL: https://example.com/path?query=value&other=42#frag mailto:user@example.org")
A("Special: <|begin_of_text|>hello<|end_of_text|> <|eot_id|> <|begin_of_text| <|end_of_text|><|begin_of_text|>")
A("Math: \u2200x\u2208\u211d: x\u00b2\u22650 \u2211\u1d62 a\u1d62 \u2248 \u221e \u00b1 \u00d7 \u00f7 \u2260 \u2264 \u2265 \u221a2 \u03c0r\u00b2")
A("Case: \u0130stanbul \u0131\u0130 stra\u00dfe STRASSE \u1e9e \u01c5 \ufb01ne \ufb00 \u212b \u2126 \u212a")
A("Boxes: \u250c\u2500\u2500\u2510 \u2502\u2588\u2502 \u2514\u2500\u2500\u2518 \u2190\u2191\u2192\u2193 \u2605\u2606 \u266a\u266b \u00a9\u00ae\u2122")
A("Fullwidth: \uff21\uff22\uff23\uff41\uff42\uff43\uff01\uff1f Halfwidth: \uff71\uff72\uff73")
A("Georgian \u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8, Armenian \u0540\u0561\u0575\u0565\u0580\u0565\u0576, Ethiopic \u12a0\u121b\u122d\u129b, Tamil \u0ba4\u0bae\u0bbf\u0bb4\u0bcd")
A("   leading spaces and a tab\tinside, then  double  spaces  between")
A(" single leading space")
A("end of file without newline? no: last line has newline, and this has ' at end'")
text = "\n".join(L) + "\n"
assert "\u0085" not in text and "\ufeff" not in text
for ch in set(text):
    if unicodedata.category(ch) == "Cn":
        sys.exit("unassigned (in python's unicode %s): U+%04X" % (unicodedata.unidata_version, ord(ch)))
with open(sys.argv[1] + "/tokenizer-torture.txt", "w", encoding="utf-8", newline="") as f:
    f.write(text)
print(len(L), "lines,", len(text.encode()), "bytes; unicode", unicodedata.unidata_version)

bad = [
    b"lone continuation \x80 and \xbf here\n",
    b"truncated 3-byte \xe2\x82 then ASCII, euro ok: \xe2\x82\xac\n",
    b"overlong slash \xc0\xaf and \xff and \xfe\xfe\n",
    b"surrogate \xed\xa0\x80 next to emoji \xf0\x9f\x98\x80\xed\xbf\xbf\xf0\x9f\x98\x80\n",
    b"truncated 4-byte \xf0\x9f\x98 end, and at very end \xf0\x9f\n",
    b"mixed \x80\x80\x80abc\xc3 \xc3\xa9t\xc3\xa9 \xf4\x90\x80\x80 (> U+10FFFF)\n",
]
with open(sys.argv[1] + "/tokenizer-invalid-utf8.bin", "wb") as f:
    f.write(b"".join(bad))
