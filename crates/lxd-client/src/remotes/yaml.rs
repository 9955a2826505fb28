//! A deliberately small YAML reader for the one file it serves: the `lxc` client's
//! `config.yml`.
//!
//! `lxc` writes that file with Go's yaml library: block mappings, plain scalars, and quoted
//! scalars when a value would otherwise read as something else. That subset is all this reader
//! accepts. Anything else (sequences, anchors, tags, block scalars, flow collections other than
//! the empty `{}`) is refused with the line number, never guessed at, so a hand-edited file
//! that strays outside the subset gets a clear error rather than a wrong reading.

/// A parsed node: a scalar (with whether it was quoted) or a mapping in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A scalar value; `quoted` tells `"true"` (a string) from `true` (a boolean).
    Scalar {
        /// The text, escapes resolved.
        text: String,
        /// Whether it was written in quotes.
        quoted: bool,
    },
    /// A mapping, keys in file order (duplicates are refused).
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The entry `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Node::Scalar { .. } => None,
        }
    }

    /// A scalar's text, `None` for YAML's null (`~`, `null`, nothing) and for mappings.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar {
                text,
                quoted: false,
            } if is_null(text) => None,
            Node::Scalar { text, .. } => Some(text),
            Node::Map(_) => None,
        }
    }

    /// A plain scalar read as a YAML 1.1 boolean (what Go's yaml.v2 reads).
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Scalar {
                text,
                quoted: false,
            } => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" => Some(true),
                "false" | "no" | "off" | "n" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether this is YAML's null.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, quoted: false } if is_null(text))
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

/// Parses a document whose top level is a mapping (or empty). Errors name the line.
pub(crate) fn parse(source: &str) -> Result<Node, String> {
    let mut lines = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        let number = i + 1;
        let content = raw.trim_end();
        let trimmed = content.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = content.len() - trimmed.len();
        if content[..indent].contains('\t') {
            return Err(format!("line {number}: tab in indentation"));
        }
        if indent == 0 && (trimmed == "---" || trimmed == "...") {
            if trimmed == "..." {
                break;
            }
            if !lines.is_empty() {
                return Err(format!("line {number}: only one YAML document is read"));
            }
            continue;
        }
        lines.push(Line {
            number,
            indent,
            text: trimmed,
        });
    }
    if lines.is_empty() {
        return Ok(Node::Map(Vec::new()));
    }
    if lines[0].indent != 0 {
        return Err(format!("line {}: unexpected indentation", lines[0].number));
    }
    let mut at = 0;
    let node = parse_map(&lines, &mut at, 0)?;
    if let Some(line) = lines.get(at) {
        return Err(format!("line {}: unexpected indentation", line.number));
    }
    Ok(node)
}

fn parse_map(lines: &[Line<'_>], at: &mut usize, indent: usize) -> Result<Node, String> {
    let mut entries: Vec<(String, Node)> = Vec::new();
    while let Some(line) = lines.get(*at) {
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return Err(format!("line {}: unexpected indentation", line.number));
        }
        let (key, rest) = split_key(line)?;
        if entries.iter().any(|(k, _)| *k == key) {
            return Err(format!("line {}: duplicate key {key:?}", line.number));
        }
        *at += 1;
        let value = if rest.is_empty() {
            match lines.get(*at) {
                Some(next) if next.indent > indent => {
                    if next.text.starts_with("- ") || next.text == "-" {
                        return Err(format!(
                            "line {}: sequences are not supported here",
                            next.number
                        ));
                    }
                    parse_map(lines, at, next.indent)?
                }
                _ => Node::Scalar {
                    text: String::new(),
                    quoted: false,
                },
            }
        } else {
            let mut node = parse_scalar(rest, line.number)?;
            // A long plain scalar may be folded onto more-indented lines.
            while let Some(next) = lines.get(*at)
                && next.indent > indent
            {
                match &mut node {
                    // A plain scalar cannot hold `: `, so such a line is a misplaced key.
                    Node::Scalar {
                        text,
                        quoted: false,
                    } if find_separator(strip_comment(next.text)).is_none() => {
                        text.push(' ');
                        text.push_str(strip_comment(next.text));
                        *at += 1;
                    }
                    _ => {
                        return Err(format!(
                            "line {}: unexpected indentation after a quoted or flow value",
                            next.number
                        ));
                    }
                }
            }
            node
        };
        entries.push((key, value));
    }
    Ok(Node::Map(entries))
}

/// Splits `key: rest` (the key plain or quoted); `rest` has its comment removed.
fn split_key<'a>(line: &Line<'a>) -> Result<(String, &'a str), String> {
    let text = line.text;
    let number = line.number;
    if text.starts_with("- ") || text == "-" {
        return Err(format!("line {number}: sequences are not supported"));
    }
    if text.starts_with('?') {
        return Err(format!("line {number}: complex keys are not supported"));
    }
    let (key, after) = if let Some(quote) = text.chars().next().filter(|c| *c == '"' || *c == '\'')
    {
        let (key, used) = read_quoted(text, quote, number)?;
        (key, &text[used..])
    } else {
        let colon =
            find_separator(text).ok_or_else(|| format!("line {number}: expected `key: value`"))?;
        (text[..colon].trim_end().to_string(), &text[colon..])
    };
    let Some(rest) = after.strip_prefix(':') else {
        return Err(format!("line {number}: expected `:` after the key"));
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(format!("line {number}: expected a space after `:`"));
    }
    if key.is_empty() {
        return Err(format!("line {number}: empty key"));
    }
    Ok((key, strip_comment(rest.trim_start())))
}

/// The first `: ` (or a final `:`) in a plain key.
fn find_separator(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' '))
}

/// Removes a trailing ` # comment` from an unquoted value.
fn strip_comment(text: &str) -> &str {
    if text.starts_with('"') || text.starts_with('\'') {
        return text;
    }
    match text.find(" #") {
        Some(i) => text[..i].trim_end(),
        None if text.starts_with('#') => "",
        None => text,
    }
}

