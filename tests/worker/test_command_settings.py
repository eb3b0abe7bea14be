"""WORKER_COMMAND and the termination settings: parsed at start, every error names its variable."""

from __future__ import annotations

import pytest

from worker.command import child_environment, job_id_of
from worker.handlers import MessageContext
from worker.settings import Settings, SettingsError

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/work"


@pytest.mark.parametrize(
    ("raw", "argv"),
    [
        ('["/bin/echo", "--fast", "two words"]', ("/bin/echo", "--fast", "two words")),
        ("/bin/echo --fast 'two words'", ("/bin/echo", "--fast", "two words")),
        ("echo $HOME; rm -rf /", ("echo", "$HOME;", "rm", "-rf", "/")),  # no shell: just arguments
    ],
)
def test_a_command_is_a_json_list_or_a_shell_free_command_line(raw: str, argv: tuple[str, ...]):
    settings = Settings.from_env({"QUEUE_URL": QUEUE, "WORKER_COMMAND": raw, "PATH": "/usr/bin:/bin"})
    assert settings.command == argv
    assert (settings.permanent_exit_code, settings.kill_grace_seconds) == (3, 10)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"WORKER_COMMAND": '["/bin/echo", 1]'}, "WORKER_COMMAND"),
        ({"WORKER_COMMAND": "[not json"}, "WORKER_COMMAND"),
        ({"WORKER_COMMAND": "[]"}, "WORKER_COMMAND"),
        ({"WORKER_COMMAND": "'unbalanced"}, "WORKER_COMMAND"),
        ({"WORKER_COMMAND": "/no/such/transcriber"}, "WORKER_COMMAND"),
        ({"WORKER_COMMAND": "/bin/echo", "WORKER_HANDLER": "my.module:run"}, "WORKER_COMMAND"),
        ({"WORKER_PERMANENT_EXIT_CODE": "0"}, "WORKER_PERMANENT_EXIT_CODE"),
        ({"WORKER_PERMANENT_EXIT_CODE": "137"}, "WORKER_PERMANENT_EXIT_CODE"),
        ({"WORKER_KILL_GRACE_SECONDS": "-1"}, "WORKER_KILL_GRACE_SECONDS"),
        ({"WORKER_TERMINATION_POLL_SECONDS": "0"}, "WORKER_TERMINATION_POLL_SECONDS"),
    ],
)
def test_a_bad_command_setting_is_named(env: dict[str, str], variable: str):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"QUEUE_URL": QUEUE, "PATH": "/usr/bin:/bin", **env})
    assert raised.value.variable == variable


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"a": 1}', "is a JSON object, not an array"),
        ('["/bin/echo", 1]', "element 2 (1) is not a string"),
        ('["/bin/echo", null]', "element 2 (None) is not a string"),
        ("[not json", "is not valid JSON"),
        ("[]", "is an empty JSON array"),
        ('[""]', "the program name is empty"),
        ("'unbalanced", "is not a valid command line"),
    ],
)
def test_a_malformed_command_says_what_is_wrong(raw: str, problem: str):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"QUEUE_URL": QUEUE, "WORKER_COMMAND": raw, "PATH": "/usr/bin:/bin"})
    assert raised.value.variable == "WORKER_COMMAND"
    assert problem in str(raised.value)
    # The expected forms are spelt out, so the reader knows what to write instead.
    assert "JSON array of strings" in str(raised.value) or "command line" in str(raised.value)


def test_the_child_gets_the_message_in_its_environment():
    context = MessageContext(
        message_id="m-1",
        receive_count=2,
        body="{}",
        attributes={"language": "de", "content-type": "audio/ogg"},
        job_id="j-1",
    )
    env = child_environment({"PATH": "/bin", "JOB_ID": "stale"}, context)
    assert env == {
        "PATH": "/bin",
        "SQS_MESSAGE_ID": "m-1",
        "SQS_RECEIVE_COUNT": "2",
        "JOB_ID": "j-1",
        "SQS_ATTR_LANGUAGE": "de",
        "SQS_ATTR_CONTENT_TYPE": "audio/ogg",
    }
    no_id = MessageContext(message_id="m-2", receive_count=1, body="x")
    assert "JOB_ID" not in child_environment({"JOB_ID": "stale"}, no_id)


def test_job_id_only_from_a_json_object_with_a_string_id():
    assert job_id_of('{"job_id": "a"}') == "a"
    assert job_id_of('{"job_id": 7}') is None
    assert job_id_of("[1]") is None
    assert job_id_of("plain text") is None
