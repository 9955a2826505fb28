//! `?filter=` as LXD 5.0 reads it (`lxd/filter`): clauses `[not] <field> <eq|ne> <value>`
//! joined left to right by `and`/`or`, values optionally double-quoted; a field is a dotted
//! path into the object (`status`, `config.image.os`, `expanded_devices.root.pool`). String
//! values match case-insensitively as an anchored regular expression (a small subset of
//! Go's syntax here: literals, `.`, `*`, `+`, `?`, `^`, `$`, `\`-escapes and `[...]` classes;
//! a pattern outside that subset is compared literally, which is also LXD's fallback for a
//! pattern that does not compile). Non-string fields never match, as in LXD.

use serde_json::Value;

/// One clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    prev_or: bool,
    not: bool,
    field: String,
    ne: bool,
    value: String,
}

/// Parses a filter; errors carry LXD's messages.
pub(crate) fn parse(text: &str) -> Result<Vec<Clause>, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let mut clauses = Vec::new();
    let mut index = 0;
    let mut prev_or = false;
    while index < parts.len() {
        let mut not = false;
        if parts[index].eq_ignore_ascii_case("not") {
            not = true;
            index += 1;
            if index == parts.len() {
                return Err("incomplete not clause".into());
            }
        }
        let field = parts[index].to_string();
        index += 1;
        if index == parts.len() {
            return Err("clause has no operator".into());
        }
        let operator = parts[index];
        index += 1;
        if index == parts.len() {
            return Err("clause has no value".into());
        }
        let mut value = parts[index].to_string();
        if let Some(rest) = value.strip_prefix('"') {
            let mut joined = rest.to_string();
            if let Some(done) = joined.strip_suffix('"') {
                joined = done.to_string();
            } else {
                loop {
                    index += 1;
                    if index == parts.len() {
                        return Err("unterminated quote".into());
                    }
                    if let Some(end) = parts[index].strip_suffix('"') {
                        joined.push(' ');
                        joined.push_str(end);
                        break;
                    }
                    joined.push(' ');
                    joined.push_str(parts[index]);
                }
            }
            value = joined;
        }
        index += 1;
        clauses.push(Clause {
            prev_or,
            not,
            field,
            ne: operator == "ne",
            value,
        });
        if index < parts.len() {
            prev_or = match parts[index] {
                "and" => false,
                "or" => true,
                _ => return Err("invalid clause composition".into()),
            };
            index += 1;
            if index == parts.len() {
                return Err("unterminated compound clause".into());
            }
        }
    }
    Ok(clauses)
}

/// The value at a dotted `field` in `object`. String maps (`config`) take the whole rest of
/// the path as one key; nested objects are walked by the first segment.
fn value_of<'a>(object: &'a Value, field: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    if let Some(value) = map.get(field) {
        return Some(value);
    }
    let (key, rest) = field.split_once('.')?;
    let inner = map.get(key)?;
    if let Some(inner_map) = inner.as_object()
        && inner_map.values().all(Value::is_string)
    {
        return inner_map.get(rest);
    }
    value_of(inner, rest)
}

/// Whether `object` matches the clauses.
pub(crate) fn matches(object: &Value, clauses: &[Clause]) -> bool {
    let mut result = true;
    for clause in clauses {
        let mut hit = match value_of(object, &clause.field) {
            Some(Value::String(text)) => regex_match(&clause.value, text),
            _ => false,
        };
        if clause.ne {
            hit = !hit;
        }
        if clause.not {
            hit = !hit;
        }
        result = if clause.prev_or {
            result || hit
        } else {
            result && hit
        };
    }
    result
}

/// An element of the small regex subset.
#[derive(Debug, Clone)]
enum Atom {
    Any,
    Char(char),
    Class(Vec<(char, char)>, bool),
}

#[derive(Debug, Clone)]
struct Piece {
    atom: Atom,
    min: usize,
    max: usize,
}

