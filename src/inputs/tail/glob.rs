//! Path patterns: an absolute path whose components may hold `*`, `?` and `[..]` (`[!..]` or
//! `[^..]` negates, `a-z` ranges). A wildcard never matches `/`, and matches a leading `.` only
//! when the pattern component itself starts with `.` (as the shell does), so `*.log` does not
//! pick up hidden files.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// One configured path or glob, split into components.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The components after the root, each either literal or a glob.
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(Vec<u8>),
    Glob(Vec<u8>),
}

/// What one expansion found: the matching files and every directory it listed or would list
/// (the directories to watch).
#[derive(Debug, Default)]
pub struct Expansion {
    pub files: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
    /// Matching paths that cannot be tailed (a directory, a FIFO, a symlink loop …), why.
    pub unusable: Vec<(PathBuf, String)>,
}

/// Stops a pattern like `/*/*/*/*` from walking a whole filesystem.
const MAX_DIRS_PER_PATTERN: usize = 4096;

impl Pattern {
    /// `None` for a relative path or one with `..`.
    pub fn new(path: &str) -> Option<Pattern> {
        let path = Path::new(path);
        if !path.is_absolute() {
            return None;
        }
        let mut parts = Vec::new();
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(s) => {
                    let b = s.as_bytes().to_vec();
                    if b.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                        parts.push(Part::Glob(b));
                    } else {
                        parts.push(Part::Literal(b));
                    }
                }
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        (!parts.is_empty()).then_some(Pattern { parts })
    }

    /// Whether `path` (absolute, normalised) is one this pattern names.
    pub fn matches(&self, path: &Path) -> bool {
        let mut comps = path.components().filter_map(|c| match c {
            Component::Normal(s) => Some(s.as_bytes()),
            _ => None,
        });
        for part in &self.parts {
            let Some(name) = comps.next() else {
                return false;
            };
            let ok = match part {
                Part::Literal(l) => l == name,
                Part::Glob(g) => component_matches(g, name),
            };
            if !ok {
                return false;
            }
        }
        comps.next().is_none()
    }

    /// Whether `dir` is a directory this pattern lists (a parent of a possible match).
    pub fn lists_dir(&self, dir: &Path) -> bool {
        let comps: Vec<&[u8]> = dir
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.as_bytes()),
                _ => None,
            })
            .collect();
        if comps.len() >= self.parts.len() {
            return false;
        }
        comps
            .iter()
            .zip(&self.parts)
            .all(|(name, part)| match part {
                Part::Literal(l) => l == name,
                Part::Glob(g) => component_matches(g, name),
            })
    }

    /// Whether any directory component is a glob (new directories can bring new matches).
    pub fn has_dir_glob(&self) -> bool {
        self.parts[..self.parts.len() - 1]
            .iter()
            .any(|p| matches!(p, Part::Glob(_)))
    }

    /// Walks the filesystem for regular files (symlinks followed) that match.
    pub fn expand(&self, out: &mut Expansion) {
        let mut dirs = vec![PathBuf::from("/")];
        let last = self.parts.len() - 1;
        for (i, part) in self.parts.iter().enumerate() {
            let mut next = Vec::new();
            for dir in &dirs {
                if i == last {
                    out.dirs.push(dir.clone());
                }
                match part {
                    Part::Literal(l) => next.push(dir.join(OsStr::from_bytes(l))),
                    Part::Glob(g) => {
                        if i != last {
                            out.dirs.push(dir.clone());
                        }
                        let Ok(entries) = std::fs::read_dir(dir) else {
                            continue;
                        };
                        for e in entries.flatten() {
                            if component_matches(g, e.file_name().as_bytes()) {
                                next.push(e.path());
                            }
                        }
                    }
                }
                if next.len() > MAX_DIRS_PER_PATTERN {
                    break;
                }
            }
            if i == last {
                for p in next {
                    match std::fs::metadata(&p) {
                        Ok(m) if m.is_file() => out.files.push(p),
                        // A glob may well match directories; a path named outright may not.
                        Ok(m) if m.is_dir() && matches!(part, Part::Glob(_)) => {}
                        Ok(m) => out.unusable.push((p, not_a_file(&m).into())),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => out.unusable.push((p, e.to_string())),
                    }
                }
                break;
            }
            next.retain(|p| p.is_dir());
            next.sort();
            next.truncate(MAX_DIRS_PER_PATTERN);
            dirs = next;
        }
    }
}

