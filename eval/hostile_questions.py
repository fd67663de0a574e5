"""Nonsense questions must abstain; genuine English questions must still answer.

Asks the default assistant (shipped corpus, index built in a temporary directory)
a fixed list of strings with no natural-language content (numbers, format
strings, SQL and script fragments, punctuation, emoji) and a list of genuine
English questions about the shipped report, and prints how many of each were
answered, with each answer and its confidence.

    python eval/hostile_questions.py            # default reader (settings)
    python eval/hostile_questions.py --reader rules

Measured on this list with the neural reader (2-core machine under load):

    before (every question without Chinese took the cross-lingual path):
        nonsense answered 15/36 (confidence 0.46-0.58, mostly the portal header row
        索引号 | K16059504/2024-117342 | ||); English answered 4/10, correct 2/10; 258 s
    after (a question must carry content, qa.question.has_natural_language):
        nonsense answered 0/36; English answers unchanged (4/10, correct 2/10,
        same texts and confidences); 51 s

The dense cosine cannot tell the two apart on this corpus: nonsense reaches a top
cosine of 0.74-0.85 against the chunks, genuine English questions 0.71-0.79.
"""

from __future__ import annotations

import argparse
import tempfile
import time

#: Strings without natural-language content: every one should abstain.
NONSENSE = [
    "12345", "%s", "admin'--", "{0}", "' OR 1=1 --", "<script>", "???", "0x1F",
    "SELECT * FROM t", "%d %d %d", "%s" * 250, "${jndi:ldap://x/a}", "../../etc/passwd",
    "DROP TABLE users;", "1; DROP TABLE t --", "UNION SELECT password FROM users",
    "{{7*7}}", "<?php echo 1; ?>", "javascript:alert(1)", "NaN", "null", "undefined",
    "1e308", "-1", "3.14159", "0", "!@#$%^&*()", "😀😀😀", "¯\\_(ツ)_/¯", "▓▓▓ ░░░",
    "\\x00\\x1b", "%n%n%n", "asdfghjkl", "qwertyuiop", "a", "1 2 3 4 5",
]

#: Genuine English questions about the shipped report, with the expected answer.
ENGLISH = [
    ("How many childcare places were added in 2023?", "124个"),
    ("What is the GDP growth target for 2024?", "8%"),
    ("What was the regional GDP in 2023?", "60.3亿元"),
    ("How many companies were introduced in 2023?", "137家"),
    ("What is the fixed asset investment target for 2024?", "9亿元"),
    ("How many job fairs were held?", "五场"),
    ("How many elevators were installed in 2023?", "三部"),
    ("How many cultural and sports events were held?", "724场"),
    ("How many fire administrative penalties were imposed?", "56起"),
    ("When was this document published?", "2024-03-21"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", choices=("rules", "neural"), default=None)
    args = parser.parse_args()

    from qa.config import Settings
    from qa.pipeline import Assistant

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(index_dir=tmp, reader=args.reader)
        assistant = Assistant(settings).warm_up(progress=False)
        print(f"reader: {assistant.reader_kind}")
        started = time.perf_counter()
        answered = 0
        print("\nnonsense (should abstain)")
        for question in NONSENSE:
            answer = assistant.ask(question)
            answered += not answer.abstained
            shown = question if len(question) <= 40 else question[:37] + "..."
            verdict = "ANSWERED" if not answer.abstained else "abstain "
            print(f"  {verdict} {answer.confidence:.2f}  {shown!r:44} {answer.text!r}")
        correct = english_answered = 0
        print("\ngenuine English questions (should answer)")
        for question, expected in ENGLISH:
            answer = assistant.ask(question)
            ok = answer.text == expected
            correct += ok
            english_answered += not answer.abstained
            print(f"  {'ok  ' if ok else 'MISS'} {answer.confidence:.2f}  {question!r:56} "
                  f"{answer.text!r} (expected {expected!r})")
        elapsed = time.perf_counter() - started
        print(f"\nnonsense answered: {answered}/{len(NONSENSE)}")
        print(f"English answered: {english_answered}/{len(ENGLISH)}, "
              f"correctly: {correct}/{len(ENGLISH)}")
        print(f"time: {elapsed:.1f} s for {len(NONSENSE) + len(ENGLISH)} questions")


if __name__ == "__main__":
    main()
