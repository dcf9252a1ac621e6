use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `pickle.dumps(DATA, protocol=N)` by CPython 3.11 (protocols 0–5) and 2.7 (0–2), where DATA is
/// `[('servers.a.cpu.total.idle', (1700000000, 97.5)), (u'web.h\u00e9.count;dc=eu',
/// (1700000010.5, 3)), ('b', (-1, 2**70)), ('c', ('1700000020', '4.25')), ('bad', (None, 1)),
/// ('x', 1)]`.
const PICKLES: [(&str, &str); 9] = [
    (
        "py3 protocol 0",
        "286c70300a2856736572766572732e612e6370752e746f74616c2e69646c650a70310a2849313730303030303030300a4639372e350a7470320a7470330a6128567765622e68e92e636f756e743b64633d65750a70340a2846313730303030303031302e350a49330a7470350a7470360a612856620a70370a28492d310a4c313138303539313632303731373431313330333432344c0a7470380a7470390a612856630a7031300a2856313730303030303032300a7031310a56342e32350a7031320a747031330a747031340a6128566261640a7031350a284e49310a747031360a747031370a612856780a7031380a49310a747031390a612e",
    ),
    (
        "py3 protocol 1",
        "5d710028285818000000736572766572732e612e6370752e746f74616c2e69646c657101284a00f153654740586000000000007471027471032858130000007765622e68c3a92e636f756e743b64633d65757104284741d954fc42a000004b03747105747106285801000000627107284affffffff4c313138303539313632303731373431313330333432344c0a74710874710928580100000063710a28580a00000031373030303030303230710b5804000000342e3235710c74710d74710e285803000000626164710f284e4b017471107471112858010000007871124b01747113652e",
    ),
    (
        "py3 protocol 2",
        "80025d7100285818000000736572766572732e612e6370752e746f74616c2e69646c6571014a00f1536547405860000000000086710286710358130000007765622e68c3a92e636f756e743b64633d657571044741d954fc42a000004b0386710586710658010000006271074affffffff8a09000000000000000040867108867109580100000063710a580a00000031373030303030303230710b5804000000342e3235710c86710d86710e5803000000626164710f4e4b0186711086711158010000007871124b01867113652e",
    ),
    (
        "py3 protocol 3",
        "80035d7100285818000000736572766572732e612e6370752e746f74616c2e69646c6571014a00f1536547405860000000000086710286710358130000007765622e68c3a92e636f756e743b64633d657571044741d954fc42a000004b0386710586710658010000006271074affffffff8a09000000000000000040867108867109580100000063710a580a00000031373030303030303230710b5804000000342e3235710c86710d86710e5803000000626164710f4e4b0186711086711158010000007871124b01867113652e",
    ),
    (
        "py3 protocol 4",
        "800495a0000000000000005d94288c18736572766572732e612e6370752e746f74616c2e69646c65944a00f15365474058600000000000869486948c137765622e68c3a92e636f756e743b64633d6575944741d954fc42a000004b03869486948c0162944affffffff8a09000000000000000040869486948c0163948c0a31373030303030303230948c04342e323594869486948c03626164944e4b01869486948c0178944b018694652e",
    ),
    (
        "py3 protocol 5",
        "800595a0000000000000005d94288c18736572766572732e612e6370752e746f74616c2e69646c65944a00f15365474058600000000000869486948c137765622e68c3a92e636f756e743b64633d6575944741d954fc42a000004b03869486948c0162944affffffff8a09000000000000000040869486948c0163948c0a31373030303030303230948c04342e323594869486948c03626164944e4b01869486948c0178944b018694652e",
    ),
    (
        "py2 protocol 0 (Diamond's GraphitePickleHandler)",
        "286c70300a285327736572766572732e612e6370752e746f74616c2e69646c65270a70310a2849313730303030303030300a4639372e350a7470320a7470330a6128567765622e68e92e636f756e743b64633d65750a70340a2846313730303030303031302e350a49330a7470350a7470360a6128532762270a70370a28492d310a4c313138303539313632303731373431313330333432344c0a7470380a7470390a6128532763270a7031300a28532731373030303030303230270a7031310a5327342e3235270a7031320a747031330a747031340a61285327626164270a7031350a284e49310a747031360a747031370a6128532778270a7031380a49310a747031390a612e",
    ),
    (
        "py2 protocol 1",
        "5d710028285518736572766572732e612e6370752e746f74616c2e69646c657101284a00f153654740586000000000007471027471032858130000007765622e68c3a92e636f756e743b64633d65757104284741d954fc42a000004b03747105747106285501627107284affffffff4c313138303539313632303731373431313330333432344c0a74710874710928550163710a28550a31373030303030303230710b5504342e3235710c74710d74710e285503626164710f284e4b017471107471112855017871124b01747113652e",
    ),
    (
        "py2 protocol 2 (carbon-relay under Python 2)",
        "80025d7100285518736572766572732e612e6370752e746f74616c2e69646c6571014a00f1536547405860000000000086710286710358130000007765622e68c3a92e636f756e743b64633d657571044741d954fc42a000004b0386710586710655016271074affffffff8a09000000000000000040867108867109550163710a550a31373030303030303230710b5504342e3235710c86710d86710e5503626164710f4e4b0186711086711155017871124b01867113652e",
    ),
];

