"""
The ceiling of this stack for scenario 3: a bare Twisted C{LineReceiver} that answers a
student's lines with replies the size of examtwist's, and does nothing else (no store, no
password, no idle timer, no log). What examtwist reaches is measured against it.

    python -m bench.bare_exam    # prints "bare exam server listening on 127.0.0.1:PORT"
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.protocol import ServerFactory
from twisted.protocols.basic import LineReceiver

from examtwist.testbank import BUILTIN_TESTS
from examtwist.wire import format_reply

QUESTIONS = [format_reply(350, *q.reply_lines(i, 5)) for i, q in enumerate(BUILTIN_TESTS[0].questions, 1)]
GRADE = format_reply(250, "Your grade is 20.0 (1/5 correct)")


class BareStudentProtocol(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self) -> None:
        self.answered = None  # not in a test
        self.transport.write(format_reply(220, "Welcome to the server!"))

    def lineReceived(self, line: bytes) -> None:
        if line.startswith(b"REGISTER"):
            self.transport.write(format_reply(231, "Successfully registered!"))
        elif self.answered is None:  # TAKE
            self.answered = 0
            self.transport.write(QUESTIONS[0])
        else:
            self.answered += 1
            if self.answered == len(QUESTIONS):
                self.answered = None
                self.transport.write(GRADE)
            else:
                self.transport.write(QUESTIONS[self.answered])


def main() -> None:
    factory = ServerFactory.forProtocol(BareStudentProtocol)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    print(f"bare exam server listening on 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
