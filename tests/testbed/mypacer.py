"""MyPacer's stand-ins (examples/mypacer/app) and its test server, for the tests and the demo.

``start_server(testbed, token)``: an ``nginxhost`` (dockerhost + Debian's nginx) running Debian's
docker-registry on 127.0.0.1:5000 behind htpasswd (user ``cmoron``, password ``token``), holding
``mypacer_web`` v1.2.2-prod and v1.2.3-prod (= latest-prod), ``mypacer_api`` and ``mypacer_scraper``
latest-prod; self-signed certificates where certbot puts them, for both sites.
``prepare_project(server, root)``: the example in ``root`` pointed at that server and registry.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from testbed.example_copy import EXAMPLES, copy_example, edit_yaml, host_entry, pin_host
from testbed.images import build_tagged, ensure_image
from testbed.servers import Testbed, TestServer

REGISTRY = "127.0.0.1:5000"
REGISTRY_CONFIG = f"""version: 0.1
storage: {{filesystem: {{rootdirectory: /var/lib/docker-registry}}}}
http: {{addr: "{REGISTRY}"}}
auth: {{htpasswd: {{realm: mypacer-test, path: /etc/docker/registry/htpasswd}}}}
"""
DOMAINS = {"staging": "stage.mypacer.fr", "production": "mypacer.fr"}
HOSTS = {"staging": "stage", "production": "prod"}


def build(service: str, version: str, *tags: str) -> list[str]:
    """The stand-in of mypacer_SERVICE at VERSION, tagged with the registry's refs for each tag."""
    parent = ensure_image("postgres" if service == "scraper" else "nginx")
    refs = [f"{REGISTRY}/cmoron/mypacer_{service}:{tag}" for tag in tags]
    build_tagged(EXAMPLES / "mypacer" / "app" / service, refs, {"PARENT": parent, "VERSION": version})
    return refs


def certificates(server: TestServer) -> None:
    """Self-signed certificates where certbot would have put them, for both sites."""
    with tempfile.TemporaryDirectory() as tmp:
        for domain in DOMAINS.values():
            key, cert = Path(tmp) / f"{domain}.key", Path(tmp) / f"{domain}.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                            f"/CN={domain}", "-keyout", str(key), "-out", str(cert)], capture_output=True,
                           timeout=60, check=True)
            live = f"/etc/letsencrypt/live/{domain}"
            server.exec(f"mkdir -p {live} && cat > {live}/privkey.pem", input=key.read_bytes())
            server.exec(f"cat > {live}/fullchain.pem", input=cert.read_bytes())


def start_server(testbed: Testbed, token: str) -> TestServer:
    """The team's server, its registry (password ``token``) holding the stand-ins; see the module doc."""
    server = testbed.start("nginxhost", name="mypacer")
    server.exec("cat > /etc/docker/registry/config.yml", input=REGISTRY_CONFIG.encode())
    if server.exec("htpasswd -iBc /etc/docker/registry/htpasswd cmoron", input=token.encode()).returncode:
        raise RuntimeError("htpasswd failed on the mypacer test server")
    server.exec("setsid docker-registry serve /etc/docker/registry/config.yml >/var/log/registry.log 2>&1 </dev/null &")
    certificates(server)
    refs = [*build("web", "v1.2.2-prod", "v1.2.2-prod"), *build("web", "v1.2.3-prod", "v1.2.3-prod", "latest-prod"),
            *build("api", "v1.2.3-prod", "latest-prod"), *build("scraper", "v1.2.3-prod", "latest-prod")]
    testbed.load_images(server, refs)
    pushes = " && ".join(f"docker push -q {r} >/dev/null" for r in refs)
    # the password on stdin (a heredoc), never in argv; the login is forgotten once pushed
    push = server.exec(f"for i in $(seq 50); do docker login {REGISTRY} -u cmoron --password-stdin <<EOF && break\n"
                       f"{token}\nEOF\nsleep 0.2; done && {pushes} && docker rmi {' '.join(refs)} >/dev/null "
                       f"&& docker logout {REGISTRY} && rm -f /root/.docker/config.json")
    if push.returncode != 0:
        raise RuntimeError(f"pushing the stand-ins failed: {(push.stdout + push.stderr)[-2000:].decode()}")
    return server


def prepare_project(server: TestServer, root: Path, key: Path | None = None) -> Path:
    """The example in ``root``, both placeholder hosts the server, the registry the server's,
    postgres:16 the test image (shipped) and the health URL the published HTTPS port."""
    copy_example("mypacer", root)
    with edit_yaml(root / "inventory" / "hosts.yml") as hosts:
        for env, host in HOSTS.items():
            hosts["environments"][env]["hosts"][host] = {**host_entry(server, key), "user": server.user}
    pin_host(server, root)
    with edit_yaml(root / "inventory" / "group_vars" / "all.yml") as app:
        postgres = ensure_image("postgres")
        app["image_registry"] = REGISTRY
        app["app_images"] = [*app["app_images"][:3], {"ref": postgres, "source": "ship"}]
        app["app_env"]["POSTGRES_IMAGE"] = postgres
        app["health_url"] = f"https://127.0.0.1:{server.ports[443]}/api/health"
    return root
