//! Model-based test: random sequences of writes, rotations, polls and restarts on a real file;
//! the lines delivered (after dropping, at a crash restart, what was delivered after the
//! checkpoint restarted from) must be the lines written, in order, no more, no fewer.
//!
//! The tailer runs without filesystem events (they arrive in their own time, which would make
//! the model's outcome depend on timing): what its polls see is all it knows. With events, a
//! file renamed away before any poll saw it is still read (see
//! `tests::a_file_renamed_away_before_any_look_at_the_path_is_still_read`).
//!
//! The model knows which data no tailer can recover, and expects it missing:
//! - a file rotated, deleted or copytruncated before any poll or restart looked at it (nobody
//!   ever held it open, so nothing says it existed; with events, a rename says so);
//! - a file copytruncated when the tailer last saw it empty (no fingerprint to find the copy);
//! - a deleted file whose reader was restarted before finishing it (the descriptor closed);
//! - at a crash restart: what a file deleted since the checkpoint had after it.
//!
//! A crash restart goes back to a checkpoint with at most one rotation since (a cursor names
//! one file; logtail2 and Vector share this). Each file generation starts with a unique
//! sequence number, so no two generations share their first bytes (otherwise copytruncate
//! cannot be seen, as documented in `tail.rs`).

use super::tests::{append, poll, settings};
use super::*;
use proptest::prelude::*;
use std::fs::{File, OpenOptions};

const MAX_LINE: usize = 48;

#[derive(Debug, Clone)]
enum Action {
    WriteLines(Vec<Vec<u8>>),
    PartialWrite(Vec<u8>),
    RotateRenameCreate,
    CopyTruncate,
    DeleteRecreate,
    Poll,
    RestartFromCheckpoint,
    CrashRestart(usize),
}

