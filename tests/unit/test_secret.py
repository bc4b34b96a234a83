"""Secret: no text conversion or serialisation gives the password away."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from mailwizard.secret import MASK, Secret

PW = "Tr0ub4dor-and-3"


def test_every_text_form_is_the_mask() -> None:
    s = Secret(PW)
    old_styles = ["%s" % s, "%r" % s, "{}".format(s)]  # noqa: UP031, UP032 (what is tested)
    forms = [str(s), repr(s), f"{s}", f"{s!s}", f"{s!r}", f"{s:>20}", *old_styles,
             str([s]), str({"pw": s}), str((s,))]
    for form in forms:
        assert PW not in form, form
    assert str(s) == MASK and f"{s}" == MASK and repr(s) == f"Secret({MASK})"
    assert s.reveal() == PW


def test_a_logged_secret_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("mw-test").info("password %s for %r", Secret(PW), Secret(PW))
    assert PW not in caplog.text and MASK in caplog.text


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_secret_cannot_be_pickled(protocol: int) -> None:
    """Pickles end up in caches, queues and other processes' memory: refused outright."""
    with pytest.raises(TypeError, match="not to be pickled"):
        pickle.dumps(Secret(PW), protocol=protocol)
    with pytest.raises(TypeError, match="not to be pickled"):
        pickle.dumps({"user": "alice", "password": Secret(PW)}, protocol=protocol)


def test_no_copy_and_no_json() -> None:
    with pytest.raises(TypeError):
        copy.deepcopy(Secret(PW))
    with pytest.raises(TypeError):
        json.dumps(Secret(PW))
