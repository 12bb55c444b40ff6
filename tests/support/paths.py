"""Where things are, for every test folder and the bench: the repository, the collections path
the venv installs the collection into, this folder (helpers run as scripts, e.g. modserver.py)
and the recorded outputs the unit tests parse (tests/unit/fixtures/, whose README says where
and how each was recorded). Paths are found from here, never from a test file's own place."""

import json
import os

SUPPORT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(SUPPORT))
COLLECTIONS = os.path.join(REPO, ".venv", "collections")
FIXTURES = os.path.join(REPO, "tests", "unit", "fixtures")


def fixture_text(*parts):
    """The text of a recorded output: fixture_text("fdb", "lab-ovs3.1-fdb-show.txt")."""
    with open(os.path.join(FIXTURES, *parts)) as f:
        return f.read()


def fixture_json(*parts):
    return json.loads(fixture_text(*parts))
