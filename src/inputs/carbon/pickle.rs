//! Carbon's pickle protocol, read without running a pickle: a frame is a pickled list of
//! `(path, (timestamp, value))` as carbon-relay and carbon-aggregator (protocol 2), Diamond's
//! `GraphitePickleHandler` (Python 2's protocol 0) and Python 3 clients (protocols 3–5) send it.
//!
//! The decoder knows only the opcodes such a list is made of — marks, lists, tuples, strings,
//! bytes, numbers, booleans, `None`, the memo and framing — and refuses every other one by name
//! and offset: a global, a call, a dict or an object is an error, never code run, which is why
//! carbon itself only offers a restricted unpickler. Its cost is linear in the frame: composite
//! values and strings live once in arenas and the stack and memo hold small copies of
//! references, so a memo fetched many times costs a word each, however large the value.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error(
        "opcode {op:#04x} ({name}) at byte {at} is not read: only lists of (path, (timestamp, value)) are"
    )]
    Opcode { op: u8, name: char, at: usize },
    #[error("the pickle ends inside an argument at byte {0}")]
    Truncated(usize),
    #[error("no STOP opcode: the pickle ends at byte {0}")]
    NoStop(usize),
    #[error("bad argument of the opcode at byte {0}")]
    Argument(usize),
    #[error("the stack is empty at byte {0}")]
    EmptyStack(usize),
    #[error("no mark on the stack at byte {0}")]
    NoMark(usize),
    #[error("APPEND to something that is not a list at byte {0}")]
    NotAList(usize),
    #[error("memo {0} fetched but never stored")]
    Memo(u64),
    #[error("pickle protocol {0} is newer than 5")]
    Protocol(u8),
    #[error("the pickle holds {0}, not a list of datapoints")]
    NotDatapoints(&'static str),
}

/// One datapoint as carbon reads it: the path's bytes (Python 2 and 3 strings, or bytes),
/// the timestamp and the value as `float()` gives them, or why the item is left out.
pub type Item = Result<(String, f64, f64), &'static str>;

/// A value on the stack or in the memo: scalars inline, the rest an index into an arena.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(usize),
    Bytes(usize),
    List(usize),
    Tuple(usize),
}

#[derive(Default)]
struct Machine {
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    strings: Vec<Vec<u8>>,
    lists: Vec<Vec<Value>>,
    tuples: Vec<Vec<Value>>,
}

/// Reads `payload` (one frame's pickle) into its datapoints, in order. A pickle that is not a
/// list (or tuple) of items, or that uses an opcode such a list does not need, is an error; an
/// item that is not `(path, (timestamp, value))` with numbers `float()` reads is an `Err` item
/// and the others are still read, as carbon's receiver does.
pub fn decode(payload: &[u8]) -> Result<Vec<Item>, Error> {
    let mut m = Machine::default();
    let top = m.run(payload)?;
    let items = match top {
        Value::List(i) => &m.lists[i],
        Value::Tuple(i) => &m.tuples[i],
        other => return Err(Error::NotDatapoints(type_name(other))),
    };
    Ok(items.iter().map(|&v| m.datapoint(v)).collect())
}

fn type_name(v: Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::List(_) | Value::Tuple(_) => "a sequence",
    }
}

