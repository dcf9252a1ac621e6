//! `diskspace` — Diamond's DiskSpaceCollector: the filesystems of `/proc/mounts` whose type is in
//! `filesystems`, whose mount point matches no `exclude_filters` regex, whose device contains `/`
//! or `:` (or is `tmpfs`) and whose mount point is absolute; de-duplicated by `st_dev` (the first
//! mount of a device wins). Per filesystem, from `statvfs(2)`, for each unit:
//! `<unit>_percentfree` = f_bfree / f_blocks × 100, `<unit>_used` = (f_blocks − f_bfree) ×
//! f_frsize, `<unit>_free` = f_bfree × f_frsize, `<unit>_avail` = f_bavail × f_frsize; and
//! `inodes_percentfree` (when there are inodes), `inodes_used`, `inodes_free`, `inodes_avail`.
//! Named by the filesystem label if any (`labels`: udev's database, keyed by device number, so the
//! name is the same under `PrivateDevices=yes`), else by the mount point with `/` and
//! `.` turned into `_` (`/` → `root`, `/tmp` → `tmp`, `/var/log` → `_var_log`). A mount point that
//! cannot be stat-ed (unmounted since, or a dead network mount) is skipped, as Diamond does.
//!
//! Differences: octal escapes in `/proc/mounts` (`\040` for a space) are decoded, so such mount
//! points are measured (Diamond fails to stat them); characters a series name cannot hold become
//! `_`.
//!
//! Each mount point is measured on a thread of its own with a deadline (`probe.rs`): a hung
//! network filesystem is left out and counted in `tally.collect.diskspace.timeouts`, and the
//! other collectors go on.

mod probe;

use super::{DiskSpaceOptions, Emitter, Error, Unit, labels, node, read_into, regex, series};
use crate::metric::Series;
use probe::{Answer, Measure, Prober};
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where a device's number is found when a mount's `st_dev` is anonymous (btrfs).
const SYS_BLOCK: &str = "/sys/class/block";

pub(super) struct DiskSpace {
    path: PathBuf,
    filesystems: Vec<String>,
    exclude: Option<Regex>,
    units: Vec<Unit>,
    labels_dir: Option<PathBuf>,
    mount_root: Option<PathBuf>,
    buf: String,
    prober: Prober,
    timeouts: Series,
}

/// A mount `/proc/mounts` lists that passes the filters.
struct Mount {
    device: String,
    mount: String,
    target: PathBuf,
}

/// What `statvfs(2)` says, in the widths Diamond's maths needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Space {
    pub frsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub favail: u64,
}

impl DiskSpace {
    pub(super) fn new(root: &Path, opts: &DiskSpaceOptions) -> Result<DiskSpace, Error> {
        Self::with_measure(root, opts, Arc::new(probe::measure), probe::DEADLINE)
    }

    /// Measures mount points with `measure`, waiting `deadline` for a round's answers.
    fn with_measure(
        root: &Path,
        opts: &DiskSpaceOptions,
        measure: Measure,
        deadline: Duration,
    ) -> Result<DiskSpace, Error> {
        let exclude = if opts.exclude_filters.is_empty() {
            None
        } else {
            Some(regex(
                &opts.exclude_filters.join("|"),
                "diskspace.exclude_filters",
            )?)
        };
        Ok(DiskSpace {
            path: root.join("mounts"),
            filesystems: opts
                .filesystems
                .iter()
                .map(|f| f.trim().to_string())
                .collect(),
            exclude,
            units: Unit::parse_all(&opts.byte_units, "diskspace.byte_units")?,
            labels_dir: opts.labels_dir.clone(),
            mount_root: opts.mount_root.clone(),
            buf: String::new(),
            prober: Prober::new(measure, deadline),
            timeouts: series("tally.collect.diskspace.timeouts"),
        })
    }

    pub(super) fn set_root(&mut self, root: &Path) {
        self.path = root.join("mounts");
    }

