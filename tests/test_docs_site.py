"""The documentation site builds with `mkdocs build --strict` (a broken link or a docstring
that mkdocstrings cannot render fails), and its API reference shows what a new user looks for:
every public name once, with its signature and parameters, and no leftovers of another
docstring dialect (Sphinx roles rendered as text), private bases or files users do not have."""

from __future__ import annotations

import dataclasses
import enum
import html
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import actors
import bridge

ROOT = Path(__file__).resolve().parent.parent
TOOLCHAIN = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
MISSING = [name for name in TOOLCHAIN if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"docs toolchain not installed (no {', '.join(MISSING)}): pip install '.[docs]'",
)

HEADING = re.compile(r'(?=<h[2-6] id="[^"]+" class="doc doc-heading">)')
SPHINX_ROLE = re.compile(r":(?:meth|class|func|attr|mod|exc|data|obj|ref|py:\w+):")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    if done.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{done.stderr[-4000:]}")
    return out


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def sections(page: str) -> dict[str, tuple[str, str, str]]:
    """id -> (heading text, signature text, the rest of the section as text)."""
    found = {}
    for part in HEADING.split(page)[1:]:
        heading = re.match(r'<h\d id="([^"]+)"[^>]*>(.*?)</h\d>', part, re.S)
        assert heading is not None
        # The heading's text without its labels ("async", "dataclass") and permalink.
        name = re.sub(r'<span class="doc doc-labels">.*?</span>|<a [^>]*headerlink.*?</a>', "",
                      heading.group(2), flags=re.S)
        signature = re.search(r'<div class="doc-signature[^"]*">(.*?)</div>', part, re.S)
        found[heading.group(1)] = (
            text_of(name).strip(), text_of(signature.group(1)) if signature else "", text_of(part)
        )
    return found


def public_names() -> list[tuple[set[str], object]]:
    """Each public name with the headings it may have: `actors.X`, or `bridge.X` for the
    names `actors` re-exports from `bridge` (CancelToken, safe_call, asafe_call)."""
    names = [({f"actors.{name}", f"bridge.{name}"}, getattr(actors, name)) for name in actors.__all__]
    assert bridge.CancelToken is actors.CancelToken
    return names


def api(site: Path) -> dict[str, tuple[str, str, str]]:
    return sections((site / "api" / "index.html").read_text())


@pytest.mark.timeout(120)
def test_no_sphinx_roles_private_bases_or_design_doc_anywhere(site: Path) -> None:
    problems = []
    for page in sorted(site.rglob("*.html")):
        text = text_of(page.read_text())
        where = page.relative_to(site)
        problems += [f"{where}: raw role {m.group(0)}" for m in SPHINX_ROLE.finditer(text)]
        problems += [f"{where}: mentions DESIGN.md" for _ in re.finditer(r"DESIGN\.md", text)]
        problems += [f"{where}: {m.group(0)!r}" for m in re.finditer(r"Bases: \S+|_SchedulerBase", text)]
    assert problems == []


@pytest.mark.timeout(120)
def test_every_public_name_is_listed_once_with_its_signature(site: Path) -> None:
    found = api(site)
    for accepted, obj in public_names():
        headings = [key for key, (name, _, _) in found.items() if name in accepted]
        qualified = min(accepted)
        assert len(headings) == 1, f"{qualified}: {len(headings)} headings in the API reference"
        _, signature, _ = found[headings[0]]
        if isinstance(obj, type) and issubclass(obj, (BaseException, enum.Enum)):
            continue  # raised, or a set of words: never constructed by users; the heading is the whole story
        short = qualified.rsplit(".", 1)[1]
        assert signature.startswith(f"{short}("), f"{qualified}: no signature, got {signature!r}"
        for parameter in inspect.signature(obj).parameters:
            assert parameter in signature, f"{qualified}: {parameter!r} missing from {signature!r}"
    # No module is rendered (`bridge.safe_call` is a module and a function of the same name).
    assert "doc-symbol-module" not in (site / "api" / "index.html").read_text()


@pytest.mark.timeout(120)
def test_constructors_document_their_parameters_and_messages_their_fields(site: Path) -> None:
    found = api(site)
    for cls in (actors.AsyncAgentScheduler, actors.AgentScheduler, actors.ActorSystem):
        _, _, body = found[f"actors.{cls.__name__}"]
        assert "Parameters:" in body, f"{cls.__name__}: no Parameters section"
        documented = body.split("Parameters:", 1)[1]
        for parameter in inspect.signature(cls).parameters:
            assert parameter in documented, f"{cls.__name__}: parameter {parameter!r} undocumented"
    for message in (actors.Start, actors.Stop, actors.RunNow, actors.GetStats, actors.Pause, actors.Resume,
                    actors.GetHistory):
        _, _, body = found[f"actors.{message.__name__}"]
        for field in dataclasses.fields(message):
            assert "Attributes:" in body and field.name in body.split("Attributes:", 1)[1], (
                f"{message.__name__}: field {field.name!r} undocumented"
            )


@pytest.mark.timeout(120)
def test_cross_references_render_as_links(site: Path) -> None:
    page = (site / "api" / "index.html").read_text()
    # A markdown cross-reference in a docstring that autorefs resolved is a link to the
    # object's anchor; one it did not resolve would show as "[`name`][path]" text.
    assert 'href="#bridge.CancelToken.cancel"' in page  # from CancelToken.cancelled's docstring
    assert "][actors." not in text_of(page) and "][bridge." not in text_of(page)
