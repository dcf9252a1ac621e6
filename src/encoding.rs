//! Varints and zigzag: the small integer encoding shared by sketches, the WAL and segments.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("truncated input")]
    Truncated,
    #[error("varint longer than 10 bytes")]
    Overlong,
    #[error("invalid data: {0}")]
    Invalid(&'static str),
}

pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// A cursor over encoded bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn uvarint(&mut self) -> Result<u64, Error> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(Error::Truncated)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(Error::Overlong);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Error::Overlong)
    }

    pub fn ivarint(&mut self) -> Result<i64, Error> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        let b = *self.buf.get(self.pos).ok_or(Error::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    pub fn f64(&mut self) -> Result<f64, Error> {
        let bytes = self.bytes(8)?;
        Ok(f64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// A length-prefixed byte string.
    pub fn blob(&mut self) -> Result<&'a [u8], Error> {
        let n = self.uvarint()?;
        self.bytes(usize::try_from(n).map_err(|_| Error::Truncated)?)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, Error> {
        std::str::from_utf8(self.blob()?).map_err(|_| Error::Invalid("string is not UTF-8"))
    }
}

pub fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>()) {
            let mut out = Vec::new();
            put_uvarint(&mut out, u);
            put_ivarint(&mut out, i);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.uvarint().unwrap(), u);
            prop_assert_eq!(r.ivarint().unwrap(), i);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut r = Reader::new(&bytes);
            while r.uvarint().is_ok() {}
        }
    }
}