    pub(super) fn collect(&mut self, em: &mut Emitter<'_>) -> Result<(), Error> {
        read_into(&self.path, &mut self.buf)?;
        let labels = match &self.labels_dir {
            Some(dir) => labels::read(dir),
            None => HashMap::new(),
        };
        let mounts = self.mounts();
        let targets: Vec<PathBuf> = mounts.iter().map(|m| m.target.clone()).collect();
        let answers = self.prober.round(&targets);
        let (mut seen, mut timeouts, mut failed) = (HashSet::new(), 0, None);
        for (m, answer) in mounts.into_iter().zip(answers) {
            let measured = match answer {
                Answer::Got(Ok(measured)) => measured,
                Answer::Got(Err(_)) => continue,
                Answer::TimedOut => {
                    timeouts += 1;
                    continue;
                }
                Answer::NoThread(source) => {
                    failed = Some(Error::Read {
                        path: m.target,
                        source,
                    });
                    continue;
                }
            };
            if !seen.insert(measured.dev) {
                continue;
            }
            let Some(space) = measured.space else {
                continue;
            };
            let dev = labels::device_number(&m.device, measured.dev, Path::new(SYS_BLOCK));
            let name = match dev.and_then(|d| labels.get(&d)) {
                Some(label) => label.clone(),
                None => mount_name(&m.mount),
            };
            publish(em, &node(&name), &space, &self.units);
        }
        if timeouts > 0 {
            em.own_counter(&self.timeouts, f64::from(timeouts));
        }
        failed.map_or(Ok(()), Err)
    }

    /// The mounts of `/proc/mounts` (read into `buf`) that pass the filters, in its order.
    fn mounts(&self) -> Vec<Mount> {
        let mut mounts = Vec::new();
        for line in self.buf.lines() {
            let mut fields = line.split_ascii_whitespace();
            let (Some(device), Some(mount), Some(fs_type)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if !self.filesystems.iter().any(|f| f == fs_type) {
                continue;
            }
            let mount = unescape(mount);
            if self.exclude.as_ref().is_some_and(|re| re.is_match(&mount)) {
                continue;
            }
            let device = unescape(device);
            if !(device.contains('/') || device.contains(':') || device == "tmpfs")
                || !mount.starts_with('/')
            {
                continue;
            }
            let target = match &self.mount_root {
                Some(root) => root.join(mount.trim_start_matches('/')),
                None => PathBuf::from(&mount),
            };
            mounts.push(Mount {
                device,
                mount,
                target,
            });
        }
        mounts
    }
}

pub(super) fn publish(em: &mut Emitter<'_>, name: &str, s: &Space, units: &[Unit]) {
    let percent_free = if s.blocks == 0 {
        0.0
    } else {
        s.bfree as f64 / s.blocks as f64 * 100.0
    };
    let bytes = |blocks: u64| s.frsize as f64 * blocks as f64;
    for unit in units {
        let u = &unit.name;
        em.gauge(&[name, &format!("{u}_percentfree")], percent_free);
        let used = bytes(s.blocks.saturating_sub(s.bfree));
        em.gauge(&[name, &format!("{u}_used")], unit.convert_bytes(used));
        em.gauge(
            &[name, &format!("{u}_free")],
            unit.convert_bytes(bytes(s.bfree)),
        );
        em.gauge(
            &[name, &format!("{u}_avail")],
            unit.convert_bytes(bytes(s.bavail)),
        );
    }
    if s.files > 0 {
        let free = s.ffree as f64 / s.files as f64 * 100.0;
        em.gauge(&[name, "inodes_percentfree"], free);
    }
    em.gauge(
        &[name, "inodes_used"],
        s.files.saturating_sub(s.ffree) as f64,
    );
    em.gauge(&[name, "inodes_free"], s.ffree as f64);
    em.gauge(&[name, "inodes_avail"], s.favail as f64);
}

/// Diamond's name for a mount point: `/` and `.` become `_`, `\` is dropped; `_` is `root` and
/// `_tmp` is `tmp`.
pub(super) fn mount_name(mount: &str) -> String {
    let name: String = mount
        .chars()
        .filter(|&c| c != '\\')
        .map(|c| if c == '/' || c == '.' { '_' } else { c })
        .collect();
    match name.as_str() {
        "_" => "root".to_string(),
        "_tmp" => "tmp".to_string(),
        _ => name,
    }
}

/// Decodes the octal escapes the kernel writes in `/proc/mounts` (`\040` space, `\011` tab,
/// `\012` newline, `\134` backslash).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{emit, errors, run_two, values};
    use super::super::{DiskSpaceOptions, Settings, Unit};
    use super::probe::{Measure, Measured};
    use super::{DiskSpace, Space, mount_name, unescape};
    use crate::metric::Kind;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// Diamond's own test: statvfs frsize 4096, blocks 360540255, bfree 285953527, bavail
    /// 267639130, files 91578368, ffree = favail 91229495, in gigabytes: used 284.525, free
    /// 1090.826, avail 1020.962, inodes_used 348873, inodes_free 91229495 (worked by hand:
    /// (360540255 − 285953527) × 4096 / 2^30 = 284.5255…).
    #[test]
    fn diamond_maths() {
        let space = Space {
            frsize: 4096,
            blocks: 360540255,
            bfree: 285953527,
            bavail: 267639130,
            files: 91578368,
            ffree: 91229495,
            favail: 91229495,
        };
        let units = vec![Unit::parse("gigabyte", "test").unwrap()];
        let v = values(&emit("diskspace", |em| {
            super::publish(em, "root", &space, &units)
        }));
        let g = |k: &str| v[&format!("servers.localhost.diskspace.root.{k}")];
        assert!((g("gigabyte_used") - 284.525).abs() < 0.001);
        assert!((g("gigabyte_free") - 1090.826).abs() < 0.001);
        assert!((g("gigabyte_avail") - 1020.962).abs() < 0.001);
        assert!((g("gigabyte_percentfree") - 79.3125).abs() < 0.0001);
        assert_eq!(g("inodes_used"), 348873.0);
        assert_eq!(g("inodes_free"), 91229495.0);
        assert_eq!(g("inodes_avail"), 91229495.0);
        assert!((g("inodes_percentfree") - 99.61904).abs() < 0.00001);
    }

