"""BlobStore: content-addressed parts of records, shared by threads, read back whole or said to be damaged."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from kepler_nb.journal.blobs import BlobStore, DamagedBlobError


def test_threads_storing_the_same_value_at_once_never_collide(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    value = {"cell": "model.fit(x, y)" * 2000}
    errors: list[BaseException] = []
    addresses: set[str] = set()
    gate = threading.Barrier(8)

    def put(rounds: int) -> None:
        try:
            for _ in range(rounds):
                if threading.current_thread().name == "t0":  # stored again this round, by all at once
                    for path in store.root.glob("*/*.json"):
                        path.unlink()
                gate.wait()
                addresses.add(store.put(value))
                gate.wait()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
            gate.abort()

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    threads = [threading.Thread(target=put, args=(30,), name=f"t{i}") for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    [address] = addresses
    assert store.get(address) == value
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]


def test_a_blob_cut_short_names_itself(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    address = store.put({"cell": "x" * 100})
    path = store.root / address[:2] / f"{address}.json"
    os.truncate(path, 20)
    with pytest.raises(DamagedBlobError, match=f"{path}.*damaged.*20 bytes"):
        store.get(address)


def test_blobs_are_owner_only_and_leftovers_of_killed_writers_go(tmp_path):
    root = tmp_path / "blobs"
    store = BlobStore(root)
    address = store.put([1, 2, 3])
    path = root / address[:2] / f"{address}.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    leftover = root / ".blob-0123456789abcdef.4194999-1.tmp"  # a writer that no longer exists
    leftover.write_bytes(b"half")
    BlobStore(root)
    assert not leftover.exists()


def test_lone_surrogates_are_stored_and_read_back(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    value = {"cwd": "/data/caf\udce9", "name": "x\ud800y"}
    assert store.get(store.put(value)) == value


def test_a_records_parts_are_made_durable_together_and_all_or_none_are_stored(tmp_path, monkeypatch):
    store = BlobStore(tmp_path / "blobs")
    parts = {"cell": "model.fit(x, y)", "layers": [["Dense", 64]], "fit": {"epochs": 5}, "again": "model.fit(x, y)"}
    synced: list[int] = []
    real_fsync = os.fsync
    started = threading.Barrier(3, timeout=10)

    def fsync(fd: int) -> None:
        synced.append(fd)
        started.wait()  # all three at once, or this times out: they are not one after the other
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    addresses = store.put_many(parts)
    assert len(synced) == 3  # three distinct values: three new blobs, "again" is the cell's
    assert addresses["again"] == addresses["cell"]
    assert {name: store.get(address) for name, address in addresses.items()} == parts

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        store.put_many({"a": "first new value", "b": "second new value"})
    left = sorted(p.name for p in store.root.rglob("*") if p.is_file())
    assert len(left) == 3 and not any(name.endswith(".tmp") for name in left)  # only the earlier blobs
