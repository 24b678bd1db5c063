//! Cost of placing one request in an experiment: hashing the session and
//! finding its variant slice, beside hashing the same 64-byte key with
//! SHA-256 alone (the floor: the position is one SHA-256).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sha2::{Digest, Sha256};

use bedrock_tuner::experiment::assign::{place, position};

fn assignment(c: &mut Criterion) {
    let session = "session-0123456789abcdef0123456789abcdef0123456789";
    let weights = [0.5, 0.3, 0.2];
    let mut group = c.benchmark_group("assignment");
    group.bench_function("sha256 of the key (floor)", |b| {
        b.iter(|| Sha256::digest(black_box(format!("search-temp:{session}")).as_bytes()))
    });
    group.bench_function("position + place", |b| {
        b.iter(|| {
            place(
                position(black_box("search-temp"), black_box(session)),
                &weights,
                0.2,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, assignment);
criterion_main!(benches);