    #[test]
    fn names() {
        assert_eq!(mount_name("/"), "root");
        assert_eq!(mount_name("/tmp"), "tmp");
        assert_eq!(mount_name("/var/log"), "_var_log");
        assert_eq!(mount_name("/srv/a.b"), "_srv_a_b");
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("/plain"), "/plain");
    }

    /// t0/mounts is a fake: `/` (ext4, measured), `/.` (the same st_dev, skipped), /dev/shm
    /// (tmpfs, not in the default types), /no/such/mount (does not exist: an unmounted
    /// filesystem, skipped without an error), /export/home/alice (excluded by the default
    /// filter), /nodev (a device without `/`). Only `root` is published, and its numbers agree
    /// with what `df` says about `/` (sizes exactly; used and free within what other tests write
    /// meanwhile).
    #[test]
    fn fixture_mounts_against_df() {
        let s = Settings {
            collectors: vec!["diskspace".into()],
            diskspace: DiskSpaceOptions {
                labels_dir: None,
                ..DiskSpaceOptions::default()
            },
            ..Settings::default()
        };
        let obs = run_two(s, "t0", None);
        assert!(errors(&obs).is_empty());
        let v = values(&obs);
        let mut nodes: Vec<&str> = v.keys().map(|k| k.split('.').nth(3).unwrap()).collect();
        nodes.dedup();
        assert_eq!(nodes, ["root"]);
        assert_eq!(v.len(), 8);
        let g = |k: &str| v[&format!("servers.localhost.diskspace.root.{k}")];

        let df = Command::new("df")
            .args(["-B1", "--output=size,used,itotal,iused", "/"])
            .output()
            .expect("df runs");
        let text = String::from_utf8(df.stdout).unwrap();
        let n: Vec<f64> = text
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        let (size, used, itotal, iused) = (n[0], n[1], n[2], n[3]);
        // df's size is f_blocks × f_frsize: used + free must add up to it exactly.
        assert_eq!(g("byte_used") + g("byte_free"), size);
        assert!(
            (g("byte_used") - used).abs() < 2e9,
            "{} vs df {used}",
            g("byte_used")
        );
        assert!((g("byte_percentfree") - g("byte_free") / size * 100.0).abs() < 1e-9);
        // f_files is fixed on ext4 but grows and shrinks on xfs and btrfs.
        assert!((g("inodes_used") + g("inodes_free") - itotal).abs() <= itotal * 0.01);
        assert!((g("inodes_used") - iused).abs() < 100_000.0);
    }

    /// In a container watching its host: the host's mount table names `/srv/data`, which exists
    /// only under `mount_root` (where the host's `/` is mounted). Without `mount_root` the mount
    /// point is not found here and nothing is published; with it, the filesystem under
    /// `mount_root` is measured (its size agrees with `df` on that directory).
    #[test]
    fn mount_root_finds_the_hosts_mount_points() {
        let proc_root = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(host.path().join("srv/data")).unwrap();
        let fs_type = String::from_utf8(
            Command::new("stat")
                .args(["-f", "-c", "%T"])
                .arg(host.path())
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        // stat says ext2/ext3 for ext4; take what the default list accepts.
        let fs_type = match fs_type.trim() {
            "ext2/ext3" => "ext4",
            other => other,
        };
        std::fs::write(
            proc_root.path().join("mounts"),
            format!("/dev/vdq /srv/data {fs_type} rw 0 0\n"),
        )
        .unwrap();
        let settings = |mount_root: Option<&std::path::Path>| Settings {
            proc_root: proc_root.path().to_path_buf(),
            collectors: vec!["diskspace".into()],
            diskspace: DiskSpaceOptions {
                labels_dir: None,
                filesystems: vec![fs_type.to_string()],
                mount_root: mount_root.map(|p| p.to_path_buf()),
                ..DiskSpaceOptions::default()
            },
            ..Settings::default()
        };
        let mut c = super::super::Collectors::new(settings(None)).unwrap();
        let without = values(&c.collect(super::super::tests::NOW, 0.0));
        assert!(without.is_empty(), "{without:?}");

        let mut c = super::super::Collectors::new(settings(Some(host.path()))).unwrap();
        let v = values(&c.collect(super::super::tests::NOW, 0.0));
        assert_eq!(v.len(), 8, "{v:?}");
        let df = Command::new("df")
            .args(["-B1", "--output=size"])
            .arg(host.path().join("srv/data"))
            .output()
            .unwrap();
        let size: f64 = String::from_utf8(df.stdout)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let g = |k: &str| v[&format!("servers.localhost.diskspace._srv_data.{k}")];
        assert_eq!(g("byte_used") + g("byte_free"), size);
    }

    /// One hung mount (its stat/statvfs blocks until the test lets it go) holds up neither the
    /// round nor the other mounts: the round ends at the deadline with the others published and
    /// the hung one counted in `tally.collect.diskspace.timeouts`; the next round does not ask it
    /// again while its call is stuck (no second thread) and counts it again; once the call
    /// returns, the mount is measured and published again.
    #[test]
    fn a_hung_mount_is_left_out_and_counted_without_holding_up_the_others() {
        let proc_root = tempfile::tempdir().unwrap();
        std::fs::write(
            proc_root.path().join("mounts"),
            "/dev/vda /a ext4 rw 0 0\n/dev/vdh /hung nfs4 rw 0 0\nsrv:/b /b nfs rw 0 0\n",
        )
        .unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Mutex::new(Vec::<PathBuf>::new()));
        let measure: Measure = {
            let (release, calls) = (release.clone(), calls.clone());
            Arc::new(move |path: &Path| {
                calls.lock().unwrap().push(path.to_owned());
                let started = Instant::now();
                while path == Path::new("/hung")
                    && !release.load(SeqCst)
                    && started.elapsed() < Duration::from_secs(120)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let space = Space {
                    frsize: 4096,
                    blocks: 1000,
                    bfree: 250,
                    bavail: 200,
                    files: 100,
                    ffree: 40,
                    favail: 40,
                };
                // A device per mount point: `/a`, `/b` and `/hung` are three filesystems.
                let dev = u64::from(*path.as_os_str().as_encoded_bytes().last().unwrap());
                Ok(Measured {
                    dev,
                    space: Some(space),
                })
            })
        };
        let opts = DiskSpaceOptions {
            labels_dir: None,
            ..DiskSpaceOptions::default()
        };
        // Long enough for a thread to start and answer on a loaded machine: only the hung
        // mount ever waits it out.
        let deadline = Duration::from_secs(2);
        let mut d = DiskSpace::with_measure(proc_root.path(), &opts, measure, deadline).unwrap();
        let hung_calls = || {
            calls
                .lock()
                .unwrap()
                .iter()
                .filter(|p| *p == Path::new("/hung"))
                .count()
        };
        let timeouts = |obs: &[crate::metric::Observation]| -> Vec<(Kind, f64)> {
            obs.iter()
                .filter(|o| o.series.as_str() == "tally.collect.diskspace.timeouts")
                .map(|o| (o.kind, o.value))
                .collect()
        };
        let nodes = |obs: &[crate::metric::Observation]| -> Vec<String> {
            let mut n: Vec<String> = values(obs)
                .keys()
                .map(|k| k.split('.').nth(3).unwrap().to_string())
                .collect();
            n.dedup();
            n
        };

        let first = emit("diskspace", |em| d.collect(em).unwrap());
        assert!(
            !release.load(SeqCst) && hung_calls() == 1,
            "the round ended while /hung hung"
        );
        assert_eq!(nodes(&first), ["_a", "_b"]);
        let v = values(&first);
        assert_eq!(
            v["servers.localhost.diskspace._b.byte_used"],
            750.0 * 4096.0
        );
        assert_eq!(v["servers.localhost.diskspace._a.inodes_free"], 40.0);
        assert_eq!(timeouts(&first), [(Kind::Counter, 1.0)]);

        let second = emit("diskspace", |em| d.collect(em).unwrap());
        assert_eq!(hung_calls(), 1, "a stuck mount is not asked again");
        assert_eq!(nodes(&second), ["_a", "_b"]);
        assert_eq!(timeouts(&second), [(Kind::Counter, 1.0)]);

        release.store(true, SeqCst);
        let started = Instant::now();
        let back = loop {
            let obs = emit("diskspace", |em| d.collect(em).unwrap());
            if nodes(&obs) == ["_a", "_b", "_hung"] {
                break obs;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "/hung never came back"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(timeouts(&back).is_empty());
        assert!(hung_calls() >= 2);
    }
}

#[cfg(test)]
mod label_tests {
    use super::super::tests::{NOW, values};
    use super::super::{Collectors, DiskSpaceOptions, Settings};
    use std::os::unix::fs::MetadataExt;

    /// As under `PrivateDevices=yes`: the mounted device (`/dev/vdq9`) does not exist in `/dev`
    /// and there is no by-label directory, but udev's record for the mount's device number
    /// labels it `scratch`: the filesystem is named `scratch`, as a manual run with
    /// `/dev/disk/by-label/scratch` would name it. Without a record it is named by mount point.
    #[test]
    fn label_from_udev_without_dev() {
        let proc_root = tempfile::tempdir().unwrap();
        let udev = tempfile::tempdir().unwrap();
        let mount = tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).unwrap();
        let mount_path = mount.path().to_str().unwrap().to_string();
        let fs_type = "ext4";
        std::fs::write(
            proc_root.path().join("mounts"),
            format!("/dev/vdq9 {mount_path} {fs_type} rw 0 0\n"),
        )
        .unwrap();
        let dev = std::fs::metadata(mount.path()).unwrap().dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let settings = || Settings {
            proc_root: proc_root.path().to_path_buf(),
            collectors: vec!["diskspace".into()],
            diskspace: DiskSpaceOptions {
                labels_dir: Some(udev.path().to_path_buf()),
                filesystems: vec![fs_type.into(), "btrfs".into(), "xfs".into()],
                ..DiskSpaceOptions::default()
            },
            ..Settings::default()
        };
        let nodes = || {
            let v = values(&Collectors::new(settings()).unwrap().collect(NOW, 0.0));
            let mut n: Vec<String> = v
                .keys()
                .map(|k| k.split('.').nth(3).unwrap().into())
                .collect();
            n.dedup();
            n
        };
        assert_eq!(
            nodes(),
            [super::node(&super::mount_name(&mount_path)).to_string()]
        );
        std::fs::write(
            udev.path().join(format!("b{major}:{minor}")),
            "S:disk/by-label/scratch\nE:ID_FS_USAGE=filesystem\nE:ID_FS_LABEL_ENC=scratch\n",
        )
        .unwrap();
        // An anonymous device number (overlayfs, btrfs) is looked up in sysfs by the device's
        // name, and /dev/vdq9 is in no sysfs: the name stays the mount point's.
        let want = if major != 0 {
            "scratch".to_string()
        } else {
            super::node(&super::mount_name(&mount_path)).to_string()
        };
        assert_eq!(nodes(), [want]);
    }
}