fn action() -> impl Strategy<Value = Action> {
    // Any bytes but the newline: invalid UTF-8, `\r`, NUL; up to 70 bytes so some are cut.
    let body = prop::collection::vec(
        any::<u8>().prop_map(|b| if b == b'\n' { b'N' } else { b }),
        0..70,
    );
    prop_oneof![
        4 => prop::collection::vec(body.clone(), 1..5).prop_map(Action::WriteLines),
        2 => body.prop_map(Action::PartialWrite),
        1 => Just(Action::RotateRenameCreate),
        1 => Just(Action::CopyTruncate),
        1 => Just(Action::DeleteRecreate),
        4 => Just(Action::Poll),
        1 => Just(Action::RestartFromCheckpoint),
        1 => any::<usize>().prop_map(Action::CrashRestart),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Live,
    Rotated,
    Copied,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Still being read (the live file, or one waiting for the next poll to be finished).
    Open,
    /// Read to its end, the last line delivered even without a newline.
    Finished,
    /// Only the complete lines before this length were (or will be) delivered.
    Lost(usize),
}

/// One file generation at the followed path.
#[derive(Debug, Clone)]
struct Gen {
    content: Vec<u8>,
    /// Bytes the tailer read (its delivered lines are the complete lines before this).
    read_len: usize,
    /// Length when the tailer last looked (what its fingerprint covers).
    seen_len: usize,
    /// The tailer holds it open (or, after a copytruncate, holds the inode it lived in).
    held: bool,
    fate: Fate,
    end: End,
}

impl Gen {
    fn new(held: bool) -> Gen {
        Gen {
            content: Vec::new(),
            read_len: 0,
            seen_len: 0,
            held,
            fate: Fate::Live,
            end: End::Open,
        }
    }
}

struct Snapshot {
    checkpoints: HashMap<String, Vec<u8>>,
    delivered: usize,
    generation: usize,
    read_len: usize,
}

struct Model {
    _dir: tempfile::TempDir,
    path: PathBuf,
    settings: Settings,
    tailer: Option<Tailer>,
    gens: Vec<Gen>,
    seq: u64,
    files: u64,
    delivered: Vec<Vec<u8>>,
    snapshots: Vec<Snapshot>,
}

impl Model {
    fn new() -> Model {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        File::create(&path).unwrap();
        let mut settings = settings(&[&path]);
        settings.max_line_length = MAX_LINE;
        let tailer = Tailer::new(settings.clone(), &HashMap::new()).without_events();
        Model {
            _dir: dir,
            path,
            settings,
            tailer: Some(tailer),
            gens: vec![Gen::new(true)],
            seq: 0,
            files: 0,
            delivered: Vec::new(),
            snapshots: Vec::new(),
        }
    }

    fn current(&mut self) -> &mut Gen {
        self.gens.last_mut().unwrap()
    }

    fn write(&mut self, body: &[u8], newline: bool) {
        let mut bytes = format!("{:05}|", self.seq).into_bytes();
        self.seq += 1;
        bytes.extend_from_slice(body);
        if newline {
            bytes.push(b'\n');
        }
        append(&self.path, &bytes);
        self.current().content.extend_from_slice(&bytes);
    }

    fn sibling(&mut self) -> PathBuf {
        self.files += 1;
        self.path.with_file_name(format!("app.log.{}", self.files))
    }

    /// The current generation stops being at the path.
    fn transition(&mut self, fate: Fate) {
        let g = self.current();
        g.fate = fate;
        let recoverable = match fate {
            Fate::Rotated | Fate::Deleted => g.held,
            Fate::Copied => g.held && g.seen_len > 0,
            Fate::Live => unreachable!(),
        };
        if !recoverable {
            g.end = End::Lost(g.read_len);
        }
        // After copytruncate the tailer still holds the inode the new content goes to.
        let held = fate == Fate::Copied && g.held;
        self.gens.push(Gen::new(held));
    }

    fn apply(&mut self, a: &Action) {
        match a {
            Action::WriteLines(bodies) => bodies.iter().for_each(|b| self.write(b, true)),
            Action::PartialWrite(body) => self.write(body, false),
            Action::RotateRenameCreate => {
                let to = self.sibling();
                std::fs::rename(&self.path, to).unwrap();
                File::create(&self.path).unwrap();
                self.transition(Fate::Rotated);
            }
            Action::CopyTruncate => {
                let to = self.sibling();
                std::fs::copy(&self.path, to).unwrap();
                OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                self.transition(Fate::Copied);
            }
            Action::DeleteRecreate => {
                std::fs::remove_file(&self.path).unwrap();
                File::create(&self.path).unwrap();
                self.transition(Fate::Deleted);
            }
            Action::Poll => self.poll(),
            Action::RestartFromCheckpoint => self.restart(),
            Action::CrashRestart(pick) => self.crash(*pick),
        }
    }

    fn poll(&mut self) {
        let got = poll(self.tailer.as_mut().unwrap());
        self.delivered.extend(got.into_iter().map(|(p, l)| {
            assert_eq!(p, self.path);
            l
        }));
        for g in &mut self.gens {
            if g.end == End::Open && g.fate != Fate::Live {
                g.end = End::Finished;
                g.read_len = g.content.len();
            }
        }
        let g = self.current();
        g.held = true;
        g.read_len = g.content.len();
        g.seen_len = g.content.len();
        let snapshot = Snapshot {
            checkpoints: self
                .tailer
                .as_ref()
                .unwrap()
                .checkpoints()
                .into_iter()
                .collect(),
            delivered: self.delivered.len(),
            generation: self.gens.len() - 1,
            read_len: self.current().read_len,
        };
        self.snapshots.push(snapshot);
    }

    fn start(&mut self, checkpoints: &HashMap<String, Vec<u8>>) {
        self.tailer = Some(Tailer::new(self.settings.clone(), checkpoints).without_events());
        let g = self.current();
        g.held = true;
        g.seen_len = g.content.len();
    }

    fn restart(&mut self) {
        let cps: HashMap<String, Vec<u8>> = self
            .tailer
            .take()
            .unwrap()
            .checkpoints()
            .into_iter()
            .collect();
        for g in &mut self.gens {
            if g.end == End::Open && g.fate == Fate::Deleted {
                g.end = End::Lost(g.read_len);
            }
        }
        self.start(&cps);
    }

    /// Back to the checkpoint of an earlier poll with at most one rotation since.
    fn crash(&mut self, pick: usize) {
        let current = self.gens.len() - 1;
        let eligible: Vec<usize> = (0..self.snapshots.len())
            .filter(|&i| self.snapshots[i].generation + 1 >= current)
            .collect();
        if eligible.is_empty() {
            return self.restart();
        }
        let i = eligible[pick % eligible.len()];
        self.snapshots.truncate(i + 1);
        let s = &self.snapshots[i];
        let (k, read_len, cps) = (s.generation, s.read_len, s.checkpoints.clone());
        self.delivered.truncate(s.delivered);
        self.tailer = None;
        let g = &mut self.gens[k];
        g.read_len = read_len;
        g.end = match g.fate {
            Fate::Live | Fate::Rotated => End::Open,
            Fate::Copied if read_len > 0 => End::Open,
            Fate::Copied | Fate::Deleted => End::Lost(read_len),
        };
        g.held = g.end == End::Open;
        if k != current {
            self.gens[current] = Gen {
                content: std::mem::take(&mut self.gens[current].content),
                ..Gen::new(true)
            };
        }
        self.start(&cps);
    }

    fn expected(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for g in &self.gens {
            let (bytes, with_partial) = match g.end {
                End::Finished => (&g.content[..], true),
                End::Open => (&g.content[..], false),
                End::Lost(n) => (&g.content[..n], false),
            };
            let mut parts: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            let last = parts.pop().unwrap_or_default();
            if with_partial && !last.is_empty() {
                parts.push(last);
            }
            out.extend(
                parts
                    .into_iter()
                    .map(|l| l[..l.len().min(MAX_LINE)].to_vec()),
            );
        }
        out
    }
}

fn show(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(&l[..l.len().min(8)]).into_owned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn delivered_lines_equal_written_lines(actions in prop::collection::vec(action(), 1..40)) {
        let mut m = Model::new();
        for a in &actions {
            m.apply(a);
        }
        m.apply(&Action::Poll);
        let want = m.expected();
        prop_assert!(
            m.delivered == want,
            "delivered {:?}\nexpected  {:?}\ngens {:?}",
            show(&m.delivered),
            show(&want),
            m.gens.iter().map(|g| (g.fate, g.end, g.content.len())).collect::<Vec<_>>()
        );
    }
}
