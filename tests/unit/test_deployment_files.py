"""Static checks of the Dockerfile and docker-compose.yml (DESIGN sections 2, 3 and 4).

There is no container engine in CI, so these tests read the files and check that the pieces fit
together: every service reaches the database and the broker by the names and ports those
containers really use, the workers can be scaled, the image runs as a non-root user, and no
CREDITFLOW_* setting is misspelt.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

SERVICES = ("importer", "validator", "notifier", "dashboard")
SCALABLE_WORKERS = ("importer", "validator", "notifier")
NEEDS_SMTP = ("notifier", "dashboard")
MAILPIT_SMTP_PORT = 1025

# DESIGN section 3 plus the settings the project documents beside it. A name not listed here
# is a typo that the service would silently ignore.
DOCUMENTED_SETTINGS = frozenset(
    {
        "CREDITFLOW_DATABASE_URL",
        "CREDITFLOW_KAFKA_BOOTSTRAP",
        "CREDITFLOW_SMTP_URL",
        "CREDITFLOW_HOME",
        "CREDITFLOW_TOPIC_PREFIX",
        "CREDITFLOW_HTTP_HOST",
        "CREDITFLOW_HTTP_PORT",
        "CREDITFLOW_TOPIC_PARTITIONS",
        "CREDITFLOW_KAFKA_IDEMPOTENCE",
        "CREDITFLOW_API_TOKEN",
    }
)
SETTING_NAME = re.compile(r"\bCREDITFLOW_[A-Z0-9_]+")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


# --- reading the files -----------------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


def interpolate(value: object) -> str:
    """Resolve compose `${VAR:-default}` forms to their defaults, ignoring the caller's shell.

    The tests check the file as a developer gets it with no .env, not the environment they
    happen to run in.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("op") in (":-", "-"):
            return match.group("arg")
        return ""

    return _INTERPOLATION.sub(replace, str(value))


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def environment(service: dict) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): interpolate(value) for key, value in raw.items()}


def service_named_by_image(prefix: str) -> tuple[str, dict]:
    found = [
        (name, spec)
        for name, spec in services().items()
        if str(spec.get("image", "")).startswith(prefix)
    ]
    assert len(found) == 1, f"expected exactly one service running {prefix}, found {found!r}"
    return found[0]


def network_names(name: str, spec: dict) -> set[str]:
    """The names another container on the compose network can use for this service."""
    names = {name}
    if spec.get("hostname"):
        names.add(spec["hostname"])
    networks = spec.get("networks")
    if isinstance(networks, dict):  # the list form carries no aliases
        for network in networks.values():
            names.update((network or {}).get("aliases", []))
    return names


def published_container_ports(spec: dict) -> set[int]:
    ports: set[int] = set()
    for entry in spec.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            target = interpolate(entry).split("/", 1)[0].rsplit(":", 1)[-1]
            ports.add(int(target))
    return ports


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def dockerfile_args() -> dict[str, str]:
    """ARG defaults, global and per stage (names are unique in this Dockerfile)."""
    defaults: dict[str, str] = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ARG" and "=" in arguments:
            name, value = arguments.split("=", 1)
            defaults[name.strip()] = value.strip()
    return defaults


def expand_args(text: str) -> str:
    args = dockerfile_args()
    return re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), text
    )


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile_stages()[-1]:
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                if "=" in pair:
                    name, value = pair.split("=", 1)
                    env[name] = value
    return env


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"expected the exec (JSON) form, got {arguments!r}"
    return value


def copy_sources(arguments: str) -> list[str]:
    parts = [part for part in shlex.split(arguments) if not part.startswith("--")]
    return parts[:-1]


# --- compose: infrastructure -----------------------------------------------------------------


def test_kafka_runs_in_kraft_mode_as_broker_and_controller():
    _, kafka = service_named_by_image("apache/kafka")
    env = environment(kafka)
    roles = {role.strip() for role in env.get("KAFKA_PROCESS_ROLES", "").split(",")}
    assert roles == {"broker", "controller"}
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS")
    assert env.get("CLUSTER_ID"), "a fixed cluster id keeps the formatted volume usable"


def test_no_zookeeper_appears_anywhere_in_compose():
    for name, spec in services().items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(spec.get("image", "")).lower()
        assert not [key for key in environment(spec) if "ZOOKEEPER" in key.upper()]


