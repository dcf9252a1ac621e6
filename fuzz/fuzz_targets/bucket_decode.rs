#![no_main]
// Any bytes as an encoded bucket (the WAL's record payload): a bucket or an error, never a panic,
// and whatever decodes re-encodes to something that decodes to the same bucket.
use libfuzzer_sys::fuzz_target;
use tally::aggregate::Bucket;
use tally::encoding::Reader;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Bucket::decode(&mut Reader::new(data)) {
        let mut out = Vec::new();
        b.encode(&mut out);
        let again = Bucket::decode(&mut Reader::new(&out)).expect("re-decodes");
        assert_eq!(again.count, b.count);
        let _ = b.quantile(0.99);
        let _ = b.distinct();
    }
});
