#!/usr/bin/env python3
"""
Writes the vLLM KV-event payload fixtures under dataplane/kv-events/fixtures/.

Each fixture is one ZMQ payload frame (a msgpack-encoded KVEventBatch) made by real msgspec, with
the event structs declared here in vLLM's field order and struct options, so the TypeScript
decoder (dataplane/kv-events/kv-event-decoder.ts) and the simulator's encoder
(hack/engine-sim/kv-events-encoder.ts) are tested against the bytes vLLM itself would send.

Layouts, oldest first (as read from vllm/distributed/kv_events.py across vLLM's history):
  v0-array    batch and events array_like; BlockStored ends at lora_id; BlockRemoved has only
              block_hashes; hashes are ints from Python's hash() (signed 64-bit, may be negative)
  v1-array    + medium on both events, batch gains data_parallel_rank; hashes int or bytes
  v2-array    + lora_name on BlockStored
  mixed       batch still array_like, events encoded as maps (tag in the "type" field), with the
              extra trailing fields a later fork added (locality, ownership, session_id)
  current     batch and events as maps; BlockStored gains extra_keys, group_idx,
              kv_cache_spec_kind, kv_cache_spec_sliding_window (defaults omitted), BlockRemoved
              gains group_idx; hashes are sha256 bytes, or u64 ints with
              VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1
All structs are tag=True (tag = class name) and omit_defaults=True, as in vLLM.

fixtures.json lists every fixture with the decoded form the TypeScript decoder must produce:
block hashes normalised to strings (ints in decimal, bytes as "0x" + lowercase hex).

Regenerate (from the repository root):
  python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install msgspec
  /tmp/kvenv/bin/python hack/kv-events/make-fixtures.py
Output is deterministic (fixed timestamps and hashes), so an unchanged script gives unchanged files.
"""
import hashlib
import json
import os
import sys
from typing import Any, Optional, Union

import msgspec

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dataplane", "kv-events", "fixtures")

Hash = Union[bytes, int]


def layout(name: str) -> dict:
    """Struct classes of one layout; class names are the tags, as vLLM's are."""
    batch_array = name != "current"
    event_array = name in ("v0-array", "v1-array", "v2-array")

    class KVCacheEvent(msgspec.Struct, array_like=event_array, omit_defaults=True, gc=False, tag=True):
        pass

    class AllBlocksCleared(KVCacheEvent):
        pass

    if name == "v0-array":
        class EventBatch(msgspec.Struct, array_like=batch_array, omit_defaults=True, gc=False):
            ts: float
            events: list

        class BlockStored(KVCacheEvent):
            block_hashes: list
            parent_block_hash: Optional[int]
            token_ids: list
            block_size: int
            lora_id: Optional[int]

        class BlockRemoved(KVCacheEvent):
            block_hashes: list

    else:
        class EventBatch(msgspec.Struct, array_like=batch_array, omit_defaults=True, gc=False):
            ts: float
            events: list
            data_parallel_rank: Optional[int] = None

        if name == "v1-array":
            class BlockStored(KVCacheEvent):
                block_hashes: list
                parent_block_hash: Optional[Hash]
                token_ids: list
                block_size: int
                lora_id: Optional[int]
                medium: Optional[str]

            class BlockRemoved(KVCacheEvent):
                block_hashes: list
                medium: Optional[str]

        elif name == "v2-array":
            class BlockStored(KVCacheEvent):
                block_hashes: list
                parent_block_hash: Optional[Hash]
                token_ids: list
                block_size: int
                lora_id: Optional[int]
                medium: Optional[str]
                lora_name: Optional[str]

            class BlockRemoved(KVCacheEvent):
                block_hashes: list
                medium: Optional[str]

        elif name == "mixed":
            class BlockStored(KVCacheEvent):
                block_hashes: list
                parent_block_hash: Optional[Hash]
                token_ids: list
                block_size: int
                lora_id: Optional[int]
                medium: Optional[str]
                lora_name: Optional[str]
                extra_keys: Optional[list] = None
                group_idx: Optional[int] = None
                kv_cache_spec_kind: Optional[str] = None
                kv_cache_spec_sliding_window: Optional[int] = None
                locality: Optional[str] = None
                ownership: Optional[str] = None
                session_id: Optional[str] = None

            class BlockRemoved(KVCacheEvent):
                block_hashes: list
                medium: Optional[str]
                group_idx: Optional[int] = None
                locality: Optional[str] = None
                ownership: Optional[str] = None

        else:  # current
            class BlockStored(KVCacheEvent):
                block_hashes: list
                parent_block_hash: Optional[Hash]
                token_ids: list
                block_size: int
                lora_id: Optional[int]
                medium: Optional[str]
                lora_name: Optional[str]
                extra_keys: Optional[list] = None
                group_idx: Optional[int] = None
                kv_cache_spec_kind: Optional[str] = None
                kv_cache_spec_sliding_window: Optional[int] = None

            class BlockRemoved(KVCacheEvent):
                block_hashes: list
                medium: Optional[str]
                group_idx: Optional[int] = None

    # An event type this decoder does not know, to test that it is skipped and counted.
    class BlockTouched(KVCacheEvent):
        block_hashes: list

    return dict(EventBatch=EventBatch, BlockStored=BlockStored, BlockRemoved=BlockRemoved,
                AllBlocksCleared=AllBlocksCleared, BlockTouched=BlockTouched)


