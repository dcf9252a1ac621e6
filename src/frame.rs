//! CRC frames, the one framing of tally's append-only files and of its ingest request body:
//! `len u32 LE | crc32 u32 LE | body` (the store's WAL, catalog, events and manifest; the ship
//! spool's segments; the records of `POST /api/ingest`). What a bad frame means — a torn tail
//! to cut, corruption to skip, a request to refuse — is the caller's to decide: this module
//! only writes frames and says whether one checks out. **Invariant:** no I/O.

/// Bytes before the body: its length and its CRC-32 (IEEE), both little-endian.
pub const HEADER: usize = 8;

/// Why the frame at the start of a buffer is not good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer than [`HEADER`] bytes.
    #[error("short frame header")]
    Short,
    /// The length is over the caller's maximum or past the end of the bytes.
    #[error("frame longer than the data")]
    Long,
    #[error("bad CRC")]
    Crc,
}

/// Starts a frame at the end of `out`; write the body, then call [`end`].
pub fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    start
}

/// Fills in the length and CRC of the frame begun at `start`.
pub fn end(out: &mut [u8], start: usize) {
    let body_len = out.len() - start - HEADER;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends one framed body.
pub fn put(out: &mut Vec<u8>, body: &[u8]) {
    let start = begin(out);
    out.extend_from_slice(body);
    end(out, start);
}

/// A frame's header, read before its body (a file read in two steps, a resync scan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Body length in bytes.
    pub len: usize,
    crc: u32,
}

impl Header {
    /// The header at the start of `bytes`, `None` when there are fewer than [`HEADER`].
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let h: &[u8; HEADER] = bytes.get(..HEADER)?.try_into().ok()?;
        Some(Header {
            len: u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
            crc: u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
        })
    }

    /// True when `body` is the body this header was written for.
    pub fn checks(&self, body: &[u8]) -> bool {
        crc32fast::hash(body) == self.crc
    }
}

/// The frame at the start of `buf` whose body is at most `max` bytes: `(body, the rest)`.
pub fn split(buf: &[u8], max: usize) -> Result<(&[u8], &[u8]), Error> {
    let h = Header::parse(buf).ok_or(Error::Short)?;
    if h.len > max {
        return Err(Error::Long);
    }
    let body = buf.get(HEADER..HEADER + h.len).ok_or(Error::Long)?;
    if !h.checks(body) {
        return Err(Error::Crc);
    }
    Ok((body, &buf[HEADER + h.len..]))
}

/// Iterates the frames of `buf` (bodies of at most `max` bytes); stops at the first bad one.
/// `good()` is then the offset just past the last good frame.
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    max: usize,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8], max: usize) -> Frames<'a> {
        Frames { buf, pos: 0, max }
    }

    pub fn good(&self) -> usize {
        self.pos
    }

    /// True when every byte was a good frame.
    pub fn clean(&self) -> bool {
        self.pos == self.buf.len()
    }
}

impl<'a> Iterator for Frames<'a> {
    /// `(offset of the frame, body)`
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (body, _) = split(self.buf.get(self.pos..)?, self.max).ok()?;
        let at = self.pos;
        self.pos += HEADER + body.len();
        Some((at, body))
    }
}

#[cfg(test)]
mod tests;
