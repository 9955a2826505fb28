"""The pylxd peer of `cargo xtask bench`: the same workloads done with pylxd, used as its
documentation shows, so lxd-client is compared with it in the same run, on the same daemon
and fixtures. (The `lxc` CLI and curl peers are in bench/src/cli_side.rs: their memory is
measured from a small parent, which a Python parent would inflate.)

`python3 pylxd_side.py run CASE pylxd --socket S --image ALIAS --work DIR --size BYTES
--counts JSON` runs one workload and prints the same JSON line as lxd-bench's own children
(bench/src/harness.rs): metrics, errors, peak RSS and CPU time of this process, in which
pylxd runs. The metric names match lxd-bench's, so the parent puts them in the same rows.
"""

import argparse
import concurrent.futures
import json
import os
import resource
import sys
import threading
import time

MIB = 1024 * 1024

class Outcome:
    def __init__(self):
        self.metrics = []
        self.errors = []

    def latency(self, name, samples_ms):
        s = sorted(samples_ms)
        self.metrics.append(
            {
                "name": name,
                "unit": "ms",
                "count": len(s),
                "median": percentile(s, 50.0),
                "p99": percentile(s, 99.0),
            }
        )

    def throughput(self, name, nbytes, secs):
        self.metrics.append(
            {
                "name": name,
                "unit": "MB/s",
                "bytes": nbytes,
                "secs": secs,
                "median": nbytes / secs / 1e6,
            }
        )

    def elapsed(self, name, secs):
        self.metrics.append({"name": name, "unit": "s", "median": secs})