fn atom_matches(atom: &Atom, c: char) -> bool {
    let c = c.to_lowercase().next().unwrap_or(c);
    match atom {
        Atom::Any => c != '\n',
        Atom::Char(x) => *x == c,
        Atom::Class(ranges, negated) => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
}

/// Compiles the subset; `None` for anything else.
fn compile(pattern: &str) -> Option<(Vec<Piece>, bool, bool)> {
    let mut chars: Vec<char> = pattern.chars().collect();
    let anchored_start = chars.first() == Some(&'^');
    if anchored_start {
        chars.remove(0);
    }
    let anchored_end =
        chars.last() == Some(&'$') && !(chars.len() >= 2 && chars[chars.len() - 2] == '\\');
    if anchored_end {
        chars.pop();
    }
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let atom = match chars[i] {
            '.' => Atom::Any,
            '\\' => {
                i += 1;
                let c = *chars.get(i)?;
                match c {
                    'd' => Atom::Class(vec![('0', '9')], false),
                    'w' => Atom::Class(vec![('a', 'z'), ('0', '9'), ('_', '_')], false),
                    's' => Atom::Class(vec![(' ', ' '), ('\t', '\r')], false),
                    'x' => {
                        // \xHH or \x{H...}
                        let (hex, used) = if chars.get(i + 1) == Some(&'{') {
                            let end = chars[i + 2..].iter().position(|&c| c == '}')? + i + 2;
                            (chars[i + 2..end].iter().collect::<String>(), end - i)
                        } else {
                            (chars.get(i + 1..i + 3)?.iter().collect::<String>(), 2)
                        };
                        i += used;
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        Atom::Char(lower(char::from_u32(code)?))
                    }
                    c if c.is_ascii_alphanumeric() => return None,
                    c => Atom::Char(lower(c)),
                }
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = *chars.get(i)?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']')
                    {
                        ranges.push((lower(c), lower(chars[i + 2])));
                        i += 3;
                    } else {
                        ranges.push((lower(c), lower(c)));
                        i += 1;
                    }
                }
                Atom::Class(ranges, negated)
            }
            '(' | ')' | '|' | '{' | '}' | '*' | '+' | '?' | '^' | '$' => return None,
            c => Atom::Char(lower(c)),
        };
        i += 1;
        let (min, max) = match chars.get(i) {
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('?') => (0, 1),
            _ => (1, 1),
        };
        if max != 1 || min != 1 {
            i += 1;
        }
        pieces.push(Piece { atom, min, max });
    }
    Some((pieces, anchored_start, anchored_end))
}

fn match_here(pieces: &[Piece], text: &[char], anchored_end: bool) -> bool {
    let Some((piece, rest)) = pieces.split_first() else {
        return !anchored_end || text.is_empty();
    };
    let mut count = 0;
    while count < piece.min {
        match text.get(count) {
            Some(&c) if atom_matches(&piece.atom, c) => count += 1,
            _ => return false,
        }
    }
    loop {
        if match_here(rest, &text[count..], anchored_end) {
            return true;
        }
        if count >= piece.max {
            return false;
        }
        match text.get(count) {
            Some(&c) if atom_matches(&piece.atom, c) => count += 1,
            _ => return false,
        }
    }
}

/// LXD's string comparison: the value is a case-insensitive regex, anchored at both ends
/// unless it mentions `^` or `$` itself.
pub(crate) fn regex_match(value: &str, text: &str) -> bool {
    let pattern = if value.contains('^') || value.contains('$') {
        value.to_string()
    } else {
        format!("^{value}$")
    };
    let Some((pieces, anchored_start, anchored_end)) = compile(&pattern) else {
        return text.eq_ignore_ascii_case(value);
    };
    let chars: Vec<char> = text.chars().collect();
    if anchored_start {
        return match_here(&pieces, &chars, anchored_end);
    }
    (0..=chars.len()).any(|start| match_here(&pieces, &chars[start..], anchored_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_like_lxd() {
        let clauses = parse(r#"name eq c1 or not status ne "Running now""#).unwrap();
        assert_eq!(clauses.len(), 2);
        assert!(clauses[1].prev_or && clauses[1].not && clauses[1].ne);
        assert_eq!(clauses[1].value, "Running now");
        assert_eq!(parse("name").unwrap_err(), "clause has no operator");
        assert_eq!(parse("name eq").unwrap_err(), "clause has no value");
        assert_eq!(
            parse("a eq b xor c eq d").unwrap_err(),
            "invalid clause composition"
        );
        assert_eq!(parse("a eq \"b c").unwrap_err(), "unterminated quote");
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn matches_fields() {
        let object = json!({
            "name": "web1", "status": "Running", "ephemeral": false,
            "config": {"image.os": "Busybox", "user.x": "1"},
            "expanded_devices": {"root": {"pool": "default", "type": "disk"}}
        });
        let check = |f: &str| matches(&object, &parse(f).unwrap());
        assert!(check("name eq web1"));
        assert!(check("name eq WEB.*"));
        assert!(!check("name eq web"));
        assert!(check("config.image.os eq busybox"));
        assert!(check("expanded_devices.root.pool eq default"));
        assert!(check("status eq Stopped or name eq web1"));
        assert!(!check("status eq Running and name ne web1"));
        assert!(
            !check("ephemeral eq false"),
            "non-strings never match in LXD 5.0"
        );
        assert!(check("name eq ^w"));
        assert!(check("name eq [a-z]+[0-9]"));
        assert!(check(r"name eq ^web\d$"));
        assert!(check(r"config.image.os eq ^busy\x{62}ox$"));
        assert!(check(r"config.image.os eq ^busy\x62ox$"));
        assert!(!check(r"name eq ^web\.1$"));
        assert!(
            !check("name eq (web1|x)"),
            "alternation is outside the subset"
        );
    }
}
