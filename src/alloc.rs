//! The static (musl) build's memory allocator: small blocks by size class,
//! carved from 64 KiB chunks and kept for reuse.
//!
//! musl's allocator (mallocng) maps and unmaps pages as its groups of
//! blocks fill and empty: about 150 `mmap`/`munmap` pairs in a stage whose
//! heap never passes 300 KiB, 40% of the system calls of a reboot's final
//! stage. A stage is one short process, so this one never gives small
//! blocks back to the system: a freed block goes on its class's free list
//! and serves the next allocation of that class. Blocks up to 4 KiB come in
//! powers of two from 16 bytes, each aligned to its size (so any alignment
//! up to its size holds); anything larger is musl's own. glibc's allocator
//! keeps its arena and needs none of this: the glibc build uses it as it is.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr::{self, null_mut};
use std::sync::atomic::{AtomicBool, Ordering};

/// The smallest class: 16 bytes (room for the free list's link).
const MIN_SHIFT: usize = 4;
/// The largest block served here.
const MAX_SMALL: usize = 4096;
const CLASSES: usize = 9; // 16, 32, ..., 4096
/// What is asked of the system at a time.
const CHUNK: usize = 64 * 1024;

pub struct Pooled {
    locked: AtomicBool,
    state: UnsafeCell<State>,
}

struct State {
    /// Per class, the first free block (each holds the next one's address).
    free: [*mut u8; CLASSES],
    /// The unused rest of the current chunk.
    next: usize,
    end: usize,
}

// SAFETY: the state is only touched with `locked` held.
unsafe impl Sync for Pooled {}

impl Pooled {
    pub const fn new() -> Pooled {
        Pooled {
            locked: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                free: [null_mut(); CLASSES],
                next: 0,
                end: 0,
            }),
        }
    }

    /// Runs `f` with the state, the lock held (a spin: the sections are a
    /// few instructions, and the stages are all but single-threaded).
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held: no other reference to the state exists.
        let r = f(unsafe { &mut *self.state.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}

impl Default for Pooled {
    fn default() -> Pooled {
        Pooled::new()
    }
}

/// The class of a layout served here (`None`: the system's).
fn class(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    (size <= MAX_SMALL).then(|| size.next_power_of_two().trailing_zeros() as usize - MIN_SHIFT)
}

unsafe impl GlobalAlloc for Pooled {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(&layout) else {
            return System.alloc(layout);
        };
        let size = 1usize << (c + MIN_SHIFT);
        self.with(|st| {
            let head = st.free[c];
            if !head.is_null() {
                // SAFETY: a free block holds the next free block's address.
                st.free[c] = unsafe { *(head as *mut *mut u8) };
                return head;
            }
            let mut at = (st.next + size - 1) & !(size - 1);
            if at == 0 || at + size > st.end {
                // SAFETY: CHUNK is non-zero and MAX_SMALL a power of two.
                let chunk =
                    unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, MAX_SMALL)) };
                if chunk.is_null() {
                    return null_mut();
                }
                at = chunk as usize;
                st.end = at + CHUNK;
            }
            st.next = at + size;
            at as *mut u8
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(c) = class(&layout) else {
            return System.dealloc(ptr, layout);
        };
        self.with(|st| {
            // SAFETY: the block is ours, at least 16 bytes, and no longer used.
            unsafe { *(ptr as *mut *mut u8) = st.free[c] };
            st.free[c] = ptr;
        })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class(&layout), class(&new_layout)) {
            (None, None) => System.realloc(ptr, layout, new_size),
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_reused() {
        let a = Pooled::new();
        let mut live = Vec::new();
        for (i, (size, align)) in [
            (1, 1),
            (7, 8),
            (16, 16),
            (24, 8),
            (100, 64),
            (4096, 4096),
            (3000, 8),
        ]
        .into_iter()
        .cycle()
        .take(3000)
        .enumerate()
        {
            let l = Layout::from_size_align(size, align).unwrap();
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "{size}/{align}");
            unsafe { ptr::write_bytes(p, (i % 251) as u8, size) };
            live.push((p, l, (i % 251) as u8));
        }
        // Nothing overlaps: every block still holds its own pattern.
        for &(p, l, v) in &live {
            assert!((0..l.size()).all(|k| unsafe { *p.add(k) } == v));
        }
        let (p, l, _) = live[5];
        unsafe { a.dealloc(p, l) };
        assert_eq!(
            unsafe { a.alloc(l) },
            p,
            "a freed block serves the next of its class"
        );
        for (p, l, _) in live.into_iter().skip(6) {
            unsafe { a.dealloc(p, l) };
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_across_classes_and_to_the_system() {
        let a = Pooled::new();
        let l = Layout::from_size_align(10, 1).unwrap();
        let p = unsafe { a.alloc(l) };
        unsafe { ptr::copy_nonoverlapping(b"0123456789".as_ptr(), p, 10) };
        let mut p = unsafe { a.realloc(p, l, 12) }; // same class
        let mut size = 12;
        for new_size in [100, 5000, 100_000, 64] {
            p = unsafe { a.realloc(p, Layout::from_size_align(size, 1).unwrap(), new_size) };
            assert!(!p.is_null());
            assert_eq!(unsafe { std::slice::from_raw_parts(p, 10) }, b"0123456789");
            size = new_size;
        }
        unsafe { a.dealloc(p, Layout::from_size_align(size, 1).unwrap()) };
    }
}
