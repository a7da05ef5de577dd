//! A small XML reader for the two documents Azure hands a VM: the
//! provisioning media's `ovf-env.xml` and the wireserver's goal state. It
//! gives what 22.4 reads from them through ElementTree: elements by
//! namespace and local name, and each element's text (the character data
//! before its first child, `None` when there is none, as ET's `.text`).
//!
//! Elements, attributes, namespace declarations, character and entity
//! references, CDATA, comments and processing instructions are understood.
//! A document type declaration is refused: these documents never carry
//! one, and its entities are the classic way to make a parser blow up.
//! Nesting is bounded, so a hostile document costs its size and no more.

use std::fmt;

/// The namespace URI and local name of an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    /// ET's `.text`: the character data before the first child.
    pub text: Option<String>,
    pub children: Vec<Element>,
}

impl Element {
    /// ET's `findall("./ns:name")`: the children with this namespace and name.
    pub fn children_named(&self, ns: Option<&str>, name: &str) -> std::vec::IntoIter<&Element> {
        self.children
            .iter()
            .filter(|c| c.ns.as_deref() == ns && c.name == name)
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// ET's `find("./a/b/c")` for names without a namespace: the first match.
    pub fn find_path(&self, path: &[&str]) -> Option<&Element> {
        match path.split_first() {
            None => Some(self),
            Some((first, rest)) => self
                .children_named(None, first)
                .find_map(|c| c.find_path(rest)),
        }
    }
}

/// Why a document is not XML, with where (line and column, 1-based as
/// expat counts lines; the column 0-based as expat's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlError {
    pub line: usize,
    pub column: usize,
    pub what: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{}: line {}, column {}",
            self.what, self.line, self.column
        )
    }
}

/// Deeper documents are refused (Azure's are five levels deep).
const MAX_DEPTH: usize = 64;

/// An element being read: its qualified name, its namespace scope and the
/// element it becomes.
struct Open {
    qname: String,
    scope: Vec<(String, String)>,
    element: Element,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: impl Into<String>) -> XmlError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count();
        XmlError {
            line,
            column,
            what: what.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }

    /// Moves past `end`, returning what came before it.
    fn until(&mut self, end: &str, what: &str) -> Result<&'a str, XmlError> {
        match self.rest().find(end) {
            Some(i) => {
                let s = &self.rest()[..i];
                self.pos += i + end.len();
                Ok(s)
            }
            None => {
                self.pos = self.text.len();
                Err(self.error(format!("unclosed {what}")))
            }
        }
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let r = self.rest();
        let len = r
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '=' | '<'))
            .unwrap_or(r.len());
        if len == 0 {
            return Err(self.error("not well-formed (invalid token)"));
        }
        self.pos += len;
        Ok(&r[..len])
    }

    /// Skips comments, processing instructions and blanks; refuses a DTD.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            if self.rest().starts_with("<!--") {
                self.pos += 4;
                self.until("-->", "comment")?;
            } else if self.rest().starts_with("<?") {
                self.pos += 2;
                self.until("?>", "processing instruction")?;
            } else if self.rest().starts_with("<!") {
                return Err(self.error("document type declarations are not accepted"));
            } else {
                return Ok(());
            }
        }
    }

    /// The attributes of a start tag, up to its `>` or `/>`; whether it
    /// closed itself.
    fn attributes(&mut self) -> Result<(Vec<(String, String)>, bool), XmlError> {
        let mut attrs = Vec::new();
        loop {
            self.skip_ws();
            if self.rest().starts_with("/>") {
                self.pos += 2;
                return Ok((attrs, true));
            }
            if self.rest().starts_with('>') {
                self.pos += 1;
                return Ok((attrs, false));
            }
            if self.rest().is_empty() {
                return Err(self.error("unclosed token"));
            }
            let name = self.name()?.to_string();
            self.skip_ws();
            if !self.rest().starts_with('=') {
                return Err(self.error("not well-formed (invalid token)"));
            }
            self.pos += 1;
            self.skip_ws();
            let quote = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return Err(self.error("not well-formed (invalid token)")),
            };
            self.pos += 1;
            let raw = self.until(&quote.to_string(), "attribute value")?;
            if raw.contains('<') {
                return Err(self.error("not well-formed (invalid token)"));
            }
            let value = self.unescape(raw)?;
            if attrs.iter().any(|(k, _)| *k == name) {
                return Err(self.error("duplicate attribute"));
            }
            attrs.push((name, value));
        }
    }

    /// Character and entity references replaced.
    fn unescape(&self, raw: &str) -> Result<String, XmlError> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let Some(end) = after.find(';') else {
                return Err(self.error("not well-formed (invalid token)"));
            };
            let entity = &after[..end];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = if let Some(hex) = entity.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse().ok()
                    } else {
                        return Err(self.error(format!("undefined entity &{entity};")));
                    };
                    code.and_then(char::from_u32).filter(|c| *c != '\0')
                }
            };
            match c {
                Some(c) => out.push(c),
                None => return Err(self.error("reference to invalid character number")),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The namespace a prefix (or the default, `""`) names in a scope stack.
fn lookup(stack: &[Open], own: &[(String, String)], prefix: &str) -> Option<String> {
    own.iter()
        .rev()
        .chain(stack.iter().rev().flat_map(|o| o.scope.iter().rev()))
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.clone())
        .filter(|uri| !uri.is_empty())
}

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError {
        line: 1,
        column: e.valid_up_to(),
        what: "not well-formed (invalid token): not UTF-8".into(),
    })?;
    let mut p = Parser { text, pos: 0 };
    p.misc()?;
    if !p.rest().starts_with('<') {
        return Err(p.error(if p.rest().is_empty() {
            "no element found"
        } else {
            "syntax error"
        }));
    }
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let r = p.rest();
        if r.is_empty() {
            return Err(p.error("no element found"));
        }
        if r.starts_with("<!--") {
            p.pos += 4;
            p.until("-->", "comment")?;
        } else if r.starts_with("<![CDATA[") {
            p.pos += 9;
            let data = p.until("]]>", "CDATA section")?;
            add_text(&mut stack, data);
        } else if r.starts_with("<?") {
            p.pos += 2;
            p.until("?>", "processing instruction")?;
        } else if r.starts_with("<!") {
            return Err(p.error("document type declarations are not accepted"));
        } else if r.starts_with("</") {
            p.pos += 2;
            let name_at = p.pos;
            let name = p.name()?;
            p.skip_ws();
            if !p.rest().starts_with('>') {
                return Err(p.error("not well-formed (invalid token)"));
            }
            p.pos += 1;
            let Some(open) = stack.pop() else {
                return Err(p.error("not well-formed (invalid token)"));
            };
            if open.qname != name {
                // Where the end tag's name starts, as expat says it.
                p.pos = name_at;
                return Err(p.error("mismatched tag"));
            }
            match stack.last_mut() {
                Some(parent) => parent.element.children.push(open.element),
                None => {
                    p.misc()?;
                    if !p.rest().is_empty() {
                        return Err(p.error("junk after document element"));
                    }
                    return Ok(open.element);
                }
            }
        } else if r.starts_with('<') {
            p.pos += 1;
            let qname = p.name()?.to_string();
            let (attrs, closed) = p.attributes()?;
            let scope: Vec<(String, String)> = attrs
                .iter()
                .filter_map(|(k, v)| {
                    if k == "xmlns" {
                        Some((String::new(), v.clone()))
                    } else {
                        k.strip_prefix("xmlns:").map(|p| (p.to_string(), v.clone()))
                    }
                })
                .collect();
            let (prefix, local) = match qname.split_once(':') {
                Some((pre, local)) => (pre, local),
                None => ("", qname.as_str()),
            };
            let ns = lookup(&stack, &scope, prefix);
            if !prefix.is_empty() && ns.is_none() {
                return Err(p.error("unbound prefix"));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(p.error(format!("nested deeper than {MAX_DEPTH} elements")));
            }
            let element = Element {
                ns,
                name: local.to_string(),
                text: None,
                children: Vec::new(),
            };
            if closed {
                match stack.last_mut() {
                    Some(parent) => parent.element.children.push(element),
                    None => {
                        p.misc()?;
                        if !p.rest().is_empty() {
                            return Err(p.error("junk after document element"));
                        }
                        return Ok(element);
                    }
                }
            } else {
                stack.push(Open {
                    qname,
                    scope,
                    element,
                });
            }
        } else {
            let end = r.find('<').unwrap_or(r.len());
            let raw = &r[..end];
            if stack.is_empty() {
                return Err(p.error("junk after document element"));
            }
            let data = p.unescape(raw)?;
            p.pos += end;
            add_text(&mut stack, &data);
        }
    }
}

