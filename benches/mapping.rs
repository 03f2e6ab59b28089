//! Cost of subject mappings on the publish path: a table of 20 literal and 20 wildcard
//! mappings (plus the ones measured), asked for a subject that no mapping takes (the common
//! case for most publishes), a literal hit, `$n` reordering, `{{partition}}`, and a weighted
//! pick.
//!
//! Before measuring, a counting allocator checks that a miss allocates nothing and a hit into
//! a reused buffer allocates nothing either (the bench stops if not).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::Criterion;
use natrix::mapping::{MapDest, Mapping, Mappings};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator that made it.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn table() -> Mappings {
    let mut list = Vec::new();
    for i in 0..20 {
        list.push(Mapping::single(&format!("lit.{i}"), &format!("lit2.{i}")).expect("valid"));
        list.push(Mapping::single(&format!("wc{i}.*.x"), "wc2.$1").expect("valid"));
    }
    list.push(Mapping::single("orders.*.*", "routed.$2.$1").expect("valid"));
    list.push(Mapping::single("part.*", "part.{{partition(16,1)}}.$1").expect("valid"));
    let weighted = [MapDest::new("canary.v2", 10), MapDest::new("canary.v1", 90)];
    list.push(Mapping::weighted("canary", &weighted).expect("valid"));
    Mappings::new(&list, None)
}

const CASES: [(&str, &[u8]); 5] = [
    ("miss", b"telemetry.eu.host42.cpu"),
    ("literal", b"lit.7"),
    ("reorder", b"orders.eu.12345"),
    ("partition", b"part.customer-8812"),
    ("weighted", b"canary"),
];

fn check_allocations(m: &Mappings) {
    let mut out = Vec::with_capacity(256);
    for (name, subject) in CASES {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for k in 0..1000u32 {
            black_box(m.map(black_box(subject), k, &mut out));
        }
        let n = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!("mapping/{name}: {n} allocations in 1000 calls");
        assert_eq!(n, 0, "{name} allocated");
    }
}

fn main() {
    let m = table();
    check_allocations(&m);
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    let mut out = Vec::with_capacity(256);
    for (name, subject) in CASES {
        let mut k = 0u32;
        c.bench_function(&format!("mapping/{name}"), |b| {
            b.iter(|| {
                k = k.wrapping_add(0x9e37_79b9);
                black_box(m.map(black_box(subject), k, &mut out))
            })
        });
    }
    c.final_summary();
}
