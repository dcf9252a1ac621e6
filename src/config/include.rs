//! `include:` in the main config file: more files whose `inputs.tail`, `outputs`,
//! `storage.schemas`, `parser_dirs` and `dashboard_dirs` join the main file's, as collectd's
//! `Include "/etc/collectd.d/*.conf"` or Prometheus' `scrape_config_files` do. Each entry is a
//! file, a directory (its `*.yaml` files) or a glob in the file name (`conf.d/*.yaml`); relative
//! paths are relative to the including file's directory. Files are read in name order; a glob or
//! directory that matches nothing is fine (an empty conf.d), a named file that is missing is an
//! error. Included files get `${VAR}` substitution too, cannot include further, and hold only
//! the keys above (anything else is an unknown key at its place). Lists are appended after the
//! main file's, except schemas, which go before them (first match wins, so a conf.d file can
//! add a schema in front of the main file's catch-all). Every element remembers its file
//! ([`Origins`]), so a problem in it, and a duplicate across files, is reported at its own
//! file:line:col.

use super::outputs::OutputFile;
use super::{File, Problem, SchemaFile, TailFile};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

/// Which file each element of the merged lists came from (empty: all from the main file).
#[derive(Debug, Default)]
pub struct Origins {
    pub schemas: Vec<PathBuf>,
    pub tail: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
}

/// Entry `i` of a merged list came from this file (the main file when not recorded).
pub fn origin<'a>(list: &'a [PathBuf], i: usize, main: Option<&'a Path>) -> Option<&'a Path> {
    list.get(i).map(PathBuf::as_path).or(main)
}

/// `include:` as one path or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Entries {
    One(String),
    Many(Vec<String>),
}

/// What an included file may hold.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Included {
    #[serde(default)]
    inputs: IncludedInputs,
    #[serde(default)]
    storage: IncludedStorage,
    outputs: Option<Vec<OutputFile>>,
    parser_dirs: Option<Vec<String>>,
    dashboard_dirs: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IncludedInputs {
    tail: Option<Vec<TailFile>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IncludedStorage {
    schemas: Option<Vec<SchemaFile>>,
}

/// `${VAR}` substitution, then YAML; an empty file is all defaults.
pub fn read<T: for<'de> Deserialize<'de> + Default>(
    text: &str,
    path: &Path,
) -> Result<T, Vec<Problem>> {
    let text = super::env::expand(text, path, |name| std::env::var(name).ok())?;
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_saphyr::from_str(&text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        vec![Problem {
            file: path.to_path_buf(),
            line,
            column,
            message: e.to_string(),
        }]
    })
}

/// Reads every file `main`'s `include:` names and merges it in.
pub fn resolve(main: &mut File, path: &Path) -> Result<(), Vec<Problem>> {
    let Some(include) = main.include.take() else {
        return Ok(());
    };
    let entries = match &include.value {
        Entries::One(e) => std::slice::from_ref(e),
        Entries::Many(list) => &list[..],
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for e in entries {
        match expand(base, e) {
            Ok(list) => files.extend(list),
            Err(message) => problems.push(at(path, &include, message)),
        }
    }
    let own = |n: Option<usize>| vec![path.to_path_buf(); n.unwrap_or(0)];
    main.origins = Origins {
        schemas: own(main.storage.schemas.as_ref().map(Vec::len)),
        tail: own(main.inputs.tail.as_ref().map(Vec::len)),
        outputs: own(main.outputs.as_ref().map(Vec::len)),
    };
    let mut schemas: Vec<(PathBuf, SchemaFile)> = Vec::new();
    for file in files.iter().filter(|f| f.as_path() != path) {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem {
                    file: path.to_path_buf(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read included file {}: {e}", file.display()),
                });
                continue;
            }
        };
        let inc: Included = match read(&text, file) {
            Ok(i) => i,
            Err(p) => {
                problems.extend(p);
                continue;
            }
        };
        for s in inc.storage.schemas.into_iter().flatten() {
            schemas.push((file.clone(), s));
        }
        append(
            &mut main.inputs.tail,
            &mut main.origins.tail,
            inc.inputs.tail,
            file,
        );
        append(
            &mut main.outputs,
            &mut main.origins.outputs,
            inc.outputs,
            file,
        );
        if let Some(dirs) = inc.parser_dirs {
            let list = main.parser_dirs.get_or_insert_with(|| {
                super::DEFAULT_PARSER_DIRS
                    .iter()
                    .map(|d| d.to_string())
                    .collect()
            });
            list.extend(dirs);
        }
        if let Some(dirs) = inc.dashboard_dirs {
            let list = main.dashboard_dirs.get_or_insert_with(|| {
                crate::dashboard::DEFAULT_DIRS
                    .iter()
                    .map(|d| d.to_string())
                    .collect()
            });
            list.extend(dirs);
        }
    }
    if !schemas.is_empty() {
        let own = main.storage.schemas.take();
        main.default_schema_last = own.is_none();
        let own = own.unwrap_or_default();
        let mut origins: Vec<PathBuf> = schemas.iter().map(|s| s.0.clone()).collect();
        origins.append(&mut main.origins.schemas);
        main.origins.schemas = origins;
        let mut list: Vec<SchemaFile> = schemas.into_iter().map(|s| s.1).collect();
        list.extend(own);
        main.storage.schemas = Some(list);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn append<T>(
    list: &mut Option<Vec<T>>,
    origins: &mut Vec<PathBuf>,
    more: Option<Vec<T>>,
    file: &Path,
) {
    for item in more.into_iter().flatten() {
        list.get_or_insert_with(Vec::new).push(item);
        origins.push(file.to_path_buf());
    }
}

fn at(path: &Path, s: &Spanned<Entries>, message: String) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line: s.referenced.line(),
        column: s.referenced.column(),
        message,
    }
}

