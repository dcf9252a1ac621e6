//! Every shipped parser (`parsers/*.yaml`) replayed over its sample log
//! (`tests/data/parsers/<name>.log`) must give its golden output (`<name>.golden`: the replay
//! as `tally parse` prints it, then the counters as `#` lines). `UPDATE_GOLDEN=1 cargo test
//! parse::golden` rewrites the golden files. Also: no line, however broken, panics a parser.

use super::*;
use proptest::prelude::*;

/// The read time of the replays: 2024-01-15T12:00:00Z (syslog years are taken from it).
const NOW: i64 = 1_705_320_000;
const PREFIX: &str = "web1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped parser, read in UTC so that the goldens do not depend on the host's zone.
fn shipped() -> Vec<Parser> {
    let (mut parsers, errors) = load(&[root().join("parsers")]);
    assert!(errors.is_empty(), "{errors:?}");
    for p in &mut parsers {
        assert!(p.warnings().is_empty(), "{}: {:?}", p.name(), p.warnings());
        p.set_zone(Zone::Utc);
    }
    parsers
}

#[test]
fn shipped_parsers_match_their_golden_output() {
    let parsers = shipped();
    let files = std::fs::read_dir(root().join("parsers"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .count();
    assert!(
        parsers.len() >= files && files >= 10,
        "{} parsers",
        parsers.len()
    );
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let data = root().join("tests/data/parsers");
    let mut failures = Vec::new();
    for p in &parsers {
        let log = data.join(format!("{}.log", p.name()));
        let golden = data.join(format!("{}.golden", p.name()));
        assert!(
            log.is_file(),
            "shipped parser {} has no sample {}",
            p.name(),
            log.display()
        );
        let r = replay(&[p], PREFIX, std::slice::from_ref(&log), NOW).unwrap();
        let c = r.counters[0].1;
        assert!(
            c.matched > 0 && c.unmatched > 0,
            "{}: the sample needs lines that match and lines that do not: {c:?}",
            p.name()
        );
        assert_eq!(
            (c.time_failures, c.bad_names),
            (0, 0),
            "{}: {c:?}",
            p.name()
        );
        let got = format!("{r}{}", r.summary());
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!(
                "shipped parser {} has no golden {} (UPDATE_GOLDEN=1 writes it)",
                p.name(),
                golden.display()
            )
        });
        if got != want {
            failures.push(format!(
                "--- {} (UPDATE_GOLDEN=1 to accept)\n{got}",
                golden.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn samples() -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(root().join("tests/data/parsers")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "log") {
            let text = std::fs::read(&path).unwrap();
            lines.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(line in prop::collection::vec(any::<u8>(), 0..400)) {
        thread_local! { static PARSERS: Vec<Parser> = shipped(); }
        PARSERS.with(|parsers| {
            let mut out = Output::default();
            for p in parsers {
                p.apply(&line, NOW, PREFIX, &mut ParseState::new(), &mut out);
            }
        });
    }

    #[test]
    fn mutated_sample_lines_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        thread_local! {
            static PARSERS: Vec<Parser> = shipped();
            static SAMPLES: Vec<Vec<u8>> = samples();
        }
        let mut line = SAMPLES.with(|s| s[pick.index(s.len())].clone());
        for (at, byte, op) in edits {
            let i = at.index(line.len() + 1);
            match op {
                0 => line.insert(i, byte),
                1 if i < line.len() => line[i] = byte,
                _ if i < line.len() => { line.remove(i); }
                _ => {}
            }
        }
        PARSERS.with(|parsers| {
            let mut out = Output::default();
            let mut st = ParseState::new();
            for p in parsers {
                p.apply(&line, NOW, PREFIX, &mut st, &mut out);
            }
        });
    }
}
