#![no_main]
// Any Content-Type line and body as a request's parameters (url-encoded or multipart/form-data,
// as graphite-web's cluster sends): read or ignored, never a panic; the query string's pairs
// always come first.
use libfuzzer_sys::fuzz_target;
use tally::http::params::Params;

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let p = Params::from_request(Some("q=1"), ct, body);
    assert_eq!(p.pairs().first().map(|(k, v)| (k.as_str(), v.as_str())), Some(("q", "1")));
});
