use super::*;
use proptest::prelude::*;

const MAX: usize = 1 << 20;

fn framed(bodies: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::new();
    let mut ends = Vec::new();
    for b in bodies {
        put(&mut buf, b);
        ends.push(buf.len());
    }
    (buf, ends)
}

/// The bytes FORMAT.md describes: length, CRC-32 (IEEE) of the body, both little-endian.
#[test]
fn golden_bytes() {
    let mut out = vec![0xaa];
    put(&mut out, b"abc");
    assert_eq!(
        out,
        [0xaa, 3, 0, 0, 0, 0xc2, 0x41, 0x24, 0x35, b'a', b'b', b'c']
    );
    let start = begin(&mut out);
    end(&mut out, start);
    assert_eq!(out[12..], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(split(&out[1..], MAX), Ok((&b"abc"[..], &out[12..])));
}

#[test]
fn frames_round_trip_and_stop_at_a_torn_tail() {
    let (mut buf, _) = framed(&[b"one".to_vec(), vec![], b"three".to_vec()]);
    let full = buf.len();
    let mut f = Frames::new(&buf, MAX);
    let bodies: Vec<&[u8]> = f.by_ref().map(|(_, b)| b).collect();
    assert_eq!(bodies, vec![&b"one"[..], b"", b"three"]);
    assert!(f.clean());
    for cut in 0..full {
        let mut f = Frames::new(&buf[..cut], MAX);
        let n = f.by_ref().count();
        assert!(f.good() <= cut);
        assert!(n < 3);
    }
    buf[full - 1] ^= 1;
    let mut f = Frames::new(&buf, MAX);
    assert_eq!(f.by_ref().count(), 2);
    assert!(!f.clean());
}

#[test]
fn the_maximum_is_the_callers() {
    let (buf, _) = framed(&[vec![7; 10]]);
    assert_eq!(split(&buf, 9), Err(Error::Long));
    assert!(split(&buf, 10).is_ok());
    assert_eq!(Frames::new(&buf, 9).count(), 0);
    assert_eq!(split(&buf[..7], 10), Err(Error::Short));
    let h = Header::parse(&buf).unwrap();
    assert_eq!(h.len, 10);
    assert!(h.checks(&buf[HEADER..]) && !h.checks(&buf[HEADER + 1..]));
    assert_eq!(Header::parse(&buf[..7]), None);
}

fn bodies() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6)
}

proptest! {
    #[test]
    fn round_trip(bodies in bodies()) {
        let (buf, ends) = framed(&bodies);
        let mut f = Frames::new(&buf, MAX);
        let got: Vec<(usize, Vec<u8>)> = f.by_ref().map(|(at, b)| (at, b.to_vec())).collect();
        prop_assert!(f.clean());
        let starts: Vec<usize> = std::iter::once(0).chain(ends.iter().copied()).collect();
        let want: Vec<(usize, Vec<u8>)> = starts.into_iter().zip(bodies).collect();
        prop_assert_eq!(got, want);
    }

    /// A torn tail (the bytes end inside a frame) is short or long, never a bad CRC: the
    /// frames before it read, the torn one does not.
    #[test]
    fn a_torn_tail_is_short_or_long(bodies in bodies(), cut in any::<prop::sample::Index>()) {
        let (buf, ends) = framed(&bodies);
        let cut = cut.index(buf.len());
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        let mut f = Frames::new(&buf[..cut], MAX);
        prop_assert_eq!(f.by_ref().count(), whole);
        let good = f.good();
        prop_assert_eq!(good, if whole == 0 { 0 } else { ends[whole - 1] });
        if good < cut {
            let e = split(&buf[good..cut], MAX).unwrap_err();
            prop_assert!(e == Error::Short || e == Error::Long, "{e:?}");
        }
    }

    /// Any one flipped bit is caught in the frame it falls in; the frames before it read.
    #[test]
    fn any_flipped_bit_is_detected(bodies in bodies(), bit in any::<prop::sample::Index>()) {
        let (mut buf, ends) = framed(&bodies);
        let bit = bit.index(buf.len() * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        let hit = ends.iter().filter(|&&e| e <= bit / 8).count();
        let mut f = Frames::new(&buf, MAX);
        let got: Vec<&[u8]> = f.by_ref().map(|(_, b)| b).collect();
        prop_assert_eq!(got.len(), hit);
        prop_assert!(!f.clean());
    }

    #[test]
    fn garbage_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut f = Frames::new(&bytes, MAX);
        for _ in f.by_ref() {}
        prop_assert!(f.good() <= bytes.len());
    }
}
