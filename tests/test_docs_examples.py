"""The examples of README.md and docs/*.md: run, or checked against the CLI.

The pages mark their examples by the fence's language:

* ``sh``: run as written, one command line at a time with bash (pipefail),
  from a temporary directory that holds a copy of ``samples/``; ``quantize``
  is the executable next to ``sys.executable``. Each line must exit 0 and
  create the files it names as outputs (``-o``, ``--codebook``, ``--swatch``,
  ``--plot``, ``--report``, ``> FILE``), except a line with ``||``, which
  handles its own failure.
* ``console``: not run (it needs Make, other machines, the network or
  minutes), and it begins with a ``# Not run by the tests`` line that says
  so to a reader of the rendered page. Each ``quantize`` command and option used must appear in that
  command's ``--help``; ``make`` targets must exist in the Makefile named;
  ``python -m benchmarks.NAME`` must name a module of ``benchmarks/``.
* ``python``: run with ``exec`` in such a temporary directory.
* ``make``: every line must be a line of ``samples/Makefile``.

The options of ``sh`` blocks are checked against ``--help`` too; docs/cli.md
must describe every option each command declares; and the relative links
between the pages must resolve to a file and a heading.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
QUANTIZE = Path(sys.executable).with_name("quantize")
#: How a console block begins, so that a reader sees it is not run.
NOT_RUN = "# Not run by the tests"

#: Options whose value is a file the command writes, per subcommand.
OUTPUT_OPTIONS = {
    "image": ("-o", "--output", "--codebook", "--swatch"),
    "apply": ("-o", "--output"),
    "palette": ("-o", "--output", "--swatch"),
    "batch": ("-o", "--output", "--report", "--html"),
    "elbow": ("--plot",),
    "report": ("-o", "--output"),
}
SEPARATORS = {"|", "||", "&&", ";"}
REDIRECTS = {"<", ">", ">>", "2>"}


# ---------------------------------------------------------------------------
# Reading the pages


def fenced_blocks(path: Path):
    """(language, first line number, text) of every fenced block of a page."""
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if lang is None:
            m = re.match(r"^```(\S*)", line)
            if m:
                lang, start, body = m.group(1), number + 1, []
        elif line.startswith("```"):
            blocks.append((lang, start, "\n".join(body)))
            lang = None
        else:
            body.append(line)
    assert lang is None, f"{path.name}: unclosed code block at line {start - 1}"
    return blocks


def command_lines(text: str):
    """The logical lines of a shell block: continuations joined, blank and comment lines dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip() and not current.lstrip().startswith("#"):
            lines.append(current.strip())
        current = ""
    return lines


def segments(line: str):
    """The simple commands of a shell line, as token lists (env assignments dropped)."""
    out, current = [], []
    for token in shlex.split(line, comments=True) + [";"]:
        if token in SEPARATORS:
            while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                current.pop(0)
            if current:
                out.append(current)
            current = []
        else:
            current.append(token)
    return out


def quantize_options(tokens):
    """(subcommand or None, options used, output files) of a ``quantize ...`` command."""
    sub = tokens[1] if len(tokens) > 1 and not tokens[1].startswith("-") else None
    options, outputs = [], []
    args = tokens[2:] if sub else tokens[1:]
    i = 0
    while i < len(args):
        token = args[i]
        if token in REDIRECTS:
            if token in (">", ">>"):
                outputs.append(args[i + 1])
            i += 2
            continue
        if token.startswith("-") and len(token) > 1:
            name, _, inline = token.partition("=")
            options.append(name)
            if name in OUTPUT_OPTIONS.get(sub, ()):
                value = inline or (args[i + 1] if i + 1 < len(args) else "-")
                if value != "-":
                    outputs.append(value)
        i += 1
    return sub, options, outputs


def examples(kind: str):
    """pytest params for every block of one kind."""
    out = []
    for page in PAGES:
        for lang, line, text in fenced_blocks(page):
            if lang == kind:
                name = page.relative_to(ROOT).as_posix()
                out.append(pytest.param(text, id=f"{name}:{line}"))
    return out


# ---------------------------------------------------------------------------
# The CLI's own description of itself


