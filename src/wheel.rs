//! A hierarchical timer wheel (Varghese & Lauck), sans-io: time is a `u64` of milliseconds
//! passed in by the caller; the wheel never reads a clock.
//!
//! Owns the timers of one shard: ack-wait redeliveries, NAK delays, pull-request expiries.
//! Eleven levels of 64 slots cover the whole `u64` range at 1 ms resolution (level `l` has
//! slots of `64^l` ms). A timer lives in the slot of the lowest level whose block still holds
//! both `elapsed` and its deadline; `advance` empties due slots in order, firing level-0
//! entries and re-filing ("cascading") higher-level ones relative to the slot's start time.
//!
//! Entries sit in a slab and are linked into their slot as a doubly linked list, so insert,
//! cancel and the expiry of one timer are O(1). Handles carry a generation: a handle to a
//! timer that fired or was cancelled (and whose slab entry may have been reused) is refused,
//! so a stale cancel is harmless.
//!
//! Invariants:
//! * Every live entry is linked into exactly the slot `(level, slot)` it records, and that
//!   slot's bit is set in `occupied[level]`; a slot's bit is set only if its list is non-empty.
//! * For each level, every occupied slot's start time is at or after the start of the slot
//!   that holds `elapsed` (no occupied slot lies behind the cursor), and lies in the same
//!   block of `64^(level+1)` ms as `elapsed`. So the lowest occupied level holds the earliest
//!   timers.
//! * `slot_min[level][slot]` is at most the deadline of every entry in that slot (a cancel
//!   may leave it lower than needed, never higher).
//! * A deadline in the past is filed at `elapsed`: it fires on the next `advance`.

const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// 11 levels × 6 bits = 66 bits ≥ 64: every `u64` deadline has a level.
const LEVELS: usize = 11;
const NIL: u32 = u32::MAX;

/// Names one armed timer. Copyable and small; stale handles are refused by generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerHandle {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    payload: Option<T>,
    deadline_ms: u64,
    prev: u32,
    next: u32,
    generation: u32,
    level: u8,
    slot: u8,
}

/// The wheel. `T` is whatever the caller wants back when a timer fires.
pub struct Wheel<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    heads: Box<[[u32; SLOTS]; LEVELS]>,
    slot_min: Box<[[u64; SLOTS]; LEVELS]>,
    occupied: [u64; LEVELS],
    elapsed_ms: u64,
    len: usize,
}

