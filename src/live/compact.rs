//! The compact forms a ring keeps its data in: the slots' counts in the narrowest column that
//! holds them, and the bridge with its sketch packed.

use crate::aggregate::sketch::Sketch;
use crate::aggregate::{Bucket, Extra};

/// The slots' counts: a byte a slot up to 255 values in one, then 2 bytes, then 4 (a count
/// past `u32` in one slot, 4 billion values in 100 ms, saturates). Widened when a slot needs
/// it, narrowed again by [`Counts::narrow`] when no slot does.
pub(super) enum Counts {
    U8(Box<[u8]>),
    U16(Box<[u16]>),
    U32(Box<[u32]>),
}

impl Counts {
    pub fn new(len: usize) -> Counts {
        Counts::U8(vec![0; len].into_boxed_slice())
    }

    pub fn get(&self, at: usize) -> u32 {
        match self {
            Counts::U8(c) => u32::from(c[at]),
            Counts::U16(c) => u32::from(c[at]),
            Counts::U32(c) => c[at],
        }
    }

    pub fn set(&mut self, at: usize, count: u64) {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        loop {
            match self {
                Counts::U8(c) if count <= u32::from(u8::MAX) => c[at] = count as u8,
                Counts::U16(c) if count <= u32::from(u16::MAX) => c[at] = count as u16,
                Counts::U32(c) => c[at] = count,
                _ => {
                    self.widen();
                    continue;
                }
            }
            return;
        }
    }

    fn widen(&mut self) {
        *self = match self {
            Counts::U8(c) => Counts::U16(c.iter().map(|&n| u16::from(n)).collect()),
            Counts::U16(c) => Counts::U32(c.iter().map(|&n| u32::from(n)).collect()),
            Counts::U32(c) => Counts::U32(std::mem::take(c)),
        };
    }

    /// The narrowest column that holds every count now.
    pub fn narrow(&mut self) {
        let len = self.len();
        let max = (0..len).map(|i| self.get(i)).max().unwrap_or(0);
        let width = match max {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            _ => 4,
        };
        if width < self.width() {
            let mut narrow = Counts::new(len);
            (0..len).for_each(|i| narrow.set(i, u64::from(self.get(i))));
            *self = narrow;
        }
    }

    fn len(&self) -> usize {
        match self {
            Counts::U8(c) => c.len(),
            Counts::U16(c) => c.len(),
            Counts::U32(c) => c.len(),
        }
    }

    fn width(&self) -> usize {
        match self {
            Counts::U8(_) => 1,
            Counts::U16(_) => 2,
            Counts::U32(_) => 4,
        }
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.len() * self.width()
    }
}

/// The bridge as a ring keeps it: the five numbers, and for a timer its sketch packed (a set's
/// members are not kept: the live tier streams a set as `obvs`).
pub(super) struct Bridge {
    bucket: Bucket,
    sketch: Option<Box<[u8]>>,
}

impl Bridge {
    pub fn of_bucket(b: &Bucket) -> Bridge {
        let sketch = match &b.extra {
            Extra::Sketch(k) => Some(k.pack()),
            _ => None,
        };
        Bridge {
            bucket: plain(b),
            sketch,
        }
    }

    pub fn bucket(&self) -> Bucket {
        let mut b = plain(&self.bucket);
        if let Some(packed) = &self.sketch {
            let k = Sketch::unpack(packed).expect("packed by Sketch::pack");
            b.extra = Extra::Sketch(Box::new(k));
        }
        b
    }

    /// Heap bytes held, itself included.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Bridge>() + self.sketch.as_ref().map_or(0, |k| k.len())
    }
}

/// The five numbers of `b` (and its last time), no extra.
fn plain(b: &Bucket) -> Bucket {
    Bucket {
        count: b.count,
        sum: b.sum,
        min: b.min,
        max: b.max,
        last: b.last,
        last_time: b.last_time,
        extra: Extra::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_widen_for_a_burst_and_narrow_back() {
        let mut c = Counts::new(600);
        c.set(3, 255);
        assert_eq!((c.get(3), c.bytes()), (255, 600));
        c.set(4, 256);
        assert_eq!((c.get(3), c.get(4), c.bytes()), (255, 256, 1200));
        c.set(5, 70_000);
        assert_eq!((c.get(4), c.get(5), c.bytes()), (256, 70_000, 2400));
        c.set(6, u64::MAX);
        assert_eq!(c.get(6), u32::MAX, "saturates");
        c.narrow();
        assert_eq!(c.bytes(), 2400, "still needed");
        c.set(5, 0);
        c.set(6, 0);
        c.narrow();
        assert_eq!((c.get(3), c.get(4), c.bytes()), (255, 256, 1200));
        c.set(4, 1);
        c.narrow();
        assert_eq!((c.get(3), c.get(4), c.bytes()), (255, 1, 600));
    }

    #[test]
    fn a_bridge_gives_back_its_bucket_and_sketch() {
        let mut k = Sketch::new();
        (1..=5000).for_each(|i| k.add(f64::from(i) * 0.37));
        let b = Bucket {
            count: 5000,
            sum: 1.5,
            min: 0.37,
            max: 1850.0,
            last: 7.0,
            last_time: 42,
            extra: Extra::Sketch(Box::new(k.clone())),
        };
        let bridge = Bridge::of_bucket(&b);
        assert_eq!(bridge.bucket(), b);
        assert!(bridge.bytes() < k.heap_bytes() / 2, "{}", bridge.bytes());
        let plain = Bucket {
            extra: Extra::None,
            ..b.clone()
        };
        assert_eq!(Bridge::of_bucket(&plain).bucket(), plain);
    }
}
