//! The one jinja engine: the subset of jinja2 that cloud-init 22.4's
//! templates and docs use, rendered as cloud-init's templater sets jinja up
//! (`trim_blocks=True`, no `keep_trailing_newline`, undefined names print
//! as `CI_MISSING_JINJA_VAR/<name>`).
//!
//! Statements: `if`/`elif`/`else`/`endif`, `for a in x` and
//! `for k, v in x` (with `else` and `loop.index`, `loop.first`, ...),
//! `set`. Expressions: names, `.attr`, `[key]`, string/number/list/tuple/
//! `true`/`false`/`none` literals, `+ - * / // % ~`, comparisons, `in`,
//! `not in`, `is [not] TEST`, `and`, `or`, `not`, `a if c else b`, filters
//! with arguments and a few methods (`dict.items()`, `str.split()`, ...).
//! Anything else is refused with a message naming it, never guessed at.
//!
//! Bounded: the parser nests at most [`MAX_DEPTH`] deep, the evaluation
//! takes at most [`MAX_STEPS`] steps, and the output is bounded by the
//! caller's limit; no input makes it panic.

use std::rc::Rc;

use serde_json::Value as J;

use super::{JinjaError, MISSING_PREFIX};
use crate::value::{python_float_repr, python_str_repr};

/// How deep statements and expressions may nest.
pub const MAX_DEPTH: usize = 64;
/// How many nodes and loop iterations one rendering may take.
pub const MAX_STEPS: u64 = 2_000_000;

fn err<T>(msg: impl Into<String>) -> Result<T, JinjaError> {
    Err(JinjaError(msg.into()))
}

// ---------------------------------------------------------------- values

/// A value in a template: Python's types as jinja sees them.
#[derive(Clone, Debug)]
pub enum V {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<V>>),
    Tuple(Rc<Vec<V>>),
    Dict(Rc<Vec<(String, V)>>),
    /// jinja's undefined: printed under `name`; anything looked up on it
    /// fails with `message`.
    Undefined {
        name: String,
        message: String,
    },
    /// A method looked up on a value, waiting to be called.
    Method(Box<V>, String),
}

impl V {
    pub fn from_json(j: &J) -> V {
        match j {
            J::Null => V::None,
            J::Bool(b) => V::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => V::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => V::Str(s.as_str().into()),
            J::Array(a) => V::List(Rc::new(a.iter().map(V::from_json).collect())),
            J::Object(m) => V::Dict(Rc::new(
                m.iter()
                    .map(|(k, v)| (k.clone(), V::from_json(v)))
                    .collect(),
            )),
        }
    }

    fn str(s: impl Into<Rc<str>>) -> V {
        V::Str(s.into())
    }

    fn undefined(name: String, obj: Option<&V>) -> V {
        let message = match obj {
            None => format!("{} is undefined", python_str_repr(&name)),
            Some(o) => {
                let ty = o.type_repr();
                match name.parse::<i64>() {
                    Ok(i) => format!("{ty} has no element {i}"),
                    Err(_) => format!(
                        "{} has no attribute {}",
                        python_str_repr(ty),
                        python_str_repr(&name)
                    ),
                }
            }
        };
        V::Undefined { name, message }
    }

