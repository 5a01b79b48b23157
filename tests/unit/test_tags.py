"""``--tags``/``--skip-tags`` name tags a task of the playbook carries (its ``tags`` or its role's
name; ``always`` is special): a typo is exit 2 with "did you mean", not a run of nothing that
says the release is live."""

from __future__ import annotations

import pytest
from inputkit import write_project
from invoke.context import Context
from invoke.exceptions import Exit

from moorage.cli.deploy_tasks import deploy
from moorage.cli.run_tasks import play
from moorage.errors import InputError
from moorage.executor import RunOptions
from moorage.project import locate

PLAYBOOK = """\
- name: site
  hosts: [all]
  roles: [media]
  tasks:
    - name: migrate
      command: {cmd: "true"}
      tags: [db, migrations]
    - name: note
      command: {cmd: "true"}
      tags: [always]
"""


@pytest.fixture
def project(tmp_path):
    return locate(str(write_project(tmp_path, {"playbooks/site.yml": PLAYBOOK})))


@pytest.mark.parametrize(("tags", "skip", "message"), [
    ({"db"}, set(), None),
    ({"media"}, {"migrations"}, None),  # a role's name tags its tasks
    ({"always"}, set(), None),
    (set(), {"always"}, None),
    ({"nosuchtag"}, set(), "--tags nosuchtag: no task of playbooks/site.yml carries this tag; "
                           "its tags: always, db, media, migrations"),
    ({"migration"}, set(), "--tags migration: no task of playbooks/site.yml carries this tag (did you mean "
                           "'migrations'?); its tags: always, db, media, migrations"),
    ({"db"}, {"x", "medai"}, "--skip-tags medai,x: no task of playbooks/site.yml carries these tags (did you "
                             "mean 'media'?); its tags: always, db, media, migrations"),
])
def test_tags_must_be_carried_by_a_task(project, monkeypatch, tags, skip, message):
    monkeypatch.chdir(project.root)
    options = RunOptions(tags=frozenset(tags), skip_tags=frozenset(skip))
    playbook = project.load_playbook("site")
    if message is None:
        options.check_tags(playbook)
    else:
        with pytest.raises(InputError) as refused:
            options.check_tags(playbook)
        assert str(refused.value) == message


@pytest.mark.parametrize("run", [
    lambda root: deploy(Context(), host="web1", project=root, check=True, tags="nosuchtag"),
    lambda root: play(Context(), "site", host="web1", project=root, check=True, skip_tags="nosuchtag"),
])
def test_deploy_and_play_refuse_an_unknown_tag_before_connecting(project, capsys, run):
    """web1's port is one nothing listens on: a run would end in "cannot reach" (exit 1)."""
    with pytest.raises(Exit) as exited:
        run(str(project.root))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "nosuchtag: no task of" in err and "cannot reach" not in err
