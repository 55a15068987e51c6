"""Declaring a block type registers it nowhere: only an app's registry holds types."""

from __future__ import annotations

import importlib.util

import pytest

from mallow.builder.blocks import BlockTypes, block_type, text, types_of

MODULE = """
from mallow.builder.blocks import block_type, text

DECLARED = block_type("declared_only", label="Declared", settings={"title": text("Title")})
"""


def test_importing_a_module_that_declares_a_block_type_changes_no_app(app, tmp_path):
    before = [t.name for t in types_of(app).all()]
    path = tmp_path / "declares_a_block.py"
    path.write_text(MODULE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("declares_a_block", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # when the module is imported
    assert module.DECLARED.name == "declared_only"
    assert [t.name for t in types_of(app).all()] == before  # then the app's types are as they were
    with app.test_request_context():
        from mallow.builder.validation import validate_document
        from mallow.validation import ValidationFailed

        with pytest.raises(ValidationFailed):
            validate_document({"sections": {"x": {"type": "declared_only"}}, "order": ["x"]})


def test_a_registry_takes_a_type_once_and_tells_its_listeners():
    registry = BlockTypes()
    changes = []
    registry.on_change(lambda: changes.append(1))
    registry.add(block_type("mine", label="Mine", settings={"title": text("Title")}))
    with pytest.raises(ValueError, match="registered already"):
        registry.register("mine", label="Again", settings={})
    registry.register("mine", label="Replaced", settings={}, replace=True)
    assert registry.get("mine").label == "Replaced" and changes == [1, 1]
