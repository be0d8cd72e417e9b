"""Measure the lab's exchange against a plain Flask-Session request, then its memory.

The lab (run.py) and a plain Flask-Session app (bench/plain_app.py) are served
by gunicorn with the same workers and threads, on a redis-server this script
starts on a free port. wrk loads them in turn, round after round, with one
learner per connection; on a shared machine only the ratio of the two, measured
in the same run, means anything. Then many learners make a few exchanges each,
on Redis and on the default SQLite setup, and the workers' memory and the
store's size are printed as they grow.

    python bench/exchange.py [--seconds 4] [--rounds 5] [--connections 4]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_RATIO = 0.6
HEAVY_EXCHANGES = 60
FORM = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
}
JSON = {"Content-Type": "application/json"}


class BenchError(RuntimeError):
    """A server did not start or answered what the bench did not expect."""


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--seconds", type=int, default=4, help="length of each measured load")
    add("--rounds", type=int, default=5, help="measured rounds of lab and plain")
    add("--connections", type=int, default=4, help="wrk connections, one learner each")
    add("--workers", type=int, default=1, help="gunicorn workers (run.py's default)")
    add("--threads", type=int, default=8, help="threads per worker (run.py's default)")
    add("--learners", type=int, default=10000, help="learners to grow (0: skip)")
    add("--exchanges", type=int, default=3, help="lab exchanges each learner makes")
    add("--clients", type=int, default=12, help="parallel clients making learners")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Child:
    """A server this run started, with its output in a log, stopped at the end."""

    def __init__(self, name: str, argv: list, workdir: Path, port: int, env=None):
        self.name = name
        self.port = port
        self.log_path = workdir / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            argv, cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            self.wait_until_listening()
        except BaseException:
            self.stop()
            raise

    def wait_until_listening(self, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited: {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"{self.name} did not listen in {seconds} s: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_redis(stack: ExitStack, workdir: Path) -> Child:
    """Start a redis-server that keeps nothing on disk, on a free port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed (make bench installs it)")
    port = free_port()
    argv = [
        binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", "--dir", str(workdir),
    ]
    return stack.enter_context(Child("redis", argv, workdir, port))


def start_gunicorn(stack, name, script, workdir, arguments, env) -> Child:
    """Serve an app with gunicorn's gthread workers through its own script."""
    port = free_port()
    argv = [
        PYTHON, str(script), "--port", str(port),
        "--workers", str(arguments.workers), "--threads", str(arguments.threads),
    ]
    return stack.enter_context(Child(name, argv, workdir, port, env))