fn parse_scalar(text: &str, number: usize) -> Result<Node, String> {
    let first = text.chars().next().unwrap_or(' ');
    match first {
        '"' | '\'' => {
            let (value, used) = read_quoted(text, first, number)?;
            let tail = text[used..].trim_start();
            if !(tail.is_empty() || tail.starts_with('#')) {
                return Err(format!("line {number}: text after a quoted value"));
            }
            Ok(Node::Scalar {
                text: value,
                quoted: true,
            })
        }
        '{' if text == "{}" => Ok(Node::Map(Vec::new())),
        '{' | '[' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' => Err(format!(
            "line {number}: {first:?} values (flow collections, anchors, tags, block scalars) are not supported"
        )),
        _ => Ok(Node::Scalar {
            text: text.to_string(),
            quoted: false,
        }),
    }
}

/// Reads a quoted scalar starting at `text[0]`; returns it and the bytes used.
fn read_quoted(text: &str, quote: char, number: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if quote == '\'' && text[i + 1..].starts_with('\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Ok((out, i + 1));
        }
        if c == '\\' && quote == '"' {
            let (_, e) = chars
                .next()
                .ok_or_else(|| format!("line {number}: unfinished escape"))?;
            let hex = |n: usize, chars: &mut dyn Iterator<Item = (usize, char)>| {
                let digits: String = chars.take(n).map(|(_, c)| c).collect();
                u32::from_str_radix(&digits, 16)
                    .ok()
                    .filter(|_| digits.len() == n)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("line {number}: bad escape \\{e}{digits}"))
            };
            out.push(match e {
                '\\' => '\\',
                '"' => '"',
                '/' => '/',
                ' ' => ' ',
                '0' => '\0',
                'a' => '\x07',
                'b' => '\x08',
                't' | '\t' => '\t',
                'n' => '\n',
                'v' => '\x0b',
                'f' => '\x0c',
                'r' => '\r',
                'e' => '\x1b',
                'x' => hex(2, &mut chars)?,
                'u' => hex(4, &mut chars)?,
                'U' => hex(8, &mut chars)?,
                other => return Err(format!("line {number}: unknown escape \\{other}")),
            });
            continue;
        }
        out.push(c);
    }
    Err(format!(
        "line {number}: unclosed quote (multi-line quoted values are not supported)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Node {
        Node::Scalar {
            text: text.into(),
            quoted: false,
        }
    }

    #[test]
    fn block_maps_scalars_and_quotes() {
        let doc = parse(
            "# comment\n---\ntop: 1\nmap:\n    a: \"x\\ty \\\"q\\\" \\u00e9\"\n    b: 'it''s'\n    c:\n    d: {}\n    e: plain # note\nlast: true\n",
        )
        .unwrap();
        assert_eq!(doc.get("top"), Some(&scalar("1")));
        let map = doc.get("map").unwrap();
        assert_eq!(map.get("a").unwrap().as_str(), Some("x\ty \"q\" é"));
        assert_eq!(map.get("b").unwrap().as_str(), Some("it's"));
        assert!(map.get("c").unwrap().is_null());
        assert_eq!(map.get("d"), Some(&Node::Map(vec![])));
        assert_eq!(map.get("e").unwrap().as_str(), Some("plain"));
        assert_eq!(doc.get("last").unwrap().as_bool(), Some(true));
        // A quoted "true" is a string, not a boolean.
        let quoted = parse("x: \"true\"\n").unwrap();
        assert_eq!(quoted.get("x").unwrap().as_bool(), None);
        assert_eq!(quoted.get("x").unwrap().as_str(), Some("true"));
    }

    #[test]
    fn folded_plain_scalars_are_joined() {
        let doc = parse("aliases:\n  long: list -c n\n    --format csv\nnext: x\n").unwrap();
        assert_eq!(
            doc.get("aliases").unwrap().get("long").unwrap().as_str(),
            Some("list -c n --format csv")
        );
        assert_eq!(doc.get("next").unwrap().as_str(), Some("x"));
    }

    #[test]
    fn outside_the_subset_is_refused_with_a_line() {
        for (text, line) in [
            ("a:\n  - x\n", "line 2"),
            ("a: [1, 2]\n", "line 1"),
            ("a: &x 1\n", "line 1"),
            ("a: |\n  x\n", "line 1"),
            ("a: 1\na: 2\n", "line 2"),
            ("a: \"open\n", "line 1"),
            ("a: 1\n  b: 2\n", "line 2"),
            ("  a: 1\n", "line 1"),
            ("a:\n\tb: 1\n", "line 2"),
            ("just text\n", "line 1"),
            ("a: \"\\q\"\n", "line 1"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with(line), "{text:?}: {err}");
        }
    }

    #[test]
    fn empty_document_is_an_empty_map() {
        assert_eq!(parse("").unwrap(), Node::Map(vec![]));
        assert_eq!(parse("# nothing\n").unwrap(), Node::Map(vec![]));
    }
}
