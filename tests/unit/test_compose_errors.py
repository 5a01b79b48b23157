"""A failed ``docker compose up``: compose's own error, not the containers' logs, is the reason."""

from moorage.operations.compose_errors import SAID, failure

LOGS = "\n".join(f"shop-worker-1  | tick {n}" for n in range(40))


def stderr(said: str) -> str:
    return f"NAME  IMAGE  STATUS\nshop-web-1  web:1  Up\n{LOGS}\n{SAID}\n{said}\n"


def test_a_service_that_did_not_complete_is_named_and_its_error_comes_last() -> None:
    reason, detail = failure(stderr(" Container shop-db-1  Running\n Container shop-migrate-1  Recreated\n"
                                    " Container shop-migrate-1  Starting\n Container shop-migrate-1  Started\n"
                                    'service "migrate" didn\'t complete successfully: exit 1'), "shop")
    assert reason == 'service "migrate" didn\'t complete successfully: exit 1'
    lines = detail.splitlines()
    assert lines[-2:] == ["--- docker compose said:", 'service "migrate" didn\'t complete successfully: exit 1']
    assert "tick 39" in detail and "tick 0" not in detail  # a short context before
    assert "Recreated" not in detail


def test_a_port_already_allocated_names_the_scaled_service() -> None:
    reason, detail = failure(stderr(
        " Container shop-web-2  Creating\n Container shop-web-2  Created\n Container shop-web-2  Starting\n"
        "Error response from daemon: failed to set up container networking: driver failed programming "
        "external connectivity on endpoint shop-web-2 (0123): Bind for 0.0.0.0:8080 failed: port is "
        "already allocated"), "shop")
    assert reason.startswith("service web: Error response from daemon")
    assert reason.endswith("port is already allocated")
    assert detail.splitlines()[-1].endswith("port is already allocated")


def test_a_container_line_with_an_error_names_its_service() -> None:
    reason, _ = failure(stderr(" Container shop-db-1  Error dependency db failed to start\n"
                               "dependency failed to start: container shop-db-1 is unhealthy"), "shop")
    assert reason == "service db: dependency failed to start: container shop-db-1 is unhealthy"


def test_progress_alone_gives_no_reason_and_the_context_stays() -> None:
    reason, detail = failure(stderr(" Container shop-web-1  Started"), "shop")
    assert reason == ""
    assert detail.splitlines()[-1] == "shop-worker-1  | tick 39"
