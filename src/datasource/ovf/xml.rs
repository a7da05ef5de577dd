//! Just enough XML for `ovf-env.xml`, read as Python's `minidom` (expat,
//! with namespaces) reads it: elements, attributes, text, CDATA, comments,
//! processing instructions, a DOCTYPE without an internal subset, the five
//! predefined entities and character references, and namespace
//! declarations with their scope. What expat refuses (a tag that does not
//! match, an unbound prefix, an undefined entity, a duplicate attribute,
//! junk after the document element) is an error naming the line. Attribute
//! values are normalized as expat does: a literal tab or line end is a
//! space, a character reference stays what it says.

/// An element, its namespace resolved.
#[derive(Debug, PartialEq)]
pub struct Element {
    pub ns: Option<String>,
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
}

#[derive(Debug, PartialEq)]
pub struct Attr {
    pub ns: Option<String>,
    pub local: String,
    pub value: String,
}

#[derive(Debug, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
    /// A comment or processing instruction (a child all the same).
    Other,
}

impl Element {
    /// `getNamedItemNS(ns, local).value`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// Child elements whose local name is `local`, in order.
    pub fn children_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter_map(move |c| match c {
            Node::Element(e) if e.local == local => Some(e),
            _ => None,
        })
    }
}

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// The document element of `text`.
pub fn parse(text: &str) -> Result<Element, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut p = Parser {
        s: normalized.chars().collect(),
        at: 0,
        scopes: Vec::new(),
    };
    if p.starts_with("<?xml") && p.peek_at(5).is_some_and(|c| c.is_whitespace()) {
        p.skip_until("?>")?;
    }
    p.misc()?;
    if p.peek() != Some('<') {
        return Err(p.error("no document element"));
    }
    let root = p.element()?;
    p.misc()?;
    if p.peek().is_some() {
        return Err(p.error("junk after document element"));
    }
    Ok(root)
}

