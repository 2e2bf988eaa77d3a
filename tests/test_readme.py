"""The README's configuration reference is the generated one (so it never drifts)."""

from pathlib import Path

from raytp.config_reference import reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_config_reference_is_current():
    text = README.read_text()
    block = text.split("<!-- config-reference:start -->")[1].split("<!-- config-reference:end -->")[0].strip()
    assert block == reference().strip(), "README config reference is stale: run `make docs`"


def test_readme_quick_start_commands():
    text = README.read_text()
    assert "make run" in text and "make test" in text
