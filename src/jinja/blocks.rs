//! Jinja with `if` and `for` statements, for templates whose variables are
//! strings and lists of strings (cloud-init's ntp, chrony and timesyncd
//! templates: `{% for server in servers -%}`, `{% if servers or pools -%}`,
//! `servers|list + pools|list`). Rendered as cloud-init's templater sets
//! jinja up: `trim_blocks` (the newline after a statement or comment tag
//! goes), `-` in a tag strips the blanks on that side, one trailing newline
//! of the source goes (no `keep_trailing_newline`; cloud-init adds it back,
//! as [`render`] does), and an undefined variable prints as
//! `CI_MISSING_JINJA_VAR/<name>`.
//!
//! What it renders: `{{ expr }}`, `{# comments #}`, `{% if %}` / `{% elif %}`
//! / `{% else %}` / `{% endif %}`, `{% for NAME in expr %}` / `{% endfor %}`;
//! expressions of names, `|list`, `+`, `not`, `and`, `or`. Anything else is
//! refused with a message naming it, never guessed at. The `{{ variable }}`
//! subset over instance data is [`super::render_with`]'s.

use super::{JinjaError, MISSING_PREFIX};
use crate::value::python_str_repr;

/// A template variable's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Var {
    Str(String),
    List(Vec<String>),
}

/// Renders `body` (the template after its `## template: jinja` line) with
/// `vars`, as cloud-init's `jinja_render` does, its trailing newline kept.
pub fn render(body: &str, vars: &[(&str, Var)]) -> Result<String, JinjaError> {
    // Jinja's lexer joins `splitlines()`: one final newline goes.
    let source = body.strip_suffix('\n').unwrap_or(body);
    let tokens = lex(source)?;
    let mut at = 0;
    let nodes = parse(&tokens, &mut at, &[])?;
    let mut scope: Vec<(String, Val)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), Val::from(v)))
        .collect();
    let mut out = String::new();
    emit(&nodes, &mut scope, &mut out)?;
    if body.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

#[derive(Debug, PartialEq)]
enum Token {
    Text(String),
    Print(String),
    Statement(String),
}

/// The template's text and tags, with jinja's whitespace control applied.
fn lex(source: &str) -> Result<Vec<Token>, JinjaError> {
    let is_blank = |c: char| c.is_whitespace();
    let mut tokens = Vec::new();
    let mut rest = source;
    let mut strip_next = false;
    loop {
        let found = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|o| rest.find(o).map(|i| (i, *o)))
            .min();
        let Some((start, open)) = found else {
            let text = if strip_next {
                rest.trim_start_matches(is_blank)
            } else {
                rest
            };
            tokens.push(Token::Text(text.to_string()));
            return Ok(tokens);
        };
        let mut text = &rest[..start];
        if strip_next {
            text = text.trim_start_matches(is_blank);
        }
        let mut inner_start = start + 2;
        if rest[inner_start..].starts_with('-') {
            text = text.trim_end_matches(is_blank);
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
        // trim_blocks: the newline after a statement or a comment goes.
        if open != "{{" && !strip_next {
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
    }
}

#[derive(Debug)]
enum Node {
    Text(String),
    Print(Expr),
    /// `if`/`elif` arms, then the `else` body.
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    For(String, Expr, Vec<Node>),
}

/// The nodes from `tokens[*at]` up to a statement in `ends` (left at
/// `*at`), or to the end when `ends` is empty.
fn parse(tokens: &[Token], at: &mut usize, ends: &[&str]) -> Result<Vec<Node>, JinjaError> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.get(*at) {
        match token {
            Token::Text(t) => nodes.push(Node::Text(t.clone())),
            Token::Print(e) => nodes.push(Node::Print(Expr::parse(e)?)),
            Token::Statement(s) => {
                let (word, args) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
                if ends.contains(&word) {
                    return Ok(nodes);
                }
                *at += 1;
                match word {
                    "if" => nodes.push(parse_if(tokens, at, args)?),
                    "for" => {
                        let refused = || refuse(s);
                        let (name, iter) = args.split_once(" in ").ok_or_else(refused)?;
                        let name = name.trim();
                        if !is_name(name) {
                            return Err(refused());
                        }
                        let body = parse(tokens, at, &["endfor"])?;
                        expect(tokens, at, "endfor")?;
                        nodes.push(Node::For(name.into(), Expr::parse(iter)?, body));
                    }
                    _ => return Err(refuse(s)),
                }
                continue;
            }
        }
        *at += 1;
    }
    match ends.first() {
        None => Ok(nodes),
        Some(end) => Err(JinjaError(format!(
            "the template ends before its '{{% {end} %}}'"
        ))),
    }
}

