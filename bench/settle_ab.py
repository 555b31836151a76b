"""`fastact bench` with the timing policy's settle replaced: one run of the given arguments.

    python bench/settle_ab.py SETTLE_SECONDS [fastact bench arguments...]

e.g. ``python bench/settle_ab.py 0 --functions relu,hardtanh --sizes 1e5 --json a.json``
then ``... 0.0025 ... --json b.json``, alternating; compare the JSON reports.
docs/tuning.md, "Parameters by keyword, and the bench's settling calls".
"""
import dataclasses
import sys

from fastact._bench import timing

timing.Policy.__init__.__defaults__ = tuple(
    float(sys.argv[1]) if f.name == "settle" else f.default
    for f in dataclasses.fields(timing.Policy))

from fastact import cli  # noqa: E402

sys.exit(cli.main(["bench", *sys.argv[2:]]))
