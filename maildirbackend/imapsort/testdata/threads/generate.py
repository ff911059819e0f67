#!/usr/bin/env python3
"""generate.py [SEED [N]]: writes the NN.eml files of this directory: N posts
(default 80) of a mailing list in six topics, of which at most 60 are
delivered, in shuffled order, with truncated or holed References, only
In-Reply-To, or none, missing Date fields, time zones, reply prefixes and
an occasional duplicate Message-ID. The committed files are seed 5256.
Then ../capture.sh records Dovecot's answers."""
import random
import sys

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 5256
nposts = int(sys.argv[2]) if len(sys.argv) > 2 else 80
rnd = random.Random(seed)
topics = ["Release planning", "Build broken on arm64", "Weekly sync",
          "Welcome, new members", "Release planning", "Docs typo"]
posts = []
for i in range(nposts):
    if i < 6 or rnd.random() < 0.15:
        parent = None
        topic = i % 6
    else:
        parent = rnd.randrange(i)
        topic = posts[parent]["topic"]
    posts.append({"i": i, "parent": parent, "topic": topic, "hour": i * 3 + rnd.randrange(3)})


def chain(p):
    out = []
    while p["parent"] is not None:
        p = posts[p["parent"]]
        out.append(p)
    return out[::-1]


delivered = [p for p in posts if rnd.random() < 0.75][:60]
rnd.shuffle(delivered)
prefixes = ["Re: ", "RE: ", "Re: Re: ", "[dev] Re: ", "Fwd: ", "Re[2]: ", ""]
for n, p in enumerate(delivered, 1):
    subj = topics[p["topic"]]
    if p["parent"] is not None:
        subj = rnd.choice(prefixes) + subj
    elif rnd.random() < 0.3:
        subj = "[dev] " + subj
    refs = ["<post-%d@lists.example.org>" % a["i"] for a in chain(p)]
    mode = rnd.random()
    lines = ["X-Arrival: 2024-05-%02dT%02d:%02d:00Z" % (1 + (p["hour"] + 7) // 24, (p["hour"] + 7) % 24, n % 60),
             "From: \"Poster %d\" <poster%d@example.org>" % (p["i"] % 9, p["i"] % 9),
             "To: dev@lists.example.org",
             "Subject: " + subj]
    if rnd.random() < 0.9:
        tz = rnd.choice(["+0000", "+0200", "-0700"])
        h = p["hour"] + {"+0000": 0, "+0200": 2, "-0700": -7}[tz]
        lines.append("Date: %02d May 2024 %02d:%02d:00 %s" % (1 + h // 24, h % 24, 0, tz))
    mid = "<post-%d@lists.example.org>" % p["i"]
    if rnd.random() < 0.05:
        mid = "<post-%d@lists.example.org>" % rnd.randrange(nposts)
    lines.append("Message-ID: " + mid)
    if refs:
        if mode < 0.6:
            lines.append("References: " + " ".join(refs[-4:]))
            lines.append("In-Reply-To: " + refs[-1])
        elif mode < 0.85:
            lines.append("In-Reply-To: " + refs[-1])
        elif mode < 0.95:
            lines.append("References: " + " ".join(refs[:1] + refs[2:]))
    with open("%02d.eml" % n, "w") as f:
        f.write("\n".join(lines) + "\n\nPost %d.\n" % p["i"])