/// Character data goes to the open element's text while it has no child
/// yet (later data is a child's tail, which nothing here reads).
fn add_text(stack: &mut [Open], data: &str) {
    if let Some(open) = stack.last_mut() {
        if open.element.children.is_empty() && !data.is_empty() {
            open.element
                .text
                .get_or_insert_with(String::new)
                .push_str(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_text_and_entities() {
        let doc = br#"<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<Environment xmlns="urn:a" xmlns:wa="urn:b">
  <wa:Section><wa:Name> x &amp; y&#33;<![CDATA[<raw>]]></wa:Name><wa:Empty/><Plain a='1'>t</Plain></wa:Section>
</Environment>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.ns.as_deref(), Some("urn:a"));
        let section = root
            .children_named(Some("urn:b"), "Section")
            .next()
            .unwrap();
        let name = section
            .children_named(Some("urn:b"), "Name")
            .next()
            .unwrap();
        assert_eq!(name.text.as_deref(), Some(" x & y!<raw>"));
        let empty = section
            .children_named(Some("urn:b"), "Empty")
            .next()
            .unwrap();
        assert_eq!(empty.text, None);
        assert_eq!(
            section.children_named(Some("urn:a"), "Plain").count(),
            1,
            "the default namespace applies to unprefixed children"
        );
    }

    #[test]
    fn broken_documents_are_refused_with_where() {
        for (doc, what) in [
            (&b"<a><b></a>"[..], "mismatched tag"),
            (b"<a>", "no element found"),
            (b"", "no element found"),
            (b"<a/><b/>", "junk after document element"),
            (b"<x:a/>", "unbound prefix"),
            (b"<a>&bogus;</a>", "undefined entity &bogus;"),
            (
                b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
                "document type declarations are not accepted",
            ),
        ] {
            let e = parse(doc).unwrap_err();
            assert!(e.what.starts_with(what), "{doc:?}: {e}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn paths_without_namespace() {
        let root = parse(b"<G><Container><ContainerId>c</ContainerId></Container></G>").unwrap();
        assert_eq!(
            root.find_path(&["Container", "ContainerId"])
                .and_then(|e| e.text.as_deref()),
            Some("c")
        );
        assert!(root.find_path(&["Nope"]).is_none());
    }
}