@functools.lru_cache(maxsize=None)
def declared_options(sub):
    """The options ``quantize [SUB] --help`` declares (its "Options:" list)."""
    argv = [str(QUANTIZE)] + ([sub] if sub else []) + ["--help"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{' '.join(argv)} failed: {r.stderr}"
    listing = r.stdout.split("Options:", 1)[1]
    names = set()
    for line in listing.splitlines():
        m = re.match(r"^ {2}(-\S.*?)(?: {2,}|$)", line)
        if m:
            names.update(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", m.group(1)))
    return frozenset(names)


def check_command(tokens):
    """Assert that a ``quantize`` command names a real subcommand and real options."""
    sub, options, _ = quantize_options(tokens)
    if sub is not None:
        assert sub in OUTPUT_OPTIONS, f"unknown command 'quantize {sub}'"
    known = declared_options(sub)
    unknown = [o for o in options if o not in known]
    assert not unknown, f"'quantize {sub or ''}' has no option {unknown}"


def make_targets(makefile: Path):
    targets = set()
    for line in makefile.read_text().splitlines():
        m = re.match(r"^([^\s#:=][^:=]*?)\s*:(?!=)", line)
        if m:
            targets.update(m.group(1).split())
    return targets


def check_make(tokens):
    directory, targets, i = ROOT, [], 1
    while i < len(tokens):
        token = tokens[i]
        if token == "-C":
            directory = ROOT / tokens[i + 1]
            i += 2
            continue
        if not token.startswith("-") and "=" not in token:
            targets.append(token)
        i += 1
    makefile = directory / "Makefile"
    assert makefile.is_file(), f"no {makefile}"
    missing = [t for t in targets if t not in make_targets(makefile)]
    assert not missing, f"{makefile.relative_to(ROOT)} has no target {missing}"


# ---------------------------------------------------------------------------
# The tests


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A directory holding a copy of samples/ (without any outputs kept there)."""
    shutil.copytree(ROOT / "samples", tmp_path / "samples",
                    ignore=shutil.ignore_patterns("out", "__pycache__", ".*"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_venv_has_quantize():
    assert QUANTIZE.is_file(), f"no quantize executable next to {sys.executable}"


@pytest.mark.parametrize("text", examples("sh"))
def test_sh_example_runs(text, workdir):
    assert NOT_RUN not in text, "a block that is not run is marked console"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTIZE_")}
    env["PATH"] = str(QUANTIZE.parent) + os.pathsep + env.get("PATH", "")
    for line in command_lines(text):
        outputs = []
        for tokens in segments(line):
            if tokens[0] == "quantize":
                check_command(tokens)
                outputs += quantize_options(tokens)[2]
        r = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=workdir, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{line}\nexit {r.returncode}\n{r.stderr}"
        if "||" not in line:
            missing = [o for o in outputs if not (workdir / o).exists()]
            assert not missing, f"{line}\ndid not create {missing}"


@pytest.mark.parametrize("text", examples("console"))
def test_console_example_is_valid(text):
    assert text.startswith(NOT_RUN), f"a console block begins {NOT_RUN!r}, saying why"
    for line in command_lines(text):
        for tokens in segments(line):
            if tokens[0] == "quantize":
                check_command(tokens)
            elif tokens[0] == "make":
                check_make(tokens)
            elif tokens[:2] == ["python", "-m"] and tokens[2].startswith("benchmarks."):
                module = ROOT / (tokens[2].replace(".", "/") + ".py")
                assert module.is_file(), f"no module {tokens[2]}"


@pytest.mark.parametrize("text", examples("python"))
def test_python_example_runs(text, workdir):
    exec(compile(text, "<docs example>", "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("text", examples("make"))
def test_make_example_is_samples_makefile(text):
    lines = set((ROOT / "samples" / "Makefile").read_text().splitlines())
    missing = [line for line in text.splitlines() if line.strip() and line not in lines]
    assert not missing, f"not in samples/Makefile: {missing}"


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    seen, out = {}, set()
    for m in re.finditer(r"^#{1,6} +(.+?) *$", text, flags=re.M):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            bad.append(target)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            bad.append(target)
    assert not bad, f"broken links: {bad}"


def test_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md"))
               if f"(docs/{p.name})" not in readme and f"(docs/{p.name}#" not in readme]
    assert not missing, f"README.md does not link {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pages_say_which_blocks_are_examples(page):
    text = page.read_text(encoding="utf-8")
    if any(lang in ("sh", "console", "python") for lang, _, _ in fenced_blocks(page)):
        assert "tests/test_docs_examples.py" in text
    langs = {lang for lang, _, _ in fenced_blocks(page)}
    assert not langs & {"bash", "shell", "shell-session"}, "use sh or console"
    assert not re.search(r"issue[ s#]*[0-9]|\bticket", text, flags=re.I)


@pytest.mark.parametrize("sub", sorted(OUTPUT_OPTIONS))
def test_cli_reference_lists_every_option(sub):
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    section = next(s for s in sections if s.startswith(f"`quantize {sub} "))
    missing = [o for o in declared_options(sub) if o.startswith("--") and o != "--help"
               and not re.search(rf"`[^`]*{re.escape(o)}(?![\w-])", section)]
    assert not missing, f"docs/cli.md, quantize {sub}: {missing} not described"
