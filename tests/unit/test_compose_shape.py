"""The pieces of issue 13 items 1-3 that need no server: the staged tree (``sync`` ``only``), the
bind sources a config label hashes, and how compose's output becomes the plan's sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from moorage.facts.sync import SourceError, scan_only
from moorage.operations.base import Facts, OpContext, PathFacts
from moorage.operations.compose import _DONE, _WOULD, containers_listed
from moorage.operations.compose_labels import ComposeLabels, bind_sources

CASES = Path(__file__).parent / "cases" / "shape"


def test_only_the_listed_paths_and_the_folders_leading_to_them_are_staged(tmp_path):
    (tmp_path / "deploy" / "configs" / "deep").mkdir(parents=True)
    (tmp_path / "deploy" / "compose.yml").write_text("services: {}\n")
    (tmp_path / "deploy" / "configs" / "deep" / "a.conf").write_text("a\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "huge.js").write_text("x\n")
    tree = scan_only(tmp_path, ["deploy/compose.yml", "deploy/configs/"])
    assert sorted(tree) == ["deploy", "deploy/compose.yml", "deploy/configs", "deploy/configs/deep",
                            "deploy/configs/deep/a.conf"]
    assert tree["deploy"].kind == "d" and tree["deploy/configs/deep/a.conf"].kind == "f"


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x", "."])
def test_a_path_outside_the_source_is_refused(tmp_path, path):
    with pytest.raises(SourceError, match="is not a path inside"):
        scan_only(tmp_path, [path])


def test_a_changed_file_changes_only_the_label_of_the_service_mounting_it(tmp_path):
    for item in CASES.rglob("*"):
        if item.is_file():
            (tmp_path / item.relative_to(CASES)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / item.relative_to(CASES)).write_bytes(item.read_bytes())
    args = {"path": "/srv/o.yml", "src": str(tmp_path), "files": ["compose.yml", "compose.tools.yml"],
            "staged": ["compose.yml", "compose.tools.yml", "nginx.conf", "configs"]}
    before = ComposeLabels(args, OpContext("h", {})).labels()
    (tmp_path / "nginx.conf").write_text("worker_processes 2;\n")
    after = ComposeLabels(args, OpContext("h", {})).labels()
    assert set(before) == {"web", "tools"}
    assert before["web"] != after["web"] and before["tools"] == after["tools"]
    facts = Facts()
    facts.record(PathFacts("/srv/o.yml"))
    written = yaml.safe_load(ComposeLabels(args, OpContext("h", {})).plan(facts).steps[0].data)  # type: ignore
    assert written["services"]["web"]["labels"]["moorage.config-hash"] == after["web"]


def test_bind_sources_are_relative_to_the_first_files_folder_and_skip_volumes_and_absolutes():
    found = bind_sources(CASES, ["compose.yml", "compose.tools.yml"])
    assert found == {"web": ["nginx.conf", "configs"], "tools": ["configs/tools.ini", "scratch"]}


def test_the_plan_names_each_container_under_its_strongest_verb():
    dry_run = "\n".join([
        " DRY-RUN MODE -  Container shop-new-1  Creating",
        " DRY-RUN MODE -  Container shop-web-1  Recreate",
        " DRY-RUN MODE -  Container shop-new-1  Created",
        " DRY-RUN MODE -  Container 67808fc52ec1_shop-web-1  Starting",
        " DRY-RUN MODE -  Container shop-db-1  Running",
        "inactive shop-extra-1"])
    assert containers_listed(dry_run, _WOULD) == "create shop-new-1; recreate shop-web-1; remove shop-extra-1"
    done = " Container shop-extra-1 Removed\n Container shop-web-1  Recreated\n Container shop-web-1  Started\n"
    assert containers_listed(done, _DONE) == "recreated shop-web-1; removed shop-extra-1"
    assert containers_listed(" Container shop-db-1  Running\n", _WOULD) == ""


def test_init_proposes_the_bind_mounted_files_as_release_files(tmp_path):
    from moorage.scaffold.project import init_project

    (tmp_path / "conf").mkdir()
    (tmp_path / "site.conf").write_text("x\n")
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: nginx:1\n    volumes: "
                                          "[./conf:/etc/nginx/conf.d:ro, ./site.conf:/x.conf, ./made-at-start:/y]\n")
    scaffold, _ = init_project(tmp_path)
    assert list(scaffold.release_files) == ["conf/", "site.conf"]
    assert "release_files: [conf/, site.conf]" in (tmp_path / "inventory" / "group_vars" / "all.yml").read_text()
