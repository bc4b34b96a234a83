"""How guessable a SASL password is, judged by zxcvbn (Dropbox's strength estimator).

zxcvbn knows the common-password lists, dictionary words, keyboard walks, dates, repeats and
l33t spellings; a hand-made rule set knows none of that. The login and the domain are given
to it as words an attacker would try first. Reasons name what is wrong, never the password.
"""

from __future__ import annotations

import threading

# zxcvbn keeps the user's words in a module-level dictionary while it scores: one at a time.
_LOCK = threading.Lock()
# zxcvbn refuses longer input (its matching is quadratic); the first 72 characters decide.
JUDGED = 72
MIN_SCORE = 3  # zxcvbn's 0-4: 3 is "safely unguessable" (about 10^8 guesses and more)
ADVICE = ("use three or four unrelated words, or a long random password from a password "
          "manager")


def personal_words(login: str) -> list[str]:
    """What an attacker who knows the login tries first: its parts and the domain's labels."""
    local, _, realm = login.lower().rpartition("@")
    words = [login.lower(), local, realm, *realm.split("."), *local.replace("_", ".")
             .replace("-", ".").split(".")]
    return [w for w in dict.fromkeys(words) if len(w) >= 3]


def _covered(password: str, words: list[str]) -> int:
    """How many characters of ``password`` are spelled by ``words`` (any case, reversed or
    in l33t, as zxcvbn's matchers find them)."""
    from zxcvbn import matching

    ranked = {"user_inputs": matching.build_ranked_dict(words)}
    spans = [(m["i"], m["j"]) for m in matching.omnimatch(password, ranked)
             if m.get("dictionary_name") == "user_inputs"]
    return len({k for i, j in spans for k in range(i, j + 1)})


def weakness(password: str, login: str = "") -> str | None:
    """Why ``password`` is too weak for a login that faces the internet, or None."""
    from zxcvbn import zxcvbn

    judged = password[:JUDGED]
    words = personal_words(login) if "@" in login else [login.lower()] if login else []
    with _LOCK:
        if words and 2 * _covered(judged, words) >= len(judged):
            # (not naming them: the message would then hold the password)
            return (f"it is built from the login or its domain, the first words an attacker "
                    f"tries: {ADVICE}")
        result = zxcvbn(judged, user_inputs=words)
    if result["score"] >= MIN_SCORE:
        return None
    hint = str(result["feedback"].get("warning") or "").rstrip(".")
    why = f" ({hint.lower()})" if hint else ""
    return f"it is too common or too easy to guess{why}: {ADVICE}"
