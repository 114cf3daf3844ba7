"""Every cross-process message survives to_json -> JSON -> from_json; a bad field is named."""

from __future__ import annotations

import json

import pytest

from rehost.protocol.hello import DiskDone, DiskOffer, DiskResume, ErrorFrame, Hello, HelloOk
from rehost.protocol.hostapi import (
    BuildOrder,
    HostDisk,
    HostJob,
    Registration,
    Release,
    WorkOrders,
    lookup_json,
    parse_lookup,
)
from rehost.protocol.work import DiskTask, WorkItem
from rehost.wire import WireError

HELLO = Hello(token="t", chunk_bytes=4 << 20, agent_id="s-1", wire_version=3, cycle=2,
              disks=(DiskOffer(0, 1 << 30, 1 << 20, ("partition 1: copied whole",)),),
              digests=("xxh3-128", "blake2b-128"), codecs=("zstd", "zlib"))
HELLO_OK = HelloOk(job_id="j-1", checksum=True, wire_version=3, cycle=2, delta=True,
                   disks=(DiskResume(0, ((0, 4096), (8192, 4096)), False, 8192, "AAAA"),),
                   digest="blake2b-128", codecs=("zlib",))
WORK = WorkItem(action="replicate", job_id="j-1", transit_endpoint="h:8", data_token="d",
                disks=(DiskTask(0, 10, 20, "/dev/vda"),), compress_level=3,
                bandwidth_limit_kbps=100, checksum=True, cycle=1)
ORDERS = WorkOrders(disconnect=("j-2",), release=(Release("t-1", "j-1"),),
                    build=(BuildOrder("t-1", "j-1", "s-1", "m-1", "img", ((0, 10, 20),),
                                      verify=True, adapt_guests=True),),
                    delete_images=("m-0",))


def _wire(doc: dict[str, object]) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(json.dumps(doc))
    return loaded


@pytest.mark.parametrize("message", [HELLO, HELLO_OK, WORK, ORDERS, DiskDone(1, "ab" * 16),
                                     ErrorFrame("Wire.BadFrame", "x")])
def test_round_trip(message: HelloOk) -> None:
    assert type(message).from_json(_wire(message.to_json())) == message


def test_optional_fields_stay_off_the_wire_at_their_default() -> None:
    first_pass = HELLO._replace(cycle=0, wire_version=2, digests=None, codecs=None)
    assert not {"cycle", "digests", "codecs"} & set(first_pass.to_json())
    plain = HELLO_OK._replace(cycle=0, delta=False, disks=(HELLO_OK.disks[0]._replace(base=None),),
                              digest="", codecs=None)
    doc = plain.to_json()
    assert "cycle" not in doc and "delta" not in doc and "base" not in doc["disks"][0]  # type: ignore[index]
    assert "digest" not in doc and "codecs" not in doc
    assert HelloOk.from_json(_wire(doc)) == plain


def test_an_older_peers_documents_parse_with_defaults() -> None:
    assert WorkItem.from_json({"action": "none", "job_id": None}) == WorkItem("none")
    assert WorkOrders.from_json({}) == WorkOrders()
    hello = Hello.from_json({"token": "t", "chunk_bytes": 4096,
                             "disks": [{"index": 0, "size_bytes": 1, "plan_bytes": 1}]})
    assert hello.wire_version == 1 and hello.disks[0].plan_notes == ()
    assert hello.digests is None and hello.codecs is None  # xxh3-128 and zstd
    ok = HelloOk.from_json({"job_id": "j", "checksum": False, "disks": []})
    assert ok.digest == "" and ok.codecs is None


@pytest.mark.parametrize(("parse", "doc", "field"), [
    (Hello.from_json, {**HELLO.to_json(), "token": 5}, "'token'"),
    (Hello.from_json, {**HELLO.to_json(), "chunk_bytes": "4096"}, "'chunk_bytes'"),
    (Hello.from_json, {**HELLO.to_json(), "disks": [{"index": -1}]}, "'index'"),
    (Hello.from_json, {**HELLO.to_json(), "cycle": True}, "'cycle'"),
    (Hello.from_json, {**HELLO.to_json(), "digests": "xxh3-128"}, "'digests'"),
    (Hello.from_json, {**HELLO.to_json(), "codecs": ["zstd"] * 17}, "'codecs'"),
    (HelloOk.from_json, {**HELLO_OK.to_json(), "digest": 5}, "'digest'"),
    (HelloOk.from_json, {**HELLO_OK.to_json(), "codecs": [1]}, "'codecs'"),
    (HelloOk.from_json, {**HELLO_OK.to_json(), "checksum": "yes"}, "'checksum'"),
    (HelloOk.from_json, {**HELLO_OK.to_json(), "disks": [{"index": 0, "acked": [[1]],
                                                         "done": False, "done_bytes": 0}]},
     "'acked'"),
    (DiskDone.from_json, {"index": 0, "digest": "xyz"}, "'digest'"),
    (WorkItem.from_json, {**WORK.to_json(), "action": "explode"}, "'action'"),
    (WorkItem.from_json, {**WORK.to_json(), "bandwidth_limit_kbps": "fast"},
     "'bandwidth_limit_kbps'"),
    (WorkItem.from_json, {**WORK.to_json(), "disks": [{"index": 0}]}, "'size_bytes'"),
    (WorkOrders.from_json, {"build": [{**ORDERS.build[0].to_json(), "disks": [[0, 1]]}]},
     "'disks'"),
    (WorkOrders.from_json, {"release": [{"transit_id": 1, "job_id": "j"}]}, "'transit_id'"),
    (Registration.from_json, {"host_id": "h"}, "'host_token'"),
    (parse_lookup, {"job": {"job_id": "j", "transit_id": "t", "checksum": 1, "disks": []}},
     "'checksum'"),
])
def test_a_bad_field_is_named_in_english_and_chinese(parse: object, doc: dict[str, object],
                                                   field: str) -> None:
    with pytest.raises(WireError) as caught:
        parse(_wire(doc))  # type: ignore[operator]
    assert field in caught.value.message and "必须" in caught.value.message


def test_wire_frames_and_http_messages_have_their_own_codes() -> None:
    with pytest.raises(WireError) as frame:
        Hello.from_json({"token": "t"})
    with pytest.raises(WireError) as message:
        WorkItem.from_json({})
    assert (frame.value.code, message.value.code) == ("Wire.BadFrame", "Protocol.BadMessage")


def test_lookup_answer_round_trips_both_ways() -> None:
    job = HostJob("j-1", "t-1", True, (HostDisk(0, 10, 20),))
    assert parse_lookup(_wire(lookup_json(job))) == job
    assert parse_lookup(_wire(lookup_json(None))) is None
