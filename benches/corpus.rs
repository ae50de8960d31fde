//! The corpus documents the benchmarks measure, shared by `convert` and `input`.

use std::path::Path;

/// 2025-01-01T00:00:00Z, after every corpus document, so that no time is out of range.
pub const REFERENCE: i64 = 1_735_689_600_000_000;

/// The lines of every corpus file (`tests/data/corpus/*/*.ndjson`) whose name `keep`
/// accepts, in path order.
pub fn corpus_lines(keep: impl Fn(&str) -> bool) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    let mut paths = Vec::new();
    for folder in std::fs::read_dir(&root).expect("corpus") {
        let folder = folder.expect("folder").path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(folder).expect("corpus folder") {
            let path = file.expect("file").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.ends_with(".ndjson") && keep(name) {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .flat_map(|path| {
            let text = std::fs::read(path).expect("corpus file");
            text.split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}
