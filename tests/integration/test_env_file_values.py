"""env_file on a real server: issue 11's values reach the host in a file docker compose reads back
exactly, and a rerun changes nothing; a value no .env can hold fails the task naming the variable,
never showing the value, and the file is left alone."""

from __future__ import annotations

from testbed.compose_env import compose_reads

from .helpers import moorage, write_playbook

ROOT = "/srv/envdemo"
TRICKY = {"A": "x\\", "B": "it's", "C": "z", "WIN": "C:\\Users\\me\\", "DOLLARS": "pa$$ ${HOME} #x",
          "LINES": "two\nlines\n", "EMPTY": ""}


def env_play(folder, values, root=ROOT):
    return write_playbook(folder, [{"name": "app dir", "dir": {"path": root}},
                                   {"name": "the .env", "env_file": {"path": f"{root}/.env", "values": values}}])


def test_tricky_values_reach_the_host_as_compose_reads_them(tmp_path, sshd_server, write_inventory):
    inventory = write_inventory(tmp_path / "inventory", {"web1": sshd_server}).parent
    playbook = env_play(tmp_path / "book", TRICKY)
    first = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    assert first.code == 0, first.stdout + first.stderr

    written = sshd_server.exec(f"cat {ROOT}/.env").stdout
    environment, labels = compose_reads(tmp_path, written, list(TRICKY))
    assert environment == TRICKY, "as a service's env_file:"
    assert labels == TRICKY, "through --env-file interpolation"

    second = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    assert second.code == 0, second.stdout + second.stderr
    assert second.recap("web1")["changed"] == 0


def test_a_value_no_env_file_can_hold_fails_the_task_without_showing_it(tmp_path, sshd_server,
                                                                        write_inventory):
    inventory = write_inventory(tmp_path / "inventory", {"web1": sshd_server},
                                extra_vars={"db_password": {"secret": "file:secrets/pw"}}).parent
    (inventory / "secrets").mkdir()
    (inventory / "secrets/pw").write_bytes(b"s3cr3t-pw\0tail")
    root = f"{ROOT}-refused"  # the server is shared by the session: a directory of its own
    playbook = env_play(tmp_path / "book", {"OK": "fine", "DB_PASSWORD": "{{ db_password }}"}, root)
    for mode in ([], ["--check"]):
        run = moorage("play", playbook, "--host", "web1", "--inventory", inventory, *mode)
        assert run.code == 1, run.stdout + run.stderr
        assert f"cannot write {root}/.env: the value of DB_PASSWORD holds a NUL byte" in run.stdout
        assert "s3cr3t" not in run.stdout + run.stderr
    assert sshd_server.exec(f"test -e {root}/.env").returncode != 0