def test_kafka_has_a_healthcheck_using_its_bundled_api_versions_tool():
    _, kafka = service_named_by_image("apache/kafka")
    check = " ".join(kafka["healthcheck"]["test"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in check


def test_kafka_single_node_internal_topics_use_replication_factor_one():
    _, kafka = service_named_by_image("apache/kafka")
    env = environment(kafka)
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"


def test_postgres_is_version_16_with_a_pg_isready_healthcheck_and_a_named_volume():
    _, postgres = service_named_by_image("postgres:")
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume_names = {
        str(volume).split(":", 1)[0]
        for volume in postgres.get("volumes", [])
        if isinstance(volume, str)
    }
    assert volume_names & set(compose().get("volumes") or {}), "data should live in a named volume"


def test_a_mail_catcher_listens_for_smtp_in_development():
    service_named_by_image("axllent/mailpit")


# --- compose: the creditflow services --------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_built_from_the_repository_dockerfile(name):
    build = services()[name]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    assert context == REPO
    assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_its_own_command_and_restarts_unless_stopped(name):
    spec = services()[name]
    assert spec["command"] == ["run", name]
    assert spec["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_database_url_points_at_the_postgres_service(name):
    postgres_name, postgres = service_named_by_image("postgres:")
    postgres_env = environment(postgres)
    url = urlsplit(environment(services()[name])["CREDITFLOW_DATABASE_URL"])
    assert url.scheme in {"postgresql", "postgres"}
    assert url.hostname in network_names(postgres_name, postgres)
    assert (url.port or 5432) == 5432
    assert url.path.lstrip("/") == postgres_env["POSTGRES_DB"]
    assert url.username == postgres_env["POSTGRES_USER"]
    assert url.password == postgres_env["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_kafka_bootstrap_matches_a_listener_advertised_on_the_compose_network(name):
    kafka_name, kafka = service_named_by_image("apache/kafka")
    kafka_env = environment(kafka)
    on_network = network_names(kafka_name, kafka)
    advertised = set()
    for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(","):
        address = urlsplit(listener.strip())
        if address.hostname in on_network:
            advertised.add((address.hostname, address.port))
    bound_ports = {urlsplit(item.strip()).port for item in kafka_env["KAFKA_LISTENERS"].split(",")}

    bootstrap = environment(services()[name])["CREDITFLOW_KAFKA_BOOTSTRAP"]
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        assert (host, int(port)) in advertised
        assert int(port) in bound_ports


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_uses_idempotent_producers_against_real_kafka(name):
    assert environment(services()[name])["CREDITFLOW_KAFKA_IDEMPOTENCE"] == "true"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_waits_for_healthy_kafka_and_postgres(name):
    kafka_name, _ = service_named_by_image("apache/kafka")
    postgres_name, _ = service_named_by_image("postgres:")
    depends_on = services()[name]["depends_on"]
    assert isinstance(depends_on, dict), "the list form cannot wait for health"
    for dependency in (kafka_name, postgres_name):
        assert depends_on[dependency]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_carries_the_shared_environment_anchor(name):
    shared = {key: interpolate(value) for key, value in compose()["x-creditflow-env"].items()}
    env = environment(services()[name])
    assert {key: env.get(key) for key in shared} == shared


@pytest.mark.parametrize("name", SCALABLE_WORKERS)
def test_scalable_workers_have_no_container_name_and_no_host_ports(name):
    spec = services()[name]
    assert "container_name" not in spec
    assert not spec.get("ports")


def test_dashboard_publishes_its_http_port():
    spec = services()["dashboard"]
    port = int(
        environment(spec).get("CREDITFLOW_HTTP_PORT") or dockerfile_env()["CREDITFLOW_HTTP_PORT"]
    )
    assert port in published_container_ports(spec)


def test_dashboard_listening_beyond_loopback_has_an_api_token():
    env = environment(services()["dashboard"])
    host = env.get("CREDITFLOW_HTTP_HOST") or dockerfile_env()["CREDITFLOW_HTTP_HOST"]
    assert host not in LOOPBACK_HOSTS
    assert env.get("CREDITFLOW_API_TOKEN")
    raw = compose()["services"]["dashboard"]["environment"]["CREDITFLOW_API_TOKEN"]
    assert raw.startswith("${CREDITFLOW_API_TOKEN"), "the token should come from the environment"


@pytest.mark.parametrize("name", NEEDS_SMTP)
def test_services_that_need_mail_point_smtp_at_the_mail_catcher(name):
    mail_name, mail = service_named_by_image("axllent/mailpit")
    url = urlsplit(environment(services()[name])["CREDITFLOW_SMTP_URL"])
    assert url.scheme == "smtp"
    assert url.hostname in network_names(mail_name, mail)
    assert url.port == MAILPIT_SMTP_PORT


def test_every_creditflow_setting_in_compose_is_a_documented_one():
    used = set(SETTING_NAME.findall(COMPOSE_FILE.read_text()))
    for spec in services().values():
        used.update(key for key in environment(spec) if key.startswith("CREDITFLOW_"))
    assert used, "compose should configure creditflow through its settings"
    assert used <= DOCUMENTED_SETTINGS, f"unknown settings: {sorted(used - DOCUMENTED_SETTINGS)}"


# --- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_builds_in_a_separate_stage_and_runs_on_python_311_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final_base = expand_args(stages[-1][0][1].split()[0])
    assert final_base == "python:3.11-slim"


def test_dockerfile_runs_as_a_non_root_user_set_before_the_entrypoint():
    final = dockerfile_stages()[-1]
    keywords = [keyword for keyword, _ in final]
    entrypoint_at = keywords.index("ENTRYPOINT")
    users = [arguments for keyword, arguments in final[:entrypoint_at] if keyword == "USER"]
    assert users, "USER must be set before ENTRYPOINT"
    user, _, group = expand_args(users[-1]).partition(":")
    assert user not in {"root", "0", ""}
    assert group not in {"root", "0"}
    assert "USER" not in keywords[entrypoint_at:], "nothing may switch user after ENTRYPOINT"


def test_dockerfile_entrypoint_is_the_creditflow_console_script():
    final = dict(dockerfile_stages()[-1])
    assert exec_form(final["ENTRYPOINT"]) == ["creditflow"]


def test_dockerfile_healthcheck_asks_healthz_with_python():
    final = dict(dockerfile_stages()[-1])
    check = final["HEALTHCHECK"]
    assert not check.upper().startswith("NONE")
    assert "python" in check and "urllib" in check
    assert "127.0.0.1" in check and "/healthz" in check


def test_dockerfile_defaults_listen_on_all_interfaces_on_port_8000_with_a_home():
    env = dockerfile_env()
    assert env["CREDITFLOW_HTTP_HOST"] == "0.0.0.0"
    assert env["CREDITFLOW_HTTP_PORT"] == "8000"
    assert env["CREDITFLOW_HOME"] == "/var/lib/creditflow"
    assert set(SETTING_NAME.findall(DOCKERFILE.read_text())) <= DOCUMENTED_SETTINGS


def test_dockerfile_home_directory_is_owned_by_the_runtime_user():
    final = dockerfile_stages()[-1]
    user = [expand_args(arguments) for keyword, arguments in final if keyword == "USER"][-1]
    uid = user.partition(":")[0]
    runs = " ".join(expand_args(arguments) for keyword, arguments in final if keyword == "RUN")
    account = re.search(rf"useradd [^&]*--uid \"?{uid}\"? [^&]*?(\S+)\s*(&&|$)", runs)
    assert account, f"no useradd creating uid {uid}"
    name = account.group(1)
    assert re.search(rf"install -d -o {name} -g \S+ [^&]*/var/lib/creditflow", runs)


def test_dockerfile_copies_everything_pyproject_needs_and_installs_the_project():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    build_stage = dockerfile_stages()[0]
    copied = {
        Path(source).as_posix().rstrip("/")
        for keyword, arguments in build_stage
        if keyword == "COPY"
        for source in copy_sources(arguments)
    }
    needed = {"pyproject.toml"}
    if isinstance(pyproject["project"].get("readme"), str):
        needed.add(pyproject["project"]["readme"])
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        needed.add(pattern.rstrip("*").rstrip("."))
    assert needed <= copied or "." in copied, f"not copied: {sorted(needed - copied)}"
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source} would fail: not in the repository"

    build_runs = " ".join(arguments for keyword, arguments in build_stage if keyword == "RUN")
    assert re.search(r"pip (wheel|install)\b[^&]* \.(\s|$)", build_runs)
    final_runs = " ".join(
        arguments for keyword, arguments in dockerfile_stages()[-1] if keyword == "RUN"
    )
    assert re.search(r"pip install\b[^&]*\bcreditflow\b", final_runs)


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".git", ".venv", ".creditflow", "**/__pycache__", ".pytest_cache", ".env"):
        assert entry in ignored
    for needed in ("pyproject.toml", "README.md", "creditflow", "shared", "services"):
        assert needed not in ignored
