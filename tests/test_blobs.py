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
