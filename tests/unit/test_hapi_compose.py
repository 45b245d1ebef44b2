"""Static checks of hapi-fhir-docker/ (no Docker engine here): YAML, pins, ports, volume, config."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from app.fhir.client import SearchLimits
from app.seed import DEFAULT_CHUNK_SIZE, make_chunks
from app.synth import generate_cohort

FOLDER = Path(__file__).resolve().parents[2] / "hapi-fhir-docker"
PINNED = re.compile(r"^[a-z0-9./_-]+:(?!latest$)v?\d+(\.\d+)+[A-Za-z0-9.-]*$")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((FOLDER / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hapi_settings():
    return yaml.safe_load((FOLDER / "application.yaml").read_text(encoding="utf-8"))["hapi"]["fhir"]


def published(service):
    """(host_ip, host_port, container_port) of each published port, short or long syntax."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip"), str(port.get("published")), str(port["target"])))
        else:
            parts = str(port).split(":")
            if len(parts) == 3:
                out.append((parts[0], parts[1], parts[2]))
            else:
                out.append((None, parts[0] if len(parts) == 2 else None, parts[-1]))
    return out


def test_compose_parses_and_has_the_database_and_hapi(compose):
    assert {"db", "hapi"} <= set(compose["services"])


def test_hapi_is_the_official_image_pinned_to_a_release(compose):
    image = compose["services"]["hapi"]["image"]
    assert image.startswith("hapiproject/hapi:")
    assert PINNED.match(image), image


def test_every_image_is_pinned_never_latest(compose):
    assert len(compose["services"]) >= 3
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image (a local build cannot be pinned)"
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
        assert PINNED.match(image), f"{name}: {image}"


def test_no_port_is_published_beyond_loopback(compose):
    ports = [(name, p) for name, s in compose["services"].items() for p in published(s)]
    assert ports, "HAPI must be reachable on 127.0.0.1"
    for name, (host_ip, _, _) in ports:
        assert host_ip == "127.0.0.1", f"{name} publishes on {host_ip or 'all interfaces'}"
    assert ("hapi", ("127.0.0.1", "8080", "8080")) in ports
    assert "ports" not in compose["services"]["db"]


def test_database_lives_in_a_named_volume(compose):
    volumes = compose["services"]["db"]["volumes"]
    named = [v.split(":")[0] for v in volumes if not v.startswith((".", "/"))]
    assert named, "PostgreSQL data must be in a named volume, not a bind mount"
    assert named[0] in compose["volumes"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes)


def test_health_checks_gate_start_up(compose):
    services = compose["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["hapi"]["depends_on"]["db"]["condition"] == "service_healthy"
    probe = " ".join(services["hapi-health"]["healthcheck"]["test"])
    assert "http://hapi:8080/fhir/metadata" in probe and "--fail" in probe


def test_hapi_uses_postgres_and_reads_our_settings(compose):
    hapi = compose["services"]["hapi"]
    env = hapi["environment"]
    assert env["SPRING_DATASOURCE_URL"] == "jdbc:postgresql://db:5432/hapi"
    assert (
        env["SPRING_DATASOURCE_USERNAME"]
        == compose["services"]["db"]["environment"]["POSTGRES_USER"]
    )
    location = env["SPRING_CONFIG_ADDITIONAL_LOCATION"].removeprefix("file:")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in hapi["volumes"]}
    assert mounts[location] == "./application.yaml"
    assert (FOLDER / "application.yaml").exists()


def test_settings_are_r4_with_the_published_server_address(compose, hapi_settings):
    assert hapi_settings["fhir_version"] == "R4"
    address = urlsplit(hapi_settings["server_address"])
    assert (address.hostname, address.port, address.path.rstrip("/")) == (
        "127.0.0.1",
        8080,
        "/fhir",
    )


def test_settings_allow_client_ids_bulk_export_and_page(hapi_settings):
    assert hapi_settings["client_id_strategy"] in {"ALPHANUMERIC", "ANY"}
    assert hapi_settings["bulk_export_enabled"] is True
    assert 0 < hapi_settings["default_page_size"] <= hapi_settings["max_page_size"]
    # The app asks for _count=SearchLimits().page_size; a lower maximum would cap its pages.
    assert hapi_settings["max_page_size"] >= SearchLimits().page_size
    assert hapi_settings["retain_cached_searches_mins"] >= 10


def test_cors_allows_the_app_origin_and_no_wildcard(hapi_settings):
    origins = hapi_settings["cors"]["allowed_origin"]
    assert "http://127.0.0.1:8000" in origins
    assert "*" not in origins


def test_settings_file_is_commented():
    text = (FOLDER / "application.yaml").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.strip().startswith("#")]
    assert len(comments) >= 15


def test_readme_example_of_a_refused_chunk_matches_the_default_cohort():
    text = (FOLDER / "README.md").read_text(encoding="utf-8")
    example = re.search(r"chunk (\d+) of (\d+) \((\d+) resources; ([^)]+)\) refused", text)
    assert example, "the README shows a refused-chunk message"
    number, total, size, patients = example.groups()
    chunks = make_chunks(generate_cohort(), size=DEFAULT_CHUNK_SIZE)
    chunk = chunks[int(number) - 1]
    shown = (int(total), int(size), patients)
    real = (len(chunks), chunk.size, ", ".join(chunk.patients))
    assert shown == real, "update the example in hapi-fhir-docker/README.md to the real counts"


def test_readme_says_how_hapi_is_health_checked(compose):
    text = " ".join((FOLDER / "README.md").read_text(encoding="utf-8").split())
    assert "healthcheck" not in compose["services"]["hapi"]  # distroless: probed by a sidecar
    assert "every long-running service has a health check" not in text
    assert "probed by the `hapi-health` sidecar" in text