def percentile(sorted_samples, p):
    """Nearest rank, as harness.rs computes it."""
    if not sorted_samples:
        return None
    rank = -(-p / 100.0 * len(sorted_samples) // 1)
    rank = min(max(int(rank), 1), len(sorted_samples))
    return sorted_samples[rank - 1]


class EventCount:
    """Counts one profile's `profile-updated` events as a listener thread sees them, so a
    run can wait for a number of them without polling."""

    def __init__(self, source):
        self.source = source
        self.seen = 0
        self.changed = threading.Condition()

    def offer(self, event):
        meta = event.get("metadata", {})
        if meta.get("action") == "profile-updated" and meta.get("source") == self.source:
            with self.changed:
                self.seen += 1
                self.changed.notify_all()

    def wait_for(self, count, secs):
        with self.changed:
            return self.changed.wait_for(lambda: self.seen >= count, secs)

    def measure(self, patch, want):
        """Warms up (the listener is registered once it reports an update made after it
        started; every warm-up update is seen before the clock starts), then times `want`
        patches until their events have all arrived."""
        warm = 0
        while not self.wait_for(1, 0.1):
            if warm == 100:
                raise RuntimeError("the event listener never reported an event")
            patch("warm-up")
            warm += 1
        if not self.wait_for(warm, 10):
            raise RuntimeError("a warm-up event was lost")
        started = time.perf_counter()
        for i in range(want):
            patch(f"bench {i}")
        if not self.wait_for(warm + want, 60):
            raise RuntimeError(f"only {self.seen - warm} of {want} events arrived")
        return time.perf_counter() - started


def timed(op, n):
    samples = []
    for i in range(n):
        started = time.perf_counter()
        op(i)
        samples.append((time.perf_counter() - started) * 1e3)
    return samples


# ---------------------------------------------------------------------------------------
# pylxd, used as its documentation shows


def pylxd_side(case, a, out):
    import pylxd
    from pylxd.client import EventType
    from ws4py.client.threadedclient import WebSocketClient

    client = pylxd.Client(endpoint=a.socket)
    n = a.counts
    if case == "idle":
        return
    if case == "W1":
        out.latency("GET /1.0", timed(lambda _: client.api.get().json(), n["w1"]))
    elif case == "W2":

        def listing(_):
            got = client.api.instances.get(params={"recursion": 2}).json()["metadata"]
            if len(got) < n["w2_instances"]:
                raise RuntimeError(f"listed {len(got)} instances")

        out.latency("list recursion=2", timed(listing, n["w2"]))
    elif case == "W3":

        def cycle(name):
            config = {"name": name, "source": {"type": "image", "alias": a.image}}
            inst = client.instances.create(config, wait=True)
            try:
                inst.start(wait=True)
                inst.stop(force=True, wait=True)
            finally:
                inst.delete(wait=True)

        out.latency(
            "lifecycle, sequential",
            timed(lambda i: cycle(f"lxdb-w3-pylxd-s{i}"), n["w3"]),
        )
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n["w3"]) as pool:
            for f in [pool.submit(cycle, f"lxdb-w3-pylxd-p{i}") for i in range(n["w3"])]:
                f.result()
        out.elapsed(f"lifecycle, {n['w3']} parallel", time.perf_counter() - started)
    elif case == "W4":
        inst = client.instances.get(a.run)

        def true(_):
            code = inst.execute(["true"]).exit_code
            if code != 0:
                raise RuntimeError(f"exit code {code}")

        out.latency("exec true", timed(true, n["w4"]))
        got = [0]

        def count(data):
            got[0] += len(data)

        started = time.perf_counter()
        res = inst.execute(
            ["head", "-c", str(a.size), "/dev/zero"], decode=False, stdout_handler=count
        )
        out.throughput("exec stdout", got[0], time.perf_counter() - started)
        if res.exit_code != 0 or got[0] != a.size:
            out.errors.append(f"exec stdout: {got[0]} of {a.size} bytes, exit {res.exit_code}")
    elif case == "W5":
        inst = client.instances.get(a.run)
        blob = os.path.join(a.work, f"blob-{a.size // MIB}MiB")
        started = time.perf_counter()
        with open(blob, "rb") as f:
            inst.files.put("/root/blob-pylxd", f)
        out.throughput("file push", a.size, time.perf_counter() - started)
        started = time.perf_counter()
        data = inst.files.get("/root/blob-pylxd")
        out.throughput("file pull", len(data), time.perf_counter() - started)
        if len(data) != a.size:
            out.errors.append(f"file pull: {len(data)} of {a.size} bytes")
        del data
        small = b"x" * 4096
        out.latency(
            "push 4 KiB file",
            timed(lambda i: inst.files.put(f"/tmp/small-pylxd-{i}", small), n["w5_small"]),
        )
    elif case == "W6":
        image = os.path.join(a.work, f"image-{a.size // MIB}MiB.tar")
        size = os.path.getsize(image)
        started = time.perf_counter()
        with open(image, "rb") as f:
            img = client.images.create(f)
        out.throughput("image upload", size, time.perf_counter() - started)
        try:
            started = time.perf_counter()
            exported = img.export()
            exported.seek(0, os.SEEK_END)
            got = exported.tell()
            exported.close()
            out.throughput("image export", got, time.perf_counter() - started)
        finally:
            img.delete(wait=True)
    elif case == "W7":
        profile = f"lxdb-w7-pylxd-{os.getpid()}"
        events = EventCount(f"/1.0/profiles/{profile}")

        class Counter(WebSocketClient):
            def received_message(self, message):
                events.offer(json.loads(message.data.decode("utf-8")))

        client.profiles.create(profile)
        ws = client.events(websocket_client=Counter, event_types={EventType.Lifecycle})
        ws.connect()
        try:
            node = client.api.profiles[profile]
            secs = events.measure(lambda d: node.patch(json={"description": d}), n["w7"])
            out.elapsed(f"{n['w7']} lifecycle events", secs)
        finally:
            ws.close()
            client.profiles.get(profile).delete()
    elif case == "W8":
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n["w8_get"]) as pool:
            for f in [pool.submit(lambda: client.api.get().json()) for _ in range(n["w8_get"])]:
                try:
                    f.result()
                except Exception as e:  # counted, as the other sides do
                    out.errors.append(f"GET /1.0: {e}")
        out.elapsed(f"{n['w8_get']} concurrent GET /1.0", time.perf_counter() - started)
        inst = client.instances.get(a.run)
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n["w8_exec"]) as pool:
            jobs = [pool.submit(inst.execute, ["true"]) for _ in range(n["w8_exec"])]
            for f in jobs:
                try:
                    if f.result().exit_code != 0:
                        out.errors.append("exec: non-zero exit")
                except Exception as e:
                    out.errors.append(f"exec: {e}")
        out.elapsed(f"{n['w8_exec']} concurrent exec", time.perf_counter() - started)
    else:
        raise RuntimeError(f"unknown case {case}")


# ---------------------------------------------------------------------------------------


def own_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run"])
    p.add_argument("case")
    p.add_argument("side", choices=["pylxd"])
    p.add_argument("--socket", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--run", default="lxdb-run")
    p.add_argument("--counts", type=json.loads, required=True)
    a = p.parse_args()
    out = Outcome()
    try:
        pylxd_side(a.case, a, out)
    except Exception as e:  # reported in the line, as lxd-bench's children do
        out.errors.append(f"{a.case}: {type(e).__name__}: {e}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = own_rss_kib()
    cpu_ms = int((usage.ru_utime + usage.ru_stime) * 1000)
    line = {
        "case": a.case,
        "side": a.side,
        "size": a.size,
        "metrics": out.metrics,
        "errors": len(out.errors),
        "first_errors": out.errors[:3],
        "rss_kib": rss,
        "cpu_ms": cpu_ms,
    }
    print(json.dumps(line))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
