"""The wire schema is AWS's own: gateway/aws/service.json is botocore's KMS model trimmed to the
operations served. When a botocore upgrade changes a shape the gateway checks (a member, a length,
an enum, a pattern), these fail loudly instead of the gateway silently checking an old schema."""

from __future__ import annotations

import json

from gateway.aws import ops, shapes, shapes_gen


def test_service_json_is_the_installed_botocore_model_trimmed() -> None:
    committed = shapes_gen.TARGET.read_text()
    rendered = shapes_gen.render()
    if committed != rendered:  # name what moved before the plain equality fails
        old, new = json.loads(committed), json.loads(rendered)
        changed = sorted(
            name
            for name in old["shapes"].keys() | new["shapes"].keys()
            if old["shapes"].get(name) != new["shapes"].get(name)
        )
        raise AssertionError(
            f"botocore's KMS model changed these shapes: {changed[:20]}; review them, then run "
            ".venv/bin/python -m gateway.aws.shapes_gen"
        )


def test_every_served_operation_has_its_model_and_no_more() -> None:
    served = set(ops.ROUTES)
    assert served == set(shapes_gen.OPERATIONS), "a route without its shapes, or shapes of no route"
    assert served == set(shapes.operations())
    model = shapes_gen.botocore_model()
    for name in served:  # the operation's input and output are botocore's own names for them
        assert shapes.operations()[name]["input"] == model["operations"][name]["input"]["shape"]
    assert shapes.model()["metadata"]["targetPrefix"] == "TrentService"
