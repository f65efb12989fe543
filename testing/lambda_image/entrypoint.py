"""``entrypoint HANDLER EVENT``: run one Lambda invocation as moto's Lambda asks a runtime image to.

The function's code is in /var/task (moto copies the function's zip there). ``HANDLER`` is ``module.function``;
the reply is printed as the last line of standard output, an error as ``{"errorMessage", "errorType"}`` with exit
status 1, which moto turns into a ``FunctionError`` reply. The context gives the remaining time from the
function's timeout, as Lambda's does.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class Context:
    def __init__(self, timeout_s: float):
        self.deadline = time.monotonic() + timeout_s
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def main(handler: str, event: str) -> int:
    sys.path.insert(0, "/var/task")
    context = Context(float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")))
    try:
        module_name, function_name = handler.rsplit(".", 1)
        function = getattr(importlib.import_module(module_name), function_name)
        reply = function(json.loads(event), context)
    except Exception as error:  # noqa: BLE001 - every error is the invocation's, reported as Lambda reports it
        traceback.print_exc()
        print(json.dumps({"errorMessage": str(error), "errorType": type(error).__name__}), flush=True)
        return 1
    print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
