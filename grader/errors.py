"""The grader's own errors: problems with its inputs or its machine, never with a student's code.

The command line prints any of the first three as one `error:` line and exits 2; `Interrupted` exits 130
after the partial report is written; a grade the machine starved exits EXIT_MACHINE_BUSY.
"""

# `grade` wrote a report, but the machine was too busy to run some items (never the student's fault): batch
# and the cluster executors grade the student again, like after a lost node. 75 is sysexits' EX_TEMPFAIL.
EXIT_MACHINE_BUSY = 75


class ConfigError(ValueError):
    """A problem in grading.yaml or the command line, worded as `where: problem`."""


class DataError(RuntimeError):
    """Missing or corrupt data; the message lists what, where the grader looked, and the fixes."""


class OracleError(RuntimeError):
    """The trusted torch subprocess (grader/oracle.py) failed: a harness problem, never the student's."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived while grading; the report of what finished is still written."""
