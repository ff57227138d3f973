"""
C{examtwist-client}: take tests on an exam server from a terminal.

It only asks questions and prints; the talking is L{examtwist.client}'s. Whatever ends a
session early (the server leaving, Ctrl-C, end of input) ends it with one line, not a
traceback, and QUIT is sent whenever the connection still stands.
"""

from __future__ import annotations

import getpass
import sys

from examtwist.client import LETTER_LIST, LETTER_RANGE, Asked, ExamClient, Grade, check_answer
from examtwist.clienterrors import ClientError, InputError, ServerError
from examtwist.commandline import ConnectionOptions, parse_or_exit
from examtwist.wire import choice_lines

PROGRAM = "examtwist-client"
ACCOUNT_ACTIONS = {"r": "register", "register": "register", "l": "login", "login": "login"}
YES_NO = {"y": True, "yes": True, "n": False, "no": False}


class Options(ConnectionOptions):
    synopsis = f"{PROGRAM} {ConnectionOptions.SYNOPSIS}"
    longdesc = (
        "Take tests on an examtwist server. The password is asked without echo on a terminal; "
        "when standard input is not a terminal (a pipe, a script) the password is read from "
        "it as an ordinary line, so whole sessions can be scripted. Ctrl-C or end of input "
        "leaves (an unfinished test is recorded as abandoned)."
    )


def ask(prompt: str) -> str:
    """One line from the user; EOFError at the end of input."""
    return input(prompt).strip()


def ask_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    # Scripted: the next line is the password, not echoed back.
    sys.stdout.write("Password: ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    print()
    return line.rstrip("\r\n")


def choose(prompt: str, answers: dict[str, object], hint: str):
    """Ask until one of C{answers} (any case) is given; return what it stands for."""
    while True:
        answer = ask(prompt).lower()
        if answer in answers:
            return answers[answer]
        print(f"Please answer {hint}.")


def show_greeting(client: ExamClient) -> None:
    """Every line as the server sent it; a lucky greeting's addresses included."""
    for line in client.greeting.lines:
        print(line)


def sign_in(client: ExamClient) -> None:
    """Register or log in, asking again after each refusal with the server's reason."""
    while True:
        action = choose("Register or login? [r/l] ", ACCOUNT_ACTIONS, "r or l")
        username = ask("Username: ")
        password = ask_password()
        try:
            getattr(client, action)(username, password)
        except (ServerError, InputError) as e:
            print(f"Sorry: {e}")
            continue
        print("Registered and logged in." if action == "register" else "Logged in.")
        return


def pick_test(client: ExamClient) -> Asked | None:
    """List the tests and start the one chosen; None when there are none."""
    tests = client.list_tests()
    if not tests:
        print("There are no tests on this server yet.")
        return None
    print("Available tests:")
    for test in tests:
        print(f"  {test.number}. {test.name} ({test.question_count} questions)")
    while True:
        wanted = ask("Test number or name: ")
        if not wanted:
            continue
        try:
            return client.take(wanted)
        except ServerError as e:
            print(f"Sorry: {e}")


def show_question(question: Asked) -> None:
    print()
    print(question.heading)
    for line in question.question.text:
        print(line)
    for line in choice_lines(question.question.choices):
        print(f"  {line}")


def ask_answer() -> str:
    """A letter A-D; anything else is asked again here, the server never sees it."""
    while True:
        try:
            return check_answer(ask(f"Your answer ({LETTER_RANGE}): "))
        except InputError:
            print(f"Please answer {LETTER_LIST}.")


def take_test(client: ExamClient, question: Asked) -> Grade:
    step: Asked | Grade = question
    while isinstance(step, Asked):
        show_question(step)
        step = client.answer(ask_answer())
    print()
    print(step.text)
    return step


def session(client: ExamClient) -> None:
    show_greeting(client)
    sign_in(client)
    while True:
        question = pick_test(client)
        if question is None:
            return
        take_test(client, question)
        if not choose("Take another test? [y/n] ", YES_NO, "y or n"):
            return


def run(options: Options) -> int:
    """The whole session; the exit status."""
    client = None
    try:
        client = options.connect()
        session(client)
    except ClientError as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt) as e:
        print()
        if client is not None:
            client.quit()
        print("Bye.")
        return 130 if isinstance(e, KeyboardInterrupt) else 0
    client.quit()
    print("Bye.")
    return 0


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(run(parse_or_exit(Options(), PROGRAM, argv)))
