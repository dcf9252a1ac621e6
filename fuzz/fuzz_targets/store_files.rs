#![no_main]
// Any bytes as one of the store's files (MANIFEST, a WAL file, the series catalog, the events
// file): opening the store gives a store or an error, never a panic. The first byte picks the file.
use libfuzzer_sys::fuzz_target;
use tally::store::{Options, Store};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("wal")).unwrap();
    std::fs::create_dir_all(root.join("seg")).unwrap();
    let file = match which % 4 {
        0 => root.join("MANIFEST"),
        1 => root.join("wal/00000000000000000001.wal"),
        2 => root.join("series"),
        _ => root.join("events"),
    };
    std::fs::write(&file, bytes).unwrap();
    let options = Options {
        data_dir: root.to_path_buf(),
        tiers: tally::schema::Schemas::default_list().resolutions(),
        head_flush_interval: 600,
        head_max_bytes: tally::store::HEAD_MAX_BYTES,
    };
    if let Ok(store) = Store::open_read_only(options.clone()) {
        let _ = store.stats();
        let _ = store.events(i64::MIN, i64::MAX);
    }
    if let Ok(store) = Store::open(options) {
        let _ = store.maintain(1_700_000_000);
    }
});
