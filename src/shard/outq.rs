//! A connection's outbound bytes: a queue of fixed-size chunks drawn from a per-shard pool,
//! the way nats-server queues outbound data in pooled chunks.
//!
//! Invariants: a chunk never reallocates once it is in the queue (a frame goes into the tail
//! only when it fits, else into a fresh chunk), so a consumer that falls megabytes behind
//! costs no copying and no page faults from buffer growth; `len` is the sum of the queued
//! chunks' lengths; an idle connection holds no chunk.

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::BytesMut;

/// Capacity of a pooled chunk; a frame larger than this gets a chunk of its own size.
pub const OUT_CHUNK_BYTES: usize = 64 * 1024;

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

    /// Returns a written chunk. Oversized ones are dropped.
    pub fn give(&self, mut chunk: BytesMut) {
        chunk.clear();
        let mut free = self.free.borrow_mut();
        if chunk.capacity() == OUT_CHUNK_BYTES && free.len() < self.keep_max {
            free.push(chunk);
        }
    }

    pub fn free_count(&self) -> usize {
        self.free.borrow().len()
    }
}

#[derive(Default)]
pub struct OutQueue {
    chunks: VecDeque<BytesMut>,
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

    /// Lets `write` append up to `need` bytes to the tail chunk (a new one from `pool` when
    /// the tail has less room). Appending more than `need` is correct but may reallocate.
    pub fn append<R>(
        &mut self,
        pool: &ChunkPool,
        need: usize,
        write: impl FnOnce(&mut BytesMut) -> R,
    ) -> R {
        let fits = self
            .chunks
            .back()
            .is_some_and(|tail| tail.capacity() - tail.len() >= need);
        if !fits {
            self.chunks.push_back(pool.take(need));
        }
        let tail = self.chunks.back_mut().expect("a tail chunk");
        let before = tail.len();
        let r = write(tail);
        self.len += tail.len() - before;
        r
    }

    /// Takes the oldest chunk for the writer (it goes back to the pool once written).
    pub fn pop(&mut self) -> Option<BytesMut> {
        let chunk = self.chunks.pop_front()?;
        self.len -= chunk.len();
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
            assert!(c.len() <= OUT_CHUNK_BYTES);
            assert_eq!(c.capacity(), OUT_CHUNK_BYTES, "no chunk grew");
            assert_eq!(c.len() % 1000, 0, "frames are never split across chunks");
            total += c.len();
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
        assert_eq!(&first[..], b"MSG a 1 9\r");
        let second = q.pop().unwrap();
        assert_eq!(second.len(), big.len());
        pool.give(first);
        pool.give(second);
        assert_eq!(pool.free_count(), 1);
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn the_pool_keeps_a_bounded_number() {
        let pool = ChunkPool::new(2);
        for _ in 0..5 {
            pool.give(BytesMut::with_capacity(OUT_CHUNK_BYTES));
        }
        assert_eq!(pool.free_count(), 2);
        let mut q = OutQueue::default();
        q.append(&pool, 1, |b| b.put_u8(b'a'));
        assert_eq!(pool.free_count(), 1);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }
}
