"""
One load generator process: C{python -m bench.worker ROLE SPEC_JSON}.

It sets its load up (connections, accounts, logins) and prints one JSON line C{{"ready": …}}.
Then each C{{"go": SECONDS, …}} line on stdin runs the load that long (with the round's
options, if any, such as a paced rate) and prints one JSON result
line, which carries the process's own CPU time over the round: the proof that the generator
is not what limits a figure. EOF on stdin closes the connections and ends the process.

Separate processes keep the probe's timing out of the load's event loop, and let a load be
split over several generators.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import random
import re
import resource
import sys
import threading
from collections import Counter
from time import perf_counter

from bench.client import (
    TextConnection, UnexpectedReply, bound_socket, bounded, connect, dial, leave,
)
from bench.latency import Latencies
from bench.sitting import Sitters


class Hold:
    """Idle connections, each past the greeting."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.address = host, port
        self.wanted = connections
        self.connections = []

    async def setup(self) -> dict:
        self.connections = await bounded(self.wanted, lambda i: connect(*self.address))
        return {"held": len(self.connections)}

    async def round(self, seconds: float) -> dict:
        await asyncio.sleep(seconds)
        return {"held": sum(not c.closed for c in self.connections)}

    def close(self) -> None:
        for c in self.connections:
            c.close()


async def _wait_until(due: float) -> float:
    now = perf_counter()
    if now < due:
        await asyncio.sleep(due - now)
    return due


def _record_paced(latencies: Latencies, sent: float, answered: float, due: float,
                  interval: float) -> float:
    """
    Record a paced request's latency; a reply later than the next send was due also counts
    the sends it held back (HdrHistogram's correction for coordinated omission), so a stall
    shows for as long as it lasted. Returns when the next send is due.
    """
    took = answered - sent
    latencies.record(took)
    held_back = took - interval
    while held_back >= interval:
        latencies.record(held_back)
        held_back -= interval
    return max(due + interval, answered)


class Probe:
    """
    One client sending EXAMS every C{interval} seconds (L{_record_paced}).
    """

    def __init__(self, host: str, port: int, interval: float = 0.01) -> None:
        self.address = host, port
        self.interval = interval

    async def setup(self) -> dict:
        self.connection = await connect(*self.address)
        await self.connection.expect(b"EXAMS", 212)
        return {}

    async def round(self, seconds: float) -> dict:
        latencies = Latencies()
        now = perf_counter()
        end, due = now + seconds, now
        while due < end:
            due = await _wait_until(due)
            sent = perf_counter()
            await self.connection.expect(b"EXAMS", 212)
            due = _record_paced(latencies, sent, perf_counter(), due, self.interval)
        return {"latency": latencies.to_json()}

    def close(self) -> None:
        self.connection.close()


async def _register(host: str, port: int, username: str, password: str) -> None:
    """An account for the load; one left by an earlier round is fine as it is."""
    connection = await connect(host, port)
    code = await connection.expect(f"REGISTER {username} {password}".encode(), 231, 553)
    await leave(connection)
    if code == 553:
        connection = await connect(host, port)
        await connection.expect(f"LOGIN {username} {password}".encode(), 230)
        await leave(connection)


class Storm:
    """C{clients} clients, each logging in as its own user over and over: connect, LOGIN, QUIT."""

    def __init__(self, host: str, port: int, clients: int, prefix: str, password: str) -> None:
        self.address = host, port
        self.logins = [
            f"LOGIN {prefix}{i} {password}".encode() for i in range(clients)
        ]
        self.users = [f"{prefix}{i}" for i in range(clients)]
        self.password = password

    async def setup(self) -> dict:
        await bounded(
            len(self.users), lambda i: _register(*self.address, self.users[i], self.password)
        )
        return {"users": len(self.users)}

    async def round(self, seconds: float) -> dict:
        latencies = Latencies()
        end = perf_counter() + seconds
        done = 0

        async def client(login: bytes) -> None:
            nonlocal done
            while perf_counter() < end:
                connection = await connect(*self.address)
                sent = perf_counter()
                await connection.expect(login, 230)
                answered = perf_counter()
                await leave(connection)
                if answered <= end:
                    latencies.record(answered - sent)
                    done += 1

        await asyncio.gather(*(client(login) for login in self.logins))
        return {"logins": done, "latency": latencies.to_json()}

    def close(self) -> None:
        pass