impl<T> Wheel<T> {
    /// An empty wheel whose clock starts at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Wheel {
            entries: Vec::new(),
            free_head: NIL,
            heads: Box::new([[NIL; SLOTS]; LEVELS]),
            slot_min: Box::new([[u64::MAX; SLOTS]; LEVELS]),
            occupied: [0; LEVELS],
            elapsed_ms: now_ms,
            len: 0,
        }
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The time the wheel has been advanced to.
    pub fn elapsed_ms(&self) -> u64 {
        self.elapsed_ms
    }

    /// Arms a timer for `deadline_ms`. A deadline at or before `elapsed_ms` fires on the next
    /// `advance`.
    pub fn insert(&mut self, deadline_ms: u64, payload: T) -> TimerHandle {
        let index = self.alloc(deadline_ms, payload);
        self.link(index);
        self.len += 1;
        TimerHandle {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Disarms a timer and returns its payload; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, handle: TimerHandle) -> Option<T> {
        let index = self.live(handle)?;
        self.unlink(index);
        self.len -= 1;
        Some(self.release(index))
    }

    /// Moves a live timer to a new deadline, keeping its handle and payload (used for `+WPI`).
    /// Returns false if the handle is stale.
    pub fn reset(&mut self, handle: TimerHandle, deadline_ms: u64) -> bool {
        let Some(index) = self.live(handle) else {
            return false;
        };
        self.unlink(index);
        self.entries[index as usize].deadline_ms = deadline_ms;
        self.link(index);
        true
    }

    /// The deadline of a live timer.
    pub fn deadline(&self, handle: TimerHandle) -> Option<u64> {
        self.live(handle)
            .map(|index| self.entries[index as usize].deadline_ms)
    }

    /// When the caller must next call `advance`: never later than the earliest deadline, and
    /// equal to it unless that timer sits in a higher level slot that saw a cancel (then it is
    /// the slot's start, where a cascade happens). `None` when nothing is armed.
    pub fn next_deadline(&self) -> Option<u64> {
        let (level, slot, start) = self.next_slot()?;
        let at = start.max(self.slot_min[level][slot]);
        Some(at.max(self.elapsed_ms))
    }

    /// Moves the clock to `now_ms` and appends the payload of every timer with a deadline at
    /// or before it to `fired` (in deadline order across slots; any order within a ms).
    /// Returns how many fired. A `now_ms` behind the clock fires nothing and leaves it.
    pub fn advance(&mut self, now_ms: u64, fired: &mut Vec<T>) -> usize {
        let before = fired.len();
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now_ms {
                break;
            }
            // The cursor moves to the slot's start, so re-filed entries land below it.
            self.elapsed_ms = self.elapsed_ms.max(start);
            let mut cursor = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.occupied[level] &= !(1u64 << slot);
            self.slot_min[level][slot] = u64::MAX;
            while cursor != NIL {
                let next = self.entries[cursor as usize].next;
                let deadline = self.entries[cursor as usize].deadline_ms;
                if deadline <= now_ms && (level == 0 || deadline <= self.elapsed_ms) {
                    self.len -= 1;
                    fired.push(self.release(cursor));
                } else {
                    self.link(cursor);
                }
                cursor = next;
            }
        }
        self.elapsed_ms = self.elapsed_ms.max(now_ms);
        fired.len() - before
    }

    /// The lowest occupied level's first slot at or after the cursor, with its start time.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let bits = self.occupied[level];
            if bits == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let current = ((self.elapsed_ms >> shift) & SLOT_MASK) as u32;
            let ahead = bits >> current;
            debug_assert!(ahead != 0, "occupied slot behind the cursor");
            let slot = if ahead != 0 {
                current + ahead.trailing_zeros()
            } else {
                bits.trailing_zeros()
            } as usize;
            let block_mask = block_mask(level);
            let start = (self.elapsed_ms & block_mask) | ((slot as u64) << shift);
            return Some((level, slot, start));
        }
        None
    }

    fn live(&self, handle: TimerHandle) -> Option<u32> {
        let entry = self.entries.get(handle.index as usize)?;
        (entry.generation == handle.generation && entry.payload.is_some()).then_some(handle.index)
    }

    fn alloc(&mut self, deadline_ms: u64, payload: T) -> u32 {
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            self.free_head = entry.next;
            entry.payload = Some(payload);
            entry.deadline_ms = deadline_ms;
            return index;
        }
        let index = u32::try_from(self.entries.len()).expect("more than 2^32 timers");
        assert!(index != NIL, "more than 2^32 - 1 timers");
        self.entries.push(Entry {
            payload: Some(payload),
            deadline_ms,
            prev: NIL,
            next: NIL,
            generation: 0,
            level: 0,
            slot: 0,
        });
        index
    }

    /// Frees an unlinked entry and bumps its generation so old handles go stale.
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
        entry.payload.take().expect("released a free entry")
    }

    /// Files an entry in the slot its deadline belongs to relative to `elapsed_ms`.
    fn link(&mut self, index: u32) {
        let deadline = self.entries[index as usize]
            .deadline_ms
            .max(self.elapsed_ms);
        let level = level_for(self.elapsed_ms, deadline);
        let slot = ((deadline >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
        let head = self.heads[level][slot];
        {
            let entry = &mut self.entries[index as usize];
            entry.level = level as u8;
            entry.slot = slot as u8;
            entry.prev = NIL;
            entry.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1u64 << slot;
        let min = &mut self.slot_min[level][slot];
        *min = (*min).min(deadline);
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.level as usize, e.slot as usize)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[level][slot] = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if self.heads[level][slot] == NIL {
            self.occupied[level] &= !(1u64 << slot);
            self.slot_min[level][slot] = u64::MAX;
        }
    }
}

/// The level whose slots separate `elapsed` from `deadline`: the highest differing bit / 6.
fn level_for(elapsed_ms: u64, deadline_ms: u64) -> usize {
    let masked = (elapsed_ms ^ deadline_ms) | SLOT_MASK;
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

/// The bits above a level's block (`64^(level+1)` ms): zero for the top level.
fn block_mask(level: usize) -> u64 {
    let bits = SLOT_BITS * (level as u32 + 1);
    if bits >= 64 {
        0
    } else {
        !((1u64 << bits) - 1)
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;
