//! A connection's outbound bytes: a queue of chunks, most of them fixed-size buffers drawn
//! from a per-shard pool (the way nats-server queues outbound data in pooled chunks), and
//! large payloads as shared slices of the publisher's read buffer, sent without a copy.
//!
//! Invariants: a buffer chunk never reallocates once it is in the queue (a frame goes into
//! the tail only when it fits, else into a fresh chunk), so a consumer that falls megabytes
//! behind costs no copying and no page faults from buffer growth; `len` is the sum of the
//! queued chunks' lengths; an idle connection holds no chunk.

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Capacity of a pooled chunk; a frame larger than this gets a chunk of its own size.
pub const OUT_CHUNK_BYTES: usize = 64 * 1024;
/// Capacity of the unpooled chunk that follows a shared payload (its CRLF and the next
/// frame's head): small, so a backlog of large messages does not hold a 64 KiB chunk each.
const AFTER_SHARED_CHUNK_BYTES: usize = 512;

/// Free chunks of one shard, shared by its connections.
pub struct ChunkPool {
    free: RefCell<Vec<BytesMut>>,
    keep_max: usize,
}

impl ChunkPool {
    /// A pool that keeps at most `keep_max` free chunks.
    pub fn new(keep_max: usize) -> Self {
        ChunkPool {
            free: RefCell::new(Vec::new()),
            keep_max,
        }
    }

    fn take(&self, need: usize) -> BytesMut {
        if need <= OUT_CHUNK_BYTES {
            if let Some(chunk) = self.free.borrow_mut().pop() {
                return chunk;
            }
        }
        BytesMut::with_capacity(need.max(OUT_CHUNK_BYTES))
    }

    /// Returns a written chunk: buffers of the pooled size are kept, the rest dropped.
    pub fn give(&self, chunk: Chunk) {
        let Chunk::Buf(mut buf) = chunk else { return };
        buf.clear();
        let mut free = self.free.borrow_mut();
        if buf.capacity() == OUT_CHUNK_BYTES && free.len() < self.keep_max {
            free.push(buf);
        }
    }

    pub fn free_count(&self) -> usize {
        self.free.borrow().len()
    }
}

/// One piece of a connection's outbound stream.
#[derive(Debug, PartialEq)]
pub enum Chunk {
    Buf(BytesMut),
    Shared(Bytes),
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Buf(b) => b,
            Chunk::Shared(b) => b,
        }
    }
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

#[derive(Default)]
pub struct OutQueue {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl OutQueue {
    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lets `write` append up to `need` bytes to the tail chunk (a new one when the tail
    /// has less room). Appending more than `need` is correct but may reallocate.
    pub fn append<R>(
        &mut self,
        pool: &ChunkPool,
        need: usize,
        write: impl FnOnce(&mut BytesMut) -> R,
    ) -> R {
        let fits = matches!(self.chunks.back(), Some(Chunk::Buf(tail)) if tail.capacity() - tail.len() >= need);
        if !fits {
            let fresh = match self.chunks.back() {
                Some(Chunk::Shared(_)) if need <= AFTER_SHARED_CHUNK_BYTES => {
                    BytesMut::with_capacity(AFTER_SHARED_CHUNK_BYTES)
                }
                _ => pool.take(need),
            };
            self.chunks.push_back(Chunk::Buf(fresh));
        }
        let Some(Chunk::Buf(tail)) = self.chunks.back_mut() else {
            unreachable!("the tail is a buffer chunk")
        };
        let before = tail.len();
        let r = write(tail);
        self.len += tail.len() - before;
        r
    }

    /// Queues `bytes` without copying them.
    pub fn push_shared(&mut self, bytes: Bytes) {
        self.len += bytes.len();
        self.chunks.push_back(Chunk::Shared(bytes));
    }

    /// Takes the oldest chunk for the writer (it goes back to the pool once written).
    pub fn pop(&mut self) -> Option<Chunk> {
        let chunk = self.chunks.pop_front()?;
        self.len -= chunk.bytes().len();
        Some(chunk)
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    #[test]
    fn frames_fill_chunks_without_growing_them() {
        let pool = ChunkPool::new(4);
        let mut q = OutQueue::default();
        let frame = vec![b'x'; 1000];
        for _ in 0..200 {
            q.append(&pool, frame.len(), |b| b.put_slice(&frame));
        }
        assert_eq!(q.len(), 200_000);
        let mut total = 0;
        let mut chunks = 0;
        while let Some(c) = q.pop() {
            let Chunk::Buf(b) = &c else {
                panic!("a buffer chunk")
            };
            assert!(b.len() <= OUT_CHUNK_BYTES);
            assert_eq!(b.capacity(), OUT_CHUNK_BYTES, "no chunk grew");
            assert_eq!(b.len() % 1000, 0, "frames are never split across chunks");
            total += b.len();
            chunks += 1;
            pool.give(c);
        }
        assert_eq!(total, 200_000);
        assert_eq!(chunks, 4);
        assert!(q.is_empty());
        assert_eq!(pool.free_count(), 4);
    }

    #[test]
    fn big_frames_get_their_own_chunk_and_are_not_pooled() {
        let pool = ChunkPool::new(4);
        let mut q = OutQueue::default();
        q.append(&pool, 10, |b| b.put_slice(b"MSG a 1 9\r"));
        let big = vec![b'y'; OUT_CHUNK_BYTES * 2];
        q.append(&pool, big.len(), |b| b.put_slice(&big));
        assert_eq!(q.len(), 10 + big.len());
        let first = q.pop().unwrap();
        assert_eq!(first.bytes(), b"MSG a 1 9\r");
        let second = q.pop().unwrap();
        assert_eq!(second.bytes().len(), big.len());
        pool.give(first);
        pool.give(second);
        assert_eq!(pool.free_count(), 1);
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn the_pool_keeps_a_bounded_number() {
        let pool = ChunkPool::new(2);
        for _ in 0..5 {
            pool.give(Chunk::Buf(BytesMut::with_capacity(OUT_CHUNK_BYTES)));
        }
        assert_eq!(pool.free_count(), 2);
        let mut q = OutQueue::default();
        q.append(&pool, 1, |b| b.put_u8(b'a'));
        assert_eq!(pool.free_count(), 1);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn shared_payloads_are_queued_in_order_without_a_copy() {
        let pool = ChunkPool::new(4);
        let mut q = OutQueue::default();
        let frame = Bytes::from(vec![b'p'; 100_000]);
        q.append(&pool, 16, |b| b.put_slice(b"MSG a 1 100000\r\n"));
        q.push_shared(frame.slice(..));
        q.append(&pool, 2, |b| b.put_slice(b"\r\n"));
        q.append(&pool, 16, |b| b.put_slice(b"MSG a 1 1\r\nx\r\n"));
        assert_eq!(q.len(), 16 + 100_000 + 2 + 14);
        let mut out = Vec::new();
        let mut kinds = Vec::new();
        while let Some(c) = q.pop() {
            out.extend_from_slice(c.bytes());
            kinds.push(matches!(c, Chunk::Shared(_)));
            if let Chunk::Shared(b) = &c {
                assert_eq!(b.as_ptr(), frame.as_ptr(), "the payload was not copied");
            }
            pool.give(c);
        }
        assert_eq!(kinds, [false, true, false]);
        assert_eq!(out.len(), 16 + 100_000 + 2 + 14);
        assert!(out.ends_with(b"\r\nMSG a 1 1\r\nx\r\n"));
    }
}
