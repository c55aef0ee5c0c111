"""The code in the README and in the user guide runs as written.

Every ```python block of README.md runs, in order, in one fresh interpreter; so does every
``.. code-block:: python`` of each ``docs/*.rst`` and ``docs/guide/*.rst`` page (in a namespace
of its own, all pages in one more fresh interpreter), except blocks marked ``:class: norun`` (they train networks or need a cluster; the
gallery runs the examples instead). They run as a script in a scratch folder, with small data.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC_PAGES = sorted((ROOT / "docs").glob("*.rst")) + sorted((ROOT / "docs" / "guide").glob("*.rst"))


def markdown_python_blocks(text):
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return [m.group(1) for m in re.finditer(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, re.S | re.M)]


def rst_python_blocks(text):
    """The bodies of the ``.. code-block:: python`` (or ``.. code:: python``) directives of a
    reStructuredText page, in order, without those that have ``:class: norun``."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)\.\. (code-block|code|sourcecode):: python3?\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        i += 1
        options = []
        while i < len(lines) and re.match(r"^\s+:[\w-]+:", lines[i]):
            options.append(lines[i].strip())
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        code = "\n".join(body).strip("\n")
        pad = min((len(ln) - len(ln.lstrip()) for ln in code.splitlines() if ln.strip()), default=0)
        if not any(o.startswith(":class:") and "norun" in o for o in options):
            blocks.append("\n".join(ln[pad:] for ln in code.splitlines()))
    return blocks


def run_script(code, cwd):
    path = pathlib.Path(cwd) / "blocks.py"
    path.write_text(code + "\n")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]), PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_block_extractors():
    md = "text\n```python\na = 1\n```\n```bash\nls\n```\n```python\nb = a\n```\n"
    assert markdown_python_blocks(md) == ["a = 1\n", "b = a\n"]
    rst = ("x\n\n.. code-block:: python\n\n   a = 1\n\n   b = 2\n\nprose\n\n.. code-block:: python\n"
           "   :class: norun\n\n   c = 3\n\n.. code:: python\n\n   d = 4\n")
    assert rst_python_blocks(rst) == ["a = 1\n\nb = 2", "d = 4"]


@pytest.mark.slow
def test_readme_is_short_and_its_python_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) <= 12_000
    assert text.splitlines()[2:6] == ["```bash", "pip install . && fastmi demo",
                                      'pip install -e ".[test]" && python -m pytest tests -n logical', "```"]
    blocks = markdown_python_blocks(text)
    assert len(blocks) >= 3
    proc = run_script("\n".join(blocks), tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]


_PAGE_RUNNER = """
import os, sys, traceback


def main():
    failures = []
    for name, path, folder in PAGES:
        os.makedirs(folder, exist_ok=True)
        os.chdir(folder)
        code = compile(open(path).read(), path, "exec")
        try:
            exec(code, {"__name__": "__main__", "__file__": path})
        except BaseException:
            failures.append(name + ":\\n" + traceback.format_exc(limit=8))
        finally:
            import matplotlib.pyplot as plt
            plt.close("all")
    if failures:
        sys.stderr.write("\\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":  # Dask's spawned workers import this file again
    main()
"""


@pytest.mark.slow
def test_doc_pages_python_runs(tmp_path):
    """Each page's blocks run in order in a namespace of their own (one interpreter for all the
    pages: a fresh one per page would spend most of the time importing)."""
    pytest.importorskip("matplotlib")
    pages = []
    for page in DOC_PAGES:
        blocks = rst_python_blocks(page.read_text())
        if blocks:
            script = tmp_path / f"page_{page.stem}.py"  # not dask.py: it would shadow the package
            script.write_text("\n\n".join(blocks) + "\n")
            pages.append((page.name, str(script), str(tmp_path / page.stem)))
    assert len(pages) >= 5
    proc = run_script(f"PAGES = {pages!r}\n" + _PAGE_RUNNER, tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]


def test_api_reference_lists_every_public_callable(tmp_path, monkeypatch):
    """docs/conf.py writes the API page from each module's __all__: a function exported later
    (fastmi.permutation_test, ...) is documented without editing the docs."""
    import inspect
    import runpy

    import fastmi

    monkeypatch.setenv("FASTMI_EXAMPLE_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"), run_name="docs_conf")
    page = tmp_path / "api.rst"
    conf["write_api_page"](str(page))
    listed = set(re.findall(r"^   (\w+)$", page.read_text(), re.M))
    public = {n for n in fastmi.__all__ if inspect.isclass(getattr(fastmi, n)) or callable(getattr(fastmi, n))}
    assert public and public <= listed
