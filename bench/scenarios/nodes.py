"""
Scenario 5: one node against two on one PostgreSQL database, and against one node on SQLite,
for docs/deploy.md's sizing note. Every round each setup gets a fresh database and fresh nodes;
the clients spread their connections over the nodes in turn, as a load balancer would.
It needs a PostgreSQL server (--postgres), so it runs only when given one.
"""

from __future__ import annotations

from time import perf_counter

from bench.cluster import POSTGRES_ENV, PostgresServerCPU, cluster
from bench.scenario import Column, Panel, Ratio, Scenario
from bench.servers import examtwist_options
from bench.session import Worker, ms

PASSWORD = "correct horse battery"
SQLITE_1 = "SQLite, 1 node"
POSTGRES_1 = "PostgreSQL, 1 node"
POSTGRES_2 = "PostgreSQL, 2 nodes"
# What each client does over and over, and what a table row calls it.
WORKLOADS = {"session": "sessions", "greeting": "greetings"}


def row(setup: str, workload: str) -> str:
    return f"{setup}: {WORKLOADS[workload]}"


def _ratios() -> list[Ratio]:
    found = []
    for workload, label in WORKLOADS.items():
        found += [
            Ratio("per_s", f"{label}/s, 2 nodes ÷ 1 node on PostgreSQL",
                  over=row(POSTGRES_2, workload), under=row(POSTGRES_1, workload)),
            Ratio("per_s", f"{label}/s, PostgreSQL ÷ SQLite on 1 node",
                  over=row(POSTGRES_1, workload), under=row(SQLITE_1, workload)),
        ]
    return found


class Nodes(Scenario):
    name = "nodes"
    title = "5. One node or two, SQLite or PostgreSQL"
    kind = "cluster"
    load_label = "clients"
    description = (
        "Three setups side by side, each round on a fresh database: one node on SQLite, one "
        "node on PostgreSQL, two nodes sharing one PostgreSQL database (each node `twistd -n "
        "examtwist`; the database server is the one given by --postgres, on the same machine). "
        "Each client connects to the next node in turn and does, over and over, either a whole "
        "session (REGISTER a new user at the run's hash cost, TAKE math, five answers, QUIT) or "
        "only connect, greeting, QUIT: the cost of the connection count every node shares. "
        "Latency is the whole session's, from connect to the 221. Nodes' CPU and the database "
        "server's CPU (its postmaster and every backend) are apart, in cores over the round and "
        "in milliseconds per session or greeting; others' CPU is the rest of the machine."
    )
    columns = [
        Column("per_s", "per s"),
        Column("p50_ms", "p50 (ms)"),
        Column("p99_ms", "p99 (ms)"),
        Column("errors", "errors"),
        Column("nodes_cpu", "nodes CPU (cores)", ".2f"),
        Column("database_cpu", "database CPU (cores)", ".2f"),
        Column("nodes_cpu_ms_each", "nodes CPU per one (ms)"),
        Column("database_cpu_ms_each", "database CPU per one (ms)"),
        Column("generator_cpu", "generator CPU (cores)", ".2f"),
        Column("others_cpu", "others' CPU (cores)", ".2f"),
    ]
    ratios = _ratios()
    panels = [
        Panel("per_s", "sessions or greetings per s", log=True),
        Panel("p99_ms", "p99 (ms)", log=True),
    ]

    def contenders(self, bench) -> list:
        url = bench.options.postgres
        options = examtwist_options(None, bench.options.hash_memory, bench.options.hash_rounds)
        return [cluster(SQLITE_1, 1, None, options), cluster(POSTGRES_1, 1, url, options),
                cluster(POSTGRES_2, 2, url, options)]

    async def run(self, bench) -> None:
        if not bench.options.postgres:
            bench.say(f"  skipped: no PostgreSQL server to run on (--postgres URL, or "
                      f"{POSTGRES_ENV}; scripts/pg-throwaway start DIR --durable prints one)")
            return
        database = await PostgresServerCPU.of(bench.options.postgres)
        if database is None:
            bench.say("  the PostgreSQL server is not a process of this machine: no database CPU")
        clients = bench.options.node_clients
        for number, contender in bench.alternating(self.contenders(bench)):
            async with bench.serving(contender) as nodes, bench.generators(
                Worker.start("sessions", addresses=nodes.addresses, clients=clients,
                             prefix="n", password=PASSWORD)
            ) as generators:
                await bench.measure(nodes, generators, bench.options.warmup, workload="session")
                for workload in WORKLOADS:
                    on_postgres = database if contender.name != SQLITE_1 else None
                    await self.measure(bench, nodes, generators, on_postgres, workload,
                                       clients, number)

    async def measure(self, bench, nodes, generators, database, workload: str, clients: int,
                      number: int) -> None:
        database_before, started = database and database.seconds(), perf_counter()
        measured = await bench.measure(
            nodes, generators, bench.options.duration, workload=workload,
            profile_as=bench.profile_name(f"{self.name}-{workload}", clients, nodes, number),
        )
        wall = perf_counter() - started
        database_cpu = database and (database.seconds() - database_before) / wall
        [result] = measured.results
        if result["errors"]:
            bench.say(f"  {result['errors']} errors, the first: {result['first_error']}")
        latencies = measured.latencies()
        per_s = result["done"] / measured.seconds
        # What one session or greeting costs in CPU: the figure to size machines by, and one
        # that the others' load on a shared machine changes less than the rates.
        nodes_ms = measured.server_cpu * 1000 / per_s if per_s else None
        database_ms = database_cpu * 1000 / per_s if per_s and database_cpu is not None else None
        bench.record(
            self.name, row(nodes.name, workload), clients, number,
            per_s=per_s,
            p50_ms=ms(latencies.percentile(50)),
            p99_ms=ms(latencies.percentile(99)),
            errors=result["errors"],
            # Bench.measure counts the nodes as the server; the database server is apart.
            nodes_cpu=measured.server_cpu,
            database_cpu=database_cpu,
            nodes_cpu_ms_each=nodes_ms,
            database_cpu_ms_each=database_ms,
            generator_cpu=measured.generator_cpu(),
            others_cpu=max(measured.others_cpu - (database_cpu or 0.0), 0.0),
        )


SCENARIO = Nodes()
