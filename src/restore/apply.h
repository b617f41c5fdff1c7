#pragma once
// The restore engine behind restore::ApplyPlan: parallel ranged downloads,
// pages written straight to their place in a temp file, memory bounded by
// configuration, a resume journal. restore.cc owns the output's lifecycle
// (temp name, integrity check, move into place, what to keep on error).
//
// 1. Metadata, `parallelism` files at a time: each file's header (100 bytes),
//    then its page index streamed from the tail through ltx::PageIndexParser.
//    The snapshot's (file 0's) header is the start of one read of the whole
//    object (Open(key, 0, no length): one GET without Range on S3), kept open
//    as the snapshot's stream. Starting from zero, the snapshot's index is
//    not read here: its stream is cut into chunks as it arrives (below) and
//    the index, at the stream's end, is checked against them; a server that
//    reads the whole object for every GET (moto) then reads it once, not
//    twice, before the first page. Other files' tails are read as about 1/128
//    of the file (at most 4 MiB each, 8 MiB in all), so that the index
//    usually arrives with the trailer.
//    The index is never held: consecutive frames are grouped into chunks
//    (the snapshot: chunk_bytes, at most 512 KiB, each; later files: about 1/8
//    of the file, between chunk_bytes and max_chunk_bytes), and per chunk only (offset,
//    length, first/last pgno, frame count, a hash of (pgno, size)) is kept:
//    O(file size / chunk_bytes).
// 2. The snapshot is read in spans (runs of its chunks, each read by one
//    sequential read). Starting from zero there is one span, read by a reader
//    thread from the stream: it cuts the stream into chunks from the frames'
//    headers (ltx::MeasureFrame: nothing decompressed; the index's own
//    chunking rule, and the snapshot's page order checked so that a corrupt
//    stream never writes outside the database) into reused buffers, and
//    queues them (at most kStreamAhead = 2 MiB ahead) for the workers to
//    decode in place. At the end-of-pages marker it reads the index from the
//    same stream and checks that it lists the same chunks. When the reader
//    has not waited for room for split_after_ms (the read, not the decoding,
//    is the bottleneck: a slow connection), and a split pays (below), an
//    idle worker first reads the index from the tail (the chunks ahead must
//    be known), then takes the upper half of the largest span's unclaimed
//    chunks and reads it with a ranged read of its own, decoding as it goes
//    (and so on, one split per split_after_ms). A split pays when the time
//    one read would take for half of what is left, at the stream's rate since
//    the reader last waited, is more than the new requests (2 for the first
//    split: the tail and the span; then 1) would wait for their first bytes,
//    taken as long as the stream's own first bytes took. On S3 (tens of ms
//    to the first byte, under 100 MB/s per connection) large snapshots get up
//    to `parallelism` reads; a server that reads the whole object before it
//    answers any GET (moto: seconds for 500 MB) serves the snapshot with one
//    read. After a resume, the index is read from the tail first and each
//    run of chunks still to do is a span read that way.
//    Later files' chunks are dispatched in plan order to the workers. A
//    worker reads its range with one ObjectStore::Open(key, off, len),
//    decodes the frames (ltx::FrameStreamDecoder), checks them against the
//    index, and pwrite()s runs of contiguous pages at (pgno-1)*page_size.
//    Ordering rule: a chunk of file k writes only after every chunk of files
//    < k has been written (later files overwrite earlier pages). A chunk
//    whose turn has not come is fetched at once: into memory if under 1 MiB
//    (the worker then waits for its turn), else into the spool, a file
//    beside the output unlinked as soon as it is created (at most 1 GiB in
//    all, one read at a time), from which any worker applies it when its turn
//    comes; if the spool cannot be written, the chunk is read in its turn.
//    So later files download while the snapshot streams, without memory.
//    The snapshot never waits; a waiting worker decodes the stream's queue
//    and applies spooled chunks whose turn came meanwhile; and a worker takes
//    a span nobody reads before any later file's chunk: no deadlock. If the
//    stream fails, the chunks it queued are still decoded (and kept for a
//    rerun) before the error is returned.
//    Written pages are handed to writeback (sync_file_range) every 8 MiB, and
//    a flusher thread fdatasyncs the output after every sync_every_bytes
//    (64 MiB) written: the disk writes the database while it is decoded, so
//    the final fdatasync, and a frontier's journal write (whose fsync waits
//    for all the writes queued before it), find little left. On a VM whose
//    host caches the disk, one fdatasync of 1 GB written took 0.6 s.
// 3. Checksums: each worker computes its chunk's share of the LTX file
//    checksum (compat reference 1.6: page header + size prefix as stored +
//    the decompressed page) with one CRC pass per page; the shares are joined
//    in order with Crc64Combine, with the header and the tail (end marker,
//    index, index length, post-apply checksum): a mismatch is kCorruption
//    naming the key. Snapshots with checksums also get their post-apply
//    checksum checked (an XOR over pages, joined per chunk).
// 4. Coverage: a bitmap of 1 bit per page of the database (0.003 % of its
//    size at 4 KiB pages) marks the pages whose final version is in some
//    file: page p of file k counts if p <= the Commit of every later file.
//    Every page 1..Commit but the lock page must be marked, else kCorruption
//    "page N is missing". The lock page is never stored: it stays a hole.
// 5. Resume journal (<temp>.json, written atomically): the plan's files (key,
//    size, header checksum: the snapshot's trailer comes at the end of its
//    stream), page size, chunk_bytes, the "frontier" (the highest file
//    allowed to have written pages; written before that file's first write),
//    and the chunks done with their offsets, lengths and checksum shares. A
//    chunk is recorded only after its pages were fdatasync'd (by the flusher,
//    after every sync_every_bytes written and every journal_every_ms; never
//    again after an fdatasync failed). A rerun keeps the chunks of the leading files that are
//    unchanged, provided every file up to the frontier is among them; a
//    changed file with the same key, size and header fails the file
//    checksum, it is never silently mixed in.
//
// Memory, whatever the database's size. Per thread (parallelism of them),
// about 3 MiB: a write buffer of 128 KiB kept, a read buffer of 128 KiB while
// decoding from a read, up to 1 MiB for a prefetched small chunk, what the
// backend buffers for one ranged read (FileStore streams; S3Store streams
// through a queue of up to 1 MiB, no more than the range, and a 256 KiB
// receive buffer), and one of the stream's chunk buffers being decoded (a
// chunk and two frames, about 0.6 MiB). Fixed, about 21 MiB at most: the
// stream's read-ahead (2 MiB) and the buffer being filled, one spool read (a
// 256 KiB buffer and the backend's), small files read whole and kept until
// applied (8 MiB in all), file tails while indexes are read (8 MiB in all).
// Plus the chunk list (O(file size / chunk_bytes)) and the bitmap.

#include <cstdint>
#include <string>

#include "base/status.h"
#include "replica/replica.h"
#include "restore/plan.h"

namespace walship::restore {
struct RestoreOptions;

namespace internal {

struct ApplyResult {
  uint32_t pages = 0;
  uint32_t page_size = 0;
  uint64_t bytes_read = 0;     // from the store, this run
  uint64_t bytes_resumed = 0;  // chunk bytes kept from an earlier run
};

// Builds the database of `plan` in tmp_path (created or resumed; journal at
// journal_path), truncated to its final size and fsync'd. Does not remove
// anything on error: the caller decides.
Result<ApplyResult> ApplyToFile(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts,
                                const std::string& tmp_path, const std::string& journal_path);

}  // namespace internal
}  // namespace walship::restore