#[test]
fn reads_every_protocol_of_python_2_and_3() {
    let want: Vec<Item> = vec![
        Ok(("servers.a.cpu.total.idle".into(), 1_700_000_000.0, 97.5)),
        Ok(("web.hé.count;dc=eu".into(), 1_700_000_010.5, 3.0)),
        Ok(("b".into(), -1.0, 2f64.powi(70))),
        Ok(("c".into(), 1_700_000_020.0, 4.25)),
        Err("the timestamp is not a number"),
        Err("not (path, (timestamp, value))"),
    ];
    for (name, pickle) in PICKLES {
        assert_eq!(decode(&hex(pickle)).as_ref(), Ok(&want), "{name}");
    }
}

#[test]
fn a_memo_fetched_many_times_is_shared_not_copied() {
    // pickle.dumps([('a', (1, 2))] * 3, protocol=2): the item stored once, fetched twice.
    let items = decode(&hex(
        "80025d71002858010000006171014b014b0286710286710368036803652e",
    ))
    .unwrap();
    assert_eq!(items, vec![Ok(("a".into(), 1.0, 2.0)); 3]);
    // 100,000 fetches of a memoized 300-byte path: each costs a word, not a copy.
    let mut p = hex("80025d710028"); // PROTO 2, EMPTY_LIST, BINPUT 0, MARK
    p.extend_from_slice(b"X\x2c\x01\x00\x00");
    p.extend_from_slice(&[b'x'; 300]);
    p.extend_from_slice(b"q\x01K\x01K\x02\x86\x86q\x02");
    for _ in 0..100_000 {
        p.extend_from_slice(b"h\x02");
    }
    p.extend_from_slice(b"e.");
    let items = decode(&p).unwrap();
    assert_eq!(items.len(), 100_001);
    assert_eq!(items[100_000], Ok(("x".repeat(300), 1.0, 2.0)));
}

#[test]
fn refuses_what_runs_code_or_is_not_datapoints() {
    // pickle.dumps of os.system('echo') as protocol 0 writes it: GLOBAL, then REDUCE.
    assert_eq!(
        decode(b"cos\nsystem\n(S'echo'\ntR."),
        Err(Error::Opcode {
            op: b'c',
            name: 'c',
            at: 0
        })
    );
    // protocol 4's STACK_GLOBAL and a dict.
    assert!(matches!(
        decode(b"\x80\x04\x93."),
        Err(Error::Opcode { op: 0x93, .. })
    ));
    assert!(matches!(decode(b"}."), Err(Error::Opcode { op: b'}', .. })));
    assert_eq!(decode(b"\x80\x06]."), Err(Error::Protocol(6)));
    assert_eq!(decode(b"]"), Err(Error::NoStop(1)));
    assert_eq!(decode(b"X\x05\x00\x00\x00ab."), Err(Error::Truncated(5)));
    assert_eq!(decode(b"h\x07."), Err(Error::Memo(7)));
    assert_eq!(decode(b"t."), Err(Error::NoMark(0)));
    assert_eq!(decode(b"K\x01a."), Err(Error::NotAList(2)));
    assert_eq!(decode(b"a."), Err(Error::EmptyStack(0)));
    assert_eq!(decode(b"K\x01."), Err(Error::NotDatapoints("an int")));
    assert_eq!(decode(b"."), Err(Error::EmptyStack(0)));
    assert_eq!(decode(b"I1x\n."), Err(Error::Argument(0)));
}