class Student:
    """A logged-in connection taking one test after another, one line at a time."""

    def __init__(self, connection, take: bytes, answer: bytes, questions: int) -> None:
        self.connection = connection
        self.take = take
        self.answer = answer
        self.questions = questions
        self.open_question = 0  # 0: between tests

    def next_line(self) -> tuple[bytes, int]:
        """The line to send and the reply code it must get."""
        if not self.open_question:
            return self.take, 350
        return self.answer, 250 if self.open_question == self.questions else 350

    def answered(self) -> bool:
        """Move on after a reply; True if that line was an answer."""
        was_answer = self.open_question > 0
        self.open_question = 0 if self.open_question == self.questions else self.open_question + 1
        return was_answer


class Students:
    """
    C{students} logged-in students, each taking tests back to back (TAKE, then one answer
    per question) as fast as the replies come.
    """

    def __init__(self, host: str, port: int, students: int, prefix: str, password: str,
                 test: str = "math", answer: str = "B", questions: int = 5) -> None:
        self.address = host, port
        self.users = [f"{prefix}{i}" for i in range(students)]
        self.password = password
        self.take = f"TAKE {test}".encode()
        self.answer = answer.encode()
        self.questions = questions

    async def setup(self) -> dict:
        async def enrol(i: int) -> Student:
            connection = await connect(*self.address)
            await connection.expect(f"REGISTER {self.users[i]} {self.password}".encode(), 231)
            return Student(connection, self.take, self.answer, self.questions)

        self.students = await bounded(len(self.users), enrol)
        return {"students": len(self.students)}

    async def round(self, seconds: float, rate: float | None = None) -> dict:
        """
        Without C{rate}, each student sends its next line as soon as a reply is in. With it
        (answers/s for this process), each student paces its lines so that together they
        offer that rate, whatever the replies' speed (L{_record_paced}).
        """
        latencies = Latencies()
        start = perf_counter()
        end = start + seconds
        answers = 0
        lines_per_answer = (self.questions + 1) / self.questions  # TAKE, then the answers
        interval = len(self.students) / (rate * lines_per_answer) if rate else 0.0

        async def work(student: Student, due: float) -> None:
            nonlocal answers
            while perf_counter() < end:
                due = await _wait_until(due)
                line, code = student.next_line()
                sent = perf_counter()
                await student.connection.expect(line, code)
                answered = perf_counter()
                if interval:
                    due = _record_paced(latencies, sent, answered, due, interval)
                else:
                    latencies.record(answered - sent)
                if student.answered() and answered <= end:
                    answers += 1

        # Paced students start spread over one interval, not all at once.
        spread = random.Random(len(self.students))
        await asyncio.gather(*(work(s, start + spread.uniform(0, interval)) for s in self.students))
        return {"answers": answers, "latency": latencies.to_json()}

    def close(self) -> None:
        for s in self.students:
            s.connection.close()


