#![no_main]
// Any bytes as a spool record, as an output's amendment cursor, as a tally ingest body
// (compressed or not), and as a spool segment file on disk: a value or an error, never a
// panic; a decoded record re-encodes to the same record.
use libfuzzer_sys::fuzz_target;
use tally::ship::record::Record;
use tally::ship::spool::Spool;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Record::decode(data) {
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(Record::decode(&out).expect("re-decodes"), r);
    }
    if let Ok((epoch, r)) = tally::ship::amend::decode(data) {
        let mut out = epoch.to_le_bytes().to_vec();
        r.encode(&mut out);
        assert_eq!(tally::ship::amend::decode(&out).expect("re-decodes"), (epoch, r));
    }
    let _ = tally::ship::tally::decode(data);
    let raw = snap::raw::Encoder::new().compress_vec(data).expect("compress");
    let _ = tally::ship::tally::decode(&raw);
    // As the newest segment of a spool: open cuts or refuses it, then reads what is left.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut file = Vec::with_capacity(24 + data.len());
    file.extend_from_slice(tally::ship::spool::MAGIC);
    file.extend_from_slice(&7u64.to_le_bytes());
    file.extend_from_slice(&1u64.to_le_bytes());
    file.extend_from_slice(data);
    std::fs::write(dir.path().join("00000000000000000001.spl"), &file).expect("write");
    if let Ok((mut spool, _)) = Spool::open(dir.path(), 1 << 20) {
        let _ = spool.read(u64::MAX);
    }
});