def lab_environment(instance: Path, redis_url: str | None) -> dict:
    """Answer the lab's environment: its own instance folder, Redis or none."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FLASK_", "SESSION_LAB_"))
        and name not in ("REDIS_URL", "MEMCACHED_SERVERS", "POSTGRES_URL", "MYSQL_URL")
    }
    env["SESSION_LAB_INSTANCE"] = str(instance)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class Browser:
    """A keep-alive HTTP client with a cookie jar that honours cookie paths."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, tuple[str, str]] = {}

    def cookie_header(self, path: str) -> str:
        return "; ".join(
            f"{name}={value}"
            for name, (value, scope) in self.cookies.items()
            if path.startswith(scope)
        )

    def request(self, method: str, path: str, body=None, headers=None) -> bytes:
        """Send a request with the jar's cookies; answer the body of a 200.

        :raise BenchError: the server answered another status.
        """
        headers = dict(headers or {})
        cookie = self.cookie_header(path)
        if cookie:
            headers["Cookie"] = cookie
        response = self.send(method, path, body, headers)
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or ():
            self.keep(header)
        if response.status != 200:
            status = response.status
            raise BenchError(f"{method} {path} answered {status}: {data[:300]}")
        return data

    def send(self, method, path, body, headers) -> http.client.HTTPResponse:
        # gunicorn closes idle keep-alive connections after two seconds.
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body, headers)
                return self.connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise

    def keep(self, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.partition("=")
        scope = "/"
        for attribute in attributes:
            key, _, setting = attribute.strip().partition("=")
            if key.lower() == "path":
                scope = setting
        self.cookies[name.strip()] = (value.strip(), scope)

    def close(self) -> None:
        self.connection.close()


def make_learner(browser: Browser, store: str | None) -> None:
    """Start a new learner in the browser, on the store given or the default."""
    browser.cookies.clear()
    browser.request("GET", "/api/settings")
    if store:
        body = json.dumps({"store": store})
        browser.request("POST", "/api/settings", body, JSON)


def set_value(browser: Browser, path: str, key: str, value: str) -> dict:
    body = urlencode({"key": key, "value": value})
    return json.loads(browser.request("POST", path, body, FORM))


@dataclass
class Target:
    """One endpoint to load: where, with what body, with one cookie a connection."""

    name: str
    port: int
    path: str
    body: str
    cookies: list
    master_pid: int
    completed: int = 0
    runs: int = 0


@dataclass
class Figures:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_script(target: Target) -> str:
    """Answer a wrk script giving each connection (one a thread) its own cookie."""
    cookies = ", ".join(json.dumps(cookie) for cookie in target.cookies)
    headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in FORM.items())
    return f"""
local cookies = {{{cookies}}}
local made = 0

function setup(thread)
  made = made + 1
  thread:set("cookie", cookies[made])
end

function init(args)
  local headers = {{{headers}, ["Cookie"] = cookie}}
  local path, body = {json.dumps(target.path)}, {json.dumps(target.body)}
  prepared = wrk.format("POST", path, headers, body)
end

function request()
  return prepared
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FIGURES %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def run_wrk(target: Target, seconds: float, workdir: Path) -> Figures:
    """Load the target with one wrk thread and connection per cookie."""
    script = workdir / f"{target.name}.lua"
    script.write_text(wrk_script(target))
    connections = str(len(target.cookies))
    argv = [
        "wrk", "-t", connections, "-c", connections, "-d", f"{seconds}s",
        "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{target.port}",
    ]
    before = worker_cpu(target.master_pid)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    cpu = worker_cpu(target.master_pid) - before
    for line in result.stdout.splitlines():
        if line.startswith("FIGURES "):
            requests, duration, p50, p99, errors = map(int, line.split()[1:])
            target.completed += requests
            target.runs += 1
            cpu_ms = cpu * 1000 / max(requests, 1)
            return Figures(
                requests, duration / 1e6, p50 / 1000, p99 / 1000, errors, cpu_ms
            )
    raise BenchError(f"wrk gave no figures: {result.stdout}{result.stderr}")


def lab_target(lab: Child, connections: int) -> Target:
    """Make one learner a connection on Redis, each holding a specimen session."""
    cookies = []
    for number in range(connections):
        browser = Browser(lab.port)
        make_learner(browser, "redis")
        set_value(browser, "/lab/set", "colour", f"blue {number}")
        cookies.append(browser.cookie_header("/lab/set"))
        browser.close()
    body = "key=colour&value=green"
    return Target("lab", lab.port, "/lab/set", body, cookies, lab.process.pid)


def plain_target(plain: Child, connections: int) -> Target:
    cookies = []
    for number in range(connections):
        browser = Browser(plain.port)
        set_value(browser, "/set", "colour", f"blue {number}")
        cookies.append(browser.cookie_header("/set"))
        browser.close()
    body = "key=colour&value=green"
    return Target("plain", plain.port, "/set", body, cookies, plain.process.pid)


def compare(lab: Target, plain: Target, arguments, workdir: Path) -> list:
    """Load lab and plain in alternation, swapping who goes first each round."""
    run_wrk(lab, 2, workdir)
    run_wrk(plain, 2, workdir)
    rounds = []
    for number in range(arguments.rounds):
        order = (lab, plain) if number % 2 == 0 else (plain, lab)
        figures = {t.name: run_wrk(t, arguments.seconds, workdir) for t in order}
        rounds.append(figures)
        ratio = figures["lab"].rate / figures["plain"].rate
        print(
            f"  round {number + 1}: lab {figures['lab'].rate:7.0f}/s, "
            f"plain {figures['plain'].rate:7.0f}/s, lab/plain {ratio:.2f}",
            flush=True,
        )
    return rounds


def report_comparison(rounds: list) -> None:
    print()
    print(
        f"  {'':8}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/request':>16}{'errors':>8}"
    )
    for name in ("lab", "plain"):
        series = [figures[name] for figures in rounds]
        rate = statistics.median(f.rate for f in series)
        p50 = statistics.median(f.p50_ms for f in series)
        p99 = statistics.median(f.p99_ms for f in series)
        cpu = statistics.median(f.cpu_ms for f in series)
        errors = sum(f.errors for f in series)
        print(f"  {name:8}{rate:12.0f}{p50:9.2f}{p99:9.2f}{cpu:16.2f}{errors:8d}")

    ratios = [figures["lab"].rate / figures["plain"].rate for figures in rounds]
    ratio = statistics.median(ratios)
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(
        f"  lab/plain: {ratio:.2f} (median of rounds, range "
        f"{min(ratios):.2f}-{max(ratios):.2f}); target {TARGET_RATIO}: {verdict}"
    )
    costs = [figures["plain"].cpu_ms / figures["lab"].cpu_ms for figures in rounds]
    print(f"  plain/lab CPU per request: {statistics.median(costs):.2f}")


def check_record(lab: Target) -> None:
    """Show the lab recorded what wrk sent, and that each exchange hit the store."""
    recorded, last = 0, None
    for cookie in lab.cookies:
        connection = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=30)
        connection.request("GET", "/api/exchanges", headers={"Cookie": cookie})
        record = json.loads(connection.getresponse().read())
        connection.close()
        recorded += record[-1]["seq"]
        last = record[-1]

    # Each learner made one exchange to get its cookie; wrk may stop with a
    # request in flight on each connection, which the lab still records.
    made = lab.completed + len(lab.cookies)
    in_flight = recorded - made
    most = lab.runs * len(lab.cookies)
    verdict = "every answer recorded" if 0 <= in_flight <= most else "MISMATCH"
    operations = ", ".join(
        f"{op['op']} {op.get('result', '')}".strip() for op in last["operations"]
    )
    print(
        f"  recorded exchanges: {recorded}; answered: {lab.completed} to wrk and "
        f"{len(lab.cookies)} setting up learners; in flight when wrk stopped: "
        f"{in_flight} (at most {most}): {verdict}"
    )
    print(f"  last exchange: {last['response']['status']}, store: {operations}")
    print(f"  decision: {last['decision']['summary']}")


def fill(port: int, store, count: int, exchanges: int, clients: int, halt) -> None:
    """Make learners in parallel, each making a few lab exchanges."""
    local = threading.local()

    def learner(number: int) -> None:
        if halt.is_set():
            return
        browser = getattr(local, "browser", None)
        if browser is None:
            browser = local.browser = Browser(port)
        make_learner(browser, store)
        for step in range(exchanges):
            set_value(browser, "/lab/set", f"key{step}", f"value {number}")

    with ThreadPoolExecutor(clients) as pool:
        for _ in pool.map(learner, range(count)):
            pass


def heavy_learner(port: int, store, exchanges: int) -> tuple[int, int]:
    """Answer the record length and sessions held after many fresh sessions."""
    browser = Browser(port)
    make_learner(browser, store)
    for step in range(exchanges):
        browser.cookies.pop("sid", None)
        set_value(browser, "/lab/set", "step", str(step))
    record = json.loads(browser.request("GET", "/api/exchanges"))
    held = json.loads(browser.request("GET", "/api/store"))["sessions"]
    browser.close()
    return len(record), len(held)


def workers(master_pid: int) -> list[Path]:
    """Answer the /proc folders of the processes the gunicorn master forked."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
            found.append(entry)
    return found


