"""Nothing lost: concurrent writers, writers killed at any point, damaged files, kernels dying mid-training.

Every test here uses real processes and real files. Writers are separate
Python processes (started with ``subprocess``, or forked from one that has
already imported Kepler, so that dozens of kills take seconds); they report
each id the journal acknowledged on a line flushed before going on, so the
test knows exactly which records must have survived.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings

import pytest

from kepler_nb.journal import storage
from kepler_nb.journal.journal import Journal
from kepler_nb.journal.storage import JournalCorruptWarning

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def all_lines_parse(path) -> bool:
    return all(isinstance(json.loads(line), dict) for line in path.read_text(encoding="utf-8").splitlines())


# -- concurrency -----------------------------------------------------------------------------------
# Forks the writers from one process that has imported Kepler (and opened no journal), so that
# eight of them start in milliseconds; each then opens its own Journal and they all start together.
WRITERS = r"""
import json, os, sys, warnings
from kepler_nb.journal import storage
from kepler_nb.journal.journal import Journal

home, workers, count, compact = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if compact == "compacting":  # compact every few writes, while others read without the lock
    storage.COMPACT_MIN_LINES, storage.COMPACT_RATIO, storage.BACKUP_MIN_BYTES = 10, 1.1, 0
warnings.simplefilter("error", storage.JournalCorruptWarning)


def write(worker, out):
    journal = Journal(home)
    got = []
    for i in range(count):
        name = f"w{worker}-{i}"
        eid = journal.start({"project": "concurrent", "name": name}, {"cell": f"fit {name}"})
        for epoch in range(3):
            journal.append_epoch(eid, epoch, {"loss": 1.0 / (epoch + 1)})
        journal.update(eid, {"status": "finished", "epochs_done": 3})
        got.append([eid, name])
        if i % 4 == 0:
            journal.experiments()  # a reader among the writers
    with open(out, "w") as f:
        json.dump(got, f)


