from setuptools import setup

setup(
    name="examtwist",
    version="1.0.0",
    description="An exam server for a class, on Twisted: a line protocol for tests, a web lookup.",
    python_requires=">=3.10",
    # twisted.plugins has no __init__.py (it must not), so find_packages() would miss it.
    packages=["examtwist", "examtwist.storage", "examtwist.templates", "twisted.plugins"],
    # The web pages' templates live at the top of the checkout and install inside the package.
    package_dir={"examtwist.templates": "templates"},
    # The schema's versions are .sql files the store reads with importlib.resources.
    package_data={"examtwist.templates": ["*.xml", "*.ico"], "examtwist.storage": ["schema/*.sql"]},
    install_requires=[
        # [tls] makes ssl: endpoint strings work: TLS for the exam and web ports. The web port's
        # guard turns Request's form parsing off (parsePOSTFormSubmission): tested from 26.10.
        "Twisted[tls]>=26.10",
        # The maintained fork of passlib; it provides the `passlib` import. Never beside passlib.
        "libpass[argon2]>=1.9",
        "klein>=24.8",
        # New accounts' passwords are judged by Dropbox's estimator, in its maintained port.
        "zxcvbn>=4.5",
        # Klein does not pin Werkzeug, and has broken on its minor releases before.
        "Werkzeug>=3.1",
        # --metrics: /metrics in Prometheus' text format, through the official client's
        # Twisted resource.
        "prometheus_client>=0.20",
    ],
    extras_require={
        # Several nodes on one PostgreSQL database (--db postgresql://...), through psycopg 3.
        "postgres": ["psycopg[binary]>=3.2"],
        # Pillow takes the GUI test's screenshots from the virtual X screen; treq and Selenium
        # drive the web lookup over real sockets and in Debian's chromium; psycopg runs the
        # suites on PostgreSQL too; matplotlib and Flask let the bench's smoke test draw the
        # plot and run the Flask peer, so CI runs those tests instead of skipping them.
        "test": ["hypothesis", "Pillow", "treq", "selenium", "psycopg[binary]>=3.2",
                 "matplotlib", "flask"],
        # `make bench`: the plot, the profiler that finds what a missed target costs, and
        # Flask for the original web lookup it measures examtwist's beside.
        "bench": ["matplotlib", "py-spy", "flask"],
    },
    entry_points={
        "console_scripts": [
            "examtwist = examtwist.admin:main",
            "examtwist-client = examtwist.cli:main",
            "examtwist-gui = examtwist.gui:main",
        ],
    },
)