/// The files one `include:` entry names, sorted.
fn expand(base: &Path, entry: &str) -> Result<Vec<PathBuf>, String> {
    if entry.is_empty() {
        return Err("include: an empty path".into());
    }
    let path = base.join(entry);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("/"));
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        return Err(format!(
            "include {entry:?}: only the file name may hold a wildcard (conf.d/*.yaml)"
        ));
    }
    let (dir, pattern) = if name.contains(['*', '?']) {
        (dir.to_path_buf(), name)
    } else if path.is_dir() {
        (path.clone(), "*.yaml".to_string())
    } else if path.exists() {
        return Ok(vec![path]);
    } else {
        return Err(format!(
            "include {entry:?}: {} does not exist",
            path.display()
        ));
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "include {entry:?}: cannot list {}: {e}",
                dir.display()
            ));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| matches(pattern.as_bytes(), e.file_name().as_encoded_bytes()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// `*` and `?` against one file name; a leading `.` only matches a pattern that starts with one
/// (editor backups and hidden files stay out, as in the shell).
fn matches(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pat, name)
}

#[cfg(test)]
mod tests {
    use super::matches;
    use crate::config::{Config, Error, load};
    use std::path::Path;

    #[test]
    fn file_name_globs() {
        assert!(matches(b"*.yaml", b"a.yaml"));
        assert!(!matches(b"*.yaml", b"a.yaml~"));
        assert!(!matches(b"*.yaml", b".a.yaml"));
        assert!(matches(b"?0-*.yaml", b"10-web.yaml"));
        assert!(matches(b"*", b"x"));
        assert!(!matches(b"a*b", b"ac"));
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn setup(main: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Config, Error>) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "tally.yaml", main);
        for (name, text) in files {
            write(dir.path(), name, text);
        }
        let r = load(&dir.path().join("tally.yaml"));
        (dir, r)
    }

    const OUT_A: &str = "outputs:\n  - { type: carbon, name: a, destinations: ['h:1'] }\n";

    #[test]
    fn conf_d_files_merge_in_name_order() {
        let main = "include: conf.d/*.yaml\nstorage:\n  schemas:\n    - { name: all, pattern: '.*', retentions: [1m:1d] }\noutputs:\n  - { type: carbon, name: main, destinations: ['h:1'] }\n";
        let (_d, r) = setup(
            main,
            &[
                (
                    "conf.d/20-b.yaml",
                    "outputs:\n  - { type: carbon, name: b, destinations: ['h:1'] }\n",
                ),
                (
                    "conf.d/10-a.yaml",
                    "storage:\n  schemas:\n    - { name: web, pattern: '^web', retentions: [10s:1d] }\ninputs:\n  tail:\n    - { paths: [/var/log/a.log], parsers: [nginx] }\nparser_dirs: [/opt/parsers]\n",
                ),
                ("conf.d/10-a.yaml~", "not: yaml: at all"),
                ("conf.d/README", "ignored"),
            ],
        );
        let c = r.unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = c.outputs.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["main", "b"]);
        let schemas: Vec<&str> = c
            .storage
            .schemas
            .list
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(schemas, ["web", "all"], "included schemas go first");
        assert_eq!(c.tail.len(), 1);
        assert_eq!(
            c.parser_dirs.len(),
            3,
            "the defaults, then the included one"
        );
        // A directory means its *.yaml; schemas only from includes keep the default last.
        let (_d, r) = setup(
            "include: [extra]\n",
            &[(
                "extra/s.yaml",
                "storage:\n  schemas:\n    - { name: web, pattern: '^web', retentions: [10s:1d] }\n",
            )],
        );
        let c = r.unwrap_or_else(|e| panic!("{e}"));
        let schemas: Vec<&str> = c
            .storage
            .schemas
            .list
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(schemas, ["web", "default"]);
        // An empty or missing conf.d is fine.
        let (_d, r) = setup("include: /nonexistent-tally-dir/*.yaml\n", &[]);
        assert!(r.is_ok());
    }

    /// The problem is at `file:line:col`, with the message naming the other place.
    fn problem(r: Result<Config, Error>) -> (String, u64, u64, String) {
        let e = r.unwrap_err();
        let p = &e.problems()[0];
        let file = p.file.file_name().unwrap().to_string_lossy().into_owned();
        (file, p.line, p.column, p.message.clone())
    }

    #[test]
    fn duplicates_across_files_name_both_places() {
        let (d, r) = setup(
            &format!("include: conf.d\n{OUT_A}"),
            &[("conf.d/x.yaml", &format!("# another\n{OUT_A}"))],
        );
        let (file, line, col, msg) = problem(r);
        assert_eq!((file.as_str(), line, col), ("x.yaml", 3, 13), "{msg}");
        let main = d.path().join("tally.yaml");
        assert!(
            msg.contains(&format!("also at {}:3:13", main.display())),
            "{msg}"
        );
        let schema = "storage:\n  schemas:\n    - { name: s, pattern: 'a', retentions: [1m:1d] }\n";
        let (_d, r) = setup(
            "include: [a.yaml, b.yaml]\n",
            &[("a.yaml", schema), ("b.yaml", schema)],
        );
        let (file, line, _, msg) = problem(r);
        assert_eq!((file.as_str(), line), ("b.yaml", 3), "{msg}");
        assert!(
            msg.contains("two schemas are named \"s\"") && msg.contains("a.yaml:3:"),
            "{msg}"
        );
        let tail = "inputs:\n  tail:\n    - { paths: [/var/log/x.log], parsers: [p] }\n";
        let (_d, r) = setup(&format!("include: t.yaml\n{tail}"), &[("t.yaml", tail)]);
        let (file, _, _, msg) = problem(r);
        assert_eq!(file, "t.yaml");
        assert!(
            msg.contains("tailed twice") && msg.contains("tally.yaml:4:"),
            "{msg}"
        );
    }

    #[test]
    fn mistakes_in_included_files_are_at_their_place() {
        for (text, needle, line) in [
            ("outputs:\n  - { type: kafka }\n", "unknown output type", 2),
            ("http:\n  listen: 1.2.3.4:5\n", "unknown field", 1),
            (
                "outputs:\n  - { type: tally, url: '${TALLY_INCLUDE_TEST_UNSET}' }\n",
                "TALLY_INCLUDE_TEST_UNSET is not set",
                2,
            ),
            ("include: more.yaml\n", "unknown field", 1),
        ] {
            let (_d, r) = setup("include: inc.yaml\n", &[("inc.yaml", text)]);
            let (file, l, _, msg) = problem(r);
            assert_eq!((file.as_str(), l), ("inc.yaml", line), "{text}: {msg}");
            assert!(msg.contains(needle), "{text}: {msg}");
        }
        // ${VAR} is replaced in included files as in the main one.
        let (_d, r) = setup(
            "include: inc.yaml\n",
            &[(
                "inc.yaml",
                "outputs:\n  - { type: carbon, name: '${TALLY_INCLUDE_TEST_UNSET:-fromenv}', destinations: ['h:1'] }\n",
            )],
        );
        assert_eq!(r.unwrap().outputs[0].name(), "fromenv");
        // A named file that is missing is an error at the include line of the main file.
        let (_d, r) = setup("data_dir: /tmp/x\ninclude: [nope.yaml]\n", &[]);
        let (file, line, _, msg) = problem(r);
        assert_eq!((file.as_str(), line), ("tally.yaml", 2));
        assert!(msg.contains("does not exist"), "{msg}");
    }
}
