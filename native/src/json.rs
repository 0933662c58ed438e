//! A strict RFC 8259 reader for the front (`parser::Parser::front`): what msgspec's decoder
//! accepts, read into a small tree whose strings borrow from the input where they have no
//! escapes. Where msgspec and this reader could disagree (a lone surrogate, a float out of
//! range, nesting deeper than `MAX_DEPTH`) it says `Bail` and the caller leaves the value
//! to the Python reference, which decodes it with msgspec itself.

use std::borrow::Cow;

/// Deeper nesting is left to Python (msgspec raises far deeper; CPython's `json` raises
/// RecursionError some hundreds of levels down).
const MAX_DEPTH: u32 = 64;

/// A JSON value as far as the parser tells them apart.
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// an integer beyond 64 bits (Python reads it exactly; the parser leaves it to Python)
    BigInt,
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// Why a text was not read.
#[derive(Debug, PartialEq)]
pub(crate) enum Fail {
    /// not strict JSON: msgspec refuses it too
    Invalid,
    /// the two readers might differ here: leave it to Python
    Bail,
}

type R<T> = Result<T, Fail>;

/// The value of a whole text (JSON whitespace around it allowed).
pub(crate) fn parse(text: &str) -> R<Node<'_>> {
    let mut r = Reader {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    r.ws();
    let v = r.value(0)?;
    r.ws();
    if r.i != r.b.len() {
        return Err(Fail::Invalid);
    }
    Ok(v)
}

/// `data[key]` of an object, the last one where a key repeats (a Python dict's).
pub(crate) fn get<'n, 'a>(obj: &'n [(Cow<'a, str>, Node<'a>)], key: &str) -> Option<&'n Node<'a>> {
    obj.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8], node: Node<'a>) -> R<Node<'a>> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(node)
        } else {
            Err(Fail::Invalid)
        }
    }

    fn value(&mut self, depth: u32) -> R<Node<'a>> {
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b't') => self.literal(b"true", Node::Bool(true)),
            Some(b'f') => self.literal(b"false", Node::Bool(false)),
            Some(b'n') => self.literal(b"null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Fail::Invalid),
        }
    }

    fn object(&mut self, depth: u32) -> R<Node<'a>> {
        if depth > MAX_DEPTH {
            return Err(Fail::Bail);
        }
        self.i += 1; // {
        let mut members = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Node::Object(members));
        }
        loop {
            if self.b.get(self.i) != Some(&b'"') {
                return Err(Fail::Invalid);
            }
            let key = self.string()?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(Fail::Invalid);
            }
            self.i += 1;
            self.ws();
            let value = self.value(depth)?;
            members.push((key, value));
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Node::Object(members));
                }
                _ => return Err(Fail::Invalid),
            }
        }
    }

    fn array(&mut self, depth: u32) -> R<Node<'a>> {
        if depth > MAX_DEPTH {
            return Err(Fail::Bail);
        }
        self.i += 1; // [
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Node::Array);
        }
        loop {
            self.value(depth)?;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b']') => {
                    self.i += 1;
                    return Ok(Node::Array);
                }
                _ => return Err(Fail::Invalid),
            }
        }
    }

    /// A string at `self.i` (its opening quote): borrowed when it has no escapes.
    fn string(&mut self) -> R<Cow<'a, str>> {
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match self.b.get(i) {
                None => return Err(Fail::Invalid),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(0x00..=0x1f) => return Err(Fail::Invalid),
                Some(_) => i += 1,
            }
        }
        if i > self.b.len() {
            return Err(Fail::Invalid);
        }
        self.i = i + 1;
        let inner = &self.text[start..i];
        if !escaped {
            return Ok(Cow::Borrowed(inner));
        }
        match crate::parser::json_string(inner) {
            Ok(Some(s)) => Ok(Cow::Owned(s)),
            Ok(None) => Err(Fail::Invalid),
            Err(_) => Err(Fail::Bail), // a lone surrogate
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> R<Node<'a>> {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Fail::Invalid),
        }
        let mut float = false;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Fail::Invalid);
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Fail::Invalid);
            }
            float = true;
        }
        let text = &self.text[start..self.i];
        if !float {
            return Ok(text.parse::<i64>().map_or(Node::BigInt, Node::Int));
        }
        let f: f64 = text.parse().map_err(|_| Fail::Invalid)?;
        if !f.is_finite() {
            return Err(Fail::Bail); // msgspec: "Number out of range"
        }
        Ok(Node::Float(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> bool {
        parse(text).is_ok()
    }

    #[test]
    fn strict() {
        assert!(ok(
            r#" {"a": [1, -0, 2.5e-3, true, null, {"b": "c\n\u00e9"}]} "#
        ));
        for bad in [
            "{",
            "{}x",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "[1,]",
            "{\"a\":NaN}",
            "{\"a\":\"\t\"}",
            "{\"a\" 1}",
            "tru",
            "\"a",
        ] {
            assert_eq!(parse(bad).err(), Some(Fail::Invalid), "{bad}");
        }
        assert_eq!(parse(r#"{"a":"\ud800"}"#).err(), Some(Fail::Bail));
        assert_eq!(parse("[1e400]").err(), Some(Fail::Bail));
        assert_eq!(parse(&"[".repeat(100)).err(), Some(Fail::Bail));
    }

    #[test]
    fn values() {
        let Ok(Node::Object(o)) = parse(r#"{"a":1,"a":"x\"y","n":123456789012345678901}"#) else {
            panic!("an object")
        };
        assert!(matches!(get(&o, "a"), Some(Node::Str(s)) if s == "x\"y"));
        assert!(matches!(get(&o, "n"), Some(Node::BigInt)));
        assert!(get(&o, "z").is_none());
    }
}