gate_read, gate_write = os.pipe()
pids = []
for worker in range(workers):
    pid = os.fork()
    if pid == 0:
        os.close(gate_write)
        os.read(gate_read, 1)  # returns when the gate closes: everyone starts at once
        try:
            write(worker, os.path.join(home, f"ids-{worker}.json"))
            code = 0
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    pids.append(pid)
os.close(gate_write)
failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
print(json.dumps({"failed": len(failed)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("compact", ["append-only", "compacting"])
def test_eight_processes_writing_at_once_lose_nothing(kepler_home, compact):
    workers, count = 8, 25
    done = subprocess.run(
        [sys.executable, "-c", WRITERS, str(kepler_home), str(workers), str(count), compact],
        capture_output=True,
        text=True,
        timeout=240,
        env=ENV,
    )
    assert done.returncode == 0 and json.loads(done.stdout) == {"failed": 0}, done.stderr[-3000:]

    acknowledged = {}
    for worker in range(workers):
        acknowledged.update(json.loads((kepler_home / f"ids-{worker}.json").read_text()))
    assert len(acknowledged) == workers * count  # no id handed out twice
    assert sorted(acknowledged) == list(range(1, workers * count + 1))

    journal = Journal()
    listed = {e["id"]: e for e in journal.experiments()}
    assert len(listed) == workers * count
    assert {eid: e["name"] for eid, e in listed.items()} == acknowledged  # each id is its writer's record
    assert {e["status"] for e in listed.values()} == {"finished"}
    for eid in listed:
        assert journal.history(eid) == {"loss": [1.0, 0.5, 1 / 3]}
    assert all_lines_parse(journal.path)
    assert not list(kepler_home.glob("*.corrupt-*"))
    if compact == "compacting":
        assert "compacted" in (kepler_home / "kepler.log").read_text()


READER_DURING_COMPACTION = r"""
import json, os, sys, time, warnings
from kepler_nb.journal import storage
from kepler_nb.journal.journal import Journal

home, seconds = sys.argv[1], float(sys.argv[2])
storage.COMPACT_MIN_LINES, storage.COMPACT_RATIO = 10, 1.05  # compact every other write
journal = Journal(home)
for i in range(200):
    journal.start({"name": f"n{i}"}, {})
stop = os.path.join(home, "stop")
pid = os.fork()
if pid == 0:  # writes until the reader has read enough (a loaded machine gives the reader less time)
    writer, started, n = Journal(home), time.time(), 0
    while not os.path.exists(stop) and time.time() - started < 120:
        writer.update(1 + n % 200, {"v": n})
        n += 1
    os._exit(0)
reader, reads, wrong, started = Journal(home), 0, 0, time.time()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        wrong += len(reader.experiments()) != 200
        reads += 1
        if reads > 60 and time.time() - started > seconds and not os.path.exists(stop):
            open(stop, "w").close()
damage = [str(w.message) for w in caught if issubclass(w.category, storage.JournalCorruptWarning)]
print(json.dumps({"reads": reads, "wrong": wrong, "damage": damage}))
"""


def test_a_reader_never_takes_a_compaction_for_damage(kepler_home):
    """Readers take no lock; a file swapped under one must not look like a damaged file."""
    done = subprocess.run(
        [sys.executable, "-c", READER_DURING_COMPACTION, str(kepler_home), "2.5"],
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["reads"] > 50
    assert result["damage"] == []
    assert result["wrong"] == 0
    assert (kepler_home / "kepler.log").read_text().count("compacted") > 10
    assert not list(kepler_home.glob("*.corrupt-*"))


# -- writers killed --------------------------------------------------------------------------------
# Forks one writer per round from a process that has imported Kepler once; the writer is killed
# with SIGKILL after a random time, or kills itself at a chosen point inside the storage.
# After each kill, a fresh Journal must load cleanly and hold every acknowledged record.
KILLER = r"""
import json, os, random, shutil, signal, sys, time, warnings
from kepler_nb.journal import storage
from kepler_nb.journal.journal import Journal

home, plan = sys.argv[1], json.loads(sys.argv[2])
# Compact every few writes and refresh the backup often, so kills land in both.
storage.COMPACT_MIN_LINES, storage.COMPACT_RATIO, storage.BACKUP_MIN_BYTES = 12, 1.2, 0
journal_path = os.path.join(home, "journal.jsonl")


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def install(point, nth):
    seen = [0]

    def due(name):
        if point != name:
            return False
        seen[0] += 1
        return seen[0] >= nth

    real_write, real_replace, real_copy, real_head = os.write, os.replace, shutil.copyfile, storage._write_head

    def write(fd, data):
        if b'"t":"experiments"' in data and due("mid-line"):
            real_write(fd, data[: len(data) // 2])
            die()
        return real_write(fd, data)

    def replace(src, dst):
        if str(dst) == journal_path:
            if due("compaction-before-swap"):
                die()
            real_replace(src, dst)
            if due("compaction-after-swap"):
                die()
            return None
        if "blobs" in str(dst) and due("blob-before-rename"):
            die()
        return real_replace(src, dst)

    def copyfile(src, dst):
        if due("mid-backup"):
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read()[: os.path.getsize(src) // 2])
            die()
        return real_copy(src, dst)

    def write_head(*args):
        if due("before-head"):
            die()
        return real_head(*args)

    os.write, os.replace, shutil.copyfile, storage._write_head = write, replace, copyfile, write_head


def writer(label, point, nth, acks):
    if point:
        install(point, nth)
    journal = Journal(home)
    with open(acks, "a", buffering=1) as out:
        for n in range(400):
            name = f"{label}-{n}"
            eid = journal.start({"project": "crash", "name": name}, {"cell": f"fit {name}"})
            out.write(f"started {eid} {name}\n")
            journal.append_epoch(eid, 0, {"loss": 1.0})
            journal.update(eid, {"epochs_done": 1})
            out.write(f"epoch {eid} {name}\n")
            journal.update(eid, {"status": "finished"})
            out.write(f"finished {eid} {name}\n")


def check(acked):
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            journal = Journal(home)
            listed = {e["id"]: e for e in journal.experiments()}
        except Exception as error:
            return [f"the journal did not load: {error!r}"], 0
    problems += [str(w.message) for w in caught if issubclass(w.category, storage.JournalCorruptWarning)]
    for eid, (stage, name) in acked.items():
        record = listed.get(eid)
        if record is None or record["name"] != name:
            problems.append(f"acknowledged {stage} record {eid} ({name}) is {record and record['name']}")
        elif stage == "finished" and record["status"] != "finished":
            problems.append(f"record {eid} was acknowledged finished but is {record['status']}")
        elif stage != "finished" and record["status"] not in ("interrupted", "finished"):
            problems.append(f"record {eid} of a killed writer shows {record['status']}")
        if stage in ("epoch", "finished") and journal.history(eid) != {"loss": [1.0]}:
            problems.append(f"record {eid} lost its epoch: {journal.history(eid)}")
    # The next writer goes on from what the killed one left.
    after = journal.start({"project": "crash", "name": "after"}, {})
    journal.append_epoch(after, 0, {"loss": 1.0})
    if after != max(listed, default=0) + 1 or Journal(home).get(after)["name"] != "after":
        problems.append(f"the writer after the crash got id {after}")
    journal.update(after, {"status": "finished"})
    acked[after] = ("finished", "after")
    with open(journal_path, "rb") as f:
        for line in f.read().splitlines():
            try:
                json.loads(line)
            except ValueError:
                problems.append(f"unreadable line left after the next write: {line[:80]!r}")
    return problems, len(listed) + 1


acked, rounds = {}, []
for index, step in enumerate(plan):
    acks = os.path.join(home, f"acks-{index}.txt")
    pid = os.fork()
    if pid == 0:
        try:
            writer(f"r{index}", step.get("point"), step.get("nth", 1), acks)
        finally:
            os._exit(0)  # only if never killed
    if step.get("after"):
        time.sleep(step["after"])
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    mid_compaction = os.path.exists(f"{journal_path}.{pid}.tmp")
    lines = open(acks).read().splitlines() if os.path.exists(acks) else []
    for line in lines:
        stage, eid, name = line.split()
        acked[int(eid)] = (stage, name)
    problems, records = check(acked)
    rounds.append({"step": step, "killed": killed, "acked": len(lines), "records": records,
                   "mid_compaction": mid_compaction, "problems": problems})
print(json.dumps({"rounds": rounds, "acked": {k: v[0] for k, v in acked.items()}}))
"""


def run_killer(home, plan, timeout=240):
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(home), json.dumps(plan)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def assert_survived(home, result):
    for number, r in enumerate(result["rounds"]):
        assert r["killed"], f"round {number} ({r['step']}) was never killed"
        assert r["problems"] == [], f"round {number} ({r['step']}): {r['problems']}"
    # A last look from yet another process: this one.
    with warnings.catch_warnings():
        warnings.simplefilter("error", JournalCorruptWarning)
        listed = {e["id"]: e for e in Journal(home).experiments()}
    for eid, stage in result["acked"].items():
        assert int(eid) in listed
        if stage == "finished":
            assert listed[int(eid)]["status"] == "finished"
        else:
            assert listed[int(eid)]["status"] in ("interrupted", "finished")
    assert not list(home.glob("*.corrupt-*"))
    return listed


@pytest.mark.slow
def test_writers_killed_at_random_times_never_break_the_journal(kepler_home):
    import random

    rng = random.Random(20261124)
    plan = [{"after": rng.uniform(0.03, 0.25)} for _ in range(24)]
    result = run_killer(kepler_home, plan)
    listed = assert_survived(kepler_home, result)
    acked = sum(r["acked"] for r in result["rounds"])
    assert acked > 100, f"the writers acknowledged only {acked} steps: too little writing to kill"
    assert len(listed) >= len(result["acked"])
    # Compaction ran many times while writers were being killed.
    assert (kepler_home / "kepler.log").read_text().count("compacted") >= 5


KILL_POINTS = [
    "mid-line",  # half a line written
    "before-head",  # the line is written, the head not yet updated
    "compaction-before-swap",  # the compacted copy written, not swapped in
    "compaction-after-swap",  # swapped in, head still describing the old file
    "mid-backup",  # half a backup copy written
    "blob-before-rename",  # a part written to a temporary file, not renamed
]


def test_writers_killed_inside_each_step_of_a_write_never_break_the_journal(kepler_home):
    plan = [{"point": point, "nth": nth} for nth in (2, 5) for point in KILL_POINTS]
    result = run_killer(kepler_home, plan)
    assert_survived(kepler_home, result)
    by_point = {}
    for r in result["rounds"]:
        by_point.setdefault(r["step"]["point"], []).append(r)
    assert any(r["mid_compaction"] for r in by_point["compaction-before-swap"])
    # A killed writer's half line was cut by the next writer, never read as damage.
    assert all_lines_parse(kepler_home / "journal.jsonl")


# -- damaged files ---------------------------------------------------------------------------------
def record(journal, n, epochs=False):
    eid = journal.start({"project": "damage", "name": f"run{n}"}, {"cell": f"fit {n}"})
    start_end = journal.path.stat().st_size
    if epochs:
        journal.append_epoch(eid, 0, {"loss": 0.5})
    journal.update(eid, {"status": "finished"})
    return eid, start_end, journal.path.stat().st_size


@pytest.fixture
def damaged_setup(kepler_home, monkeypatch):
    """30 records in the backup, then 20 more that only the journal holds; byte offsets of each write."""
    monkeypatch.setattr(storage, "BACKUP_MIN_BYTES", 0)
    monkeypatch.setattr(storage, "BACKUP_GROWTH", 0.0)  # a backup after every write...
    journal = Journal()
    offsets = {}
    for n in range(1, 31):
        eid, start_end, finish_end = record(journal, n)
        offsets[eid] = (start_end, finish_end)
    monkeypatch.setattr(storage, "BACKUP_GROWTH", 1e9)  # ...then none
    for n in range(31, 51):
        eid, start_end, finish_end = record(journal, n, epochs=True)
        offsets[eid] = (start_end, finish_end)
    assert journal.storage.backup_path.stat().st_size == offsets[30][1]
    return journal.path, offsets


def load_damaged(path):
    damaged = path.read_bytes() if path.exists() else b""
    with pytest.warns(JournalCorruptWarning) as caught:
        listed = {e["id"]: e["status"] for e in Journal().experiments()}
    [warning] = [w for w in caught if issubclass(w.category, JournalCorruptWarning)]
    message = str(warning.message)
    assert str(path) in message  # names the file...
    [aside] = path.parent.glob("journal.jsonl.corrupt-*")
    assert str(aside) in message  # ...and where the damaged one is kept
    assert aside.read_bytes() == damaged  # kept as it was
    assert "was damaged" in (path.parent / "kepler.log").read_text()
    # Recovered for good: the next reader sees no damage and the same records.
    with warnings.catch_warnings():
        warnings.simplefilter("error", JournalCorruptWarning)
        journal = Journal()
        assert {e["id"]: e["status"] for e in journal.experiments()} == listed
    return journal, listed, message


def garble_line(path, offset_in_line):
    """Overwrite the line containing ``offset_in_line`` with bytes that are not JSON (same length)."""
    data = path.read_bytes()
    start = data.rfind(b"\n", 0, offset_in_line) + 1
    end = data.index(b"\n", offset_in_line)
    path.write_bytes(data[:start] + b"\x00#garbage" + b"?" * (end - start - 9) + data[end:])


def test_truncated_inside_the_backed_up_part_recovers_the_backup(damaged_setup):
    path, offsets = damaged_setup
    # Cut in the middle of record 16's "finished" line: its "running" line survives before the cut.
    cut = (offsets[16][0] + offsets[16][1]) // 2
    os.truncate(path, cut)
    journal, listed, message = load_damaged(path)
    assert "shorter" in message
    # Every record of the backup, each in its latest state; the 20 newer ones were only in the lost tail.
    assert listed == {eid: "finished" for eid in range(1, 31)}
    # Their ids are never handed out again (the head file knew 50 were), so nothing can mix
    # into the new run: not the lost run's epochs, not a kernel still training on a lost id.
    new = journal.start({"project": "damage", "name": "new"}, {})
    assert new == 51
    assert journal.get(new)["history"] == {}


def test_truncated_after_the_backup_keeps_every_readable_line(damaged_setup):
    path, offsets = damaged_setup
    cut = (offsets[40][0] + offsets[40][1]) // 2  # inside record 40's "finished" line
    os.truncate(path, cut)
    _, listed, _ = load_damaged(path)
    expected = {eid: "finished" for eid in range(1, 40)}
    expected[40] = "running"  # recorded as started; its end was cut off (this process is alive)
    assert listed == expected


def test_a_garbage_line_inside_the_backed_up_part_loses_nothing(damaged_setup):
    path, offsets = damaged_setup
    garble_line(path, offsets[10][1] - 2)  # record 10's "finished" line
    _, listed, message = load_damaged(path)
    assert "not valid JSON" in message
    assert listed == {eid: "finished" for eid in range(1, 51)}


def test_a_garbage_line_after_the_backup_loses_only_that_line(damaged_setup):
    path, offsets = damaged_setup
    garble_line(path, offsets[45][1] - 2)  # record 45's "finished" line
    _, listed, _ = load_damaged(path)
    expected = {eid: "finished" for eid in range(1, 51)}
    expected[45] = "running"
    assert listed == expected


@pytest.mark.parametrize("how", ["in place", "replaced"])
def test_a_file_of_noise_is_rebuilt_from_the_backup_never_emptied(damaged_setup, how):
    """Noise with no line break looks like one long write in progress: it must not be taken for one."""
    path, _ = damaged_setup
    noise = os.urandom(path.stat().st_size).replace(b"\n", b" ")
    if how == "in place":
        path.write_bytes(noise)
    else:  # a new file (another inode) where the journal was
        (path.parent / "noise").write_bytes(noise)
        os.replace(path.parent / "noise", path)
    _, listed, _ = load_damaged(path)
    assert listed == {eid: "finished" for eid in range(1, 31)}


def test_damage_without_a_backup_keeps_every_readable_line(kepler_home):
    journal = Journal()
    offsets = {}
    for n in range(1, 6):
        eid, start_end, finish_end = record(journal, n)
        offsets[eid] = (start_end, finish_end)
    assert not journal.storage.backup_path.exists()  # a small journal has no backup yet
    garble_line(journal.path, offsets[3][0] - 2)  # record 3's "running" line
    _, listed, message = load_damaged(journal.path)
    assert re.search(r"\(5 records\)", message)
    assert listed == {eid: "finished" for eid in range(1, 6)}  # record 3's later line has it all


# -- a kernel dying mid-training -------------------------------------------------------------------
DIES_IN_FIT = r"""
import os, signal, sys
import numpy as np
import keras
from kepler import ModelInspector

hook = sys.argv[1]


class Dies(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if hook == "end-of-epoch-3" and epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_begin(self, epoch, logs=None):
        if hook == "start-of-epoch-4" and epoch == 3:
            os.kill(os.getpid(), signal.SIGKILL)


rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] > 0).astype("float32")
model = keras.Sequential(
    [keras.Input((8,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
)
model.compile(optimizer="adam", loss="binary_crossentropy")
with ModelInspector(model=model, project="dies", name=hook, show=lambda *a: None) as mi:
    mi.fit(x, y, epochs=10, batch_size=64, verbose=0, validation_split=0.25, callbacks=[Dies()])
print("not killed")
"""


@pytest.mark.slow
def test_a_kernel_killed_mid_training_keeps_the_epochs_it_finished(kepler_home):
    """Kepler's callback runs after the user's (it is appended to their list).

    A process killed in the user's ``on_epoch_end`` of epoch 3 dies before
    Kepler's ``on_epoch_end`` records that epoch: 2 epochs are kept. Killed
    as epoch 4 begins, epoch 3 was recorded: 3 epochs are kept.
    """
    env = {**ENV, "KEPLER_ANSWER": "continue", "KEPLER_HOME": str(kepler_home)}
    hooks = {"end-of-epoch-3": 2, "start-of-epoch-4": 3}
    procs = {
        hook: subprocess.Popen(
            [sys.executable, "-c", DIES_IN_FIT, hook], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        for hook in hooks
    }
    for hook, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, (hook, out.decode()[-2000:], err.decode()[-3000:])

    journal = Journal()
    listed = {e["name"]: e for e in journal.experiments()}
    assert set(listed) == set(hooks)
    for hook, kept in hooks.items():
        summary = listed[hook]
        assert summary["status"] == "interrupted"
        assert summary["epochs_done"] == kept
        record = journal.get(summary["id"])
        assert record["status"] == "interrupted"
        assert len(record["history"]["loss"]) == kept
        assert len(record["history"]["val_loss"]) == kept
        assert record["fit"]["epochs"] == 10  # what was asked, beside what was done
        assert [e["epoch"] for e in journal._epochs(summary["id"])] == list(range(kept))


def test_readers_do_not_wait_for_a_writer(kepler_home):
    """A reader never waits for the lock: listing while a writer holds it answers at once."""
    journal, other = Journal(), Journal()
    journal.start({"project": "p", "name": "a"}, {})
    with journal.storage.transaction():
        started = time.perf_counter()
        assert [e["name"] for e in other.experiments()] == ["a"]
        assert time.perf_counter() - started < 1.0


def test_a_deleted_journal_file_is_rebuilt_from_the_backup(damaged_setup):
    path, _ = damaged_setup
    path.unlink()
    _, listed, message = load_damaged(path)
    assert "missing" in message
    assert listed == {eid: "finished" for eid in range(1, 31)}


# -- threads, copies, damage that is valid JSON ------------------------------------------------------
def test_threads_sharing_one_journal_lose_nothing(kepler_home, monkeypatch):
    """The kernel's shared Journal, written by 4 threads at once (with compactions and readers)."""
    import threading

    monkeypatch.setattr(storage, "COMPACT_MIN_LINES", 60)
    monkeypatch.setattr(storage, "BACKUP_MIN_BYTES", 0)
    journal = Journal()
    acked: list[list[tuple[int, str]]] = [[] for _ in range(4)]
    errors: list[BaseException] = []
    gate = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            gate.wait()
            for n in range(100):
                name = f"t{worker}-{n}"
                eid = journal.start({"project": "threads", "name": name}, {"cell": f"fit {name}"})
                journal.append_epoch(eid, 0, {"loss": 1.0})
                journal.update(eid, {"status": "finished"})
                acked[worker].append((eid, name))
                if n % 4 == 0:
                    journal.experiments()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writing = True

    def read() -> None:  # the journal widget, refreshing
        try:
            while writing:
                journal.experiments()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often: races show up within 400 records
    with warnings.catch_warnings():
        warnings.simplefilter("error", JournalCorruptWarning)
        readers = [threading.Thread(target=read) for _ in range(2)]
        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        try:
            for t in readers + threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            writing = False
            for t in readers:
                t.join()
            sys.setswitchinterval(switch)
        assert errors == []
        expected = dict(pair for pairs in acked for pair in pairs)
        assert len(expected) == 400
        for reader in (journal, Journal()):
            listed = {e["id"]: (e["name"], e["status"]) for e in reader.experiments()}
            assert listed == {eid: (name, "finished") for eid, name in expected.items()}
    assert all_lines_parse(journal.path)


def test_a_cut_short_copy_of_the_folder_is_recovered_from_its_backup(damaged_setup, tmp_path, monkeypatch):
    """A copy (cp -r, a restore, a sync client) has other inodes: damage must still be seen."""
    import shutil

    path, offsets = damaged_setup
    copy = tmp_path / "copied-home"
    shutil.copytree(path.parent, copy)
    monkeypatch.setenv("KEPLER_HOME", str(copy))
    os.truncate(copy / "journal.jsonl", (offsets[16][0] + offsets[16][1]) // 2)
    journal, listed, message = load_damaged(copy / "journal.jsonl")
    assert "shorter" in message
    assert listed == {eid: "finished" for eid in range(1, 31)}
    assert journal.start({"project": "copy", "name": "next"}, {}) == 51


def test_a_record_id_damaged_into_valid_json_is_recovered(damaged_setup):
    path, offsets = damaged_setup
    data = path.read_bytes()
    line_start = data.rfind(b"\n", 0, offsets[7][1] - 2) + 1
    assert data[line_start:].startswith(b'{"t":"experiments","id":"7"')
    path.write_bytes(data[:line_start] + data[line_start:].replace(b'"id":"7"', b'"id":"?7"', 1))
    _, listed, message = load_damaged(path)
    assert "is not a journal entry" in message
    assert listed == {eid: "finished" for eid in range(1, 51)}  # record 7's line is in the backup


def test_a_run_lost_to_damage_never_writes_into_another_run(damaged_setup):
    """A kernel still training on an id the rebuild dropped: its epochs and end go nowhere else."""
    from kepler_nb.journal.journal import UnknownExperimentError

    path, offsets = damaged_setup
    training = Journal()  # the kernel of run 50, still at work
    os.truncate(path, offsets[45][0])
    other, listed, _ = load_damaged(path)
    assert 50 not in listed
    new = other.start({"project": "damage", "name": "another kernel's run"}, {})
    assert new == 51
    training.append_epoch(50, 1, {"loss": 0.1})
    with pytest.raises(UnknownExperimentError), warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalCorruptWarning)
        training.update(50, {"status": "finished"})
    assert other.get(new)["history"] == {}
    assert other.get(new)["status"] == "running"


def test_recovery_without_a_backup_says_so(kepler_home):
    journal = Journal()
    offsets = {}
    for n in range(1, 6):
        eid, start_end, finish_end = record(journal, n)
        offsets[eid] = (start_end, finish_end)
    assert not journal.storage.backup_path.exists()
    garble_line(journal.path, offsets[3][0] - 2)
    _, _, message = load_damaged(journal.path)
    assert "journal.jsonl.bak" not in message and "last good copy" not in message
    assert "no earlier copy" in message
