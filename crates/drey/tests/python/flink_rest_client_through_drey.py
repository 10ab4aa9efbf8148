"""Drives a Flink cluster through drey with the `flink-rest-client` package
from PyPI, exactly as a user would drive the cluster itself: the only change
is the base URL (a drey pre-signed URL instead of http://host:8081).

Usage: python flink_rest_client_through_drey.py BASE_URL JAR ENTRY_CLASS
Prints one JSON object with what the client saw.
"""

import json
import sys
import time

from flink_rest_client.v1.client import FlinkRestClientV1


class ThroughDrey(FlinkRestClientV1):
    """The package's v1 client with its base URL replaced."""

    def __init__(self, base):
        super().__init__(host="unused", port=0)
        self.base = base.rstrip("/")

    @property
    def api_url(self):
        return f"{self.base}/v1"


def main():
    base, jar, entry_class = sys.argv[1:4]
    client = ThroughDrey(base)
    overview = client.overview()
    before = client.jobs.all()
    uploaded = client.jars.upload(jar)
    jar_id = uploaded["filename"].split("/")[-1]
    listed = [j["id"] for j in client.jars.all()["files"]]
    job_id = client.jars.run(jar_id, entry_class=entry_class, parallelism=1)
    state = None
    deadline = time.time() + 60
    while time.time() < deadline:
        state = client.jobs.get(job_id)["state"]
        if state in ("FINISHED", "FAILED", "CANCELED"):
            break
        time.sleep(0.5)
    client.jars.delete(jar_id)
    print(
        json.dumps(
            {
                "taskmanagers": overview["taskmanagers"],
                "jobs_before": [j["id"] for j in before],
                "uploaded": uploaded["status"],
                "jar_listed": jar_id in listed,
                "job_id": job_id,
                "state": state,
            }
        )
    )


if __name__ == "__main__":
    main()
