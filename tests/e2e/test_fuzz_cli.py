"""Fuzzing the CLI, the Python API and the environment against the input and error contract.

See ``tests/fuzzing.py`` for the contract and the strategies. SQLite and PostgreSQL run the
same fuzz; MLflow runs a smaller one in ``backends/mlflow/tests``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stagekeeper import open_registry
from tests import fuzzing
from tests.fuzzing import VALUES, argument_lists, fuzz_settings, run_and_check, seeded


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return seeded(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")


@pytest.mark.slow
@fuzz_settings(400)
@given(args=argument_lists())
def test_fuzzed_command_lines_keep_the_contract_on_sqlite(
    sqlite_store: str, in_tmp: Path, args: list[str]
) -> None:
    run_and_check(sqlite_store, args, tally="CLI argument lists, SQLite")


@pytest.mark.postgres
@pytest.mark.slow
@fuzz_settings(150)
@given(args=argument_lists())
def test_fuzzed_command_lines_keep_the_contract_on_postgres(
    postgres_fuzz_store: str, in_tmp: Path, args: list[str]
) -> None:
    run_and_check(postgres_fuzz_store, args, tally="CLI argument lists, PostgreSQL")


@pytest.fixture(scope="module")
def postgres_fuzz_store(postgres_server: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(postgres_server)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute('DROP DATABASE IF EXISTS "stagekeeper_fuzz" WITH (FORCE)')
        connection.execute('CREATE DATABASE "stagekeeper_fuzz"')
    yield seeded(server.set(database="stagekeeper_fuzz").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute('DROP DATABASE IF EXISTS "stagekeeper_fuzz" WITH (FORCE)')


def _settable(value: str) -> bool:
    """Whether ``os.environ`` can hold it in process (the end-to-end tests pass raw bytes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value and len(value) < 100_000


ENVIRONMENT = st.fixed_dictionaries(
    {},
    optional={
        "STAGEKEEPER_ACTOR": VALUES.filter(_settable),
        "STAGEKEEPER_MODEL_NAME_TEMPLATE": st.one_of(
            VALUES, st.sampled_from(["{timeframe}{timeframe:>200000000}", "{timeframe}" * 2])
        ).filter(_settable),
        "STAGEKEEPER_STORE": VALUES.filter(lambda v: "://" not in v and _settable(v)),
    },
)


@pytest.mark.slow
@fuzz_settings(200)
@given(
    env=ENVIRONMENT,
    args=st.sampled_from(
        [["register", "--timeframe", "1H"], ["status", "--json"], ["history", "--limit", "2"]]
    ),
)
def test_fuzzed_environment_keeps_the_contract(
    sqlite_store: str, in_tmp: Path, env: dict[str, str], args: list[str]
) -> None:
    """The environment reaches the same checks as options (``--store`` wins over the
    environment's store, so only the actor and the template reach the real store)."""
    run_and_check(sqlite_store, args, env, tally="environments")


# -- the Python API -----------------------------------------------------------------------

ANY_VALUE = st.one_of(
    VALUES,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
)


@pytest.mark.slow
@fuzz_settings(400)
@given(
    call=st.sampled_from(["register", "promote", "rollback", "list", "history", "get"]),
    values=st.lists(ANY_VALUE, min_size=4, max_size=4),
)
def test_fuzzed_python_calls_raise_only_stagekeeper_errors(
    sqlite_store: str, call: str, values: list[object]
) -> None:
    timeframe, version, stage_or_text, actor = values
    before = fuzzing.dump(sqlite_store)
    with open_registry(sqlite_store, actor="fuzz") as registry:
        calls = {
            "register": lambda: registry.register(
                timeframe, version, source=stage_or_text, reason=stage_or_text, actor=actor
            ),
            "promote": lambda: registry.promote(
                timeframe, version, stage_or_text, reason=stage_or_text, actor=actor
            ),
            "rollback": lambda: registry.rollback(timeframe, version, reason=stage_or_text),
            "list": lambda: registry.list(timeframe, stage_or_text),
            "history": lambda: registry.history(timeframe, version, stage_or_text),
            "get": lambda: registry.get(timeframe, version),
        }
        refused = fuzzing.api_call(calls[call])  # type: ignore[no-untyped-call]
    if refused:
        assert fuzzing.dump(sqlite_store) == before
    fuzzing.TALLY["Python API calls, SQLite"] += 1


@pytest.mark.slow
@fuzz_settings(200)
@given(template=st.one_of(VALUES, st.just("{timeframe}{timeframe:>200000000}")), actor=VALUES)
def test_fuzzed_registry_options_raise_only_stagekeeper_errors(template: str, actor: str) -> None:
    refused = fuzzing.api_call(
        lambda: open_registry("memory://", actor=actor, model_name_template=template).register("1H")
    )
    # An empty template means the default, as an unset one does.
    assert refused or template == "" or template.count("{timeframe}") == 1
    fuzzing.TALLY["Python API registry options"] += 1
