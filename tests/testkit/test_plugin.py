"""The pytest plugin as a user meets it: a throwaway project run by pytester in a child pytest.

Each child run starts the plugin from its entry point (as an installed ``kmsgw[testing]`` does),
so these check the packaging too: the ``pytest11`` entry point, ``-p no:kmsgw``, the options.
"""

from __future__ import annotations

import pytest

SEED_BAD = """
[[projects]]
id = "p1"

  [[projects.keys]]
  id = "4f1d2c3b-5a69-4788-9a0b-1c2d3e4f5a6b"
  alias = "orders"
  material = ["not-32-bytes"]
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)


def test_the_plugin_imports_nothing_heavy_until_a_fixture_is_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_light="""
        import sys

        HEAVY = ("pkcs11", "grpc", "huaweicloudsdkkms", "huaweicloudsdkcore", "httpx", "gateway.app",
                 "gateway.client", "gateway.core", "starlette", "uvicorn", "cryptography")

        def test_registered_and_light(request):
            assert request.config.pluginmanager.has_plugin("kmsgw")
            assert [name for name in HEAVY if name in sys.modules] == []

        def test_still_light_after_a_test_without_fixtures():
            assert "grpc" not in sys.modules and "pkcs11" not in sys.modules
        """
    )
    result = run(pytester, "--kmsgw-mode", "subprocess")
    result.assert_outcomes(passed=2)


def test_dash_p_no_kmsgw_turns_it_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_it(kms_project):\n    pass\n")
    result = run(pytester, "-p", "no:kmsgw")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'kms_project' not found*"])


def test_a_bad_seed_names_file_entry_and_reason_without_a_traceback(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", **{"kmsgw-seed": SEED_BAD})
    pytester.makepyfile(test_seeded="def test_one(kms_project):\n    pass\n\ndef test_two(kms_client):\n    pass\n")
    result = run(pytester, "--kmsgw-seed", "kmsgw-seed.toml")
    result.assert_outcomes(errors=2)  # the second fails at once with the same words (no second start)
    result.stdout.fnmatch_lines(
        ["*kmsgw-seed.toml: projects[[]0[]] (id 'p1').keys[[]0[]] (alias 'orders').material: material[[]0[]]*32 bytes*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_marker_gives_a_module_its_own_gateway_and_requires_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_quota="""
        import grpc
        import pytest
        from gateway.client import KmsClientError

        pytestmark = pytest.mark.kmsgw(config={"cmk_quota": 1, "limits": {"rate": 1000}})

        def test_the_module_gateway_has_the_marker_quota(kms_key, kms_project, kms_gateway):
            kms_key()
            with pytest.raises(KmsClientError) as err:
                kms_key()
            assert err.value.status == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert kms_project.gateway is not kms_gateway  # the run's default gateway is another one

        @pytest.mark.kmsgw_requires("AES_256", "RSAES_OAEP_SHA_1")
        def test_runs_where_the_token_has_it(kms_project):
            pass

        @pytest.mark.kmsgw_requires("SM4")
        def test_skipped_on_softhsm(kms_project):
            pass
        """,
        test_default="""
        def test_the_default_quota_is_high(kms_key):
            kms_key()
            kms_key()
        """,
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["*the gateway's token lacks SM4*"])


def test_inprocess_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inproc="""
        import sys

        def test_data_key_clock_and_faults(kms_client, kms_key, kms_clock, kms_faults, kms_gateway):
            assert kms_gateway.mode == "inprocess" and "pkcs11" in sys.modules
            key = kms_key(state="pending_deletion")
            assert len(kms_client.create_data_key(kms_key().key_id).plain_text) == 32
            assert key.key_id in kms_clock.advance(days=8)["deleted"]
            kms_faults.close_sessions()
            assert len(kms_client.generate_random(256).random_data) == 32
            sealed = kms_client.encrypt_data(kms_key().key_id, b"kept").cipher_text
            kms_gateway.restart()  # the library is initialized once per process: the same token reopens
            assert kms_client.decrypt_data(sealed).plain_text == b"kept"
        """
    )
    run(pytester, "--kmsgw-mode", "inprocess").assert_outcomes(passed=1)
