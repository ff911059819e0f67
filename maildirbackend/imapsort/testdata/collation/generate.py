#!/usr/bin/env python3
"""generate.py: writes the NN.eml files of this directory, one per word below,
as Subject and From display name, all with the same Date. Then ../capture.sh
records Dovecot's answers. Words on which Dovecot's i;unicode-casemap tables
differ from RFC 5051 (see the package doc) are left out."""
import base64

words = ["straße", "STRASSE", "strasse", "dzemal", "DZEMAL",
         "σοφία", "ΣΟΦΙΑ", "ς", "Σ", "ıstanbul", "Istanbul", "İstanbul", "istanbul",
         "fish", "FISH", "Ångström", "A\u030angström", "Kelvin", "\u212aelvin",
         "Ⅻ", "XII", "x²", "x2", "한국", "\u1112\u1161\u11ab\u1100\u116e\u11a8", "😀 smile", "smile",
         "e\u0301\u0327", "e\u0327\u0301", "ȩ\u0301", "Zürich", "zurich", "Zurich", "ẞ", "lj", "LJ",
         "café", "cafe\u0301", "CAFÉ", "\u00a0lead", "lead", "\u3000ideo", "ideo", "ff", "No",
         "\ufffd", "\U0001d400bold", "Abold"]
for i, w in enumerate(words, 1):
    enc = w
    if any(ord(c) > 127 for c in w):
        enc = "=?UTF-8?B?" + base64.b64encode(w.encode()).decode() + "?="
    with open("%02d.eml" % i, "w") as f:
        f.write("X-Arrival: 2024-07-01T%02d:%02d:00Z\n" % (i // 60, i % 60))
        f.write("From: %s <p%d@example.org>\n" % (enc, i))
        f.write("To: list@example.org\n")
        f.write("Subject: %s\n" % enc)
        f.write("Date: Mon, 01 Jul 2024 00:00:00 +0000\n")
        f.write("Message-ID: <c%d@example.org>\n\nx\n" % i)