/// Bytes `n` at `at`, or the error of a pickle that ends inside an opcode.
fn take(p: &[u8], at: usize, n: usize) -> Result<&[u8], Error> {
    p.get(at..at.checked_add(n).ok_or(Error::Truncated(at))?)
        .ok_or(Error::Truncated(at))
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// A text argument: the bytes up to the next `\n` (protocol 0's numbers, strings, memo keys).
fn line(p: &[u8], at: usize) -> Result<(&[u8], usize), Error> {
    let rest = p.get(at..).ok_or(Error::Truncated(at))?;
    let n = memchr::memchr(b'\n', rest).ok_or(Error::Truncated(at))?;
    Ok((&rest[..n], at + n + 1))
}

impl Machine {
    /// Runs the opcodes to STOP; returns the value left on top.
    fn run(&mut self, p: &[u8]) -> Result<Value, Error> {
        let mut at = 0;
        while let Some(&op) = p.get(at) {
            let start = at;
            at += 1;
            at = match op {
                b'.' => return self.pop(start),
                0x80 => match take(p, at, 1)?[0] {
                    v if v <= 5 => at + 1,
                    v => return Err(Error::Protocol(v)),
                },
                0x95 => at + take(p, at, 8).map(|_| 8)?, // FRAME: the whole payload is here
                b'(' => {
                    self.marks.push(self.stack.len());
                    at
                }
                b'0' => self.pop(start).map(|_| at)?,
                b'1' => self.since_mark(start).map(|_| at)?,
                b'2' => {
                    let top = *self.stack.last().ok_or(Error::EmptyStack(start))?;
                    self.stack.push(top);
                    at
                }
                b']' => self.push_list(Vec::new(), at),
                b'l' => {
                    let items = self.since_mark(start)?;
                    self.push_list(items, at)
                }
                b'a' => {
                    let v = self.pop(start)?;
                    self.append(vec![v], start)?;
                    at
                }
                b'e' => {
                    let items = self.since_mark(start)?;
                    self.append(items, start)?;
                    at
                }
                b')' => self.push_tuple(Vec::new(), at),
                b't' => {
                    let items = self.since_mark(start)?;
                    self.push_tuple(items, at)
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let from = self
                        .stack
                        .len()
                        .checked_sub(n)
                        .ok_or(Error::EmptyStack(start))?;
                    let items = self.stack.split_off(from);
                    self.push_tuple(items, at)
                }
                _ => self.scalar(op, p, start, at)?,
            };
        }
        Err(Error::NoStop(p.len()))
    }

    /// Strings, numbers, constants and the memo; `at` is just past the opcode.
    fn scalar(&mut self, op: u8, p: &[u8], start: usize, at: usize) -> Result<usize, Error> {
        let (value, next) = match op {
            b'N' => (Value::None, at),
            0x88 => (Value::Bool(true), at),
            0x89 => (Value::Bool(false), at),
            b'K' => (Value::Int(i64::from(take(p, at, 1)?[0])), at + 1),
            b'M' => (Value::Int(le(take(p, at, 2)?) as i64), at + 2),
            b'J' => (
                Value::Int(i64::from(le(take(p, at, 4)?) as u32 as i32)),
                at + 4,
            ),
            b'G' => {
                let b: [u8; 8] = take(p, at, 8)?.try_into().expect("8 bytes");
                (Value::Float(f64::from_be_bytes(b)), at + 8)
            }
            0x8a | 0x8b => {
                let width = if op == 0x8a { 1 } else { 4 };
                let n = le(take(p, at, width)?) as usize;
                let digits = take(p, at + width, n)?;
                (long(digits), at + width + n)
            }
            b'I' | b'L' | b'F' => {
                let (text, next) = line(p, at)?;
                (number(op, text).ok_or(Error::Argument(start))?, next)
            }
            b'S' | b'V' => {
                let (text, next) = line(p, at)?;
                let bytes = if op == b'S' {
                    quoted(text).ok_or(Error::Argument(start))?
                } else {
                    raw_unicode_escape(text).ok_or(Error::Argument(start))?
                };
                (self.string(bytes, op == b'V'), next)
            }
            b'T' | b'U' | b'X' | 0x8c | 0x8d | b'B' | b'C' | 0x8e => {
                let width = match op {
                    b'U' | 0x8c | b'C' => 1,
                    0x8d | 0x8e => 8,
                    _ => 4,
                };
                let n =
                    usize::try_from(le(take(p, at, width)?)).map_err(|_| Error::Truncated(at))?;
                let bytes = take(p, at + width, n)?.to_vec();
                let text = !matches!(op, b'B' | b'C' | 0x8e);
                (self.string(bytes, text), at + width + n)
            }
            b'p' | b'q' | b'r' | 0x94 => return self.put(op, p, start, at),
            b'g' | b'h' | b'j' => {
                let (key, next) = match op {
                    b'g' => {
                        let (text, next) = line(p, at)?;
                        (decimal(text).ok_or(Error::Argument(start))?, next)
                    }
                    b'h' => (u64::from(take(p, at, 1)?[0]), at + 1),
                    _ => (le(take(p, at, 4)?), at + 4),
                };
                (*self.memo.get(&key).ok_or(Error::Memo(key))?, next)
            }
            _ => {
                return Err(Error::Opcode {
                    op,
                    name: char::from(op),
                    at: start,
                });
            }
        };
        self.stack.push(value);
        Ok(next)
    }

    fn put(&mut self, op: u8, p: &[u8], start: usize, at: usize) -> Result<usize, Error> {
        let (key, next) = match op {
            b'p' => {
                let (text, next) = line(p, at)?;
                (decimal(text).ok_or(Error::Argument(start))?, next)
            }
            b'q' => (u64::from(take(p, at, 1)?[0]), at + 1),
            b'r' => (le(take(p, at, 4)?), at + 4),
            _ => (self.memo.len() as u64, at),
        };
        let top = *self.stack.last().ok_or(Error::EmptyStack(start))?;
        self.memo.insert(key, top);
        Ok(next)
    }

    fn string(&mut self, bytes: Vec<u8>, text: bool) -> Value {
        self.strings.push(bytes);
        let i = self.strings.len() - 1;
        if text { Value::Str(i) } else { Value::Bytes(i) }
    }

    fn push_list(&mut self, items: Vec<Value>, at: usize) -> usize {
        self.lists.push(items);
        self.stack.push(Value::List(self.lists.len() - 1));
        at
    }

    fn push_tuple(&mut self, items: Vec<Value>, at: usize) -> usize {
        self.tuples.push(items);
        self.stack.push(Value::Tuple(self.tuples.len() - 1));
        at
    }

    fn pop(&mut self, at: usize) -> Result<Value, Error> {
        self.stack.pop().ok_or(Error::EmptyStack(at))
    }

    fn since_mark(&mut self, at: usize) -> Result<Vec<Value>, Error> {
        let mark = self.marks.pop().ok_or(Error::NoMark(at))?;
        if mark > self.stack.len() {
            return Err(Error::NoMark(at));
        }
        Ok(self.stack.split_off(mark))
    }

    fn append(&mut self, items: Vec<Value>, at: usize) -> Result<(), Error> {
        match self.stack.last() {
            Some(Value::List(i)) => {
                self.lists[*i].extend(items);
                Ok(())
            }
            _ => Err(Error::NotAList(at)),
        }
    }

    fn pair(&self, v: Value) -> Option<(Value, Value)> {
        let items = match v {
            Value::Tuple(i) => &self.tuples[i],
            Value::List(i) => &self.lists[i],
            _ => return None,
        };
        match items[..] {
            [a, b] => Some((a, b)),
            _ => None,
        }
    }

    /// `float(v)` as Python gives it, or `None` where it raises.
    fn float(&self, v: Value) -> Option<f64> {
        match v {
            Value::Bool(b) => Some(f64::from(u8::from(b))),
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            Value::Str(i) | Value::Bytes(i) => python_float(&self.strings[i]),
            _ => None,
        }
    }

    fn datapoint(&self, v: Value) -> Item {
        let (path, point) = self.pair(v).ok_or("not (path, (timestamp, value))")?;
        let (ts, value) = self.pair(point).ok_or("not (path, (timestamp, value))")?;
        let path = match path {
            Value::Str(i) | Value::Bytes(i) => std::str::from_utf8(&self.strings[i])
                .map_err(|_| "the path is not UTF-8")?
                .to_string(),
            _ => return Err("the path is not a string"),
        };
        let ts = self.float(ts).ok_or("the timestamp is not a number")?;
        let value = self.float(value).ok_or("the value is not a number")?;
        Ok((path, ts, value))
    }
}

/// `float()` of a string: surrounding whitespace, a sign, `inf`/`nan` in any case (digits
/// grouped with `_`, which Python also reads, are refused).
fn python_float(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn decimal(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.trim().parse().ok()
}

/// `I`, `L` and `F`: protocol 0's numbers (`I01`/`I00` are True and False; ints may be longer
/// than 64 bits and are then read as floats, as `float()` does with them).
fn number(op: u8, text: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(text).ok()?.trim();
    match (op, text) {
        (b'I', "01") => Some(Value::Bool(true)),
        (b'I', "00") => Some(Value::Bool(false)),
        (b'F', _) => text.parse().ok().map(Value::Float),
        _ => {
            let digits = text.strip_suffix('L').unwrap_or(text);
            let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(match digits.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Float(digits.parse().ok()?),
            })
        }
    }
}

/// LONG1/LONG4: a little-endian two's-complement integer of any length.
fn long(bytes: &[u8]) -> Value {
    if bytes.len() <= 8 {
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let fill = if negative { 0xff } else { 0 };
        let mut b = [fill; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        return Value::Int(i64::from_le_bytes(b));
    }
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    let magnitude = bytes.iter().rev().fold(0.0, |acc, &b| {
        acc * 256.0 + f64::from(if negative { !b } else { b })
    });
    Value::Float(if negative {
        -(magnitude + 1.0)
    } else {
        magnitude
    })
}

/// Protocol 0's `S` argument: a Python 2 `repr` of a byte string, in single or double quotes.
fn quoted(text: &[u8]) -> Option<Vec<u8>> {
    let inner = match text {
        [q @ (b'\'' | b'"'), inner @ .., last] if last == q => inner,
        _ => return None,
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *inner.get(i)?;
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => {
                let hex = std::str::from_utf8(inner.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'\\' | b'\'' | b'"' => out.push(e),
            other => out.extend_from_slice(&[b'\\', other]),
        }
    }
    Some(out)
}

/// Protocol 0's `V` argument (raw-unicode-escape): `\uXXXX` and `\UXXXXXXXX` escapes, every
/// other byte a Latin-1 character; returned as UTF-8.
fn raw_unicode_escape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let width = match (text[i], text.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            (b, _) => {
                out.push(char::from(b));
                i += 1;
                continue;
            }
        };
        let hex = std::str::from_utf8(text.get(i + 2..i + 2 + width)?).ok()?;
        out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        i += 2 + width;
    }
    Some(out.into_bytes())
}

#[cfg(test)]
#[path = "pickle_tests.rs"]
mod tests;