def worker_cpu(master_pid: int) -> float:
    """Answer the seconds of CPU, user and system, the workers have used."""
    ticks = 0
    for entry in workers(master_pid):
        fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_memory(master_pid: int) -> list[int]:
    """Answer the resident memory in KiB of each gunicorn worker."""
    sizes = []
    for entry in workers(master_pid):
        for line in (entry / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]))
    return sizes


def redis_size(client: Redis) -> tuple[str, int]:
    """Describe Redis's memory and keys, by kind, with how many expire."""
    used = client.info("memory")["used_memory"]
    space = client.info("keyspace").get("db0", {"keys": 0, "expires": 0})
    kinds: dict[str, int] = {}
    for key in client.scan_iter(count=1000):
        kind = key_kind(key.decode())
        kinds[kind] = kinds.get(kind, 0) + 1
    listed = ", ".join(f"{kinds[k]} {k}" for k in sorted(kinds))
    text = (
        f"used_memory {used / 2**20:.1f} MiB, {space['keys']} keys "
        f"({space['expires']} with a TTL): {listed}"
    )
    return text, used


def key_kind(key: str) -> str:
    parts = key.split(":")
    if parts[0] == "studio":
        return "studio sessions"
    kind = parts[2] if len(parts) > 2 else "other"
    names = {
        "sess": "specimen sessions",
        "index": "indexes",
        "seq": "counters",
        "record": "records",
    }
    return names.get(kind, "other")


def sqlite_size(database: Path) -> tuple[str, int]:
    """Describe the studio database: its files and the rows in each table."""
    wal = database.with_name(database.name + "-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        counts = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("studio_sessions", "lab_record", "lab_index")
        }
        most = connection.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM lab_record GROUP BY learner)"
        ).fetchone()[0]
    rows = ", ".join(f"{n} {table}" for table, n in counts.items())
    size = database.stat().st_size
    text = (
        f"database {size / 2**20:.1f} MiB + WAL {wal_size / 2**20:.1f} MiB; "
        f"rows: {rows}; most records a learner: {most or 0}"
    )
    return text, size + wal_size


