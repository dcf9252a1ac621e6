//! Filesystem labels for `diskspace`, keyed by device number, so that a filesystem gets the same
//! name in a manual `tally collect` and under the hardened unit (`PrivateDevices=yes` gives the
//! service a private `/dev` without `/dev/disk/by-label` or the block devices themselves).
//!
//! Labels come from udev's database (`/run/udev/data/b<major>:<minor>`, visible under the unit):
//! `ID_FS_LABEL_ENC` of a record whose `ID_FS_USAGE` is `filesystem` or `other` — exactly what
//! udev names the `/dev/disk/by-label` link after, so the names are Diamond's. A directory of
//! by-label symlinks (the old `labels_dir` default) is still read where it exists.
//!
//! The device number of a mount is its `st_dev` (never a look-up in `/dev`); where that is an
//! anonymous device (major 0: btrfs), it comes from `/sys/class/block/<name>/dev` for the device
//! `/proc/mounts` names (`/dev/mapper/<name>` through `/sys/class/block/dm-*/dm/name`).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A device number as (major, minor).
pub(super) type Dev = (u32, u32);

/// Label of each device with one, from a udev database or a by-label directory `dir`, as the
/// node `diskspace` publishes it: a `/` in a label is `_` (a `/` in a Graphite name is a
/// directory to carbon; Diamond, looking up the decoded name as a path, never finds such a
/// label and falls back to the mount point).
pub(super) fn read(dir: &Path) -> HashMap<Dev, String> {
    let mut labels = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return labels;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(dev) = name.strip_prefix('b').and_then(parse_dev) {
            if let Some(label) = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|r| udev_label(&r))
            {
                labels.insert(dev, label.replace('/', "_"));
            }
        } else if let Ok(meta) = std::fs::metadata(entry.path()) {
            // A by-label link: the device it points at.
            if meta.rdev() != 0 {
                labels.insert(split(meta.rdev()), decode(&name).replace('/', "_"));
            }
        }
    }
    labels
}

/// The label a udev record gives the by-label link, decoded (`\x2f` is `/`).
pub(super) fn udev_label(record: &str) -> Option<String> {
    let value = |key: &str| {
        record
            .lines()
            .find_map(|l| l.strip_prefix("E:")?.strip_prefix(key)?.strip_prefix('='))
    };
    let usage = value("ID_FS_USAGE")?;
    if usage != "filesystem" && usage != "other" {
        return None;
    }
    value("ID_FS_LABEL_ENC")
        .filter(|l| !l.is_empty())
        .map(decode)
}

/// The device number of the filesystem mounted from `device` whose mount point has `st_dev`.
pub(super) fn device_number(device: &str, st_dev: u64, sys_block: &Path) -> Option<Dev> {
    let dev = split(st_dev);
    if dev.0 != 0 {
        return Some(dev);
    }
    let name = device.strip_prefix("/dev/")?;
    let kernel_name = match name.strip_prefix("mapper/") {
        Some(dm) => mapper_name(dm, sys_block)?,
        None => name.rsplit('/').next()?.to_string(),
    };
    let text = std::fs::read_to_string(sys_block.join(kernel_name).join("dev")).ok()?;
    parse_dev(text.trim())
}

/// The `dm-N` whose device-mapper name is `name`.
fn mapper_name(name: &str, sys_block: &Path) -> Option<String> {
    std::fs::read_dir(sys_block).ok()?.flatten().find_map(|e| {
        let dm = std::fs::read_to_string(e.path().join("dm/name")).ok()?;
        (dm.trim() == name).then(|| e.file_name().to_string_lossy().into_owned())
    })
}

fn parse_dev(s: &str) -> Option<Dev> {
    let (major, minor) = s.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn split(dev: u64) -> Dev {
    (libc::major(dev), libc::minor(dev))
}

/// udev's encoding of a label in a link name: `\x2f` for `/` (the rest stays as it is, as the
/// by-label names always were).
fn decode(enc: &str) -> String {
    enc.replace("\\x2f", "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udev_records() {
        let rec = "S:disk/by-label/data\nE:ID_FS_USAGE=filesystem\nE:ID_FS_LABEL=a/b\n\
                   E:ID_FS_LABEL_ENC=a\\x2fb\nG:systemd\n";
        assert_eq!(udev_label(rec).as_deref(), Some("a/b"));
        // Swap and RAID members have labels but no by-label link.
        let swap = "E:ID_FS_USAGE=other\nE:ID_FS_LABEL_ENC=swap\n";
        assert_eq!(udev_label(swap).as_deref(), Some("swap"));
        let raid = "E:ID_FS_USAGE=raid\nE:ID_FS_LABEL_ENC=md0\n";
        assert_eq!(udev_label(raid), None);
        assert_eq!(udev_label("E:ID_FS_USAGE=filesystem\n"), None);
        assert_eq!(
            udev_label("E:ID_FS_USAGE=filesystem\nE:ID_FS_LABEL_ENC=\n"),
            None
        );
    }

    /// A udev database directory: records by device number; other files are ignored.
    #[test]
    fn read_udev_database() {
        let dir = tempfile::tempdir().unwrap();
        let rec = "E:ID_FS_USAGE=filesystem\nE:ID_FS_LABEL_ENC=rootfs\n";
        std::fs::write(dir.path().join("b254:1"), rec).unwrap();
        std::fs::write(dir.path().join("b8:0"), "E:ID_PART_TABLE_TYPE=gpt\n").unwrap();
        std::fs::write(dir.path().join("n3"), rec).unwrap();
        let slash = "E:ID_FS_USAGE=filesystem\nE:ID_FS_LABEL_ENC=data\\x2fpart\n";
        std::fs::write(dir.path().join("b254:2"), slash).unwrap();
        let labels = read(dir.path());
        assert_eq!(labels.len(), 2, "{labels:?}");
        assert_eq!(labels[&(254, 1)], "rootfs");
        // `data/part` is published as one node.
        assert_eq!(labels[&(254, 2)], "data_part");
        // A by-label directory: links named as udev names them (here to /dev/null, (1, 3)).
        let links = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/null", links.path().join("a\\x2fb")).unwrap();
        assert_eq!(read(links.path())[&(1, 3)], "a_b");
        assert!(read(&dir.path().join("missing")).is_empty());
    }

    /// A real st_dev is the answer; an anonymous one (btrfs) is looked up in sysfs by the
    /// device's kernel name, device-mapper names through `dm/name`.
    #[test]
    fn device_numbers() {
        let sys = tempfile::tempdir().unwrap();
        let block = |name: &str, dev: &str| {
            std::fs::create_dir_all(sys.path().join(name).join("dm")).unwrap();
            std::fs::write(sys.path().join(name).join("dev"), format!("{dev}\n")).unwrap();
        };
        block("vdb1", "252:17");
        block("dm-3", "253:3");
        std::fs::write(sys.path().join("dm-3/dm/name"), "vg-home\n").unwrap();
        let real = libc::makedev(8, 1);
        let anon = libc::makedev(0, 52);
        assert_eq!(device_number("/dev/x", real, sys.path()), Some((8, 1)));
        assert_eq!(
            device_number("/dev/vdb1", anon, sys.path()),
            Some((252, 17))
        );
        assert_eq!(
            device_number("/dev/mapper/vg-home", anon, sys.path()),
            Some((253, 3))
        );
        assert_eq!(device_number("/dev/nosuch", anon, sys.path()), None);
        assert_eq!(device_number("server:/export", anon, sys.path()), None);
    }
}
