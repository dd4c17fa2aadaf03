//! Writing a layer from a directory: salve's writer (tar, digests, parallel gzip or zstd in one
//! pass) against `tar -c | pigz` on the same directory, in the same run.
//!
//! Run: `cargo bench -p salve --bench layer_write`. The directory is `/usr/share/locale`
//! (thousands of small files, as package upgrades write); set `SALVE_BENCH_DIR` to use another.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use salve::image::{Compression, LayerOptions, write_layer};
use std::path::PathBuf;
use std::process::Command;

/// The directory to pack.
fn directory() -> PathBuf {
    std::env::var_os("SALVE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/locale"))
}

/// The size of the files under `directory`, for throughput.
fn size_of(directory: &PathBuf) -> u64 {
    let output = Command::new("du")
        .args(["-sb"])
        .arg(directory)
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn layer_write(c: &mut Criterion) {
    let directory = directory();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let out = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("layer_write");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(size_of(&directory)));
    for (name, compression) in [
        ("salve_gzip", Compression::Gzip),
        ("salve_zstd", Compression::Zstd),
    ] {
        let options = LayerOptions {
            compression,
            threads,
            clamp_mtime: Some(0),
        };
        let file = std::fs::File::create(out.path().join(name)).unwrap();
        let written = write_layer(&directory, file, &options).unwrap();
        eprintln!(
            "{name}: {} bytes of tar -> {} bytes",
            written.tar.size, written.blob.size
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                let file = std::fs::File::create(out.path().join(name)).unwrap();
                write_layer(&directory, file, &options).unwrap()
            })
        });
    }
    let baseline = format!(
        "tar -c -C '{}' . | pigz -6 -p {threads} > '{}'",
        directory.display(),
        out.path().join("pigz.tar.gz").display()
    );
    let status = Command::new("sh").args(["-c", &baseline]).status().unwrap();
    assert!(status.success(), "{baseline}");
    let pigz_size = std::fs::metadata(out.path().join("pigz.tar.gz"))
        .unwrap()
        .len();
    eprintln!("tar_pigz: {pigz_size} bytes");
    group.bench_function("tar_pigz", |b| {
        b.iter(|| {
            let status = Command::new("sh").args(["-c", &baseline]).status().unwrap();
            assert!(status.success(), "{baseline}");
        })
    });
    group.finish();
}

criterion_group!(benches, layer_write);
criterion_main!(benches);
