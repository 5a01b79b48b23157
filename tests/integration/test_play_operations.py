"""Every core operation converges on a real SSH test server; a rerun changes nothing;
check mode shows diffs and changes nothing; secrets never show."""

from __future__ import annotations

import http.server
import threading

import pytest

from .helpers import moorage, write_playbook

ROOT = "/srv/demo"


@pytest.fixture
def http_endpoint():
    """A small HTTP server on 127.0.0.1 for wait_http to poll."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"service is ready"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()


def env_value(text: str, key: str) -> str:
    """The value of ``key`` in a .env file's text."""
    return next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}="))


def every_operation(url: str) -> list[dict]:
    return [
        {"name": "app dir", "dir": {"path": ROOT, "mode": "0750"}},
        {"name": "conf dir", "dir": {"path": f"{ROOT}/conf"}},
        {"name": "inline file", "file": {"path": f"{ROOT}/conf/a.conf", "content": "a = 1\n"}},
        {"name": "file from files/",
         "file": {"path": f"{ROOT}/conf/b.conf", "src": "b.conf", "mode": "0640"}},
        {"name": "template", "template": {"src": "app.conf.j2", "dest": f"{ROOT}/conf/app.conf"},
         "notify": "record restart"},
        {"name": "env file", "env_file": {"path": f"{ROOT}/.env", "values": {
            "DJANGO_DEBUG": "{{ debug }}", "DJANGO_SECRET_KEY": {"generate": 50},
            "GREETING": "hello world"}}},
        {"name": "current link", "link": {"path": f"{ROOT}/current", "target": f"{ROOT}/conf"}},
        {"name": "init once", "command": {"cmd": f"echo ran >> {ROOT}/init.log; touch {ROOT}/.initialised",
                                          "creates": f"{ROOT}/.initialised"}},
        {"name": "unless guard", "command": {"cmd": f"echo ran >> {ROOT}/unless.log",
                                             "unless": f"test -f {ROOT}/unless.log"}},
        {"name": "chdir and env", "command": {"cmd": 'echo "$GREETING" > greeting.txt', "chdir": ROOT,
                                              "env": {"GREETING": "hi there"}, "creates": "greeting.txt"},
         "register": "greeted"},
        {"name": "after a registered result", "file": {"path": f"{ROOT}/greeted.txt",
                                                       "content": "{{ greeted.changed }}"},
         "when": "greeted.changed"},
        {"name": "health", "wait_http": {"url": url, "status": 200, "contains": "ready", "timeout": 10}},
    ]


@pytest.fixture
def project(tmp_path, fresh_server, write_inventory, http_endpoint):
    server = fresh_server("sshd")
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": server}, extra_vars={"debug": "0", "domain": "dm.test"})
    book = tmp_path / "book"
    (book / "files").mkdir(parents=True)
    (book / "templates").mkdir()
    (book / "files" / "b.conf").write_text("b = 2\n")
    (book / "templates" / "app.conf.j2").write_text("server_name {{ domain }};\ndebug = {{ debug }}\n")
    playbook = write_playbook(book, every_operation(http_endpoint),
                              handlers=[{"name": "record restart",
                                         "command": {"cmd": f"date >> {ROOT}/restarts.log"}}])
    return server, inventory, playbook


def test_every_operation_converges_and_the_rerun_changes_nothing(project):
    server, inventory, playbook = project
    first = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    assert first.code == 0, first.stdout + first.stderr
    recap = first.recap("web1")
    # 11 tasks change something, wait_http only observes (ok), and the notified handler runs
    assert (recap["changed"], recap["ok"], recap["failed"], recap["skipped"]) == (12, 1, 0, 0)

    state = server.exec(f"stat -c '%n %a %U' {ROOT} {ROOT}/.env {ROOT}/conf/b.conf; readlink {ROOT}/current;"
                        f" cat {ROOT}/conf/app.conf {ROOT}/greeting.txt {ROOT}/init.log {ROOT}/unless.log;"
                        f" wc -l < {ROOT}/restarts.log").stdout.decode()
    assert f"{ROOT} 750 root" in state
    assert f"{ROOT}/.env 600 root" in state
    assert f"{ROOT}/conf/b.conf 640 root" in state
    assert f"{ROOT}/conf\n" in state
    assert "server_name dm.test;" in state and "hi there" in state
    env = server.exec(f"cat {ROOT}/.env").stdout.decode()
    secret = env_value(env, "DJANGO_SECRET_KEY")
    assert len(secret) == 50
    assert "GREETING='hello world'" in env
    assert secret not in first.stdout + first.stderr, "a generated secret reached the output"

    second = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    assert second.code == 0, second.stdout + second.stderr
    assert second.recap("web1")["changed"] == 0
    assert second.recap("web1")["skipped"] == 1  # the `when` on a command that didn't run
    text = server.exec(f"cat {ROOT}/.env {ROOT}/init.log {ROOT}/unless.log;"
                       f" wc -l < {ROOT}/restarts.log").stdout.decode()
    assert secret in text, "the generated secret was rotated"
    assert text.count("ran") == 2, "a guarded command ran twice"
    assert text.strip().endswith("1"), "the handler ran without a change"


def test_check_mode_shows_the_diff_and_changes_nothing(project):
    server, inventory, playbook = project
    assert moorage("play", playbook, "--host", "web1", "--inventory", inventory).code == 0
    before = server.exec(f"cat {ROOT}/conf/app.conf {ROOT}/.env").stdout.decode()

    check = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--check", "--diff",
                    "--set", "debug=1", "--set", "domain=dm.other")
    assert check.code == 0, check.stdout + check.stderr
    assert "-server_name dm.test;" in check.stdout and "+server_name dm.other;" in check.stdout
    assert "+DJANGO_DEBUG=1" in check.stdout
    assert "DJANGO_SECRET_KEY=********" in check.stdout
    secret = env_value(before, "DJANGO_SECRET_KEY")
    assert secret not in check.stdout
    assert "changed=3" in check.stdout  # the template, the .env, and the handler the template notifies
    assert server.exec(f"cat {ROOT}/conf/app.conf {ROOT}/.env").stdout.decode() == before


def test_undefined_template_variable_names_the_template_line_and_variable(tmp_path, sshd_server,
                                                                           write_inventory):
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    book = tmp_path / "book"
    (book / "templates").mkdir(parents=True)
    (book / "templates" / "site.j2").write_text("one\ntwo {{ not_defined_anywhere }}\n")
    playbook = write_playbook(book, [{"template": {"src": "site.j2", "dest": "/tmp/site.conf"}}])
    run = moorage("play", playbook, "--host", "web1", "--inventory", inventory)
    assert run.code == 1
    assert "site.j2:2: undefined variable 'not_defined_anywhere'" in run.stdout


def test_unknown_host_key_is_refused(tmp_path, sshd_server, write_inventory):
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    (inventory / "known_hosts").write_text("")
    playbook = write_playbook(tmp_path, [{"dir": {"path": "/tmp/never"}}])
    run = moorage("play", playbook, "--host", "web1", "--inventory", inventory)
    assert run.code == 1
    assert "is not in known_hosts" in run.stdout and "`moorage trust --host web1`" in run.stdout
    assert "web1: web1:" not in run.stdout and "failed=1" in run.stdout  # host named once; counted
    assert sshd_server.exec("test -e /tmp/never").returncode != 0
