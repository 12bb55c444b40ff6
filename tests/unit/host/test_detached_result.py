"""errors.as_result: what a detached process (locate's listener, a background capture) writes
as its result, whatever its work raised."""

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
    as_result,
)


def test_the_result_of_work_that_succeeds_is_its_own():
    assert as_result(lambda: {"changed": False, "found": True}, "x") == {
        "changed": False, "found": True}


def test_a_typed_error_is_a_failed_result_with_its_own_fields():
    def bad():
        raise ParamError("listen", "must be 0 or more, not -1")

    assert as_result(bad, "locate's listener") == {
        "failed": True, "msg": "listen: must be 0 or more, not -1", "path": "listen"}


def test_anything_else_is_a_failed_result_that_names_it():
    def broken():
        raise KeyError("vnet3")

    assert as_result(broken, "capture") == {
        "failed": True, "msg": "capture failed: KeyError: 'vnet3'"}
