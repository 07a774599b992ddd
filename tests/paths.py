"""Where the tests find the checkout: test modules live one or two folders down (tests/unit/<package>/,
tests/integration/, ...), so none computes the repository root from its own ``__file__``."""
from pathlib import Path

#: the repository root
REPO = Path(__file__).resolve().parent.parent
#: tests/data: the images, schemas and post files the tests read
TEST_DATA = Path(__file__).resolve().parent / "data"
