"""Multilingual to-do descriptions, one a line, for bench_peers.py (run in bench/.peers/faker).

    bench/.peers/faker/bin/python bench/peers/faker_text.py COUNT SEED > descriptions.txt

Deterministic for a COUNT and SEED. Each line is a short sentence in one of a dozen
locales (Latin, Cyrillic, Greek, Arabic, Devanagari, CJK scripts), sometimes with a
name or a city, at most 200 characters, without tabs, newlines or backslashes (the
lines are copied into PostgreSQL as text).
"""

from __future__ import annotations

import sys

from faker import Faker

LOCALES = [
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "pl_PL",
    "pt_BR",
    "ru_RU",
    "el_GR",
    "ar_AA",
    "hi_IN",
    "ja_JP",
    "zh_CN",
]
MAX_COUNT = 2_000_000


def main() -> int:
    count = min(int(sys.argv[1]), MAX_COUNT)
    fake = Faker(LOCALES)
    fake.seed_instance(int(sys.argv[2]))
    out = sys.stdout
    for i in range(count):
        local = fake[LOCALES[i % len(LOCALES)]]
        shape = i % 4
        if shape == 0:
            text = local.sentence(nb_words=6)
        elif shape == 1:
            text = f"{local.sentence(nb_words=4)} {local.name()}"
        elif shape == 2:
            text = f"{local.city()}: {local.sentence(nb_words=5)}"
        else:
            text = local.sentence(nb_words=9)
        text = " ".join(text.replace("\\", " ").split())[:200]
        out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