#[test]
fn protocol_0_strings_and_numbers() {
    assert_eq!(quoted(br#"'a\'b\\c\x41\101\n'"#).unwrap(), b"a'b\\cAA\n");
    assert_eq!(quoted(br#""it's""#).unwrap(), b"it's");
    assert_eq!(quoted(b"'unclosed"), None);
    assert_eq!(
        raw_unicode_escape(b"h\xe9\\u20ac\\U0001F600").unwrap(),
        "hé€😀".as_bytes()
    );
    assert_eq!(raw_unicode_escape(b"\\u12"), None);
    assert_eq!(number(b'I', b"01"), Some(Value::Bool(true)));
    assert_eq!(number(b'I', b"-42"), Some(Value::Int(-42)));
    assert_eq!(number(b'L', b"123L"), Some(Value::Int(123)));
    assert_eq!(
        number(b'L', b"99999999999999999999L"),
        Some(Value::Float(1e20))
    );
    assert_eq!(number(b'F', b"-inf"), Some(Value::Float(f64::NEG_INFINITY)));
    assert_eq!(number(b'I', b""), None);
    assert_eq!(long(&[0xff]), Value::Int(-1));
    assert_eq!(long(&[0x00, 0x80]), Value::Int(-32768));
    assert_eq!(long(&[0; 9]), Value::Float(0.0));
    let mut minus_2_70 = vec![0u8; 9];
    minus_2_70[8] = 0xc0;
    assert_eq!(long(&minus_2_70), Value::Float(-(2f64.powi(70))));
    assert_eq!(python_float(b" 1e3 "), Some(1000.0));
    assert_eq!(python_float(b"x"), None);
}

/// A protocol 2 pickle of `items` as CPython writes one (BINUNICODE, BININT/BINFLOAT, TUPLE2,
/// MARK … APPENDS in batches of 1000, BINPUT on every object).
fn protocol_2(items: &[(String, i64, f64)]) -> Vec<u8> {
    let mut p = b"\x80\x02]q\x00".to_vec();
    let mut memo = 1u8;
    let mut put = |p: &mut Vec<u8>| {
        p.extend_from_slice(&[b'q', memo]);
        memo = memo.wrapping_add(1);
    };
    for batch in items.chunks(1000) {
        p.push(b'(');
        for (path, ts, value) in batch {
            p.push(b'X');
            p.extend_from_slice(&(path.len() as u32).to_le_bytes());
            p.extend_from_slice(path.as_bytes());
            put(&mut p);
            p.push(b'J');
            p.extend_from_slice(&(*ts as i32).to_le_bytes());
            p.push(b'G');
            p.extend_from_slice(&value.to_be_bytes());
            p.push(0x86);
            put(&mut p);
            p.push(0x86);
            put(&mut p);
        }
        p.push(b'e');
    }
    p.push(b'.');
    p
}

proptest::proptest! {
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn protocol_2_lists_round_trip(items in proptest::collection::vec(("[a-z]{1,8}(\\.[a-zé_]{1,6}){0,3}", -1i64..2_000_000_000, proptest::prelude::any::<f64>()), 0..1200)) {
        let got = decode(&protocol_2(&items)).unwrap();
        proptest::prop_assert_eq!(got.len(), items.len());
        for (g, (path, ts, value)) in got.iter().zip(&items) {
            let (gp, gt, gv) = g.clone().unwrap();
            proptest::prop_assert_eq!(&gp, path);
            proptest::prop_assert_eq!(gt, *ts as f64);
            proptest::prop_assert!(gv == *value || (gv.is_nan() && value.is_nan()));
        }
    }
}
