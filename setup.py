from setuptools import setup

setup(
    name="examtwist",
    version="1.0.0",
    description="An exam server for a class, on Twisted: a line protocol for tests, a web lookup.",
    python_requires=">=3.10",
    # twisted.plugins has no __init__.py (it must not), so find_packages() would miss it.
    packages=["examtwist", "examtwist.templates", "twisted.plugins"],
    # The web pages' templates live at the top of the checkout and install inside the package.
    package_dir={"examtwist.templates": "templates"},
    package_data={"examtwist.templates": ["*.xml", "*.ico"]},
    install_requires=[
        "Twisted>=24.11",
        # The maintained fork of passlib; it provides the `passlib` import. Never beside passlib.
        "libpass[argon2]>=1.9",
        "klein>=24.8",
        # Klein does not pin Werkzeug, and has broken on its minor releases before.
        "Werkzeug>=3.1",
    ],
    extras_require={
        "test": ["hypothesis", "treq", "selenium"],
    },
    entry_points={
        "console_scripts": ["examtwist = examtwist.admin:main"],
    },
)
