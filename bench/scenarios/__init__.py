"""
The scenarios, in the order a run takes them. A scenario is a module here whose C{SCENARIO}
is a L{bench.scenario.Scenario}; list it below to run it.
"""

from bench.scenarios import held, hostile, nodes, paced, ruled, storm, throughput, web

SCENARIOS = {module.SCENARIO.name: module.SCENARIO
             for module in (held, storm, throughput, paced, ruled, web, hostile)}

# Run when asked for by name, or by default once they have what a plain machine lacks (a
# PostgreSQL server: --postgres).
ON_REQUEST = {module.SCENARIO.name: module.SCENARIO for module in (nodes,)}
EVERY = {**SCENARIOS, **ON_REQUEST}