struct Parser {
    s: Vec<char>,
    at: usize,
    /// Namespace bindings per open element: (prefix, uri); "" is the default.
    scopes: Vec<Vec<(String, String)>>,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':' || !c.is_ascii()
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.at + n).copied()
    }

    fn starts_with(&self, lit: &str) -> bool {
        lit.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn line(&self) -> usize {
        1 + self.s[..self.at.min(self.s.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count()
    }

    fn error(&self, what: &str) -> String {
        format!("line {}: {what}", self.line())
    }

    fn skip_ws(&mut self) {
        while self
            .peek()
            .is_some_and(|c| c == ' ' || c == '\t' || c == '\n')
        {
            self.at += 1;
        }
    }

    /// Past the next `end`.
    fn skip_until(&mut self, end: &str) -> Result<String, String> {
        let start = self.at;
        while self.at < self.s.len() {
            if self.starts_with(end) {
                let body: String = self.s[start..self.at].iter().collect();
                self.at += end.chars().count();
                return Ok(body);
            }
            self.at += 1;
        }
        Err(self.error(&format!("unclosed token (no {end})")))
    }

    /// Comments, processing instructions, a DOCTYPE and blanks.
    fn misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.starts_with("<!--") {
                self.at += 4;
                self.skip_until("-->")?;
            } else if self.starts_with("<?") {
                self.at += 2;
                self.skip_until("?>")?;
            } else if self.starts_with("<!DOCTYPE") {
                let body = self.skip_until(">")?;
                if body.contains('[') {
                    return Err(self.error("a DOCTYPE with an internal subset is not supported"));
                }
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        if !self.peek().is_some_and(is_name_start) {
            return Err(self.error("not well-formed (invalid token)"));
        }
        let start = self.at;
        while self.peek().is_some_and(is_name_char) {
            self.at += 1;
        }
        Ok(self.s[start..self.at].iter().collect())
    }

    /// After `&`: one reference, decoded.
    fn reference(&mut self, out: &mut String) -> Result<(), String> {
        let body = self.skip_until(";")?;
        let c = match body.as_str() {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(hex) = body.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = body.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    return Err(self.error(&format!("undefined entity &{body};")));
                };
                n.filter(|n| *n != 0)
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        self.error(&format!("reference to invalid character number &{body};"))
                    })?
            }
        };
        out.push(c);
        Ok(())
    }

    fn resolve(&self, prefix: &str) -> Option<String> {
        if prefix == "xml" {
            return Some(XML_NS.into());
        }
        for scope in self.scopes.iter().rev() {
            if let Some((_, uri)) = scope.iter().find(|(p, _)| p == prefix) {
                return (!uri.is_empty()).then(|| uri.clone());
            }
        }
        None
    }

    /// `prefix:local` → (namespace, local); unprefixed names take the
    /// default namespace only when `default_ns` (elements, not attributes).
    fn qualify(&self, name: &str, default_ns: bool) -> Result<(Option<String>, String), String> {
        match name.split_once(':') {
            Some((prefix, local)) => match self.resolve(prefix) {
                Some(ns) => Ok((Some(ns), local.to_string())),
                None => Err(self.error(&format!("unbound prefix {prefix}"))),
            },
            None if default_ns => Ok((self.resolve(""), name.to_string())),
            None => Ok((None, name.to_string())),
        }
    }

    fn element(&mut self) -> Result<Element, String> {
        self.at += 1; // '<'
        let qname = self.name()?;
        let mut raw: Vec<(String, String)> = Vec::new();
        let empty = loop {
            let had_space = self.peek().is_some_and(|c| c.is_whitespace());
            self.skip_ws();
            match self.peek() {
                Some('/') if self.peek_at(1) == Some('>') => {
                    self.at += 2;
                    break true;
                }
                Some('>') => {
                    self.at += 1;
                    break false;
                }
                Some(_) if had_space => {
                    let name = self.name()?;
                    self.skip_ws();
                    if self.peek() != Some('=') {
                        return Err(self.error("not well-formed (invalid token)"));
                    }
                    self.at += 1;
                    self.skip_ws();
                    let value = self.attr_value()?;
                    if raw.iter().any(|(n, _)| *n == name) {
                        return Err(self.error(&format!("duplicate attribute {name}")));
                    }
                    raw.push((name, value));
                }
                _ => return Err(self.error("not well-formed (invalid token)")),
            }
        };
        let scope: Vec<(String, String)> = raw
            .iter()
            .filter_map(|(n, v)| {
                if n == "xmlns" {
                    Some((String::new(), v.clone()))
                } else {
                    n.strip_prefix("xmlns:").map(|p| (p.to_string(), v.clone()))
                }
            })
            .collect();
        self.scopes.push(scope);
        let (ns, local) = self.qualify(&qname, true)?;
        let mut attrs: Vec<Attr> = Vec::new();
        for (n, value) in raw {
            if n == "xmlns" || n.starts_with("xmlns:") {
                continue;
            }
            let (ans, alocal) = self.qualify(&n, false)?;
            if attrs.iter().any(|a| a.ns == ans && a.local == alocal) {
                return Err(self.error(&format!("duplicate attribute {n}")));
            }
            attrs.push(Attr {
                ns: ans,
                local: alocal,
                value,
            });
        }
        let mut el = Element {
            ns,
            local,
            attrs,
            children: Vec::new(),
        };
        if !empty {
            self.content(&mut el, &qname)?;
        }
        self.scopes.pop();
        Ok(el)
    }

    fn attr_value(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error("not well-formed (invalid token)")),
        };
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unclosed token")),
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('<') => return Err(self.error("not well-formed (invalid token)")),
                Some('&') => {
                    self.at += 1;
                    self.reference(&mut out)?;
                }
                Some(c) => {
                    self.at += 1;
                    out.push(if c == '\t' || c == '\n' { ' ' } else { c });
                }
            }
        }
    }

    fn content(&mut self, el: &mut Element, qname: &str) -> Result<(), String> {
        let mut text = String::new();
        let flush = |text: &mut String, el: &mut Element| {
            if !text.is_empty() {
                el.children.push(Node::Text(std::mem::take(text)));
            }
        };
        loop {
            match self.peek() {
                None => return Err(self.error(&format!("no closing tag for <{qname}>"))),
                Some('<') if self.starts_with("</") => {
                    self.at += 2;
                    let end = self.name()?;
                    self.skip_ws();
                    if end != qname || self.peek() != Some('>') {
                        return Err(
                            self.error(&format!("mismatched tag: </{end}> closes <{qname}>"))
                        );
                    }
                    self.at += 1;
                    flush(&mut text, el);
                    return Ok(());
                }
                Some('<') if self.starts_with("<!--") => {
                    self.at += 4;
                    self.skip_until("-->")?;
                    flush(&mut text, el);
                    el.children.push(Node::Other);
                }
                Some('<') if self.starts_with("<![CDATA[") => {
                    self.at += 9;
                    text.push_str(&self.skip_until("]]>")?);
                }
                Some('<') if self.starts_with("<?") => {
                    self.at += 2;
                    self.skip_until("?>")?;
                    flush(&mut text, el);
                    el.children.push(Node::Other);
                }
                Some('<') => {
                    flush(&mut text, el);
                    let child = self.element()?;
                    el.children.push(Node::Element(child));
                }
                Some('&') => {
                    self.at += 1;
                    self.reference(&mut text)?;
                }
                Some(c) => {
                    self.at += 1;
                    text.push(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_entities_and_refusals() {
        let doc = parse(
            "<?xml version=\"1.0\"?>\n<!-- c -->\n<e:Environment xmlns:e=\"urn:e\" xmlns=\"urn:d\">\
             <P e:key=\"a&amp;b\" v='x\ny&#10;z'/><![CDATA[<raw>]]></e:Environment>\n",
        )
        .unwrap();
        assert_eq!(doc.local, "Environment");
        assert_eq!(doc.ns.as_deref(), Some("urn:e"));
        let Node::Element(p) = &doc.children[0] else {
            panic!()
        };
        assert_eq!(p.ns.as_deref(), Some("urn:d"));
        assert_eq!(p.attr_ns("urn:e", "key"), Some("a&b"));
        assert_eq!(p.attrs[1].value, "x y\nz");
        assert_eq!(doc.children[1], Node::Text("<raw>".into()));
        for bad in [
            "<a><b></a>",
            "<a x:y='1'/>",
            "<a>&nope;</a>",
            "<a/><b/>",
            "<a x='1' x='2'/>",
            "<a",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
