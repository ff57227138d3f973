"""
C{examtwist-client}: take tests on an exam server from a terminal.

It only asks questions and prints; the talking is L{examtwist.client}'s. Before a test with
rules it shows them and asks to start; during a test with a deadline it shows the time left
with each question and listens to the server while the user thinks, so the grade sent when
the time is up appears at once. Whatever ends a session early (the server leaving, Ctrl-C,
end of input) ends it with one line, not a traceback, and QUIT is sent whenever the
connection still stands.
"""

from __future__ import annotations

import sys

from examtwist.client import LETTER_LIST, LETTER_RANGE, Asked, ExamClient, Grade, check_answer
from examtwist.clienterrors import ClientError, InputError, ServerError, explain
from examtwist.commandline import ConnectionOptions, parse_or_exit
from examtwist.console import Console
from examtwist.rulelines import TIME_IS_UP
from examtwist.rulewords import (
    continuation,
    has_rules,
    result_words,
    rules_summary,
    short_duration,
)
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


def choose(console: Console, prompt: str, answers: dict[str, object], hint: str):
    """Ask until one of C{answers} (any case) is given; return what it stands for."""
    while True:
        answer = console.ask(prompt).lower()
        if answer in answers:
            return answers[answer]
        print(f"Please answer {hint}.")


def show_greeting(client: ExamClient) -> None:
    """Every line as the server sent it; a lucky greeting's addresses included."""
    for line in client.greeting.lines:
        print(line)


def sign_in(client: ExamClient, console: Console) -> None:
    """Register or log in, asking again after each refusal with the server's reason."""
    while True:
        action = choose(console, "Register or login? [r/l] ", ACCOUNT_ACTIONS, "r or l")
        username = console.ask("Username: ")
        password = console.password()
        try:
            getattr(client, action)(username, password)
        except (ServerError, InputError) as e:
            print(f"Sorry: {explain(e)}")
            continue
        print("Registered and logged in." if action == "register" else "Logged in.")
        return


def show_results(client: ExamClient) -> None:
    """The student's ended attempts, when there are any (a version 1 server has none)."""
    try:
        results = client.results()
    except ServerError:
        return
    if results:
        print("Your results:")
        for result in results:
            print(f"  {result_words(result)}")


def pick_test(client: ExamClient, console: Console) -> Asked | None:
    """List the tests and start the one chosen; None when there are none."""
    tests = client.list_tests()
    if not tests:
        print("There are no tests on this server yet.")
        return None
    print("Available tests:")
    for test in tests:
        print(f"  {test.number}. {test.name} ({test.question_count} questions)")
    while True:
        wanted = console.ask("Test number or name: ")
        if not wanted:
            continue
        try:
            if agreed_to_rules(client, console, wanted):
                return client.take(wanted)
        except (ServerError, InputError) as e:
            print(f"Sorry: {explain(e)}")


def agreed_to_rules(client: ExamClient, console: Console, wanted: str) -> bool:
    """
    A test with rules (a clock, limited attempts, a window) is started only when the student
    says so, having read them; one without, as in version 1, at once.
    """
    try:
        info = client.info(wanted)
    except ServerError as e:
        if e.code == 500:  # a version 1 server: no INFO, no rules
            return True
        raise
    if not has_rules(info):
        return True
    return choose(console, f"{rules_summary(info)}: start? [y/n] ", YES_NO, "y or n")


def show_question(question: Asked) -> None:
    print()
    print(question.heading)
    if question.time_left is not None:
        print(f"Time left: {short_duration(question.time_left)}")
    for line in question.question.text:
        print(line)
    for line in choice_lines(question.question.choices):
        print(f"  {line}")


def ask_answer(console: Console, server: ExamClient | None) -> str | None:
    """
    A letter A-D; anything else is asked again here, the server never sees it. With a
    C{server} to listen to, None when it spoke first (the time is up).
    """
    while True:
        line = console.ask(f"Your answer ({LETTER_RANGE}): ", server)
        if line is None:
            return None
        try:
            return check_answer(line)
        except InputError:
            print(f"Please answer {LETTER_LIST}.")


def take_test(client: ExamClient, console: Console, question: Asked) -> Grade:
    resumed = continuation(question.number, question.total, question.time_left is not None)
    if resumed:
        print(resumed)
    step: Asked | Grade = question
    while isinstance(step, Asked):
        show_question(step)
        # Only a test with a deadline has the server speak unasked.
        letter = ask_answer(console, client if step.time_left is not None else None)
        step = client.unasked() if letter is None else client.answer(letter)
    print()
    if step.time_up:
        print(f"{TIME_IS_UP}: unanswered questions count as wrong.")
    print(step.text)
    return step


def session(client: ExamClient, console: Console) -> None:
    show_greeting(client)
    sign_in(client, console)
    show_results(client)
    while True:
        question = pick_test(client, console)
        if question is None:
            return
        take_test(client, console, question)
        if not choose(console, "Take another test? [y/n] ", YES_NO, "y or n"):
            return


def run(options: Options) -> int:
    """The whole session; the exit status."""
    client = None
    try:
        client = options.connect()
        session(client, Console())
    except ClientError as e:
        print(f"{PROGRAM}: {explain(e)}", file=sys.stderr)
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