/// An `if` whose condition is `cond`, through its `endif`.
fn parse_if(tokens: &[Token], at: &mut usize, cond: &str) -> Result<Node, JinjaError> {
    let mut arms = Vec::new();
    let mut cond = Expr::parse(cond)?;
    loop {
        let body = parse(tokens, at, &["elif", "else", "endif"])?;
        arms.push((cond, body));
        let Some(Token::Statement(s)) = tokens.get(*at) else {
            unreachable!("parse stops at a statement")
        };
        *at += 1;
        let (word, args) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        match word {
            "elif" => cond = Expr::parse(args)?,
            "else" => {
                let otherwise = parse(tokens, at, &["endif"])?;
                expect(tokens, at, "endif")?;
                return Ok(Node::If(arms, otherwise));
            }
            _ => return Ok(Node::If(arms, Vec::new())),
        }
    }
}

/// Steps over the `end` statement that [`parse`] stopped at.
fn expect(tokens: &[Token], at: &mut usize, end: &str) -> Result<(), JinjaError> {
    match tokens.get(*at) {
        Some(Token::Statement(s)) if s == end => {
            *at += 1;
            Ok(())
        }
        Some(Token::Statement(s)) => Err(refuse(s)),
        _ => Err(JinjaError(format!(
            "the template ends before its '{{% {end} %}}'"
        ))),
    }
}

fn refuse(statement: &str) -> JinjaError {
    JinjaError(format!(
        "jinja statement '{{% {statement} %}}' is not supported by cloudboot \
         (only if and for over lists of names)"
    ))
}

