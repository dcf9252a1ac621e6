use super::*;
use proptest::prelude::*;

fn path(s: &str) -> Expr {
    Expr::Path(s.into())
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Call {
        name: name.into(),
        args,
        kwargs: Vec::new(),
        raw: None,
    })
}

#[test]
fn paths_with_globs_tags_and_views() {
    for p in [
        "a.b.c",
        "a.*.c*",
        "a.b?.[0-9]",
        "a.{b,c}.d",
        "x.{a,b}{c,d}",
        "disk.used;datacenter=dc1;rack=a1",
        "web.req:p99",
        "web.req:sum60",
        "10s.count",
        "a-b_c.d@e",
    ] {
        assert_eq!(parse(p), Ok(path(p)), "{p}");
    }
    assert_eq!(parse(r"a\(b\).c\,d"), Ok(path("a(b).c,d")));
}

#[test]
fn calls_nested_kwargs_and_literals() {
    assert_eq!(
        parse("sumSeries(a.*, b.{x,y})"),
        Ok(call("sumSeries", vec![path("a.*"), path("b.{x,y}")]))
    );
    assert_eq!(
        parse("f(1, -2, 2.5, 1e3, -1.5e-2, true, False, none, inf, 'x', \"y\")"),
        Ok(call(
            "f",
            vec![
                Expr::Int(1),
                Expr::Int(-2),
                Expr::Float(2.5),
                Expr::Float(1000.0),
                Expr::Float(-0.015),
                Expr::Bool(true),
                Expr::Bool(false),
                Expr::None,
                Expr::Float(f64::INFINITY),
                Expr::Str("x".into()),
                Expr::Str("y".into()),
            ]
        ))
    );
    let Ok(Expr::Call(c)) = parse("movingWindow(a.b, '5min', func = 'sum', xFilesFactor=0.5)")
    else {
        panic!()
    };
    assert_eq!(c.args, vec![path("a.b"), Expr::Str("5min".into())]);
    assert_eq!(
        c.kwargs,
        vec![
            ("func".into(), Expr::Str("sum".into())),
            ("xFilesFactor".into(), Expr::Float(0.5))
        ]
    );
    assert_eq!(
        parse("constantLine(100)"),
        Ok(call("constantLine", vec![Expr::Int(100)]))
    );
    assert_eq!(parse("f()"), Ok(call("f", vec![])));
}

#[test]
fn strings_keep_backslashes_like_graphite() {
    let Ok(Expr::Call(c)) = parse(r#"aliasSub(constantLine(100), "(^.*$)", "\1 A")"#) else {
        panic!()
    };
    assert_eq!(c.args[1], Expr::Str("(^.*$)".into()));
    assert_eq!(c.args[2], Expr::Str(r"\1 A".into()));
    assert_eq!(
        parse(r#"f('it\'s', "a\"b")"#),
        Ok(call(
            "f",
            vec![Expr::Str(r"it\'s".into()), Expr::Str(r#"a\"b"#.into())]
        ))
    );
    // pyparsing's quotedString takes a doubled quote inside and graphite keeps it doubled.
    assert_eq!(
        parse(r#"alias(a.b,'it''s', "x""y")"#),
        Ok(call(
            "alias",
            vec![
                path("a.b"),
                Expr::Str("it''s".into()),
                Expr::Str(r#"x""y"#.into())
            ]
        ))
    );
}

#[test]
fn pipes_are_nested_calls() {
    assert_eq!(
        parse("a.b | aliasByNode(1) |movingAverage('5min')"),
        parse("movingAverage(aliasByNode(a.b, 1), '5min')")
    );
    assert_eq!(
        parse("sumSeries(a.* | scale(2))"),
        parse("sumSeries(scale(a.*, 2))")
    );
}

#[test]
fn errors_say_where() {
    let cases = [
        ("sumSeries(a.b", 13),
        ("sumSeries(a.b,", 14),
        ("f(a))", 4),
        ("f('x)", 2),
        ("a..b", 2),
        ("a.b.", 4),
        ("f(x=1, 2)", 7),
        ("a.{b,c", 6),
        ("a | b", 4),
        ("", 0),
        ("f(,)", 2),
    ];
    for (t, pos) in cases {
        let e = parse(t).expect_err(t);
        assert_eq!(e.pos, pos, "{t}: {e}");
    }
    assert!(parse(&"f(".repeat(100)).is_err());
}

#[test]
fn paths_found_in_order() {
    let e = parse("divideSeries(sumSeries(a.*), b.c)").unwrap();
    assert_eq!(e.paths(), vec!["a.*", "b.c"]);
}

proptest! {
    #[test]
    fn never_panics(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn printed_calls_parse_back(
        name in "[a-z][a-zA-Z]{0,8}",
        p in "[a-z]{1,5}(\\.[a-z*]{1,5}){0,3}",
        n in -1000i64..1000,
        s in "[a-z0-9 ]{0,8}",
    ) {
        let e = call(&name, vec![path(&p), Expr::Int(n), Expr::Str(s)]);
        prop_assert_eq!(parse(&e.to_string()), Ok(e));
    }
}