class Sessions:
    """
    C{clients} clients, each doing its C{workload} over and over, each time on the next
    address in turn, as a load balancer would spread them over the nodes of a cluster:

    - C{"session"}: connect, REGISTER a new user, TAKE the test, answer every question, QUIT.
    - C{"greeting"}: connect, greeting, QUIT; what a connection costs the shared count.

    A failed connection or an unexpected reply is counted, not fatal, so one bad node shows
    as errors beside the figures instead of stopping the run.
    """

    def __init__(self, addresses: list, clients: int, prefix: str, password: str,
                 test: str = "math", answer: str = "B", questions: int = 5) -> None:
        self.addresses = [tuple(a) for a in addresses]
        self.clients = clients
        self.prefix = f"{prefix}{os.getpid()}x"
        self.password = password
        self.take = f"TAKE {test}".encode()
        self.answer = answer.encode()
        self.questions = questions
        self.started = 0  # every session of this process gets a username of its own

    async def setup(self) -> dict:
        return {"addresses": len(self.addresses)}

    async def session(self, address, workload: str) -> None:
        connection = await connect(*address)
        try:
            if workload == "session":
                self.started += 1
                register = f"REGISTER {self.prefix}{self.started} {self.password}"
                await connection.expect(register.encode(), 231)
                await connection.expect(self.take, 350)
                for question in range(1, self.questions + 1):
                    await connection.expect(self.answer, 250 if question == self.questions else 350)
            await leave(connection)
        finally:
            connection.close()

    async def round(self, seconds: float, workload: str = "session") -> dict:
        latencies = Latencies()
        end = perf_counter() + seconds
        done = errors = 0
        first_error = ""

        async def client(index: int) -> None:
            nonlocal done, errors, first_error
            turn = index
            while perf_counter() < end:
                address = self.addresses[turn % len(self.addresses)]
                turn += 1
                started = perf_counter()
                try:
                    await self.session(address, workload)
                except (OSError, UnexpectedReply) as e:
                    errors += 1
                    first_error = first_error or f"{address[1]}: {e!r}"
                    continue
                finished = perf_counter()
                if finished <= end:
                    latencies.record(finished - started)
                    done += 1

        await asyncio.gather(*(client(i) for i in range(self.clients)))
        return {"done": done, "errors": errors, "first_error": first_error,
                "latency": latencies.to_json()}

    def close(self) -> None:
        pass


