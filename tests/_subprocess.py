"""Run Python code in a fresh interpreter, so a hang or an abort fails a test instead of pytest."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest


def run_python(code, timeout=300, env=None, cwd=None):
    """(returncode, stdout, stderr) of ``code`` run in its own session; kill the group on timeout."""
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=env if env is not None else dict(os.environ), cwd=cwd)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"subprocess hung (> {timeout}s)\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
    return p.returncode, out, err
