"""
examtwist: an exam server for a class, built on Twisted.

Students connect over a line protocol (docs/protocol.md), log in, take multiple-choice tests
and get a grade that is stored. Run it with C{twistd -n examtwist}.
"""

__version__ = "1.0.0"
