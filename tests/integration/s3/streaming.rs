//! Objects larger than the plugin's memory stream through it: a 256 MiB object is read
//! (get) and written (put) by the `replicate` plugin capped at 64 MiB, byte for byte.

use crate::common;

use std::io::{Read, Write};

use common::{World, ok};
use serde_json::json;
use xacct::plan::Mode;

const SIZE: usize = 256 << 20;

/// Deterministic bytes that no run of zeros or repeated block could fake.
fn write_pattern(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..SIZE / block.len() {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
}

fn same_content(a: &std::path::Path, b: &std::path::Path) -> bool {
    let (mut a, mut b) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x).unwrap();
        let mut filled = 0;
        while filled < n {
            let m = b.read(&mut y[filled..n]).unwrap();
            if m == 0 {
                return false;
            }
            filled += m;
        }
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if x[..n] != y[..n] {
            return false;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_object_streams_through_a_plugin_capped_at_64_mib() {
    let world = World::new(
        &["replicate"],
        "[limits]\nmemory_mib = 64\ntime_secs = 600\n",
    );
    let source = world.data().join("111111111111/big-source/blob.bin");
    write_pattern(&source);
    world.bucket("333333333333", "big-target");

    let input = json!({
        "source": {"account": "dev", "bucket": "big-source"},
        "target": {"account": "prod", "bucket": "big-target"},
    });
    let report = world.run("replicate", input, Mode::AllAccounts).await;
    let output = ok(&report.entries[0]);
    assert_eq!(output["copied"], 1);
    assert_eq!(output["bytes"], SIZE as u64);
    let target = world.data().join("333333333333/big-target/blob.bin");
    assert_eq!(std::fs::metadata(&target).unwrap().len(), SIZE as u64);
    assert!(same_content(&source, &target), "the copy is byte-exact");
}
