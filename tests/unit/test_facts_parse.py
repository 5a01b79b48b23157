"""Parsing the one-command fact report (the command itself runs in the integration tests)."""

import subprocess

from moorage.facts.files import gather_command, parse
from moorage.operations.base import FactRequest


def test_gather_runs_locally_and_parses(tmp_path):
    (tmp_path / "d").mkdir(mode=0o750)
    (tmp_path / "f").write_text("hello\n")
    (tmp_path / "f").chmod(0o640)
    (tmp_path / "l").symlink_to(tmp_path / "d")
    (tmp_path / "with space").write_text("")
    request = FactRequest({str(tmp_path / n) for n in ("d", "f", "l", "missing", "with space")},
                          {str(tmp_path / "f")})
    output = subprocess.run(["sh", "-c", gather_command(request)], capture_output=True, text=True,
                            check=True).stdout
    facts = parse(output, request)
    d, f, link = facts[str(tmp_path / "d")], facts[str(tmp_path / "f")], facts[str(tmp_path / "l")]
    assert (d.kind, d.mode) == ("dir", "0750")
    assert (f.kind, f.mode, f.content) == ("file", "0640", b"hello\n")
    assert f.sha256 == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert (link.kind, link.target) == ("link", str(tmp_path / "d"))
    assert not facts[str(tmp_path / "missing")].exists
    assert facts[str(tmp_path / "with space")].kind == "file"


def test_parse_of_an_empty_report_says_every_path_is_absent():
    request = FactRequest({"/a", "/b"})
    assert all(not f.exists for f in parse("@@stat\n@@sha\n@@link\n@@content\n", request).values())