@dataclass
class Setup:
    """One way to run the lab, grown with learners to watch its memory."""

    title: str
    lab: Child
    store: str | None
    size: Callable[[], tuple[str, int]]
    lines: list = field(default_factory=list)
    samples: list = field(default_factory=list)

    def note(self, learners: int) -> None:
        sizes = worker_memory(self.lab.process.pid)
        workers = " + ".join(f"{kib / 1024:.1f}" for kib in sizes)
        text, stored = self.size()
        self.samples.append((learners, sum(sizes) * 1024, stored))
        self.lines.append(f"  {learners:6d} learners: worker RSS {workers} MiB; {text}")

    def growth(self) -> str:
        """Describe what each learner added after the first step's warm-up."""
        first, rss0, stored0 = self.samples[1]
        last, rss1, stored1 = self.samples[-1]
        learners = max(last - first, 1)
        return (
            f"  from {first} to {last} learners, each added "
            f"{(rss1 - rss0) / learners / 1024:.1f} KiB of worker RSS and "
            f"{(stored1 - stored0) / learners / 1024:.1f} KiB of store"
        )


def grow(setup: Setup, arguments, halt: threading.Event) -> None:
    """Add learners in four steps, noting the workers and the store after each."""
    started = time.monotonic()
    setup.note(0)
    made = 0
    for part in range(4):
        step = arguments.learners * (part + 1) // 4 - made
        fill(setup.lab.port, setup.store, step, arguments.exchanges,
             arguments.clients, halt)
        made += step
        setup.note(made)
    elapsed = time.monotonic() - started
    requests = made * (arguments.exchanges + (2 if setup.store else 1))
    setup.lines.append(setup.growth())
    setup.lines.append(
        f"  ({made} learners in {elapsed:.0f} s, {requests / elapsed:.0f} requests/s, "
        "with the other setup loaded at the same time)"
    )

    record, held = heavy_learner(setup.lab.port, setup.store, HEAVY_EXCHANGES)
    setup.lines.append(
        f"  one learner after {HEAVY_EXCHANGES} exchanges, each with a new session: "
        f"{record} in the record, {held} sessions in the store"
    )


def measure_memory(setups: list, arguments) -> None:
    """Grow every setup at once, each server a worker on a core of its own."""
    print(
        f"\nMemory: {arguments.learners} learners making {arguments.exchanges} "
        f"exchanges each, on {len(setups)} setups at once",
        flush=True,
    )
    halt = threading.Event()

    def grown(setup: Setup) -> None:
        try:
            grow(setup, arguments, halt)
        except BaseException:
            halt.set()
            raise

    with ThreadPoolExecutor(len(setups)) as pool:
        for _ in pool.map(grown, setups):
            pass
    for setup in setups:
        print(f"\n{setup.title}:")
        print("\n".join(setup.lines))


def run(arguments, stack: ExitStack) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: apt-get install wrk")
    folder = tempfile.TemporaryDirectory(prefix="lab-bench-")
    workdir = Path(stack.enter_context(folder))
    redis = start_redis(stack, workdir)
    url = f"redis://127.0.0.1:{redis.port}"
    client = Redis(port=redis.port)
    stack.callback(client.close)

    env = lab_environment(workdir / "redis-instance", f"{url}/0")
    lab = start_gunicorn(stack, "lab", ROOT / "run.py", workdir, arguments, env)
    plain_env = {**env, "REDIS_URL": f"{url}/1"}
    script = ROOT / "bench" / "plain_app.py"
    plain = start_gunicorn(stack, "plain", script, workdir, arguments, plain_env)
    print(
        f"gunicorn gthread, {arguments.workers} worker(s) x {arguments.threads} "
        f"threads each; redis-server on port {redis.port}; wrk with "
        f"{arguments.connections} connections, one learner each"
    )

    print(f"\nPOST /lab/set on Redis against plain Flask-Session, "
          f"{arguments.rounds} rounds of {arguments.seconds} s:")
    lab_load = lab_target(lab, arguments.connections)
    plain_load = plain_target(plain, arguments.connections)
    rounds = compare(lab_load, plain_load, arguments, workdir)
    report_comparison(rounds)
    check_record(lab_load)
    plain.stop()
    if arguments.learners:
        setups = [
            Setup("On Redis (REDIS_URL set), specimen store redis", lab, "redis",
                  lambda: redis_size(client)),
            default_setup(stack, workdir, arguments),
        ]
        measure_memory(setups, arguments)


def default_setup(stack: ExitStack, workdir: Path, arguments) -> Setup:
    """Serve the lab as make run does: no services, the studio on SQLite."""
    instance = workdir / "sqlite-instance"
    env = lab_environment(instance, None)
    script = ROOT / "run.py"
    lab = start_gunicorn(stack, "lab-sqlite", script, workdir, arguments, env)
    return Setup(
        "The default setup: SQLite, specimen store memory", lab, None,
        lambda: sqlite_size(instance / "studio.sqlite3"),
    )


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    # Stop the servers on a terminating signal as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            run(arguments, stack)
    except (BenchError, OSError, http.client.HTTPException) as error:
        print(f"bench failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"\nwhole run: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