def _threaded_examd_verify(path: str):
    """The peer's own PBKDF2 verify, loaded from its file."""
    spec = importlib.util.spec_from_file_location("threaded_examd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = module.hash_password("bench password")
    return lambda: module.verify_password(stored, "bench password")


def _argon2_verify(memory_kib: int, rounds: int):
    """A verify with the CryptContext settings the server hashes with."""
    from examtwist.passwords import HashCost, crypt_context

    context = crypt_context(HashCost(memory_kib, rounds))
    stored = context.hash("bench password")
    return lambda: context.verify("bench password", stored)


class Verify:
    """
    The raw verify rate of a password hash on C{threads} threads, nothing else: the physical
    limit of a login storm on this machine.
    """

    def __init__(self, threads: int = 2, peer: str | None = None,
                 memory_kib: int | None = None, rounds: int | None = None) -> None:
        self.threads = threads
        self.verify = _threaded_examd_verify(peer) if peer else _argon2_verify(memory_kib, rounds)

    async def setup(self) -> dict:
        self.verify()
        return {}

    async def round(self, seconds: float) -> dict:
        end = perf_counter() + seconds
        counts = [0] * self.threads

        def spin(i: int) -> None:
            while perf_counter() < end:
                self.verify()
                counts[i] += 1

        threads = [threading.Thread(target=spin, args=(i,)) for i in range(self.threads)]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        return {"verifies": sum(counts)}

    def close(self) -> None:
        pass


# Hostile students (scenario "hostile"). Each loopback address (127.0.0.2, 127.0.0.3, ...)
# stands for a machine of its own. A connect that fails (no port free, or a full listen queue)
# is counted and tried again after this pause.
RETRY_PAUSE = 0.05


async def _for_a_while(seconds: float, jobs) -> None:
    """Run the coroutines C{jobs} for C{seconds}, then cancel whatever is still running."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()  # a failure of the generator itself is not a figure


class Flood:
    """
    C{connections} connections at once from the one address C{source}, each trying C{LOGIN
    <username> <password>} (a wrong one) over and over for as long as a round lasts:

     - C{"stay"}: wait for the greeting and for every reply; connect again once the server
       has closed the connection.
     - C{"close"}: send one LOGIN as soon as connected, without waiting for the greeting,
       close at once, connect again.

    A round counts the LOGINs' replies by code, and refused greetings (not 220) by their code
    ("close" reads nothing), and the connections made. When it ends, every connection is
    closed, whatever it is waiting for.
    """

    def __init__(self, host: str, port: int, source: str, connections: int, variant: str,
                 username: str = "nobody", password: str = "not the password") -> None:
        if variant not in ("stay", "close"):
            raise ValueError(f"no flood variant {variant!r}")
        self.address = host, port
        self.source = source
        self.connections = connections
        self.variant = variant
        self.login = f"LOGIN {username} {password}".encode()

    async def setup(self) -> dict:
        return {}

    async def round(self, seconds: float) -> dict:
        replies: Counter[int] = Counter()
        made = failed = 0

        async def connected(opener):
            """A connection from the flood's address; a refused connect is counted and retried."""
            nonlocal made, failed
            while True:
                try:
                    connection = await opener(*self.address, self.source)
                except OSError:
                    failed += 1
                    await asyncio.sleep(RETRY_PAUSE)
                    continue
                made += 1
                return connection

        async def stay() -> None:
            while True:
                connection = await connected(dial)
                try:
                    code = await connection.reply()
                    if code != 220:
                        replies[code] += 1  # a refused greeting: the server closes
                    while code == 220 and not connection.closed:
                        replies[await connection.ask(self.login)] += 1
                except ConnectionError:
                    pass  # closed by the server: connect again
                finally:
                    connection.close()

        async def close_at_once() -> None:
            while True:
                sock = await connected(bound_socket)
                try:
                    sock.send(self.login + b"\r\n")
                except OSError:
                    pass
                finally:
                    sock.close()

        loop = stay if self.variant == "stay" else close_at_once
        await _for_a_while(seconds, [loop() for _ in range(self.connections)])
        return {"replies": {str(code): n for code, n in sorted(replies.items())},
                "connections": made, "connect_failures": failed}

    def close(self) -> None:
        pass


class Honest:
    """
    Honest students, each from an address of its own (C{sources}), each registered once with
    a password the server's rules accept. In a round, every C{interval} seconds (the students
    spread over the first), each connects, LOGINs with its password, asks EXAMS and QUITs.

    A login's latency runs from the connect to the 230, and counts only logins that got in;
    any other answer (a refused greeting or LOGIN, a closed connection) is counted by its code,
    0 for none. When the round ends no student starts again; a login still unanswered
    C{drain} seconds later is recorded at the time it has waited, and counted as unanswered.
    """

    def __init__(self, host: str, port: int, sources: list[str], prefix: str, password: str,
                 interval: float = 1.0, drain: float = 30.0) -> None:
        self.address = host, port
        self.sources = sources
        self.users = [f"{prefix}{i}" for i in range(len(sources))]
        self.password = password
        self.interval = interval
        self.drain = drain

    async def setup(self) -> dict:
        for source, user in zip(self.sources, self.users):
            connection = await connect(*self.address, source=source)
            await connection.expect(f"REGISTER {user} {self.password}".encode(), 231)
            await leave(connection)
        return {"students": len(self.users)}

    async def round(self, seconds: float) -> dict:
        logins, exams = Latencies(), Latencies()
        refused: Counter[int] = Counter()
        asking: dict[int, float] = {}  # student: when its login began, while unanswered
        ok = 0
        start = perf_counter()
        end = start + seconds

        async def student(i: int) -> None:
            nonlocal ok
            login = f"LOGIN {self.users[i]} {self.password}".encode()
            due = start + i * self.interval / len(self.users)
            while due < end:
                await _wait_until(due)
                began = asking[i] = perf_counter()
                connection = None
                try:
                    connection = await dial(*self.address, self.sources[i])
                    code = await connection.reply()
                    if code == 220:
                        code = await connection.ask(login)
                    del asking[i]
                    if code != 230:
                        refused[code] += 1
                    else:
                        ok += 1
                        logins.record(perf_counter() - began)
                        sent = perf_counter()
                        await connection.expect(b"EXAMS", 212)
                        exams.record(perf_counter() - sent)
                        await connection.expect(b"QUIT", 221)
                except (OSError, UnexpectedReply):  # ConnectionError is an OSError
                    asking.pop(i, None)
                    refused[0] += 1
                finally:
                    if connection is not None:
                        connection.close()
                due = max(due + self.interval, perf_counter())

        await _for_a_while(seconds + self.drain, [student(i) for i in range(len(self.users))])
        now = perf_counter()
        for began in asking.values():
            logins.record(now - began)
        return {"logins": ok, "refused": {str(code): n for code, n in sorted(refused.items())},
                "unanswered": len(asking), "latency": logins.to_json(), "exams": exams.to_json()}

    def close(self) -> None:
        pass


_TRY_AGAIN = re.compile(r"try again in (\d+) s")


class Guess:
    """
    One attacker at C{source} guessing the password of C{username} (registered from
    C{registrar}, another address): a LOGIN with a new wrong password as soon as the previous
    reply is in, or once the N s a C{454 ..., try again in N s} names have passed; a new
    connection after every second guess, since the third failure of a connection is answered
    421 whether or not its password was checked, and a moment after a 421. Each 535 is a
    password checked; a round counts those after its first C{skip} seconds apart.
    """

    def __init__(self, host: str, port: int, source: str, registrar: str, username: str,
                 password: str) -> None:
        self.address = host, port
        self.source = source
        self.registrar = registrar
        self.username = username
        self.password = password

    async def setup(self) -> dict:
        connection = await connect(*self.address, source=self.registrar)
        await connection.expect(f"REGISTER {self.username} {self.password}".encode(), 231)
        await leave(connection)
        return {}

    async def round(self, seconds: float, skip: float = 0.0) -> dict:
        replies: Counter[int] = Counter()
        checked = []  # when each 535 came, in seconds from the start
        guesses = 0
        start = perf_counter()

        async def guess() -> None:
            nonlocal guesses
            while True:
                try:
                    connection = await dial(*self.address, self.source, TextConnection)
                except OSError:
                    await asyncio.sleep(RETRY_PAUSE)
                    continue
                try:
                    code = await connection.reply()
                    if code != 220:
                        replies[code] += 1  # a refused greeting
                    for _ in range(2 if code == 220 else 0):
                        guesses += 1
                        code = await connection.ask(
                            f"LOGIN {self.username} wrong-{guesses}".encode()
                        )
                        replies[code] += 1
                        if code == 535:
                            checked.append(perf_counter() - start)
                        elif code == 454:
                            wait = _TRY_AGAIN.search(connection.last_line)
                            await asyncio.sleep(int(wait.group(1)) if wait else 1)
                        else:
                            break
                except ConnectionError:
                    code = 0
                finally:
                    connection.close()
                if code not in (454, 535):  # refused, or closed: a moment before the next
                    await asyncio.sleep(RETRY_PAUSE)

        await _for_a_while(seconds, [guess()])
        return {"checked": len(checked), "checked_after_skip": sum(t >= skip for t in checked),
                "guesses": guesses, "replies": {str(c): n for c, n in sorted(replies.items())}}

    def close(self) -> None:
        pass


class Oversize:
    """
    A POST of C{size} bytes to a web route that does not exist (C{route}) from C{source}: a
    URL-encoded form with its length declared, then as long a one in chunks. Meanwhile a probe
    sends HELP on the exam port every C{interval} seconds, from just before each POST until
    just after its answer (L{_record_paced}). A round takes as long as the two POSTs do (each
    at most C{timeout} seconds), whatever its C{seconds}.

    Per POST: the status of the answer (0 when the connection ended without one), the time
    from its first byte sent to the status line, the bytes sent by then, and the probe's
    latencies.
    """

    BLOCK = 64 * 1024
    LEAD = 0.1  # seconds of probe before a POST and after its answer

    def __init__(self, host: str, port: int, web_port: int, source: str,
                 size: int = 20 * 1024 * 1024, route: str = "/no-such-page",
                 interval: float = 0.005, timeout: float = 60.0) -> None:
        self.address = host, port
        self.web_address = host, web_port
        self.source = source
        self.route = route
        self.interval = interval
        self.timeout = timeout
        # The form a hostile student would send: the most fields a size holds, for a server
        # that parses it.
        self.body = (b"a=b&" * (size // 4 + 1))[:size]

    async def setup(self) -> dict:
        self.connection = await connect(*self.address)
        await self.connection.expect(b"HELP", 214)
        return {}

    async def round(self, seconds: float) -> dict:
        posts = {}
        for kind in ("form", "chunked"):
            latencies = Latencies()
            stop = asyncio.Event()
            probing = asyncio.ensure_future(self._probe(latencies, stop))
            await asyncio.sleep(self.LEAD)
            posts[kind] = await self._post(chunked=kind == "chunked")
            await asyncio.sleep(self.LEAD)
            stop.set()
            await probing
            posts[kind]["latency"] = latencies.to_json()
        return {"posts": posts}

    async def _probe(self, latencies: Latencies, stop: asyncio.Event) -> None:
        due = perf_counter()
        while not stop.is_set():
            await _wait_until(due)
            sent = perf_counter()
            await self.connection.expect(b"HELP", 214)
            due = _record_paced(latencies, sent, perf_counter(), due, self.interval)

    async def _post(self, chunked: bool) -> dict:
        sock = await bound_socket(*self.web_address, self.source)
        reader, writer = await asyncio.open_connection(sock=sock)
        host, port = self.web_address
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(self.body)}"
        head = (f"POST {self.route} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n")
        sent = 0

        async def send() -> None:
            nonlocal sent
            writer.write(head.encode())
            body = memoryview(self.body)
            for at in range(0, len(body), self.BLOCK):
                block = body[at:at + self.BLOCK]
                writer.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                await writer.drain()
                sent += len(block)
            writer.write(b"0\r\n\r\n" if chunked else b"")
            await writer.drain()

        started = perf_counter()
        sending = asyncio.ensure_future(send())
        try:
            status_line = await asyncio.wait_for(reader.readline(), self.timeout)
        except (OSError, asyncio.TimeoutError):
            status_line = b""
        answered = perf_counter()
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.transport.abort()
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else 0
        return {"status": status, "seconds": answered - started, "sent": sent}

    def close(self) -> None:
        self.connection.close()


ROLES = {"hold": Hold, "probe": Probe, "storm": Storm, "students": Students, "verify": Verify,
         "sessions": Sessions, "flood": Flood, "honest": Honest, "guess": Guess,
         "oversize": Oversize, "sitters": Sitters}


def _emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def serve(role: str, spec: dict) -> None:
    # The open-files limit was raised by the bench before it started this process.
    job = ROLES[role](**spec)
    _emit({"ready": await job.setup()})
    gc.freeze()  # what setup made lives to the end; keep the collector off it
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    try:
        while line := await commands.readline():
            options = json.loads(line)
            cpu, started = _cpu_seconds(), perf_counter()
            result = await job.round(options.pop("go"), **options)
            result["generator_cpu_seconds"] = _cpu_seconds() - cpu
            result["wall_seconds"] = perf_counter() - started
            _emit(result)
    finally:
        job.close()


def main(argv: list[str]) -> None:
    role, spec = argv
    asyncio.run(serve(role, json.loads(spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