    /// jinja's `object_type_repr`.
    fn type_repr(&self) -> &'static str {
        match self {
            V::None => "None",
            V::Bool(_) => "bool object",
            V::Int(_) => "int object",
            V::Float(_) => "float object",
            V::Str(_) => "str object",
            V::List(_) => "list object",
            V::Tuple(_) => "tuple object",
            V::Dict(_) => "dict object",
            V::Undefined { .. } => "Undefined",
            V::Method(..) => "builtin_function_or_method object",
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            V::None => "NoneType",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float",
            V::Str(_) => "str",
            V::List(_) => "list",
            V::Tuple(_) => "tuple",
            V::Dict(_) => "dict",
            V::Undefined { .. } => "Undefined",
            V::Method(..) => "builtin_function_or_method",
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            V::None | V::Undefined { .. } => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::List(l) | V::Tuple(l) => !l.is_empty(),
            V::Dict(d) => !d.is_empty(),
            V::Method(..) => true,
        }
    }

    /// Python's `str()`, as jinja prints a value.
    pub fn print(&self) -> String {
        match self {
            V::Str(s) => s.to_string(),
            V::Undefined { name, .. } => format!("{MISSING_PREFIX}{name}"),
            other => other.repr(),
        }
    }

    fn repr(&self) -> String {
        let items = |l: &[V]| l.iter().map(V::repr).collect::<Vec<_>>().join(", ");
        match self {
            V::None => "None".into(),
            V::Bool(true) => "True".into(),
            V::Bool(false) => "False".into(),
            V::Int(i) => i.to_string(),
            V::Float(f) => python_float_repr(*f),
            V::Str(s) => python_str_repr(s),
            V::List(l) => format!("[{}]", items(l)),
            V::Tuple(l) if l.len() == 1 => format!("({},)", items(l)),
            V::Tuple(l) => format!("({})", items(l)),
            V::Dict(d) => format!(
                "{{{}}}",
                d.iter()
                    .map(|(k, v)| format!("{}: {}", python_str_repr(k), v.repr()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            V::Undefined { name, .. } => format!("{MISSING_PREFIX}{name}"),
            V::Method(_, m) => format!("<built-in method {m}>"),
        }
    }

    /// The items a `for` or a filter iterates over.
    fn iter(&self) -> Result<Vec<V>, JinjaError> {
        Ok(match self {
            V::List(l) | V::Tuple(l) => l.to_vec(),
            V::Dict(d) => d.iter().map(|(k, _)| V::str(k.as_str())).collect(),
            V::Str(s) => s.chars().map(|c| V::str(c.to_string())).collect(),
            V::Undefined { .. } => Vec::new(),
            other => return err(format!("'{}' object is not iterable", other.type_name())),
        })
    }

    fn eq(&self, other: &V) -> bool {
        match (self, other) {
            (V::None, V::None) => true,
            (V::Str(a), V::Str(b)) => a == b,
            (V::List(a), V::List(b)) | (V::Tuple(a), V::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.eq(y))
            }
            (V::Dict(a), V::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v.eq(v2)))
            }
            (V::Undefined { .. }, V::Undefined { .. }) => true,
            _ => match (self.number(), other.number()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            V::Bool(b) => Some(*b as i64 as f64),
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Python's ordering, for `<` and `sort`.
    fn cmp(&self, other: &V) -> Result<std::cmp::Ordering, JinjaError> {
        use std::cmp::Ordering;
        match (self, other) {
            (V::Str(a), V::Str(b)) => Ok(a.cmp(b)),
            (V::List(a), V::List(b)) | (V::Tuple(a), V::Tuple(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    if !x.eq(y) {
                        return x.cmp(y);
                    }
                }
                Ok(a.len().cmp(&b.len()))
            }
            _ => match (self.number(), other.number()) {
                (Some(a), Some(b)) => Ok(a.partial_cmp(&b).unwrap_or(Ordering::Equal)),
                _ => err(format!(
                    "'<' not supported between instances of '{}' and '{}'",
                    self.type_name(),
                    other.type_name()
                )),
            },
        }
    }

    fn fail_if_undefined(&self) -> Result<(), JinjaError> {
        match self {
            V::Undefined { message, .. } => err(message.clone()),
            _ => Ok(()),
        }
    }

    /// `obj.name` / `obj[name]` as jinja's `getattr`/`getitem`.
    fn get(&self, key: &V) -> Result<V, JinjaError> {
        self.fail_if_undefined()?;
        let found = match (self, key) {
            (V::Dict(d), V::Str(k)) => d.iter().find(|(n, _)| **n == **k).map(|(_, v)| v.clone()),
            (V::Dict(d), k) => {
                let k = k.print();
                d.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
            }
            (V::List(l) | V::Tuple(l), V::Int(i)) => index(l.len(), *i).map(|i| l[i].clone()),
            (V::Str(s), V::Int(i)) => {
                let chars: Vec<char> = s.chars().collect();
                index(chars.len(), *i).map(|i| V::str(chars[i].to_string()))
            }
            _ => None,
        };
        if let Some(v) = found {
            return Ok(v);
        }
        if let V::Str(name) = key {
            if METHODS.contains(&(self.type_name(), &**name)) {
                return Ok(V::Method(Box::new(self.clone()), name.to_string()));
            }
        }
        let name = match key {
            V::Str(s) => s.to_string(),
            other => other.print(),
        };
        Ok(V::undefined(name, Some(self)))
    }
}

/// The methods a template may call: (type, name).
const METHODS: &[(&str, &str)] = &[
    ("dict", "items"),
    ("dict", "keys"),
    ("dict", "values"),
    ("dict", "get"),
    ("str", "upper"),
    ("str", "lower"),
    ("str", "strip"),
    ("str", "split"),
    ("str", "startswith"),
    ("str", "endswith"),
    ("str", "replace"),
    ("str", "join"),
];

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

// ---------------------------------------------------------------- lexing

#[derive(Debug)]
enum Token {
    Text(String),
    Print(String),
    Statement(String),
}

/// The template's text and tags, with jinja's whitespace control as
/// cloud-init sets it up: `-` strips blanks on its side, `trim_blocks`
/// drops the newline after a statement or comment, and the source's last
/// newline goes.
fn lex(source: &str) -> Result<Vec<Token>, JinjaError> {
    let source = source.strip_suffix('\n').unwrap_or(source);
    let blank = |c: char| c.is_whitespace();
    let mut tokens = Vec::new();
    let mut rest = source;
    let mut strip_next = false;
    loop {
        let Some((start, open)) = next_tag(rest) else {
            let text = if strip_next {
                rest.trim_start_matches(blank)
            } else {
                rest
            };
            tokens.push(Token::Text(text.to_string()));
            return Ok(tokens);
        };
        let mut text = &rest[..start];
        if strip_next {
            text = text.trim_start_matches(blank);
        }
        let mut inner_start = start + 2;
        if rest[inner_start..].starts_with('-') {
            text = text.trim_end_matches(blank);
            inner_start += 1;
        }
        tokens.push(Token::Text(text.to_string()));
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let end = rest[inner_start..]
            .find(close)
            .map(|i| inner_start + i)
            .ok_or_else(|| JinjaError(format!("unclosed '{open}' in the template")))?;
        let mut inner = &rest[inner_start..end];
        strip_next = inner.ends_with('-');
        if strip_next {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim().to_string();
        match open {
            "{{" => tokens.push(Token::Print(inner)),
            "{%" => tokens.push(Token::Statement(inner)),
            _ => {}
        }
        rest = &rest[end + close.len()..];
        if open != "{{" && !strip_next {
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
    }
}

/// Where the next `{{`, `{%` or `{#` starts: one pass over the text.
fn next_tag(text: &str) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'{') {
        let at = from + i;
        match bytes.get(at + 1) {
            Some(b'{') => return Some((at, "{{")),
            Some(b'%') => return Some((at, "{%")),
            Some(b'#') => return Some((at, "{#")),
            _ => from = at + 1,
        }
    }
    None
}

// ---------------------------------------------------------------- expressions

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
    ">", "<", "=", ".", ":", "|", ",",
];

fn tokenize(text: &str) -> Result<Vec<Tok>, JinjaError> {
    let mut out = Vec::new();
    let mut rest = text;
    let refuse = |what: &str| {
        JinjaError(format!(
            "jinja expression '{text}' is not supported by cloudboot ({what})"
        ))
    };
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            let mut chars = rest[1..].char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(refuse("an unclosed string")),
                    Some((i, q)) if q == c => break i + 2,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, 't')) => s.push('\t'),
                        Some((_, 'r')) => s.push('\r'),
                        Some((_, '0')) => s.push('\0'),
                        Some((_, e @ ('\\' | '\'' | '"'))) => s.push(e),
                        Some((_, other)) => {
                            s.push('\\');
                            s.push(other)
                        }
                        None => return Err(refuse("an unclosed string")),
                    },
                    Some((_, other)) => s.push(other),
                }
            };
            out.push(Tok::Str(s));
            rest = &rest[end..];
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            let mut len = end;
            let after = &rest[end..];
            let is_float = after.starts_with('.')
                && after[1..].starts_with(|c: char| c.is_ascii_digit())
                // `a.0.1` is two lookups, not a float.
                && !matches!(out.last(), Some(Tok::Op(".")));
            if is_float {
                len += 1 + after[1..]
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len() - 1);
                let f: f64 = rest[..len]
                    .replace('_', "")
                    .parse()
                    .map_err(|_| refuse("a number"))?;
                out.push(Tok::Float(f));
            } else {
                let i: i64 = rest[..len]
                    .replace('_', "")
                    .parse()
                    .map_err(|_| refuse("a number too large"))?;
                out.push(Tok::Int(i));
            }
            rest = &rest[len..];
        } else if c.is_alphabetic() || c == '_' {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(Tok::Name(rest[..end].to_string()));
            rest = &rest[end..];
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Tok::Op(op));
            rest = &rest[op.len()..];
        } else {
            return Err(refuse(&format!("the character {c:?}")));
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Expr {
    Lit(V),
    Name(String),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Get(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Expr>),
    Filter(Box<Expr>, String, Vec<Expr>),
    Test(Box<Expr>, String, Vec<Expr>, bool),
    Neg(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
}

struct P<'a> {
    w: &'a [Tok],
    at: usize,
    depth: usize,
    text: &'a str,
}

impl P<'_> {
    fn refuse<T>(&self) -> Result<T, JinjaError> {
        err(format!(
            "jinja expression '{}' is not supported by cloudboot",
            self.text
        ))
    }
    fn peek(&self) -> Option<&Tok> {
        self.w.get(self.at)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_name(&self, n: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(x)) if x == n)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        let is = self.is_op(op);
        self.at += is as usize;
        is
    }
    fn eat_name(&mut self, n: &str) -> bool {
        let is = self.is_name(n);
        self.at += is as usize;
        is
    }
    fn expect_op(&mut self, op: &str) -> Result<(), JinjaError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.refuse()
        }
    }
    fn name(&mut self) -> Result<String, JinjaError> {
        match self.peek() {
            Some(Tok::Name(n)) => {
                let n = n.clone();
                self.at += 1;
                Ok(n)
            }
            _ => self.refuse(),
        }
    }

    fn deeper(&mut self) -> Result<(), JinjaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(format!(
                "the template nests deeper than {MAX_DEPTH}, which cloudboot refuses"
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, JinjaError> {
        self.deeper()?;
        let e = self.or()?;
        let e = if self.eat_name("if") {
            let cond = self.or()?;
            let otherwise = if self.eat_name("else") {
                Some(Box::new(self.expr()?))
            } else {
                None
            };
            Expr::Cond(Box::new(cond), Box::new(e), otherwise)
        } else {
            e
        };
        self.depth -= 1;
        Ok(e)
    }

    fn or(&mut self) -> Result<Expr, JinjaError> {
        let mut l = self.and()?;
        while self.eat_name("or") {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, JinjaError> {
        let mut l = self.not()?;
        while self.eat_name("and") {
            l = Expr::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, JinjaError> {
        if self.eat_name("not") {
            self.deeper()?;
            let e = Expr::Not(Box::new(self.not()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, JinjaError> {
        let mut l = self.math1()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o @ ("==" | "!=" | "<" | ">" | "<=" | ">="))) => *o,
                Some(Tok::Name(n)) if n == "in" => "in",
                Some(Tok::Name(n))
                    if n == "not"
                        && matches!(self.w.get(self.at + 1), Some(Tok::Name(x)) if x == "in") =>
                {
                    self.at += 1;
                    "not in"
                }
                _ => return Ok(l),
            };
            self.at += 1;
            l = Expr::Bin(op, Box::new(l), Box::new(self.math1()?));
        }
    }

    fn math1(&mut self) -> Result<Expr, JinjaError> {
        let mut l = self.concat()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o @ ("+" | "-"))) => *o,
                _ => return Ok(l),
            };
            self.at += 1;
            l = Expr::Bin(op, Box::new(l), Box::new(self.concat()?));
        }
    }

    fn concat(&mut self) -> Result<Expr, JinjaError> {
        let mut l = self.math2()?;
        while self.eat_op("~") {
            l = Expr::Bin("~", Box::new(l), Box::new(self.math2()?));
        }
        Ok(l)
    }

    fn math2(&mut self) -> Result<Expr, JinjaError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o @ ("*" | "/" | "//" | "%"))) => *o,
                _ => return Ok(l),
            };
            self.at += 1;
            l = Expr::Bin(op, Box::new(l), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, JinjaError> {
        if self.eat_op("-") {
            self.deeper()?;
            let e = Expr::Neg(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        if self.eat_op("+") {
            return self.unary();
        }
        let mut e = self.postfix()?;
        // Filters and tests.
        loop {
            if self.eat_op("|") {
                let name = self.name()?;
                let args = if self.is_op("(") {
                    self.args()?
                } else {
                    Vec::new()
                };
                e = Expr::Filter(Box::new(e), name, args);
            } else if self.eat_name("is") {
                let negated = self.eat_name("not");
                let name = match self.peek() {
                    Some(Tok::Op(o @ ("==" | "!=" | "<" | ">" | "<=" | ">="))) => {
                        let o = o.to_string();
                        self.at += 1;
                        o
                    }
                    _ => self.name()?,
                };
                let args = if self.is_op("(") {
                    self.args()?
                } else if matches!(self.peek(), Some(Tok::Str(_) | Tok::Int(_) | Tok::Float(_)))
                    || matches!(self.peek(), Some(Tok::Name(n)) if !["and", "or", "else", "if", "not", "in", "is"].contains(&n.as_str()))
                {
                    vec![self.postfix()?]
                } else {
                    Vec::new()
                };
                e = Expr::Test(Box::new(e), name, args, negated);
            } else {
                return Ok(e);
            }
        }
    }

    /// `(a, b, key=c)`: keyword arguments are kept as (name, value) tuples.
    fn args(&mut self) -> Result<Vec<Expr>, JinjaError> {
        self.expect_op("(")?;
        let mut args = Vec::new();
        while !self.eat_op(")") {
            if let (Some(Tok::Name(n)), Some(Tok::Op("="))) = (self.peek(), self.w.get(self.at + 1))
            {
                let n = n.clone();
                self.at += 2;
                args.push(Expr::Tuple(vec![
                    Expr::Lit(V::str(format!("={n}"))),
                    self.expr()?,
                ]));
            } else {
                args.push(self.expr()?);
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok(args)
    }

    fn postfix(&mut self) -> Result<Expr, JinjaError> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op(".") {
                let key = match self.peek() {
                    Some(Tok::Name(n)) => V::str(n.as_str()),
                    Some(Tok::Int(i)) => V::Int(*i),
                    _ => return self.refuse(),
                };
                self.at += 1;
                e = Expr::Get(Box::new(e), Box::new(Expr::Lit(key)));
            } else if self.eat_op("[") {
                let key = self.expr()?;
                self.expect_op("]")?;
                e = Expr::Get(Box::new(e), Box::new(key));
            } else if self.is_op("(") {
                let args = self.args()?;
                e = Expr::Call(Box::new(e), args);
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, JinjaError> {
        self.deeper()?;
        let tok = match self.peek() {
            Some(t) => t.clone(),
            None => return self.refuse(),
        };
        self.at += 1;
        let e = match tok {
            Tok::Str(mut s) => {
                // Adjacent strings join, as in Python.
                while let Some(Tok::Str(more)) = self.peek() {
                    s.push_str(more);
                    self.at += 1;
                }
                Expr::Lit(V::str(s))
            }
            Tok::Int(i) => Expr::Lit(V::Int(i)),
            Tok::Float(f) => Expr::Lit(V::Float(f)),
            Tok::Name(n) => match n.as_str() {
                "true" | "True" => Expr::Lit(V::Bool(true)),
                "false" | "False" => Expr::Lit(V::Bool(false)),
                "none" | "None" => Expr::Lit(V::None),
                "and" | "or" | "not" | "in" | "is" | "if" | "else" => return self.refuse(),
                _ => Expr::Name(n),
            },
            Tok::Op("(") => {
                let mut items = Vec::new();
                let mut tuple = false;
                while !self.eat_op(")") {
                    items.push(self.expr()?);
                    if self.eat_op(",") {
                        tuple = true;
                    } else {
                        self.expect_op(")")?;
                        break;
                    }
                }
                if !tuple && items.len() == 1 {
                    items.pop().unwrap_or(Expr::Lit(V::None))
                } else {
                    Expr::Tuple(items)
                }
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    items.push(self.expr()?);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                Expr::List(items)
            }
            Tok::Op("{") => {
                let mut items = Vec::new();
                while !self.eat_op("}") {
                    let k = self.expr()?;
                    self.expect_op(":")?;
                    items.push((k, self.expr()?));
                    if !self.eat_op(",") {
                        self.expect_op("}")?;
                        break;
                    }
                }
                Expr::Dict(items)
            }
            _ => return self.refuse(),
        };
        self.depth -= 1;
        Ok(e)
    }
}

fn parse_expr(text: &str) -> Result<Expr, JinjaError> {
    let w = tokenize(text)?;
    let mut p = P {
        w: &w,
        at: 0,
        depth: 0,
        text,
    };
    let e = p.expr()?;
    if p.at != w.len() {
        return p.refuse();
    }
    Ok(e)
}

// ---------------------------------------------------------------- statements

#[derive(Debug)]
enum Node {
    Text(String),
    Print(Expr),
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    For(Vec<String>, Expr, Vec<Node>, Vec<Node>),
    Set(String, Expr),
}

fn refuse_statement(s: &str) -> JinjaError {
    JinjaError(format!(
        "jinja statement '{{% {s} %}}' is not supported by cloudboot"
    ))
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

fn parse(
    tokens: &[Token],
    at: &mut usize,
    ends: &[&str],
    depth: usize,
) -> Result<Vec<Node>, JinjaError> {
    if depth > MAX_DEPTH {
        return err(format!(
            "the template nests deeper than {MAX_DEPTH}, which cloudboot refuses"
        ));
    }
    let mut nodes = Vec::new();
    while let Some(token) = tokens.get(*at) {
        match token {
            Token::Text(t) => {
                if !t.is_empty() {
                    nodes.push(Node::Text(t.clone()))
                }
            }
            Token::Print(e) => nodes.push(Node::Print(parse_expr(e)?)),
            Token::Statement(s) => {
                let (word, args) = split_word(s);
                if ends.contains(&word) {
                    return Ok(nodes);
                }
                *at += 1;
                match word {
                    "if" => {
                        let mut arms = Vec::new();
                        let mut cond = parse_expr(args)?;
                        let otherwise = loop {
                            let body = parse(tokens, at, &["elif", "else", "endif"], depth + 1)?;
                            arms.push((cond, body));
                            let (w, a) = match tokens.get(*at) {
                                Some(Token::Statement(s)) => split_word(s),
                                _ => unreachable_end("endif")?,
                            };
                            *at += 1;
                            match w {
                                "elif" => cond = parse_expr(a)?,
                                "else" => {
                                    let o = parse(tokens, at, &["endif"], depth + 1)?;
                                    expect(tokens, at, "endif")?;
                                    break o;
                                }
                                _ => break Vec::new(),
                            }
                        };
                        nodes.push(Node::If(arms, otherwise));
                    }
                    "for" => {
                        let (targets, iter) =
                            args.split_once(" in ").ok_or_else(|| refuse_statement(s))?;
                        let targets: Vec<String> =
                            targets.split(',').map(|t| t.trim().to_string()).collect();
                        if targets.iter().any(|t| !is_ident(t)) || iter.contains(" recursive") {
                            return Err(refuse_statement(s));
                        }
                        let iter = parse_expr(iter)?;
                        let body = parse(tokens, at, &["else", "endfor"], depth + 1)?;
                        let mut otherwise = Vec::new();
                        if matches!(tokens.get(*at), Some(Token::Statement(s)) if split_word(s).0 == "else")
                        {
                            *at += 1;
                            otherwise = parse(tokens, at, &["endfor"], depth + 1)?;
                        }
                        expect(tokens, at, "endfor")?;
                        nodes.push(Node::For(targets, iter, body, otherwise));
                    }
                    "set" => {
                        let (name, value) =
                            args.split_once('=').ok_or_else(|| refuse_statement(s))?;
                        let name = name.trim();
                        if !is_ident(name) || value.starts_with('=') {
                            return Err(refuse_statement(s));
                        }
                        nodes.push(Node::Set(name.to_string(), parse_expr(value)?));
                    }
                    _ => return Err(refuse_statement(s)),
                }
                continue;
            }
        }
        *at += 1;
    }
    match ends.last() {
        None => Ok(nodes),
        Some(end) => unreachable_end(end),
    }
}

fn unreachable_end<T>(end: &str) -> Result<T, JinjaError> {
    err(format!("the template ends before its '{{% {end} %}}'"))
}

fn expect(tokens: &[Token], at: &mut usize, end: &str) -> Result<(), JinjaError> {
    match tokens.get(*at) {
        Some(Token::Statement(s)) if split_word(s).0 == end => {
            *at += 1;
            Ok(())
        }
        Some(Token::Statement(s)) => Err(refuse_statement(s)),
        _ => unreachable_end(end),
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && c.all(|c| c.is_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------- evaluation

struct Ctx<'a> {
    globals: &'a [(String, V)],
    frames: Vec<Vec<(String, V)>>,
    steps: u64,
    max_output: usize,
    missing: Vec<String>,
}

impl Ctx<'_> {
    fn step(&mut self) -> Result<(), JinjaError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return err("the template takes more steps than cloudboot allows".to_string());
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> V {
        for f in self.frames.iter().rev() {
            if let Some((_, v)) = f.iter().rev().find(|(k, _)| k == name) {
                return v.clone();
            }
        }
        self.globals
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| V::undefined(name.to_string(), None))
    }

    fn too_large(&self, len: usize) -> Result<(), JinjaError> {
        if len > self.max_output {
            return err(format!(
                "the template renders to more than {} MiB, which cloudboot refuses",
                self.max_output >> 20
            ));
        }
        Ok(())
    }

    fn emit(&mut self, nodes: &[Node], out: &mut String) -> Result<(), JinjaError> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Print(e) => {
                    let v = self.eval(e)?;
                    if let V::Undefined { name, .. } = &v {
                        self.missing.push(name.clone());
                    }
                    out.push_str(&v.print());
                }
                Node::If(arms, otherwise) => {
                    let mut body = otherwise;
                    for (cond, arm) in arms {
                        if self.eval(cond)?.truthy() {
                            body = arm;
                            break;
                        }
                    }
                    self.emit(body, out)?;
                }
                Node::For(targets, iter, body, otherwise) => {
                    let items = self.eval(iter)?.iter()?;
                    if items.is_empty() {
                        self.emit(otherwise, out)?;
                    }
                    let n = items.len();
                    for (i, item) in items.into_iter().enumerate() {
                        self.step()?;
                        let mut frame = vec![("loop".to_string(), loop_var(i, n))];
                        if targets.len() == 1 {
                            frame.push((targets[0].clone(), item));
                        } else {
                            let parts = item.iter()?;
                            if parts.len() != targets.len() {
                                return err(format!(
                                    "cannot unpack {} values into {} names",
                                    parts.len(),
                                    targets.len()
                                ));
                            }
                            frame.extend(targets.iter().cloned().zip(parts));
                        }
                        self.frames.push(frame);
                        let r = self.emit(body, out);
                        self.frames.pop();
                        r?;
                    }
                }
                Node::Set(name, e) => {
                    let v = self.eval(e)?;
                    match self.frames.last_mut() {
                        Some(f) => f.push((name.clone(), v)),
                        None => unreachable!("the top frame is always there"),
                    }
                }
            }
            self.too_large(out.len())?;
        }
        Ok(())
    }

    fn eval(&mut self, e: &Expr) -> Result<V, JinjaError> {
        self.step()?;
        Ok(match e {
            Expr::Lit(v) => v.clone(),
            Expr::Name(n) => self.lookup(n),
            Expr::List(items) => V::List(Rc::new(self.eval_all(items)?)),
            Expr::Tuple(items) => V::Tuple(Rc::new(self.eval_all(items)?)),
            Expr::Dict(items) => {
                let mut d: Vec<(String, V)> = Vec::new();
                for (k, v) in items {
                    let k = self.eval(k)?.print();
                    let v = self.eval(v)?;
                    match d.iter_mut().find(|(n, _)| *n == k) {
                        Some(slot) => slot.1 = v,
                        None => d.push((k, v)),
                    }
                }
                V::Dict(Rc::new(d))
            }
            Expr::Get(obj, key) => {
                let o = self.eval(obj)?;
                let k = self.eval(key)?;
                o.get(&k)?
            }
            Expr::Call(f, args) => {
                let f = self.eval(f)?;
                let args = self.eval_all(args)?;
                match f {
                    V::Method(obj, name) => call_method(&obj, &name, &args)?,
                    V::Undefined { message, .. } => return err(message),
                    other => return err(format!("'{}' object is not callable", other.type_name())),
                }
            }
            Expr::Filter(v, name, args) => {
                let v = self.eval(v)?;
                let args = self.eval_all(args)?;
                filter(v, name, &args, self.max_output)?
            }
            Expr::Test(v, name, args, negated) => {
                let v = self.eval(v)?;
                let args = self.eval_all(args)?;
                V::Bool(test(&v, name, &args)? != *negated)
            }
            Expr::Neg(v) => match self.eval(v)? {
                V::Int(i) => V::Int(i.checked_neg().ok_or_else(overflow)?),
                V::Float(f) => V::Float(-f),
                V::Bool(b) => V::Int(-(b as i64)),
                V::Undefined { message, .. } => return err(message),
                other => {
                    return err(format!(
                        "bad operand type for unary -: '{}'",
                        other.type_name()
                    ))
                }
            },
            Expr::Bin(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                binary(op, a, b, self.max_output)?
            }
            Expr::Not(v) => V::Bool(!self.eval(v)?.truthy()),
            Expr::And(a, b) => {
                let a = self.eval(a)?;
                if a.truthy() {
                    self.eval(b)?
                } else {
                    a
                }
            }
            Expr::Or(a, b) => {
                let a = self.eval(a)?;
                if a.truthy() {
                    a
                } else {
                    self.eval(b)?
                }
            }
            Expr::Cond(cond, then, otherwise) => {
                if self.eval(cond)?.truthy() {
                    self.eval(then)?
                } else {
                    match otherwise {
                        Some(o) => self.eval(o)?,
                        None => V::undefined(String::new(), None),
                    }
                }
            }
        })
    }

    fn eval_all(&mut self, items: &[Expr]) -> Result<Vec<V>, JinjaError> {
        items.iter().map(|e| self.eval(e)).collect()
    }
}

fn overflow() -> JinjaError {
    JinjaError("a number in the template overflows".into())
}

fn loop_var(i: usize, n: usize) -> V {
    let i = i as i64;
    let n = n as i64;
    V::Dict(Rc::new(vec![
        ("index".into(), V::Int(i + 1)),
        ("index0".into(), V::Int(i)),
        ("revindex".into(), V::Int(n - i)),
        ("revindex0".into(), V::Int(n - i - 1)),
        ("first".into(), V::Bool(i == 0)),
        ("last".into(), V::Bool(i == n - 1)),
        ("length".into(), V::Int(n)),
    ]))
}

fn binary(op: &str, a: V, b: V, max: usize) -> Result<V, JinjaError> {
    use std::cmp::Ordering::*;
    let unsupported = |a: &V, b: &V| {
        JinjaError(format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ))
    };
    Ok(match op {
        "==" => V::Bool(a.eq(&b)),
        "!=" => V::Bool(!a.eq(&b)),
        "<" => V::Bool(a.cmp(&b)? == Less),
        ">" => V::Bool(a.cmp(&b)? == Greater),
        "<=" => V::Bool(a.cmp(&b)? != Greater),
        ">=" => V::Bool(a.cmp(&b)? != Less),
        "in" | "not in" => {
            let found = match &b {
                V::Str(h) => match &a {
                    V::Str(n) => h.contains(&**n),
                    other => {
                        return err(format!(
                            "'in <string>' requires string as left operand, not {}",
                            other.type_name()
                        ))
                    }
                },
                V::List(l) | V::Tuple(l) => l.iter().any(|x| x.eq(&a)),
                V::Dict(d) => d.iter().any(|(k, _)| a.eq(&V::str(k.as_str()))),
                V::Undefined { message, .. } => return err(message.clone()),
                other => {
                    return err(format!(
                        "argument of type '{}' is not iterable",
                        other.type_name()
                    ))
                }
            };
            V::Bool(found == (op == "in"))
        }
        "~" => {
            let s = a.print() + &b.print();
            if s.len() > max {
                return err("a string in the template is too large");
            }
            V::str(s)
        }
        _ => {
            a.fail_if_undefined()?;
            b.fail_if_undefined()?;
            match (op, &a, &b) {
                ("+", V::Str(x), V::Str(y)) => {
                    if x.len() + y.len() > max {
                        return err("a string in the template is too large");
                    }
                    V::str(format!("{x}{y}"))
                }
                ("+", V::List(x), V::List(y)) | ("+", V::Tuple(x), V::Tuple(y)) => {
                    if x.len() + y.len() > max {
                        return err("a list in the template is too large");
                    }
                    let mut l = x.to_vec();
                    l.extend(y.iter().cloned());
                    if matches!(a, V::List(_)) {
                        V::List(Rc::new(l))
                    } else {
                        V::Tuple(Rc::new(l))
                    }
                }
                ("*", V::Str(s), n) | ("*", n, V::Str(s)) if int_of(n).is_some() => {
                    let n = int_of(n).unwrap_or(0).max(0) as usize;
                    if s.len().saturating_mul(n) > max {
                        return err("a string in the template is too large");
                    }
                    V::str(s.repeat(n))
                }
                ("*", V::List(l), n) | ("*", n, V::List(l)) if int_of(n).is_some() => {
                    let n = int_of(n).unwrap_or(0).max(0) as usize;
                    if l.len().saturating_mul(n) > max {
                        return err("a list in the template is too large");
                    }
                    V::List(Rc::new(
                        std::iter::repeat_n(l.iter().cloned(), n)
                            .flatten()
                            .collect(),
                    ))
                }
                _ => match (int_of(&a), int_of(&b)) {
                    (Some(x), Some(y)) => match op {
                        "+" => V::Int(x.checked_add(y).ok_or_else(overflow)?),
                        "-" => V::Int(x.checked_sub(y).ok_or_else(overflow)?),
                        "*" => V::Int(x.checked_mul(y).ok_or_else(overflow)?),
                        "/" if y == 0 => return err("division by zero"),
                        "/" => V::Float(x as f64 / y as f64),
                        "//" | "%" if y == 0 => return err("integer division or modulo by zero"),
                        "//" => V::Int(
                            x.checked_div_euclid(y).ok_or_else(overflow)?
                                - if (x.rem_euclid(y) != 0) && y < 0 {
                                    1
                                } else {
                                    0
                                },
                        ),
                        "%" => {
                            let r = x.checked_rem(y).ok_or_else(overflow)?;
                            V::Int(if r != 0 && ((r < 0) != (y < 0)) {
                                r + y
                            } else {
                                r
                            })
                        }
                        _ => return Err(unsupported(&a, &b)),
                    },
                    _ => match (a.number(), b.number()) {
                        (Some(x), Some(y)) => match op {
                            "+" => V::Float(x + y),
                            "-" => V::Float(x - y),
                            "*" => V::Float(x * y),
                            "/" | "//" | "%" if y == 0.0 => return err("float division by zero"),
                            "/" => V::Float(x / y),
                            "//" => V::Float((x / y).floor()),
                            "%" => V::Float(x - y * (x / y).floor()),
                            _ => return Err(unsupported(&a, &b)),
                        },
                        _ => return Err(unsupported(&a, &b)),
                    },
                },
            }
        }
    })
}

fn int_of(v: &V) -> Option<i64> {
    match v {
        V::Int(i) => Some(*i),
        V::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

/// Positional argument `i`, or keyword `name`.
fn arg<'a>(args: &'a [V], i: usize, name: &str) -> Option<&'a V> {
    let kw = format!("={name}");
    for a in args {
        if let V::Tuple(t) = a {
            if t.len() == 2 && matches!(&t[0], V::Str(k) if **k == *kw) {
                return Some(&t[1]);
            }
        }
    }
    args.get(i).filter(|a| !is_kwarg(a))
}

fn is_kwarg(a: &V) -> bool {
    matches!(a, V::Tuple(t) if t.len() == 2 && matches!(&t[0], V::Str(k) if k.starts_with('=')))
}

fn str_arg(args: &[V], i: usize, name: &str, default: &str) -> String {
    arg(args, i, name).map_or_else(|| default.to_string(), V::print)
}

fn filter(v: V, name: &str, args: &[V], max: usize) -> Result<V, JinjaError> {
    let s = |v: &V| v.print();
    let check = |len: usize| {
        if len > max {
            err("a string in the template is too large")
        } else {
            Ok(())
        }
    };
    Ok(match name {
        "default" | "d" => {
            let boolean = arg(args, 1, "boolean").is_some_and(V::truthy);
            let missing = matches!(v, V::Undefined { .. }) || (boolean && !v.truthy());
            if missing {
                arg(args, 0, "default_value")
                    .cloned()
                    .unwrap_or_else(|| V::str(""))
            } else {
                v
            }
        }
        "lower" => V::str(s(&v).to_lowercase()),
        "upper" => V::str(s(&v).to_uppercase()),
        "trim" => V::str(s(&v).trim()),
        "capitalize" => {
            let t = s(&v);
            let mut c = t.chars();
            V::str(match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            })
        }
        "title" => {
            let mut out = String::new();
            let mut prev_alnum = false;
            for c in s(&v).chars() {
                if prev_alnum {
                    out.extend(c.to_lowercase());
                } else {
                    out.extend(c.to_uppercase());
                }
                prev_alnum = c.is_alphanumeric();
            }
            V::str(out)
        }
        "string" => V::str(s(&v)),
        "safe" | "e" | "escape" if name == "safe" => v,
        "replace" => {
            let old = str_arg(args, 0, "old", "");
            let new = str_arg(args, 1, "new", "");
            let t = s(&v);
            let count = arg(args, 2, "count").and_then(int_of);
            let out = match count {
                Some(n) if n >= 0 => t.replacen(&old, &new, n as usize),
                _ => {
                    let n = if old.is_empty() {
                        t.chars().count() + 1
                    } else {
                        t.matches(&old).count()
                    };
                    check(t.len() + n.saturating_mul(new.len()))?;
                    t.replace(&old, &new)
                }
            };
            check(out.len())?;
            V::str(out)
        }
        "join" => {
            let sep = str_arg(args, 0, "d", "");
            let attr = arg(args, 1, "attribute").cloned();
            let mut out = String::new();
            for (i, item) in v.iter()?.iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                let item = match &attr {
                    Some(a) => item.get(a)?,
                    None => item.clone(),
                };
                out.push_str(&item.print());
                check(out.len())?;
            }
            V::str(out)
        }
        "length" | "count" => V::Int(match &v {
            V::Str(s) => s.chars().count(),
            V::List(l) | V::Tuple(l) => l.len(),
            V::Dict(d) => d.len(),
            V::Undefined { .. } => 0,
            other => {
                return err(format!(
                    "object of type '{}' has no len()",
                    other.type_name()
                ))
            }
        } as i64),
        "list" => V::List(Rc::new(v.iter()?)),
        "first" => v
            .iter()?
            .into_iter()
            .next()
            .unwrap_or_else(|| V::undefined("first".into(), None)),
        "last" => v
            .iter()?
            .pop()
            .unwrap_or_else(|| V::undefined("last".into(), None)),
        "reverse" => match v {
            V::Str(t) => V::str(t.chars().rev().collect::<String>()),
            other => {
                let mut l = other.iter()?;
                l.reverse();
                V::List(Rc::new(l))
            }
        },
        "sort" => {
            let reverse = arg(args, 0, "reverse").is_some_and(V::truthy);
            let mut l = v.iter()?;
            let mut failed = None;
            l.sort_by(|a, b| {
                let (a, b) = match (a, b) {
                    (V::Str(x), V::Str(y)) => {
                        return x.to_lowercase().cmp(&y.to_lowercase());
                    }
                    _ => (a, b),
                };
                a.cmp(b).unwrap_or_else(|e| {
                    failed = Some(e);
                    std::cmp::Ordering::Equal
                })
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if reverse {
                l.reverse();
            }
            V::List(Rc::new(l))
        }
        "unique" => {
            let mut out: Vec<V> = Vec::new();
            for item in v.iter()? {
                if !out.iter().any(|o| o.eq(&item)) {
                    out.push(item);
                }
            }
            V::List(Rc::new(out))
        }
        "items" | "dictsort" => match &v {
            V::Dict(d) => {
                let mut items: Vec<(String, V)> = d.to_vec();
                if name == "dictsort" {
                    items.sort_by_key(|(k, _)| k.to_lowercase());
                }
                V::List(Rc::new(
                    items
                        .into_iter()
                        .map(|(k, v)| V::Tuple(Rc::new(vec![V::str(k), v])))
                        .collect(),
                ))
            }
            V::Undefined { .. } => V::List(Rc::new(Vec::new())),
            other => {
                return err(format!(
                    "can only get item pairs from a mapping, not {}",
                    other.type_name()
                ))
            }
        },
        "int" => {
            let default = arg(args, 0, "default").and_then(int_of).unwrap_or(0);
            V::Int(match &v {
                V::Int(i) => *i,
                V::Bool(b) => *b as i64,
                V::Float(f) if f.is_finite() && f.abs() < 9e18 => f.trunc() as i64,
                V::Str(t) => t
                    .trim()
                    .replace('_', "")
                    .parse::<i64>()
                    .ok()
                    .or_else(|| {
                        t.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite() && f.abs() < 9e18)
                            .map(|f| f.trunc() as i64)
                    })
                    .unwrap_or(default),
                _ => default,
            })
        }
        "float" => V::Float(match &v {
            V::Int(i) => *i as f64,
            V::Float(f) => *f,
            V::Bool(b) => *b as i64 as f64,
            V::Str(t) => t.trim().parse().unwrap_or(0.0),
            _ => 0.0,
        }),
        "abs" => match v {
            V::Int(i) => V::Int(i.checked_abs().ok_or_else(overflow)?),
            V::Float(f) => V::Float(f.abs()),
            other => {
                return err(format!(
                    "bad operand type for abs(): '{}'",
                    other.type_name()
                ))
            }
        },
        "tojson" => V::str(to_json(&v)?),
        _ => {
            return err(format!(
                "jinja filter '{name}' is not supported by cloudboot"
            ))
        }
    })
}

fn to_json(v: &V) -> Result<String, JinjaError> {
    fn conv(v: &V) -> Result<J, JinjaError> {
        Ok(match v {
            V::None => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            V::Str(s) => J::String(s.to_string()),
            V::List(l) | V::Tuple(l) => J::Array(l.iter().map(conv).collect::<Result<_, _>>()?),
            V::Dict(d) => J::Object(
                d.iter()
                    .map(|(k, v)| Ok((k.clone(), conv(v)?)))
                    .collect::<Result<_, JinjaError>>()?,
            ),
            V::Undefined { message, .. } => return err(message.clone()),
            V::Method(..) => return err("a method is not JSON serializable"),
        })
    }
    let mut j = conv(v)?;
    j.sort_all_objects();
    Ok(crate::py::json::dumps(&j, 0)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027"))
}

fn test(v: &V, name: &str, args: &[V]) -> Result<bool, JinjaError> {
    let a0 = args.first();
    Ok(match name {
        "defined" => !matches!(v, V::Undefined { .. }),
        "undefined" => matches!(v, V::Undefined { .. }),
        "none" => matches!(v, V::None),
        "string" => matches!(v, V::Str(_)),
        "number" => matches!(v, V::Int(_) | V::Float(_) | V::Bool(_)),
        "integer" => matches!(v, V::Int(_)),
        "float" => matches!(v, V::Float(_)),
        "boolean" => matches!(v, V::Bool(_)),
        "true" => matches!(v, V::Bool(true)),
        "false" => matches!(v, V::Bool(false)),
        "mapping" => matches!(v, V::Dict(_)),
        "sequence" => matches!(v, V::Str(_) | V::List(_) | V::Tuple(_) | V::Dict(_)),
        "iterable" => matches!(
            v,
            V::Str(_) | V::List(_) | V::Tuple(_) | V::Dict(_) | V::Undefined { .. }
        ),
        "lower" => {
            let s = v.print();
            s.to_lowercase() == s
        }
        "upper" => {
            let s = v.print();
            s.to_uppercase() == s
        }
        "even" | "odd" => match int_of(v) {
            Some(i) => (i % 2 == 0) == (name == "even"),
            None => return err(format!("'{}' is not an integer", v.type_name())),
        },
        "divisibleby" => match (int_of(v), a0.and_then(int_of)) {
            (Some(_), Some(0)) => return err("integer division or modulo by zero"),
            (Some(x), Some(y)) => x % y == 0,
            _ => return err("divisibleby takes integers"),
        },
        "eq" | "equalto" | "==" | "sameas" => a0.is_some_and(|a| v.eq(a)),
        "ne" | "!=" => !a0.is_some_and(|a| v.eq(a)),
        "lt" | "<" | "gt" | ">" | "le" | "<=" | "ge" | ">=" => {
            let Some(a) = a0 else {
                return err(format!("the test '{name}' takes an argument"));
            };
            let o = v.cmp(a)?;
            use std::cmp::Ordering::*;
            match name {
                "lt" | "<" => o == Less,
                "gt" | ">" => o == Greater,
                "le" | "<=" => o != Greater,
                _ => o != Less,
            }
        }
        "in" => match a0 {
            Some(h) => binary("in", v.clone(), h.clone(), usize::MAX)?.truthy(),
            None => return err("the test 'in' takes an argument"),
        },
        _ => return err(format!("jinja test '{name}' is not supported by cloudboot")),
    })
}

fn call_method(obj: &V, name: &str, args: &[V]) -> Result<V, JinjaError> {
    let sarg = |i: usize| args.get(i).map(V::print);
    Ok(match (obj, name) {
        (V::Dict(d), "items") => V::List(Rc::new(
            d.iter()
                .map(|(k, v)| V::Tuple(Rc::new(vec![V::str(k.as_str()), v.clone()])))
                .collect(),
        )),
        (V::Dict(d), "keys") => {
            V::List(Rc::new(d.iter().map(|(k, _)| V::str(k.as_str())).collect()))
        }
        (V::Dict(d), "values") => V::List(Rc::new(d.iter().map(|(_, v)| v.clone()).collect())),
        (V::Dict(_), "get") => {
            let key = args.first().cloned().unwrap_or(V::None);
            match obj.get(&key)? {
                V::Undefined { .. } | V::Method(..) => args.get(1).cloned().unwrap_or(V::None),
                v => v,
            }
        }
        (V::Str(s), "upper") => V::str(s.to_uppercase()),
        (V::Str(s), "lower") => V::str(s.to_lowercase()),
        (V::Str(s), "strip") => V::str(match sarg(0) {
            Some(chars) => s.trim_matches(|c| chars.contains(c)).to_string(),
            None => s.trim().to_string(),
        }),
        (V::Str(s), "split") => V::List(Rc::new(match sarg(0) {
            Some(sep) if !sep.is_empty() => s.split(sep.as_str()).map(V::str).collect(),
            Some(_) => return err("empty separator"),
            None => s.split_whitespace().map(V::str).collect(),
        })),
        (V::Str(s), "startswith") => V::Bool(s.starts_with(sarg(0).unwrap_or_default().as_str())),
        (V::Str(s), "endswith") => V::Bool(s.ends_with(sarg(0).unwrap_or_default().as_str())),
        (V::Str(_), "replace") => filter(obj.clone(), "replace", args, super::MAX_OUTPUT)?,
        (V::Str(s), "join") => {
            let items = args.first().cloned().unwrap_or(V::None).iter()?;
            let joined = items.iter().map(V::print).collect::<Vec<_>>().join(s);
            if joined.len() > super::MAX_OUTPUT {
                return err("a string in the template is too large");
            }
            V::str(joined)
        }
        _ => return err(format!("the method '{name}' is not supported by cloudboot")),
    })
}

/// Renders `source` (the template after its header) with `vars` (a JSON
/// object of the variables): jinja's own text, without cloud-init's
/// re-added trailing newline. Returns the text and the names printed
/// undefined.
pub fn render(
    source: &str,
    vars: &[(String, V)],
    max_output: usize,
) -> Result<(String, Vec<String>), JinjaError> {
    let tokens = lex(source)?;
    let mut at = 0;
    let nodes = parse(&tokens, &mut at, &[], 0)?;
    let mut ctx = Ctx {
        globals: vars,
        frames: vec![Vec::new()],
        steps: 0,
        max_output,
        missing: Vec::new(),
    };
    let mut out = String::new();
    ctx.emit(&nodes, &mut out)?;
    Ok((out, ctx.missing))
}

/// The variables of a JSON object, in its order.
pub fn vars_of(j: &J) -> Vec<(String, V)> {
    match j {
        J::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), V::from_json(v)))
            .collect(),
        _ => Vec::new(),
    }
}
