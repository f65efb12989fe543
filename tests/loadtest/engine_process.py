"""Runs a long load test in its own process so a test can SIGKILL it mid-run (as a dying kernel would be).

    python -m tests.loadtest.engine_process ENDPOINT LOADTEST_TABLE RUNS_TABLE [FILE_STORE_DIR]
"""

from __future__ import annotations

import sys

from profiler.loadtest import FileRunStore, LoadTest, WorkloadSpec
from profiler.playground import Playground

if __name__ == "__main__":
    endpoint, loadtest_table, runs_table = sys.argv[1:4]
    playground = Playground(stack_name="killed", loadtest_table=loadtest_table, runs_table=runs_table,
                            region="us-east-1", endpoint_url=endpoint)
    store = FileRunStore(sys.argv[4]) if len(sys.argv) > 4 else None
    test = LoadTest(WorkloadSpec(operations={"put": 1, "get": 1}, duration=120, concurrency=2, interval=0.3),
                    playground=playground, store=store)
    print(test.start(), flush=True)
    test.wait()
