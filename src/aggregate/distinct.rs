//! Distinct counting for sets, mergeable across buckets. Small sets are kept exactly (the sorted
//! member ids); past [`EXACT_LIMIT`] members the set turns into a HyperLogLog with 2^12 registers
//! (about 1.6% standard error). Both forms merge associatively: a union, or a register-wise max.

use crate::encoding::{self, Reader};

/// Members kept exactly before switching to HyperLogLog.
pub const EXACT_LIMIT: usize = 256;
const P: u32 = 12;
const REGISTERS: usize = 1 << P;

#[derive(Debug, Clone, PartialEq)]
pub enum Distinct {
    /// Sorted, unique member ids.
    Exact(Vec<u64>),
    Hll(Box<[u8; REGISTERS]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Exact(Vec::new())
    }
}

fn mix(id: u64) -> u64 {
    let mut h = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn hll_insert(regs: &mut [u8; REGISTERS], id: u64) {
    let h = mix(id);
    let idx = (h >> (64 - P)) as usize;
    let rest = h << P;
    let rank = (rest.leading_zeros().min(64 - P) + 1) as u8;
    if regs[idx] < rank {
        regs[idx] = rank;
    }
}

impl Distinct {
    /// Bytes this set holds on the heap, itself included (for memory bounds).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Distinct>()
            + match self {
                Distinct::Exact(ids) => ids.capacity() * 8,
                Distinct::Hll(_) => REGISTERS,
            }
    }

    /// Adds a member id (see [`crate::metric::set_member`]).
    pub fn insert(&mut self, id: u64) {
        match self {
            Distinct::Exact(ids) => {
                if let Err(pos) = ids.binary_search(&id) {
                    ids.insert(pos, id);
                    if ids.len() > EXACT_LIMIT {
                        self.make_hll();
                    }
                }
            }
            Distinct::Hll(regs) => hll_insert(regs, id),
        }
    }

    fn make_hll(&mut self) {
        if let Distinct::Exact(ids) = self {
            let mut regs = Box::new([0u8; REGISTERS]);
            ids.iter().for_each(|&id| hll_insert(&mut regs, id));
            *self = Distinct::Hll(regs);
        }
    }

    pub fn merge(&mut self, other: &Distinct) {
        match other {
            Distinct::Exact(ids) => ids.iter().for_each(|&id| self.insert(id)),
            Distinct::Hll(theirs) => {
                self.make_hll();
                if let Distinct::Hll(mine) = self {
                    for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                        *m = (*m).max(*t);
                    }
                }
            }
        }
    }

    /// The number of distinct members (exact below [`EXACT_LIMIT`]).
    pub fn count(&self) -> f64 {
        match self {
            Distinct::Exact(ids) => ids.len() as f64,
            Distinct::Hll(regs) => {
                let m = REGISTERS as f64;
                let alpha = 0.7213 / (1.0 + 1.079 / m);
                let sum: f64 = regs.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
                let raw = alpha * m * m / sum;
                let zeros = regs.iter().filter(|&&r| r == 0).count();
                if raw <= 2.5 * m && zeros > 0 {
                    m * (m / zeros as f64).ln() // linear counting for small cardinalities
                } else {
                    raw
                }
            }
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Distinct::Exact(ids) => {
                out.push(0);
                encoding::put_uvarint(out, ids.len() as u64);
                let mut prev = 0u64;
                for &id in ids {
                    encoding::put_uvarint(out, id - prev);
                    prev = id;
                }
            }
            Distinct::Hll(regs) => {
                out.push(1);
                out.extend_from_slice(&regs[..]);
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Distinct, encoding::Error> {
        match r.u8()? {
            0 => {
                let n = r.uvarint()?;
                if n > EXACT_LIMIT as u64 {
                    return Err(encoding::Error::Invalid("exact set too large"));
                }
                let mut d = Distinct::default();
                let mut id = 0u64;
                for _ in 0..n {
                    id = id.wrapping_add(r.uvarint()?);
                    d.insert(id);
                }
                Ok(d)
            }
            1 => {
                let bytes = r.bytes(REGISTERS)?;
                let mut regs = Box::new([0u8; REGISTERS]);
                regs.copy_from_slice(bytes);
                Ok(Distinct::Hll(regs))
            }
            _ => Err(encoding::Error::Invalid("distinct tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_sets_are_exact_and_large_ones_close() {
        let mut d = Distinct::default();
        for i in 0..200u64 {
            d.insert(i * 7919);
            d.insert(i * 7919);
        }
        assert_eq!(d.count(), 200.0);
        for i in 0..100_000u64 {
            d.insert(i.wrapping_mul(0x9e37_79b9));
        }
        let c = d.count();
        assert!((c - 100_000.0).abs() / 100_000.0 < 0.05, "{c}");
    }

    proptest! {
        #[test]
        fn merge_equals_inserting_everything(a in proptest::collection::vec(0u64..5000, 0..400),
                                             b in proptest::collection::vec(0u64..5000, 0..400)) {
            let (mut da, mut db, mut all) = (Distinct::default(), Distinct::default(), Distinct::default());
            a.iter().for_each(|&x| { da.insert(x); all.insert(x); });
            b.iter().for_each(|&x| { db.insert(x); all.insert(x); });
            da.merge(&db);
            prop_assert_eq!(da.count(), all.count());
            let mut enc = Vec::new();
            all.encode(&mut enc);
            prop_assert_eq!(Distinct::decode(&mut Reader::new(&enc)).unwrap().count(), all.count());
        }
    }
}
