"""Onboarding's pure parts: the host-key verdict at first contact, known_hosts pinning, the
operator's public key, and the directories the deploy user is given."""

from __future__ import annotations

import subprocess

import paramiko
import pytest

from moorage.connection import hostkey
from moorage.errors import InputError
from moorage.recipes import onboard as recipe
from moorage.target import Target

SERVER = paramiko.ECDSAKey.generate()
OTHER = paramiko.ECDSAKey.generate()
WHERE = "inventory/known_hosts"

# (case, pinned keys, inventory fingerprint, --trust-host-key, verdict, words of the message)
DECISIONS = [
    ("pinned already", {SERVER.get_name(): SERVER}, None, False, "known", ["is already pinned", "nothing to do"]),
    ("pinned already, trust changes nothing", {SERVER.get_name(): SERVER}, None, True, "known", ["pinned"]),
    ("another key pinned: changed, even when trusted", {OTHER.get_name(): OTHER}, None, True, "refuse",
     ["CHANGED", OTHER.fingerprint, SERVER.fingerprint, "man-in-the-middle"]),
    ("unknown, inventory fingerprint matches", {}, SERVER.fingerprint, False, "pin", ["matches the inventory"]),
    ("unknown, inventory fingerprint differs, even when trusted", {}, OTHER.fingerprint, True, "mismatch",
     ["does not match", OTHER.fingerprint]),
    ("unknown and trusted", {}, None, True, "pin", ["--trust-host-key", WHERE]),
    ("unknown, not trusted: shows the fingerprint to verify", {}, None, False, "refuse",
     [SERVER.fingerprint, "ssh-keygen -lf", "--trust-host-key", f"fingerprint: {SERVER.fingerprint}"]),
]


@pytest.mark.parametrize(("pinned", "expected", "trust", "verdict", "words"), [c[1:] for c in DECISIONS],
                         ids=[c[0] for c in DECISIONS])
def test_first_contact_verdict(pinned, expected, trust, verdict, words):
    decision = hostkey.decide(SERVER, pinned, expected, trust, WHERE)
    assert decision.verdict == verdict
    for word in words:
        assert word in decision.message


def test_the_trust_commands_wording():
    """`trust` names its own ways to vouch and where the expected fingerprint came from."""
    vouching = hostkey.Vouching(reason="--yes", how="run `moorage trust --host web1 --fingerprint SHA256:...`")
    assert "trusted (--yes)" in hostkey.decide(SERVER, {}, None, True, WHERE, vouching).message
    refused = hostkey.decide(SERVER, {}, None, False, WHERE, vouching)
    assert refused.refused and "then run `moorage trust --host web1 --fingerprint" in refused.message
    assert "--trust-host-key" not in refused.message
    mismatch = hostkey.decide(SERVER, {}, OTHER.fingerprint, True, WHERE, vouching, "--fingerprint's")
    assert mismatch.verdict == "mismatch" and f"does not match --fingerprint's fingerprint {OTHER.fingerprint}" \
        in mismatch.message
    padded = hostkey.decide(SERVER, {}, SERVER.fingerprint + "=", False, WHERE)  # as some tools print it
    assert padded.verdict == "pin"


@pytest.mark.parametrize(("port", "name"), [(22, "203.0.113.7"), (2222, "[203.0.113.7]:2222")])
def test_pinned_key_is_found_again_under_openssh_naming(tmp_path, port, name):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"# pinned by hand\nother.example {OTHER.get_name()} {OTHER.get_base64()}")
    hostkey.pin(known_hosts, "203.0.113.7", port, SERVER)
    assert known_hosts.read_text().splitlines()[-1] == f"{name} {SERVER.get_name()} {SERVER.get_base64()}"
    assert hostkey.pinned_keys(known_hosts, "203.0.113.7", port) == {SERVER.get_name(): SERVER}
    assert hostkey.pinned_keys(known_hosts, "203.0.113.8", port) == {}


def test_a_broken_known_hosts_line_is_bad_input(tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[203.0.113.7]:2222 ssh-ed25519 AAAAnot-base64\n")
    with pytest.raises(InputError, match=r"known_hosts:1: not a valid known_hosts line"):
        hostkey.pinned_keys(known_hosts, "203.0.113.7", 2222)


def test_operator_public_key_from_the_pub_file_or_derived(tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ops@laptop", "-f", str(key)],
                   check=True, timeout=30)
    public = key.with_suffix(".pub").read_text().strip()
    assert recipe.operator_public_key(Target("h", key_file=str(key))) == public
    key.with_suffix(".pub").unlink()
    derived = recipe.operator_public_key(Target("h", key_file=str(key)))
    assert derived.split()[:2] == public.split()[:2]
    assert recipe.operator_public_key(Target("h")) == ""


def test_directories_inside_the_deploy_home_come_with_their_parents():
    paths = ["/home/deploy/nexus/dev-web/dm", "/home/deploy/nexus/shared/traefik", "/srv/shared/nginx-static"]
    assert recipe._with_home_parents(paths, "/home/deploy") == [
        "/home/deploy/nexus", "/home/deploy/nexus/dev-web", "/home/deploy/nexus/dev-web/dm",
        "/home/deploy/nexus/shared", "/home/deploy/nexus/shared/traefik", "/srv/shared/nginx-static"]


def test_the_dm_projects_directories_on_nexus_belong_to_the_deploy_user():
    from pathlib import Path

    from moorage.inventory import load_inventory
    from moorage.project import locate

    project = locate(Path(__file__).resolve().parents[2])
    inventory = load_inventory(project.inventory)
    onboard_play = project.load_playbook("onboard")
    dirs = recipe.deploy_dirs(inventory, inventory.hosts["nexus"], onboard_play, project)
    home = "/home/deploy/nexus"
    assert sorted(dirs) == sorted([home, f"{home}/dev-web", f"{home}/dev-web/dm", f"{home}/dev-web/dm/media",
                                   f"{home}/dev-web/dm/backups", f"{home}/shared", f"{home}/shared/traefik",
                                   f"{home}/shared/nginx-static"])