def norm(h):
    """The decoder's string form of an engine block hash."""
    if h is None:
        return None
    if isinstance(h, bytes):
        return "0x" + h.hex()
    return str(h)


def expect_event(e) -> Optional[dict]:
    """The decoded form of one event, or None for an unknown one."""
    kind = type(e).__name__
    if kind == "BlockStored":
        return {
            "type": "BlockStored",
            "blockHashes": [norm(h) for h in e.block_hashes],
            "parentBlockHash": norm(e.parent_block_hash),
            "tokenIds": list(e.token_ids),
            "blockSize": e.block_size,
            "loraId": e.lora_id,
            "loraName": getattr(e, "lora_name", None),
            "medium": getattr(e, "medium", None),
            "groupIdx": getattr(e, "group_idx", None),
        }
    if kind == "BlockRemoved":
        return {
            "type": "BlockRemoved",
            "blockHashes": [norm(h) for h in e.block_hashes],
            "medium": getattr(e, "medium", None),
            "groupIdx": getattr(e, "group_idx", None),
        }
    if kind == "AllBlocksCleared":
        return {"type": "AllBlocksCleared"}
    return None


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def tokens(start: int, n: int) -> list:
    return list(range(start, start + n))


def fixtures() -> list:
    out = []

    def add(name: str, lay: str, what: str, make):
        L = layout(lay)
        batch = make(L)
        out.append((name, lay, what, batch))

    add("v0-int-hashes", "v0-array",
        "oldest layout: signed 64-bit int hashes (one negative, one above 2^53), parent null then set, "
        "a 2-block store, remove, clear",
        lambda L: L["EventBatch"](ts=1717000000.25, events=[
            L["BlockStored"](block_hashes=[-6917529027641081856, 42], parent_block_hash=None,
                             token_ids=tokens(1, 8), block_size=4, lora_id=None),
            L["BlockStored"](block_hashes=[9007199254740993], parent_block_hash=42,
                             token_ids=tokens(9, 4), block_size=4, lora_id=None),
            L["BlockRemoved"](block_hashes=[42]),
            L["AllBlocksCleared"](),
        ]))

    add("v1-u64-hashes", "v1-array",
        "medium added: unsigned 64-bit int hashes above 2^63 (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES), "
        "numeric lora_id only, no data_parallel_rank",
        lambda L: L["EventBatch"](ts=1718000000.5, events=[
            L["BlockStored"](block_hashes=[18446744073709551615, 9223372036854775808],
                             parent_block_hash=None, token_ids=tokens(100, 32), block_size=16,
                             lora_id=None, medium="GPU"),
            L["BlockStored"](block_hashes=[12345678901234567890], parent_block_hash=9223372036854775808,
                             token_ids=tokens(200, 16), block_size=16, lora_id=7, medium="GPU"),
            L["BlockRemoved"](block_hashes=[18446744073709551615], medium="GPU"),
        ]))

    add("v1-bytes-dp-rank", "v1-array",
        "medium added: sha256 bytes hashes, data_parallel_rank 3, a CPU-medium store",
        lambda L: L["EventBatch"](ts=1719000000.0, data_parallel_rank=3, events=[
            L["BlockStored"](block_hashes=[sha("a"), sha("b")], parent_block_hash=None,
                             token_ids=tokens(1, 32), block_size=16, lora_id=None, medium="GPU"),
            L["BlockStored"](block_hashes=[sha("c")], parent_block_hash=sha("b"),
                             token_ids=tokens(33, 16), block_size=16, lora_id=None, medium="CPU"),
            L["BlockRemoved"](block_hashes=[sha("a")], medium="GPU"),
        ]))

    add("v2-lora-name", "v2-array",
        "lora_name added: an adapter block with lora_id and lora_name, data_parallel_rank 0",
        lambda L: L["EventBatch"](ts=1720000000.125, data_parallel_rank=0, events=[
            L["BlockStored"](block_hashes=[sha("lora-1")], parent_block_hash=None,
                             token_ids=tokens(5, 16), block_size=16, lora_id=1, medium="GPU",
                             lora_name="sql-lora"),
            L["AllBlocksCleared"](),
        ]))

    add("mixed-array-batch-map-events", "mixed",
        "batch still an array, events as maps with extra fields this decoder does not know",
        lambda L: L["EventBatch"](ts=1721000000.75, data_parallel_rank=1, events=[
            L["BlockStored"](block_hashes=[sha("m1")], parent_block_hash=None, token_ids=tokens(7, 16),
                             block_size=16, lora_id=None, medium="GPU", lora_name=None,
                             group_idx=0, locality="LOCAL", session_id="s-1"),
            L["BlockRemoved"](block_hashes=[sha("m1")], medium="GPU", group_idx=0, ownership="x"),
        ]))

    add("current-bytes", "current",
        "current layout: sha256 bytes, a 3-block store (48 tokens, block 16) with parent null, "
        "a chained store, extra_keys and cache-spec metadata, remove, clear",
        lambda L: L["EventBatch"](ts=1722000000.5, data_parallel_rank=0, events=[
            L["BlockStored"](block_hashes=[sha("p0"), sha("p1"), sha("p2")], parent_block_hash=None,
                             token_ids=tokens(1000, 48), block_size=16, lora_id=None, medium="GPU",
                             lora_name=None, extra_keys=[None, None, ("salt",)], group_idx=0,
                             kv_cache_spec_kind="full_attention"),
            L["BlockStored"](block_hashes=[sha("p3")], parent_block_hash=sha("p2"),
                             token_ids=tokens(1048, 16), block_size=16, lora_id=None, medium="GPU",
                             lora_name=None),
            L["BlockRemoved"](block_hashes=[sha("p3"), sha("p2")], medium="GPU"),
            L["AllBlocksCleared"](),
        ]))

    add("current-int-lora", "current",
        "current layout with u64 int hashes, lora_name set, a sliding-window group store",
        lambda L: L["EventBatch"](ts=1723000000.0, data_parallel_rank=2, events=[
            L["BlockStored"](block_hashes=[17293822569102704642], parent_block_hash=None,
                             token_ids=tokens(50, 16), block_size=16, lora_id=3, medium="GPU",
                             lora_name="chat-adapter"),
            L["BlockStored"](block_hashes=[5], parent_block_hash=None, token_ids=tokens(1, 16),
                             block_size=16, lora_id=None, medium="GPU", lora_name=None, group_idx=1,
                             kv_cache_spec_kind="sliding_window", kv_cache_spec_sliding_window=4096),
            L["BlockRemoved"](block_hashes=[5], medium="GPU", group_idx=1),
        ]))

    add("current-unknown-event", "current",
        "an event type the decoder does not know between two known ones: skipped and counted",
        lambda L: L["EventBatch"](ts=1724000000.0, data_parallel_rank=0, events=[
            L["AllBlocksCleared"](),
            L["BlockTouched"](block_hashes=[sha("t")]),
            L["BlockRemoved"](block_hashes=[sha("t")], medium=None),
        ]))

    add("sim-reference", "current",
        "what the simulator's encoder must reproduce byte for byte: 8-byte hashes, token ids at "
        "every msgpack integer width, an adapter store, remove, clear",
        lambda L: L["EventBatch"](ts=1700000000.5, data_parallel_rank=0, events=[
            L["BlockStored"](block_hashes=[bytes.fromhex("0011223344556677"), bytes.fromhex("8899aabbccddeeff")],
                             parent_block_hash=None,
                             token_ids=[0, 127, 128, 255, 256, 65535, 65536, 4294967295],
                             block_size=4, lora_id=None, medium="GPU", lora_name=None),
            L["BlockStored"](block_hashes=[bytes.fromhex("0102030405060708")],
                             parent_block_hash=bytes.fromhex("8899aabbccddeeff"),
                             token_ids=[1, 2, 3, 4], block_size=4, lora_id=1, medium="GPU",
                             lora_name="adapter-a"),
            L["BlockRemoved"](block_hashes=[bytes.fromhex("0011223344556677")], medium="GPU"),
            L["AllBlocksCleared"](),
        ]))
    return out


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    enc = msgspec.msgpack.Encoder()
    index = []
    for name, lay, what, batch in fixtures():
        payload = enc.encode(batch)
        with open(os.path.join(OUT, name + ".msgpack"), "wb") as f:
            f.write(payload)
        events = [expect_event(e) for e in batch.events]
        index.append({
            "name": name,
            "file": name + ".msgpack",
            "layout": lay,
            "description": what,
            "bytes": len(payload),
            "expected": {
                "ts": batch.ts,
                "dpRank": getattr(batch, "data_parallel_rank", None),
                "events": [e for e in events if e is not None],
                "unknownEvents": sum(1 for e in events if e is None),
            },
        })
    with open(os.path.join(OUT, "fixtures.json"), "w") as f:
        json.dump({"generator": "hack/kv-events/make-fixtures.py", "msgspec": msgspec.__version__,
                   "fixtures": index}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(index)} fixtures to {os.path.relpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
