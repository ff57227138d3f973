"""
examtwist's benchmark: a load generator of its own, speaking docs/protocol.md, that runs each
scenario against examtwist and the original thread-per-connection design side by side.

Run it with C{make bench}; docs/performance.md explains the scenarios and the figures.
"""