fn not_a_file(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a directory, not a file"
    } else if t.is_fifo() {
        "a FIFO, not a file (tail reads regular files only)"
    } else if t.is_socket() {
        "a socket, not a file"
    } else {
        "a device, not a regular file"
    }
}

/// Matches one path component against one glob component.
pub fn component_matches(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => match class(&pat[p..], name[n]) {
                    Some((true, len)) => {
                        p += len;
                        n += 1;
                        continue;
                    }
                    // An unclosed `[` is a literal.
                    None if name[n] == b'[' => {
                        p += 1;
                        n += 1;
                        continue;
                    }
                    _ => {}
                },
                c if c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// `[..]` at the start of `pat`: whether `c` is in the class, and the class length. `None` if
/// the bracket is not closed.
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let &lo = pat.get(i)?;
        if lo == b']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pat[i + 2];
            found |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            found |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory, a FIFO or a symlink loop named as a tailed path is reported, not skipped
    /// in silence; a directory a glob happens to match is not.
    #[test]
    fn odd_paths_are_reported_as_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("adir")).unwrap();
        std::fs::create_dir(d.join("x.log")).unwrap();
        use rustix::fs::{CWD, FileType, Mode, mknodat};
        mknodat(
            CWD,
            d.join("fifo"),
            FileType::Fifo,
            Mode::RUSR | Mode::WUSR,
            0,
        )
        .unwrap();
        std::os::unix::fs::symlink(d.join("loop"), d.join("loop")).unwrap();
        std::fs::write(d.join("a.log"), "x\n").unwrap();
        let mut out = Expansion::default();
        for name in ["adir", "fifo", "loop", "*.log", "absent"] {
            Pattern::new(d.join(name).to_str().unwrap())
                .unwrap()
                .expand(&mut out);
        }
        let odd: Vec<String> = out
            .unusable
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(odd, ["adir", "fifo", "loop"], "{:?}", out.unusable);
        assert_eq!(out.files, [d.join("a.log")]);
    }

    #[test]
    fn components() {
        let m = |p: &str, n: &str| component_matches(p.as_bytes(), n.as_bytes());
        assert!(m("*.log", "app.log"));
        assert!(!m("*.log", "app.log.1"));
        assert!(!m("*.log", ".hidden.log"));
        assert!(m(".*.log", ".hidden.log"));
        assert!(m("app-??.log", "app-01.log"));
        assert!(!m("app-??.log", "app-1.log"));
        assert!(m("app.[0-9]", "app.7"));
        assert!(!m("app.[!0-9]", "app.7"));
        assert!(m("app.[^0-9]", "app.x"));
        assert!(m("a*b*c", "aXXbYYbc"));
        assert!(!m("a*b*c", "aXXbYYbd"));
        assert!(m("*", "x"));
        assert!(m("a[", "a["));
        assert!(m("[]]", "]"));
    }

    #[test]
    fn whole_paths() {
        let p = Pattern::new("/var/log/*/app-*.log").unwrap();
        assert!(p.matches(Path::new("/var/log/nginx/app-1.log")));
        assert!(!p.matches(Path::new("/var/log/nginx/sub/app-1.log")));
        assert!(!p.matches(Path::new("/var/log/app-1.log")));
        assert!(p.lists_dir(Path::new("/var/log/nginx")));
        assert!(p.lists_dir(Path::new("/var/log")));
        assert!(!p.lists_dir(Path::new("/var/log/nginx/sub")));
        assert!(p.has_dir_glob());
        assert!(Pattern::new("relative/x").is_none());
        assert!(Pattern::new("/a/../b").is_none());
    }

    #[test]
    fn expands_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["a", "b", ".c"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            std::fs::write(dir.path().join(d).join("x.log"), "").unwrap();
            std::fs::write(dir.path().join(d).join("x.log.1"), "").unwrap();
        }
        let p = Pattern::new(&format!("{}/*/*.log", dir.path().display())).unwrap();
        let mut e = Expansion::default();
        p.expand(&mut e);
        e.files.sort();
        assert_eq!(
            e.files,
            [dir.path().join("a/x.log"), dir.path().join("b/x.log")]
        );
        assert!(e.dirs.contains(&dir.path().to_path_buf()));
        assert!(e.dirs.contains(&dir.path().join("a")));
    }
}
