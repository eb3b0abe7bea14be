"""Every command in README.md and docs/ still works.

The ones that run here (`qas plan`, `qas trace`, `make help`) run; the others are checked against
what they name: `qas` subcommands and flags against the real parsers, `make` targets against the
Makefile, `DEMO_ARGS` against the demo's options, stack outputs and functions against template.yaml,
files against the repository, and the Python snippet's imports against the code.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import itertools
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from qas import cli
from qas.demo import cli as demo_cli
from qas.emulator import load_template

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`((?:qas|make) [^`]+)`")
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$|[{}\[\]<>]")


def _blocks(language: set[str]) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for match in _FENCE.finditer(doc.read_text()):
            if match.group(1) in language:
                found.append((doc.name, match.group(2)))
    return found


def _shell_lines() -> list[tuple[str, str]]:
    """Command lines of the shell blocks: continuations joined, comments and heredoc bodies dropped."""
    lines = []
    for doc, body in _blocks({"bash", "sh"}):
        joined = body.replace("\\\n", " ")
        heredoc_end = None
        for raw in joined.splitlines():
            if heredoc_end is not None:
                heredoc_end = None if raw.strip() == heredoc_end else heredoc_end
                continue
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if (marker := re.search(r"<<'?(\w+)'?", line)) is not None:
                heredoc_end = marker.group(1)
            lines.append((doc, line))
    return lines


def _commands(program: str, *, inline: bool = True) -> list[tuple[str, list[str]]]:
    """Every use of ``program`` in a shell block (and in inline code spans, which name a command or
    show its synopsis rather than a whole command line), as words."""
    found = [(doc, shlex.split(line)) for doc, line in _shell_lines() if line.startswith(program + " ")]
    for doc in DOCS if inline else []:
        for span in _INLINE.findall(doc.read_text()):
            if span.startswith(program + " "):
                found.append((doc.name, [*shlex.split(span.replace("|", " ")), "<inline>"]))
    return found


def _parsers() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parsers = dict(sub.choices)
    demo = argparse.ArgumentParser(prog="qas demo")
    demo_cli.add_arguments(demo)
    parsers["demo"] = demo
    return parsers


def _is_synopsis(words: list[str]) -> bool:
    return any(_PLACEHOLDER.search(word) for word in words)


def _fully_parsed(parser: argparse.ArgumentParser, words: list[str]) -> bool:
    try:
        parser.parse_args(words)
    except SystemExit:
        return False
    return True


def test_the_docs_have_commands_to_check() -> None:
    assert len(_commands("qas")) >= 5 and len(_commands("make")) >= 5


@pytest.mark.parametrize(
    ("doc", "words"), _commands("qas"), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_every_qas_command_and_flag_exists(doc: str, words: list[str]) -> None:
    parsers = _parsers()
    assert words[1] in parsers, f"{doc}: no such command: qas {words[1]}"
    parser = parsers[words[1]]
    known = {option for action in parser._actions for option in action.option_strings}
    for word in words[2:]:
        flag = word.split("=", 1)[0]
        if flag.startswith("--"):
            assert flag in known, f"{doc}: qas {words[1]} has no option {flag}"
    if not _is_synopsis(words):
        assert _fully_parsed(parser, words[2:]), f"{doc}: {' '.join(words)} does not parse"


def _flag_values(words: list[str]) -> list[tuple[str, str]]:
    """(flag, value) for every flag the doc gives a concrete value (not a placeholder such as N)."""
    bare = [word.strip("[]") for word in words]
    return [
        (flag, value)
        for flag, value in itertools.pairwise(bare)
        if flag.startswith("--") and not value.startswith("-") and not _is_synopsis([value])
    ]


@pytest.mark.parametrize(
    ("doc", "words"), _commands("qas"), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_every_documented_flag_value_is_accepted(doc: str, words: list[str]) -> None:
    """Synopses are not parsed whole: each concrete value is checked against its flag's own type and
    choices (a group name the bench does not have, a period it does not take)."""
    parsers = _parsers()
    if words[1] not in parsers:
        return  # test_every_qas_command_and_flag_exists says so
    actions = parsers[words[1]]._option_string_actions
    for flag, value in _flag_values(words[2:]):
        action = actions.get(flag.split("=", 1)[0])
        if action is None or action.nargs == 0:
            continue  # an unknown flag is the other test's; a switch takes no value
        try:
            parsed = action.type(value) if callable(action.type) else value
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            pytest.fail(f"{doc}: qas {words[1]} {flag} {value}: {exc}")
        if action.choices is not None:
            assert parsed in action.choices, (
                f"{doc}: qas {words[1]} {flag} {value}: not one of {action.choices}"
            )


@pytest.mark.slow
def test_documented_sam_options_exist() -> None:
    """`sam build --use-container`, `sam deploy --guided`, ...: each option the docs give a `sam`
    command is one its --help lists (the SAM CLI is a dev dependency; nothing is built or deployed)."""
    sam = Path(sys.executable).with_name("sam")
    helps: dict[str, str] = {}
    checked = 0
    for doc, line in _shell_lines():
        words = shlex.split(line)
        if words[0] != "sam":
            continue
        command = " ".join(words[1:3]) if words[1] == "local" else words[1]  # sam local invoke
        if command not in helps:
            done = subprocess.run(
                [str(sam), *command.split(), "--help"],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            helps[command] = done.stdout
        for word in words[1:]:
            if word.startswith("--"):
                assert f"{word.split('=', 1)[0]} " in helps[command], f"{doc}: sam {command} has no {word}"
                checked += 1
    assert checked >= 5


@pytest.mark.slow
def test_the_runnable_qas_commands_run(tmp_path: Path) -> None:
    """`qas plan` (not --stack: no stack here) and `qas trace` as written, in order, in one directory."""
    qas = Path(sys.executable).with_name("qas")
    ran = []
    for doc, words in _commands("qas", inline=False):
        if words[1] not in ("plan", "trace") or "--stack" in words or _is_synopsis(words):
            continue
        done = subprocess.run(
            [str(qas), *words[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{doc}: {' '.join(words)}\n{done.stderr}"
        ran.append(words[1])
    assert {"plan", "trace"} <= set(ran)


def test_every_make_target_and_demo_option_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.M))
    demo = _parsers()["demo"]
    for doc, words in _commands("make"):
        for word in words[1:]:
            if word.startswith("DEMO_ARGS="):
                args = shlex.split(word.split("=", 1)[1])
                assert _fully_parsed(demo, args), f"{doc}: make {word}: not a demo option"
            elif not _is_synopsis([word]) and not word.startswith("-"):
                assert word in targets, f"{doc}: no make target {word}"


@pytest.mark.slow
def test_make_help_lists_the_targets_the_readme_names() -> None:
    done = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    for target in ("demo", "test", "bench", "unit", "check"):
        assert f"make {target}" in done.stdout


def test_aws_and_sam_snippets_name_real_outputs_functions_and_files() -> None:
    template = load_template()
    outputs, resources = set(template["Outputs"]), set(template["Resources"])
    environments = set(tomllib.loads((REPO / "samconfig.toml").read_text()))
    lines = _shell_lines()
    named = [name for _, line in lines for name in re.findall(r"(?<![-\w])output (\w+)", line)]
    assert named and set(named) <= outputs, set(named) - outputs
    for doc, line in lines:
        words = shlex.split(line)
        if words[:3] == ["sam", "local", "invoke"]:
            assert words[3] in resources, f"{doc}: no function {words[3]}"
        if "--config-env" in words:
            assert words[words.index("--config-env") + 1] in environments
        for word in words:
            first = word.split("/", 1)[0]
            if "/" in word and "$" not in word and (REPO / first).is_dir():
                assert (REPO / word).exists(), f"{doc}: {word} does not exist"


def test_python_snippets_compile_and_import_what_exists() -> None:
    blocks = _blocks({"python"})
    assert blocks
    for doc, body in blocks:
        tree = ast.parse(body, filename=doc)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{doc}: {node.module} has no {alias.name}"


def _commands_and_comments(doc: Path) -> list[tuple[str, str]]:
    """(command, comment) of every line of a document's shell blocks, in order (continuations
    joined, heredoc bodies dropped): the comment of a `sam deploy --guided` line says what to answer."""
    found = []
    for match in _FENCE.finditer(doc.read_text()):
        if match.group(1) not in ("bash", "sh"):
            continue
        heredoc_end = None
        for raw in match.group(2).replace("\\\n", " ").splitlines():
            if heredoc_end is not None:
                heredoc_end = None if raw.strip() == heredoc_end else heredoc_end
                continue
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if (marker := re.search(r"<<'?(\w+)'?", line)) is not None:
                heredoc_end = marker.group(1)
            command, _, comment = line.partition(" #")
            found.append((command.strip(), comment.strip()))
    return found


@pytest.mark.parametrize("doc", [REPO / "README.md", REPO / "docs" / "deploy.md"], ids=lambda d: d.name)
def test_the_deploy_walkthrough_has_an_image_before_the_fleet_can_start(doc: Path) -> None:
    """The stack creates the ECR repository the worker image goes to, and an ECS service created with
    the fleet on starts a task at once, which could not pull an image that does not exist yet (the
    create waits for it and rolls back). So the first deploy keeps the fleet off (MaxCapacity=0, given
    in the command or in what its comment says to answer), the image is built and pushed, and a later
    deploy turns the fleet on. Along the way: the stack's outputs are read only once it exists, and an
    image is tagged or pushed only after it was built."""
    built: set[str] = set()
    deployed = pushed = fleet_on = False
    for command, comment in _commands_and_comments(doc):
        words = shlex.split(command)
        if re.search(r"(?<![-\w])output \w|describe-stacks", command):
            assert deployed, f"{doc.name}: {command!r} reads the stack's outputs before any deploy"
        if words[:2] == ["sam", "deploy"]:
            capacities = re.findall(r"MaxCapacity=(\d+)", f"{command} {comment}")
            last = capacities[-1] if capacities else None
            if not deployed:
                assert last == "0" or pushed, (
                    f"{doc.name}: the first deploy ({command!r}) creates the fleet before any image exists:"
                    " it must say MaxCapacity=0"
                )
            elif pushed and last not in (None, "0"):
                fleet_on = True
            deployed = True
        if words[:2] == ["docker", "build"]:
            built.add(words[words.index("-t") + 1])
        if words[:2] == ["docker", "tag"]:
            assert words[2] in built, f"{doc.name}: {command!r} tags an image no earlier step built"
            built.add(words[3])
        if words[:2] == ["docker", "push"]:
            assert words[2] in built, f"{doc.name}: {command!r} pushes an image no earlier step built"
            pushed = True
    assert deployed and pushed, f"{doc.name}: the walkthrough must deploy and push the image"
    assert fleet_on, f"{doc.name}: after the push, a deploy must turn the fleet on (a MaxCapacity above 0)"
