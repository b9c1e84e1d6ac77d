"""The kiosk URL, with its token, goes to the operator's terminal, never into the journal (issue #23)."""

from __future__ import annotations

import os
import sys

from edge.app.service import show_kiosk_url

URL = "http://127.0.0.1:8765/#k=" + "ab" * 32


def test_the_kiosk_url_is_shown_on_a_terminal_or_file_but_not_to_journald(tmp_path, monkeypatch):
    for journal in (False, True):
        path = tmp_path / f"stderr-{journal}"
        with open(path, "w") as err:
            monkeypatch.setattr(sys, "stderr", err)
            st = os.fstat(err.fileno())
            if journal:                      # systemd connected stderr to journald: this very file
                monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
            else:
                monkeypatch.delenv("JOURNAL_STREAM", raising=False)
            show_kiosk_url(URL)
        text = path.read_text()
        assert (URL in text) is (not journal), (journal, text)