/// Whether word `at` of `w` is the keyword `kw`.
fn is_word(w: &[Tok], at: usize, kw: &str) -> bool {
    matches!(w.get(at), Some(Tok::Word(x)) if x == kw)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An expression: names, string literals, tuples of them, `|list`, `+`,
/// `in` and `not in`, `not`, `and`, `or`, and parentheses.
#[derive(Debug)]
enum Expr {
    Name(String),
    Lit(String),
    Tuple(Vec<Expr>),
    List(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    /// `needle in haystack`, or `not in` when the flag is set.
    In(Box<Expr>, Box<Expr>, bool),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A word of an expression.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    /// A quoted string, without its quotes.
    Lit(String),
    Sym(char),
}

/// The words of `text`, or `None` for a character cloudboot does not read
/// (a quoted string with a backslash, an operator it has not).
fn tokens(text: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "|+(),".contains(c) {
            out.push(Tok::Sym(c));
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut lit = String::new();
            loop {
                match chars.next()? {
                    '\\' => return None,
                    q if q == c => break,
                    other => lit.push(other),
                }
            }
            out.push(Tok::Lit(lit));
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
            {
                word.push(c);
                chars.next();
            }
            out.push(Tok::Word(word));
        } else {
            return None;
        }
    }
    Some(out)
}

impl Expr {
    fn parse(text: &str) -> Result<Expr, JinjaError> {
        let refused = || {
            JinjaError(format!(
                "jinja expression '{text}' is not supported by cloudboot \
                 (only names, quoted strings, tuples, |list, +, in, not, and, or)"
            ))
        };
        let w = tokens(text).ok_or_else(refused)?;
        let mut at = 0;
        let expr = Expr::or(&w, &mut at).ok_or_else(refused)?;
        if at != w.len() {
            return Err(refused());
        }
        Ok(expr)
    }

    fn or(w: &[Tok], at: &mut usize) -> Option<Expr> {
        let mut left = Expr::and(w, at)?;
        while is_word(w, *at, "or") {
            *at += 1;
            left = Expr::Or(Box::new(left), Box::new(Expr::and(w, at)?));
        }
        Some(left)
    }

    fn and(w: &[Tok], at: &mut usize) -> Option<Expr> {
        let mut left = Expr::not(w, at)?;
        while is_word(w, *at, "and") {
            *at += 1;
            left = Expr::And(Box::new(left), Box::new(Expr::not(w, at)?));
        }
        Some(left)
    }

    fn not(w: &[Tok], at: &mut usize) -> Option<Expr> {
        if is_word(w, *at, "not") {
            *at += 1;
            return Some(Expr::Not(Box::new(Expr::not(w, at)?)));
        }
        Expr::compare(w, at)
    }

    /// `a in b`, `a not in b` (binding tighter than `not`, as in Python).
    fn compare(w: &[Tok], at: &mut usize) -> Option<Expr> {
        let left = Expr::add(w, at)?;
        let negated = is_word(w, *at, "not") && is_word(w, *at + 1, "in");
        if !negated && !is_word(w, *at, "in") {
            return Some(left);
        }
        *at += if negated { 2 } else { 1 };
        let right = Expr::add(w, at)?;
        Some(Expr::In(Box::new(left), Box::new(right), negated))
    }

    fn add(w: &[Tok], at: &mut usize) -> Option<Expr> {
        let mut left = Expr::filtered(w, at)?;
        while w.get(*at) == Some(&Tok::Sym('+')) {
            *at += 1;
            left = Expr::Add(Box::new(left), Box::new(Expr::filtered(w, at)?));
        }
        Some(left)
    }

    fn filtered(w: &[Tok], at: &mut usize) -> Option<Expr> {
        let mut expr = Expr::primary(w, at)?;
        while w.get(*at) == Some(&Tok::Sym('|')) {
            if !is_word(w, *at + 1, "list") {
                return None;
            }
            *at += 2;
            expr = Expr::List(Box::new(expr));
        }
        Some(expr)
    }

    /// A name, a quoted string, `(expr)`, or a tuple `(a, b, ...)`.
    fn primary(w: &[Tok], at: &mut usize) -> Option<Expr> {
        match w.get(*at)? {
            Tok::Word(name)
                if is_name(name) && !["or", "and", "not", "in"].contains(&name.as_str()) =>
            {
                *at += 1;
                Some(Expr::Name(name.clone()))
            }
            Tok::Lit(s) => {
                *at += 1;
                Some(Expr::Lit(s.clone()))
            }
            Tok::Sym('(') => {
                *at += 1;
                let mut items = Vec::new();
                let mut tuple = false;
                while w.get(*at) != Some(&Tok::Sym(')')) {
                    items.push(Expr::or(w, at)?);
                    match w.get(*at)? {
                        Tok::Sym(',') => {
                            tuple = true;
                            *at += 1;
                        }
                        Tok::Sym(')') => {}
                        _ => return None,
                    }
                }
                *at += 1;
                if !tuple && items.len() == 1 {
                    return items.pop();
                }
                Some(Expr::Tuple(items))
            }
            _ => None,
        }
    }

    fn eval(&self, scope: &[(String, Val)]) -> Result<Val, JinjaError> {
        Ok(match self {
            Expr::Name(n) => scope
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| Val::Undefined(n.clone())),
            Expr::Lit(s) => Val::Str(s.clone()),
            Expr::Tuple(items) => Val::List(
                items
                    .iter()
                    .map(|e| match e.eval(scope)? {
                        Val::Str(s) => Ok(s),
                        other => Err(JinjaError(format!(
                            "a {} in a tuple is not supported by cloudboot (strings only)",
                            other.type_name()
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Expr::In(needle, haystack, negated) => {
                let found = match (needle.eval(scope)?, haystack.eval(scope)?) {
                    (Val::Str(n), Val::List(l)) => l.contains(&n),
                    (Val::Str(n), Val::Str(h)) => h.contains(&n),
                    (Val::Undefined(_), Val::List(_)) => false,
                    (n, h) => {
                        return Err(JinjaError(format!(
                            "'{} in {}' is not supported by cloudboot",
                            n.type_name(),
                            h.type_name()
                        )))
                    }
                };
                Val::Bool(found != *negated)
            }
            Expr::List(e) => Val::List(match e.eval(scope)? {
                Val::List(l) => l,
                Val::Str(s) => s.chars().map(String::from).collect(),
                Val::Bool(_) => return Err(JinjaError("'bool' object is not iterable".into())),
                Val::Undefined(_) => Vec::new(),
            }),
            Expr::Add(a, b) => match (a.eval(scope)?, b.eval(scope)?) {
                (Val::List(mut a), Val::List(b)) => {
                    a.extend(b);
                    Val::List(a)
                }
                (Val::Str(a), Val::Str(b)) => Val::Str(a + &b),
                (a, b) => {
                    return Err(JinjaError(format!(
                        "cannot add {} and {} in the template",
                        a.type_name(),
                        b.type_name()
                    )))
                }
            },
            Expr::Not(e) => Val::Bool(!e.eval(scope)?.truthy()),
            // Python's `and`/`or` give one of their operands.
            Expr::And(a, b) => {
                let a = a.eval(scope)?;
                if a.truthy() {
                    b.eval(scope)?
                } else {
                    a
                }
            }
            Expr::Or(a, b) => {
                let a = a.eval(scope)?;
                if a.truthy() {
                    a
                } else {
                    b.eval(scope)?
                }
            }
        })
    }
}

#[derive(Clone, Debug)]
enum Val {
    Str(String),
    List(Vec<String>),
    Bool(bool),
    Undefined(String),
}

impl From<&Var> for Val {
    fn from(v: &Var) -> Val {
        match v {
            Var::Str(s) => Val::Str(s.clone()),
            Var::List(l) => Val::List(l.clone()),
        }
    }
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Bool(b) => *b,
            Val::Undefined(_) => false,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "str",
            Val::List(_) => "list",
            Val::Bool(_) => "bool",
            Val::Undefined(_) => "undefined",
        }
    }

    /// How jinja prints it: Python's `str()`.
    fn print(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::List(l) => format!(
                "[{}]",
                l.iter()
                    .map(|s| python_str_repr(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Val::Bool(b) => if *b { "True" } else { "False" }.into(),
            Val::Undefined(name) => format!("{MISSING_PREFIX}{name}"),
        }
    }
}

fn emit(
    nodes: &[Node],
    scope: &mut Vec<(String, Val)>,
    out: &mut String,
) -> Result<(), JinjaError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Print(e) => out.push_str(&e.eval(scope)?.print()),
            Node::If(arms, otherwise) => {
                let mut body = otherwise;
                for (cond, arm) in arms {
                    if cond.eval(scope)?.truthy() {
                        body = arm;
                        break;
                    }
                }
                emit(body, scope, out)?;
            }
            Node::For(name, iter, body) => {
                let items = match iter.eval(scope)? {
                    Val::List(l) => l,
                    Val::Str(s) => s.chars().map(String::from).collect(),
                    Val::Undefined(_) => Vec::new(),
                    Val::Bool(_) => return Err(JinjaError("'bool' object is not iterable".into())),
                };
                for item in items {
                    scope.push((name.clone(), Val::Str(item)));
                    let r = emit(body, scope, out);
                    scope.pop();
                    r?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(servers: &[&str], pools: &[&str]) -> Vec<(&'static str, Var)> {
        let list = |l: &[&str]| Var::List(l.iter().map(|s| s.to_string()).collect());
        vec![("servers", list(servers)), ("pools", list(pools))]
    }

    #[test]
    fn loops_conditions_and_whitespace_as_jinja_with_trim_blocks() {
        let chrony = "{% if pools %}# pools\n{% endif %}\n{% for pool in pools -%}\npool {{pool}} iburst\n{% endfor %}\n{%- if servers %}# servers\n{% endif %}\n{% for server in servers -%}\nserver {{server}} iburst\n{% endfor %}\n\nrest\n";
        assert_eq!(
            render(chrony, &vars(&["s1", "s2"], &["p1"])).unwrap(),
            "# pools\npool p1 iburst\n# servers\nserver s1 iburst\nserver s2 iburst\n\nrest\n"
        );
        assert_eq!(render(chrony, &vars(&[], &[])).unwrap(), "\nrest\n");
        let timesyncd = "[Time]\n{% if servers or pools -%}\nNTP={% for host in servers|list + pools|list %}{{ host }} {% endfor -%}\n{% endif -%}\n";
        assert_eq!(
            render(timesyncd, &vars(&["a"], &["b"])).unwrap(),
            "[Time]\nNTP=a b \n"
        );
        assert_eq!(render(timesyncd, &vars(&[], &[])).unwrap(), "[Time]\n\n");
    }

    /// Debian's sources.list template (cloud-init 22.4's
    /// `sources.list.debian.tmpl`): `in` over a tuple of strings.
    #[test]
    fn in_over_a_tuple_of_strings() {
        let line = "{{codename}}{% if codename in ('buster', 'stretch') %}/updates{% else %}-security{% endif %}";
        let with = |c: &str| vec![("codename", Var::Str(c.into()))];
        assert_eq!(render(line, &with("buster")).unwrap(), "buster/updates");
        assert_eq!(
            render(line, &with("bookworm")).unwrap(),
            "bookworm-security"
        );
        let v = vars(&["a", "b"], &[]);
        assert_eq!(
            render("{{ 'a' in servers }} {{ 'c' not in servers }} {{ not 'a' in servers }} {{ (servers) }}", &v).unwrap(),
            "True True False ['a', 'b']"
        );
        assert_eq!(render("{{ 'x' in \"fox\" }}", &v).unwrap(), "True");
    }

    #[test]
    fn printing_undefined_else_and_refusals() {
        let v = vars(&["a", "b"], &[]);
        assert_eq!(
            render(
                "{{ servers }} {{ nope }}{# c #}\n{% if not pools %}none{% else %}some{% endif %}",
                &v
            )
            .unwrap(),
            "['a', 'b'] CI_MISSING_JINJA_VAR/nopenone"
        );
        let e = render("{% set x = 1 %}", &v).unwrap_err();
        assert!(e.0.contains("'{% set x = 1 %}' is not supported"), "{e}");
        let e = render("{{ servers[0] }}", &v).unwrap_err();
        assert!(e.0.contains("'servers[0]' is not supported"), "{e}");
        let e = render("{% if a == b %}x{% endif %}", &v).unwrap_err();
        assert!(e.0.contains("'a == b' is not supported"), "{e}");
        let e = render("{% for s in servers %}", &v).unwrap_err();
        assert!(e.0.contains("ends before its '{% endfor %}'"), "{e}");
    }
}
