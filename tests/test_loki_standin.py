"""The Loki stand-in of `make e2e` (``tests/e2e/standin.py``) reads pushes as Loki does: a PushRequest encoded by
the real protobuf runtime and compressed by a real snappy (cramjam), or Loki's JSON; and answers a stream
selector in Loki's response shape. The lab e2e reads a real Vector's lines back through it, so a stand-in
that misread the wire format would fail there for the wrong reason; here it fails with the cause."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import cramjam
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

from tests.e2e.standin import Handler, LokiStore, parse_labels, snappy_decompress


def _push_request_class() -> Any:
    """Loki's logproto PushRequest / StreamAdapter / EntryAdapter (pkg/push/push.proto), field numbers as upstream."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(
        descriptor_pb2.FileDescriptorProto.FromString(timestamp_pb2.DESCRIPTOR.serialized_pb).SerializeToString()
    )
    f = descriptor_pb2.FileDescriptorProto(
        name="push.proto", package="logproto", syntax="proto3", dependency=["google/protobuf/timestamp.proto"]
    )
    field = descriptor_pb2.FieldDescriptorProto
    entry = f.message_type.add(name="EntryAdapter")
    entry.field.add(name="timestamp", number=1, type=field.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp")
    entry.field.add(name="line", number=2, type=field.TYPE_STRING)
    stream = f.message_type.add(name="StreamAdapter")
    stream.field.add(name="labels", number=1, type=field.TYPE_STRING)
    stream.field.add(
        name="entries",
        number=2,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".logproto.EntryAdapter",
    )
    stream.field.add(name="hash", number=3, type=field.TYPE_UINT64)
    push = f.message_type.add(name="PushRequest")
    push.field.add(
        name="streams",
        number=1,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".logproto.StreamAdapter",
    )
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


def _protobuf_push(streams: dict[str, list[tuple[int, str]]]) -> bytes:
    request = _push_request_class()()
    for labels, entries in streams.items():
        stream = request.streams.add(labels=labels, hash=12345)
        for nanos, line in entries:
            e = stream.entries.add(line=line)
            e.timestamp.seconds, e.timestamp.nanos = divmod(nanos, 1_000_000_000)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


API = '{container="neurocore-api", service="api", stream="stdout", system="neurocore"}'
WORKER = '{container="neurocore-worker", service="worker", stream="stderr", system="neurocore"}'


def test_snappy_blocks_of_a_real_compressor_decompress() -> None:
    text = ("GET /health 200 " * 500 + "é∂ unique tail").encode()  # long repeats: copies with 1, 2-byte offsets
    assert snappy_decompress(bytes(cramjam.snappy.compress_raw(text))) == text
    with pytest.raises(ValueError, match="the header says"):
        snappy_decompress(bytes(cramjam.snappy.compress_raw(text))[:-3])


def test_a_protobuf_push_is_stored_by_stream_and_queried_newest_first() -> None:
    store = LokiStore()
    body = _protobuf_push(
        {
            API: [(1_700_000_000_000_000_001, "started"), (1_700_000_001_500_000_000, "GET /health 200")],
            WORKER: [(1_700_000_000_000_000_000, "celery ready")],
        }
    )
    assert store.push(body, "application/x-protobuf") == 3
    answer = store.query('{system="neurocore", service="api"}', limit=10)
    assert answer["status"] == "success"
    assert answer["data"] == {
        "resultType": "streams",
        "result": [
            {
                "stream": parse_labels(API),
                "values": [["1700000001500000000", "GET /health 200"], ["1700000000000000001", "started"]],
            }
        ],
    }
    both = store.query('{system="neurocore"}', limit=1)["data"]["result"]
    assert sorted(len(s["values"]) for s in both) == [1, 1]
    assert store.query('{system="claims-agent"}', limit=10)["data"]["result"] == []


def test_a_json_push_is_stored_as_the_protobuf_one() -> None:
    store = LokiStore()
    body = json.dumps({"streams": [{"stream": {"system": "neurocore", "service": "api"}, "values": [["5", "a"]]}]})
    assert store.push(body.encode(), "application/json") == 1
    assert store.query('{service="api"}', 5)["data"]["result"] == [
        {"stream": {"service": "api", "system": "neurocore"}, "values": [["5", "a"]]}
    ]


@pytest.mark.parametrize(
    ("selector", "error"),
    [('system="x"', "not a stream selector"), ('{system=~"neuro.*"}', 'only name="value" matchers')],
)
def test_a_selector_it_cannot_answer_is_refused(selector: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_labels(selector)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_http_api_answers_as_loki_does(server: str) -> None:
    body = _protobuf_push({API: [(42, "over http")]})
    request = urllib.request.Request(
        f"{server}/loki/api/v1/push", data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    with urllib.request.urlopen(request) as done:
        assert done.status == 204
    query = urllib.parse.urlencode({"query": '{container="neurocore-api"}', "limit": "5"})
    with urllib.request.urlopen(f"{server}/loki/api/v1/query_range?{query}") as done:
        assert json.load(done)["data"]["result"][0]["values"] == [["42", "over http"]]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server}/loki/api/v1/query_range?query=%7Bsystem%3D~%22x%22%7D")
    assert refused.value.code == 400
    with urllib.request.urlopen(f"{server}/ready") as done:  # any other path: the app stand-in's 200
        assert done.status == 200
